import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from edc import roles, services
from edc.models import DataQuery, LabResult, Visit
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/api/v1/lab-results/bulk/"


def rows(subject, n, **overrides):
    return [factories.lab_payload(subject, **{"value": str(0.5 + i / 1000), **overrides}) for i in range(n)]


def test_imports_all_rows_with_history(staff_api, staff, subject):
    response = staff_api.post(URL, {"results": rows(subject, 20)}, format="json")
    assert response.status_code == 201, response.content
    assert response.data["created"] == 20
    assert LabResult.objects.count() == 20
    history = LabResult.history.all()
    assert history.count() == 20
    assert {h.history_user for h in history} == {staff}


def test_a_bare_list_is_accepted(staff_api, subject):
    assert staff_api.post(URL, rows(subject, 2), format="json").status_code == 201


def test_one_bad_row_refuses_the_whole_file_with_index_and_field(staff_api, subject):
    payload = rows(subject, 10)
    payload[3]["unit"] = "mg/dL"
    payload[7]["value"] = "-1"
    payload[8]["sample_datetime"] = "2025-01-01T10:00:00"  # no offset
    payload[9]["colour"] = "red"
    response = staff_api.post(URL, {"results": payload}, format="json")
    assert response.status_code == 400
    found = {(e["index"], e["field"]) for e in response.data["errors"]}
    assert found == {(3, "unit"), (7, "value"), (8, "sample_datetime"), (9, "colour")}
    assert "hard limit" in next(e["message"] for e in response.data["errors"] if e["index"] == 7)
    assert (LabResult.objects.count(), LabResult.history.count(), DataQuery.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    "field, raw",
    [("value", "12345678901234567"), ("value", "0.1234567"), ("value", "NaN"), ("value", True), ("lln", "abc")],
)
def test_numbers_that_cannot_be_stored_are_refused(staff_api, subject, field, raw):
    payload = rows(subject, 1, **{field: raw})
    response = staff_api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.data["errors"][0]["field"] == field
    assert LabResult.objects.count() == 0


def test_soft_limits_open_queries(staff_api, subject):
    payload = rows(subject, 3)
    payload[1].update(analyte="HGB", unit="g/L", value="55", lln="115", uln="150")
    response = staff_api.post(URL, payload, format="json")
    assert response.status_code == 201
    assert response.data["queries_opened"] == 1
    query = DataQuery.objects.get()
    assert (query.target_id, query.target_field, query.auto) == (response.data["ids"][1], "value", True)
    assert DataQuery.history.count() == 1


def test_another_sites_subject_is_refused(client_for, make_user, other_site, subject):
    api = client_for(make_user(roles.SITE_STAFF, other_site))
    response = api.post(URL, rows(subject, 2), format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.data["errors"]} == {"subject"}
    assert LabResult.objects.count() == 0


def test_follow_up_sample_before_infusion_is_refused(staff_api, staff, subject):
    infusion = timezone.now() - dt.timedelta(days=10)
    services.save_crf(Visit(subject=subject, code="D0", visit_datetime=infusion, status="DONE"), user=staff)
    d7 = services.save_crf(Visit(subject=subject, code="D7"), user=staff)
    payload = rows(subject, 2, visit=d7.pk)
    payload[0]["sample_datetime"] = (infusion - dt.timedelta(hours=1)).isoformat()
    response = staff_api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.data["errors"]] == [(0, "sample_datetime")]
    # the same rule on the single-row endpoint
    single = staff_api.post("/api/v1/lab-results/", payload[0], format="json")
    assert single.status_code == 400 and "sample_datetime" in single.data
    assert staff_api.post(URL, payload[1:], format="json").status_code == 201


def test_more_than_the_limit_is_refused(staff_api, subject, monkeypatch):
    monkeypatch.setattr(services.subjects, "BULK_LIMIT", 5)
    response = staff_api.post(URL, rows(subject, 6), format="json")
    assert response.status_code == 400
    assert LabResult.objects.count() == 0


def test_monitor_cannot_import(client_for, monitor, subject):
    assert client_for(monitor).post(URL, rows(subject, 1), format="json").status_code == 403


def test_query_count_does_not_grow_with_rows(staff_api, staff, site):
    subjects = [factories.make_subject(site, staff) for _ in range(5)]

    def count(n):
        payload = [row for s in subjects for row in rows(s, n)]
        with CaptureQueriesContext(connection) as captured:
            assert staff_api.post(URL, payload, format="json").status_code == 201
        return len(captured)

    count(1)  # warm-up: the user's roles and sites are cached on the first request
    assert count(1) == count(6)  # 30 rows: within one insert batch even on SQLite
