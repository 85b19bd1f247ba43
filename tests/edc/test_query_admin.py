"""The data-query screens: every list names what a query is about; staff answer, monitors close or re-open."""

import pytest
from django.urls import reverse

from edc import services
from edc.models import DataQuery, LabResult, Visit
from tests.factories import lab_payload, make_subject

pytestmark = pytest.mark.django_db

LOW_HGB = {"analyte": "HGB", "unit": "g/L", "value": "55.000", "lln": "115", "uln": "150"}


def _low_hgb(api, subject, visit=None):
    payload = lab_payload(subject, **LOW_HGB, **({"visit": visit.pk} if visit else {}))
    response = api.post("/api/v1/lab-results/", payload)
    assert response.status_code == 201, response.content
    return LabResult.objects.get(pk=response.data["id"])


@pytest.fixture
def query(staff_api, subject):
    created = staff_api.post("/api/v1/visits/", {"subject": subject.subject_id, "code": "SCR"})
    visit = Visit.objects.get(pk=created.data["id"])
    result = _low_hgb(staff_api, subject, visit)
    return services.open_queries_of(result).get()


def _page(client, user, name, *args):
    client.force_login(user)
    return client.get(reverse(f"admin:{name}", args=args))


def test_the_list_names_visit_test_field_and_value_with_a_link(client, monitor, query):
    page = _page(client, monitor, "edc_dataquery_changelist").content.decode()
    assert "screening · haemoglobin result · value = 55 g/L" in page
    assert f"{reverse('admin:edc_labresult_change', args=[query.target_id])}#id_value" in page
    assert "edc.labresult" not in page and f"#{query.target_id}<" not in page


def test_the_list_costs_the_same_queries_for_one_and_twenty_queries(client, monitor, staff, staff_api, site, query,
                                                                    count_queries):  # fmt: skip
    client.force_login(monitor)
    url = reverse("admin:edc_dataquery_changelist")
    one, _ = count_queries(lambda: client.get(url))
    for _ in range(19):
        _low_hgb(staff_api, make_subject(site, staff))
    twenty, response = count_queries(lambda: client.get(url))
    assert response.content.decode().count("haemoglobin result · value = 55 g/L") == 20
    assert twenty == one


def test_signature_and_verification_lists_name_the_record(client, monitor, investigator, query):
    result = LabResult.objects.get(pk=query.target_id)
    services.verify_source(result, user=monitor)
    page = _page(client, monitor, "edc_sourceverification_changelist").content.decode()
    assert "screening · haemoglobin result" in page and "edc.labresult" not in page


def test_staff_answer_and_nothing_else(client, staff, query):
    client.force_login(staff)
    url = reverse("admin:edc_dataquery_change", args=[query.pk])
    form = client.get(url).context["adminform"].form
    assert list(form.fields) == ["answer"]
    response = client.post(url, {"answer": "re-checked: lab confirms 55", "status": "CLOSED", "answered_by": "1",
                                 "_save": "Save answer"})  # fmt: skip
    assert response.status_code == 302
    query.refresh_from_db()
    assert (query.status, query.answered_by, query.answer) == ("ANSWERED", staff, "re-checked: lab confirms 55")
    assert query.answered_at is not None and query.closed_by is None


def test_staff_cannot_close(client, staff, query):
    client.force_login(staff)
    url = reverse("admin:edc_dataquery_change", args=[query.pk])
    assert "Close query" not in client.get(url).content.decode()
    client.post(url, {"_close": "Close query"})
    query.refresh_from_db()
    assert query.status == DataQuery.Status.OPEN


def test_a_monitor_closes_and_reopens_from_the_query_page(client, monitor, query):
    client.force_login(monitor)
    url = reverse("admin:edc_dataquery_change", args=[query.pk])
    page = client.get(url)
    assert list(page.context["adminform"].form.fields) == [] and "Close query" in page.content.decode()
    assert client.post(url, {"_close": "Close query"}).status_code == 302
    query.refresh_from_db()
    assert (query.status, query.closed_by) == ("CLOSED", monitor)
    assert "Re-open query" in client.get(url).content.decode()
    client.post(url, {"_reopen": "Re-open query"})
    query.refresh_from_db()
    assert (query.status, query.closed_by, query.closed_at) == ("OPEN", None, None)
    assert [h.status for h in query.history.all()[:2]] == ["OPEN", "CLOSED"]


def test_the_api_reopens_for_monitors_only(client_for, monitor, staff_api, query):
    monitor_api = client_for(monitor)
    assert monitor_api.post(f"/api/v1/queries/{query.pk}/close/").status_code == 200
    assert staff_api.post(f"/api/v1/queries/{query.pk}/reopen/").status_code == 403
    reopened = monitor_api.post(f"/api/v1/queries/{query.pk}/reopen/")
    assert reopened.status_code == 200 and reopened.data["status"] == "OPEN" and reopened.data["closed_by"] is None
