import csv
import datetime as dt

import pytest
from django.utils import timezone

from edc import roles
from edc.models import DataQuery, LabResult, Signature, Subject
from tests import factories

pytestmark = pytest.mark.django_db


def create_lab(api, subject, **overrides):
    return api.post("/api/v1/lab-results/", factories.lab_payload(subject, **overrides), format="json")


def history_reasons(obj):
    return list(
        type(obj).history.filter(id=obj.pk).order_by("history_id").values_list("history_change_reason", flat=True)
    )


def test_subject_gets_the_next_id_of_its_site(staff_api, site):
    first = staff_api.post(
        "/api/v1/subjects/",
        {"site": "01", "sex": "F", "date_of_birth": "1991-02-03", "initials": "AB", "childbearing_potential": True},
        format="json",
    )
    second = staff_api.post(
        "/api/v1/subjects/", {"site": "01", "sex": "M", "date_of_birth": "1980-01-01", "initials": "CD"}, format="json"
    )
    assert first.status_code == 201, first.content
    assert (first.data["subject_id"], second.data["subject_id"]) == ("M1019-01-001", "M1019-01-002")
    assert first.data["status"] == "SCREENING"
    assert first["ETag"] == '"1"'


def test_api_write_leaves_history_with_user_and_reason(staff_api, staff, subject):
    created = create_lab(staff_api, subject)
    assert created.status_code == 201, created.content
    result = LabResult.objects.get(pk=created.data["id"])
    response = staff_api.patch(
        f"/api/v1/lab-results/{result.pk}/",
        {"value": "0.7", "change_reason": "transcription error"},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    records = result.history.order_by("history_id")
    assert [r.history_user for r in records] == [staff, staff]
    assert [r.history_change_reason for r in records] == [None, "transcription error"]
    assert str(records.last().value) == "0.700000"


def test_reason_can_come_from_the_header(staff_api, subject):
    created = create_lab(staff_api, subject)
    response = staff_api.patch(
        f"/api/v1/lab-results/{created.data['id']}/",
        {"value": "0.8"},
        format="json",
        HTTP_IF_MATCH='"1"',
        HTTP_X_CHANGE_REASON="re-assayed",
    )
    assert response.status_code == 200
    assert history_reasons(LabResult.objects.get(pk=created.data["id"]))[-1] == "re-assayed"


def test_update_without_reason_is_refused_and_nothing_changes(staff_api, subject):
    created = create_lab(staff_api, subject)
    response = staff_api.patch(
        f"/api/v1/lab-results/{created.data['id']}/", {"value": "0.9"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 400
    assert "change_reason" in response.data
    result = LabResult.objects.get(pk=created.data["id"])
    assert (str(result.value), result.version, result.history.count()) == ("0.650000", 1, 1)


def test_stale_if_match_gets_412_and_missing_gets_428(staff_api, subject):
    created = create_lab(staff_api, subject)
    url = f"/api/v1/lab-results/{created.data['id']}/"
    first = staff_api.patch(url, {"value": "0.7", "change_reason": "a"}, format="json", HTTP_IF_MATCH='"1"')
    assert first.status_code == 200
    stale = staff_api.patch(url, {"value": "0.8", "change_reason": "b"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert stale["ETag"] == '"2"'
    missing = staff_api.patch(url, {"value": "0.8", "change_reason": "b"}, format="json")
    assert missing.status_code == 428
    result = LabResult.objects.get(pk=created.data["id"])
    assert (str(result.value), result.history.count()) == ("0.700000", 2)


def test_no_op_update_writes_no_history(staff_api, subject):
    created = create_lab(staff_api, subject)
    response = staff_api.patch(
        f"/api/v1/lab-results/{created.data['id']}/", {"value": "0.65"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200
    assert response.data["version"] == 1
    assert LabResult.history.filter(id=created.data["id"]).count() == 1


def test_delete_voids_with_reason_and_keeps_history(staff_api, subject):
    created = create_lab(staff_api, subject)
    url = f"/api/v1/lab-results/{created.data['id']}/"
    assert staff_api.delete(url).status_code == 400  # no reason
    response = staff_api.delete(url, {"change_reason": "entered on the wrong subject"}, format="json")
    assert response.status_code == 200
    result = LabResult.objects.get(pk=created.data["id"])
    assert result.voided and result.void_reason == "entered on the wrong subject"
    assert result.history.count() == 2
    assert staff_api.get("/api/v1/lab-results/").data["count"] == 0
    assert staff_api.get("/api/v1/lab-results/?include_voided=true").data["count"] == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"analyte": "XYZ"}, "analyte"),
        ({"unit": "mg/dL"}, "unit"),
        ({"value": "-1"}, "value"),
        ({"analyte": "HGB", "unit": "g/L", "value": "251"}, "value"),
        ({"sample_datetime": (timezone.now() + dt.timedelta(days=2)).isoformat()}, "sample_datetime"),
        ({"value": "abc"}, "value"),
    ],
)
def test_bad_lab_input_is_refused_naming_the_field(staff_api, subject, overrides, field):
    response = create_lab(staff_api, subject, **overrides)
    assert response.status_code == 400
    assert field in response.data, response.data
    assert LabResult.objects.count() == 0
    assert LabResult.history.count() == 0


def test_hard_limit_message_names_the_limit(staff_api, subject):
    response = create_lab(staff_api, subject, analyte="HGB", unit="g/L", value="251")
    assert "≤ 250 g/L (hard limit)" in response.data["value"][0]


def test_unit_spellings_are_stored_as_the_catalogue_unit(staff_api, subject):
    response = create_lab(staff_api, subject, analyte="CREAT", value="70", unit="umol/L", lln="45", uln="84")
    assert response.status_code == 201, response.content
    assert response.data["unit"] == "µmol/L"


def test_soft_limit_stores_and_opens_one_query(staff_api, subject):
    payload = {"analyte": "HGB", "unit": "g/L", "value": "55", "lln": "115", "uln": "150"}
    response = create_lab(staff_api, subject, **payload)
    assert response.status_code == 201
    query = DataQuery.objects.get()
    assert (query.target_model, query.target_id, query.target_field, query.auto) == (
        "edc.labresult", response.data["id"], "value", True,
    )  # fmt: skip
    assert query.raised_by.username == roles.SYSTEM_USERNAME
    assert "below the expected 60" in query.text


def test_visit_code_outside_the_schedule_is_refused(staff_api, subject):
    response = staff_api.post("/api/v1/visits/", {"subject": subject.subject_id, "code": "D99"}, format="json")
    assert response.status_code == 400
    assert "code" in response.data
    ok = staff_api.post("/api/v1/visits/", {"subject": subject.subject_id, "code": "UNS"}, format="json")
    assert ok.status_code == 201


def test_lab_result_on_a_visit_of_another_subject_is_refused(staff_api, staff, site, subject):
    other = factories.make_subject(site, staff)
    visit = staff_api.post("/api/v1/visits/", {"subject": other.subject_id, "code": "SCR"}, format="json")
    response = create_lab(staff_api, subject, visit=visit.data["id"])
    assert response.status_code == 400
    assert "visit" in response.data


def test_future_birth_date_is_refused(staff_api, site):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = staff_api.post(
        "/api/v1/subjects/", {"site": "01", "sex": "F", "date_of_birth": tomorrow, "initials": "AB"}, format="json"
    )
    assert response.status_code == 400
    assert "date_of_birth" in response.data
    assert Subject.objects.count() == 0


class TestSiteScoping:
    @pytest.fixture
    def staff_b(self, make_user, other_site):
        return make_user(roles.SITE_STAFF, other_site)

    def test_reads_of_another_site_are_404(self, client_for, staff_b, subject):
        api = client_for(staff_b)
        assert api.get(f"/api/v1/subjects/{subject.subject_id}/").status_code == 404
        assert api.get("/api/v1/subjects/").data["count"] == 0

    def test_writes_to_another_site_change_nothing(self, client_for, staff_b, subject):
        api = client_for(staff_b)
        response = api.patch(
            f"/api/v1/subjects/{subject.subject_id}/", {"initials": "ZZ", "change_reason": "x"}, format="json",
            HTTP_IF_MATCH='"1"',
        )  # fmt: skip
        assert response.status_code == 404
        lab = create_lab(api, subject)
        assert lab.status_code == 400 and "subject" in lab.data
        registering = api.post(
            "/api/v1/subjects/", {"site": "01", "sex": "F", "date_of_birth": "1990-01-01", "initials": "AB"},
            format="json",
        )  # fmt: skip
        assert registering.status_code == 400 and "site" in registering.data
        subject.refresh_from_db()
        assert (subject.initials, subject.history.count(), LabResult.objects.count()) == ("LX", 1, 0)


def test_roles_gate_writes(client_for, monitor, make_user, site, subject):
    assert client_for(monitor).get("/api/v1/lab-results/").status_code == 200
    assert create_lab(client_for(monitor), subject).status_code == 403
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    assert client_for(sponsor).get("/api/v1/lab-results/").status_code == 403
    assert LabResult.objects.count() == 0


def test_anonymous_is_refused(client, subject):
    assert client.get("/api/v1/subjects/").status_code in (401, 403)


def test_a_lab_result_reads_its_subject_with_the_site_once(staff_api, subject):
    """The subject is looked up with its site: the rules that read the site's time zone load nothing more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert create_lab(staff_api, subject).status_code == 201
    site_reads = [q["sql"] for q in captured if 'FROM "edc_site" WHERE' in q["sql"]]
    assert site_reads == []
    assert len(captured) == 8  # 10 before: the site read with the subject, the roles with the sites


@pytest.mark.parametrize("route", ["subjects", "lab-results", "visits", "queries"])
def test_list_query_count_is_independent_of_rows(route, staff_api, staff, site, django_assert_num_queries):
    def build(n):
        for _ in range(n):
            subject = factories.make_subject(site, staff)
            result = create_lab(staff_api, subject, analyte="HGB", unit="g/L", value="55")  # opens a query
            assert result.status_code == 201
            staff_api.post("/api/v1/visits/", {"subject": subject.subject_id, "code": "SCR"}, format="json")

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = staff_api.get(f"/api/v1/{route}/?page_size=100")
        assert response.status_code == 200
        return len(captured), response.data["count"]

    build(1)
    one, rows_one = count_queries()
    build(49)
    fifty, rows_fifty = count_queries()
    assert (rows_one, rows_fifty) == (1, 50)
    assert one == fifty


class TestQueries:
    def test_manual_query_answer_close_cycle(self, client_for, staff_api, monitor, subject):
        lab = create_lab(staff_api, subject)
        monitor_api = client_for(monitor)
        opened = monitor_api.post(
            "/api/v1/queries/",
            {"target_model": "edc.labresult", "target_id": lab.data["id"], "target_field": "value", "text": "Source?"},
            format="json",
        )
        assert opened.status_code == 201, opened.content
        assert opened.data["status"] == "OPEN"
        url = f"/api/v1/queries/{opened.data['id']}/"
        assert monitor_api.post(url + "answer/", {"answer": "x"}, format="json").status_code == 403
        answered = staff_api.post(url + "answer/", {"answer": "Checked against the lab report"}, format="json")
        assert answered.data["status"] == "ANSWERED"
        assert staff_api.post(url + "close/").status_code == 403
        closed = monitor_api.post(url + "close/")
        assert closed.data["status"] == "CLOSED"
        assert DataQuery.history.filter(id=opened.data["id"]).count() == 3

    def test_only_the_opener_closes(self, client_for, make_user, site, staff_api, monitor, subject):
        lab = create_lab(staff_api, subject)
        query = client_for(monitor).post(
            "/api/v1/queries/",
            {"target_model": "edc.labresult", "target_id": lab.data["id"], "target_field": "value", "text": "?"},
            format="json",
        )
        other_monitor = make_user(roles.MONITOR, site)
        response = client_for(other_monitor).post(f"/api/v1/queries/{query.data['id']}/close/")
        assert response.status_code == 403
        assert DataQuery.objects.get().status == "OPEN"

    def test_query_on_unknown_field_or_row(self, client_for, staff_api, monitor, subject):
        lab = create_lab(staff_api, subject)
        api = client_for(monitor)
        bad_field = api.post(
            "/api/v1/queries/",
            {"target_model": "edc.labresult", "target_id": lab.data["id"], "target_field": "nope", "text": "?"},
            format="json",
        )
        assert bad_field.status_code == 400 and "target_field" in bad_field.data
        bad_row = api.post(
            "/api/v1/queries/",
            {"target_model": "edc.labresult", "target_id": 9999, "target_field": "value", "text": "?"},
            format="json",
        )
        assert bad_row.status_code == 400 and "target_id" in bad_row.data
        assert DataQuery.objects.count() == 0


class TestSignatures:
    def payload(self, subject, password):
        return {
            "target_model": "edc.subject", "target_id": subject.pk, "meaning": "REVIEWED", "password": password,
        }  # fmt: skip

    def test_investigator_signs_with_password(self, client_for, investigator, subject):
        response = client_for(investigator).post(
            "/api/v1/signatures/", self.payload(subject, factories.PASSWORD), format="json"
        )
        assert response.status_code == 201, response.content
        signature = Signature.objects.get()
        assert (signature.signed_by, signature.meaning, signature.subject) == (investigator, "REVIEWED", subject)
        assert "password" not in response.data

    def test_wrong_password_signs_nothing(self, client_for, investigator, subject):
        response = client_for(investigator).post("/api/v1/signatures/", self.payload(subject, "wrong"), format="json")
        assert response.status_code == 400 and "password" in response.data
        assert Signature.objects.count() == 0

    def test_staff_cannot_sign(self, staff_api, subject):
        response = staff_api.post("/api/v1/signatures/", self.payload(subject, factories.PASSWORD), format="json")
        assert response.status_code == 403
        assert Signature.objects.count() == 0


def test_audit_trail_csv(staff_api, subject):
    created = create_lab(staff_api, subject)
    staff_api.patch(
        f"/api/v1/lab-results/{created.data['id']}/", {"value": "0.7", "change_reason": "typo"}, format="json",
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    response = staff_api.get(f"/api/v1/subjects/{subject.subject_id}/audit-trail/")
    assert response.status_code == 200
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("timestamp_utc,timestamp_site,user,model,object_id,action,field,old_value")
    rows = list(csv.reader(lines[1:]))
    change = [row for row in rows if row[5:7] == ["changed", "value"]]
    assert len(change) == 1
    assert change[0][2:] == [
        "staff",
        "edc.labresult",
        str(created.data["id"]),
        "changed",
        "value",
        "0.650000",
        "0.700000",
        "typo",
    ]
    assert change[0][0].endswith("+00:00") and change[0][1].endswith("+08:00")


def test_schema_and_docs(client, staff):
    client.force_login(staff)
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize(
    "days_after_window_end, status, queried",
    [(-3, "EARLY", True), (-2, "IN_WINDOW", False), (0, "IN_WINDOW", False), (1, "LATE", True)],
)
def test_visit_window_status_and_soft_limit(staff_api, staff, subject, days_after_window_end, status, queried):
    from edc import services
    from edc.models import Visit

    today = timezone.localdate()
    window_end = today - dt.timedelta(days=5)
    visit = services.save_crf(
        Visit(subject=subject, code="D7", planned_date=window_end - dt.timedelta(days=1),
              window_start=window_end - dt.timedelta(days=2), window_end=window_end),
        user=staff,
    )  # fmt: skip
    visit_day = window_end + dt.timedelta(days=days_after_window_end)
    moment = timezone.make_aware(dt.datetime.combine(visit_day, dt.time(10)))
    response = staff_api.patch(
        f"/api/v1/visits/{visit.pk}/",
        {"visit_datetime": moment.isoformat(), "status": "DONE", "change_reason": "done"},
        format="json", HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.data["window"]["status"] == status
    assert DataQuery.objects.filter(target_field="visit_datetime").exists() is queried


def test_window_uses_the_site_date(staff, subject):
    """00:30 in Hangzhou is 16:30 UTC the day before: the site date decides the window."""
    from zoneinfo import ZoneInfo

    from edc.models import Visit

    day = dt.date(2026, 3, 10)
    visit = Visit(subject=subject, code="D1", window_start=day, window_end=day,
                  visit_datetime=dt.datetime(2026, 3, 10, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai")))  # fmt: skip
    assert visit.window.status == "IN_WINDOW"
