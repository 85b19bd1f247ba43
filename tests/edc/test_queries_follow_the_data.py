"""Correcting the value a query is about settles the query, with who changed what, when and why."""

import pytest

from edc import services
from edc.models import DataQuery, LabResult
from tests.factories import lab_payload

pytestmark = pytest.mark.django_db

LOW_HGB = {"analyte": "HGB", "unit": "g/L", "value": "55", "lln": "115", "uln": "150"}


@pytest.fixture
def low_hgb(staff_api, subject):
    response = staff_api.post("/api/v1/lab-results/", lab_payload(subject, **LOW_HGB))
    assert response.status_code == 201, response.content
    return LabResult.objects.get(pk=response.data["id"])


def _patch_value(api, result, value, reason="transcription error"):
    return api.patch(
        f"/api/v1/lab-results/{result.pk}/",
        {"value": value, "change_reason": reason},
        HTTP_IF_MATCH=f'"{result.version}"',
    )


def test_correcting_a_soft_limit_value_closes_its_automatic_query(staff_api, staff, low_hgb):
    query = DataQuery.objects.get(auto=True)
    response = _patch_value(staff_api, low_hgb, "125")
    assert response.status_code == 200, response.content
    query.refresh_from_db()
    assert query.status == DataQuery.Status.CLOSED
    assert (query.closed_by, query.answered_by) == (staff, staff) and query.closed_at is not None
    assert query.answer == "corrected by staff: value 55 → 125 (transcription error)"
    assert query.history.first().history_change_reason == "resolved by a change of the queried value"
    assert not services.open_queries_of(low_hgb).exists()


def test_a_correction_still_outside_the_limit_leaves_one_open_query_about_the_new_value(staff_api, low_hgb):
    response = _patch_value(staff_api, low_hgb, "50")
    assert response.status_code == 200, response.content
    still_open = services.open_queries_of(low_hgb).get()
    assert "50" in still_open.text and still_open.auto
    assert (
        DataQuery.objects.filter(status=DataQuery.Status.CLOSED)
        .get()
        .answer.endswith("value 55 → 50 (transcription error)")
    )


def test_a_change_of_another_field_leaves_the_query_open(staff_api, low_hgb):
    response = staff_api.patch(
        f"/api/v1/lab-results/{low_hgb.pk}/",
        {"lab_name": "FAH haematology", "change_reason": "lab renamed"},
        HTTP_IF_MATCH=f'"{low_hgb.version}"',
    )
    assert response.status_code == 200, response.content
    assert services.open_queries_of(low_hgb).get().status == DataQuery.Status.OPEN


def test_a_query_a_monitor_raised_is_answered_by_the_change_and_closed_by_the_monitor(
    staff_api, staff, monitor, client_for, subject
):
    result = LabResult.objects.get(pk=staff_api.post("/api/v1/lab-results/", lab_payload(subject)).data["id"])
    raised = services.open_query(result, "value", "source says 0.56", user=monitor)
    assert _patch_value(staff_api, result, "0.56").status_code == 200
    raised.refresh_from_db()
    assert raised.status == DataQuery.Status.ANSWERED and raised.answered_by == staff
    assert raised.answer == "corrected by staff: value 0.65 → 0.56 (transcription error)"
    closed = client_for(monitor).post(f"/api/v1/queries/{raised.pk}/close/")
    assert closed.status_code == 200 and closed.data["status"] == "CLOSED"


def test_the_checks_run_again_on_the_corrected_value(staff_api, low_hgb):
    """A value corrected into the limits opens nothing; corrected back out, a new query opens."""
    assert _patch_value(staff_api, low_hgb, "125").status_code == 200
    low_hgb.refresh_from_db()
    assert not services.open_queries_of(low_hgb).exists()
    assert _patch_value(staff_api, low_hgb, "55", reason="first value was right").status_code == 200
    assert services.open_queries_of(low_hgb).get().auto
