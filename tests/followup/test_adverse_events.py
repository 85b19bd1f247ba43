"""ASTCT grading of stored adverse events (DOMAIN.md §6, issue 15): fever masked by tocilizumab or a corticosteroid
given for the CRS (from the medication log), grade 5 when the outcome is fatal, and what the SDTM AE export carries."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from edc import roles
from edc import services as edc_services
from edc.models import DataQuery, Visit
from followup.models import AdverseEvent
from screening.models import Medication

pytestmark = pytest.mark.django_db


def onset_of(subject) -> dt.date:
    return Visit.objects.get(subject=subject, code="D0").visit_datetime.date() + dt.timedelta(days=2)


def crs(subject, user, **fields) -> AdverseEvent:
    values = {"term": "Cytokine release syndrome", "category": "CRS", "relatedness": "PROBABLE",
              "onset_date": onset_of(subject), "max_temperature_c": Decimal("37.2"),
              "hypotension": "MULTIPLE_VASOPRESSORS", "hypoxia": "POSITIVE_PRESSURE", **fields}  # fmt: skip
    return edc_services.save_crf(AdverseEvent(subject=subject, **values), user=user)


def treatment(subject, user, category="ANTI_IL6", drug="tocilizumab", indication="CRS", start=None, dose="480"):
    return edc_services.save_crf(
        Medication(subject=subject, drug=drug, category=category, indication=indication, dose_mg_per_day=Decimal(dose),
                   start_date=start or onset_of(subject), stop_date=start or onset_of(subject)),
        user=user,
    )  # fmt: skip


def fever_queries(event):
    return DataQuery.objects.filter(target_id=event.pk, target_field="max_temperature_c")


def test_masked_fever_with_vasopressors_and_bipap_is_grade_4_under_tocilizumab(treated, staff):
    # the case of issue 15: 37.2 °C after tocilizumab for the CRS, several vasopressors and BiPAP
    treatment(treated, staff)
    event = crs(treated, staff)
    assert event.astct_grade == 4
    assert not fever_queries(event).exists()


def test_a_corticosteroid_for_the_crs_masks_fever_too(treated, staff):
    treatment(treated, staff, category="CORTICOSTEROID", drug="methylprednisolone", dose="80")
    assert crs(treated, staff, hypotension="ONE_VASOPRESSOR", hypoxia="NONE").astct_grade == 3


def test_without_treatment_for_the_crs_the_grade_is_0_and_a_query_asks(treated, staff):
    treatment(treated, staff, category="CORTICOSTEROID", drug="prednisone", indication="SLE", dose="10")
    event = crs(treated, staff)
    assert event.astct_grade == 0
    assert fever_queries(event).exists()


def test_treatment_keyed_after_the_event_regrades_it(treated, staff):
    event = crs(treated, staff)
    assert event.astct_grade == 0
    treatment(treated, staff)
    event.refresh_from_db()
    assert event.astct_grade == 4
    assert event.history.first().history_change_reason == "ASTCT grade recomputed: the medication log changed"


@pytest.mark.parametrize(
    "fields, grade",
    [
        ({"outcome": "FATAL"}, 5),
        ({"outcome": "NOT_RECOVERED"}, 0),
        ({"max_temperature_c": Decimal("39"), "outcome": "FATAL"}, 5),
        ({"max_temperature_c": Decimal("39"), "outcome": "RECOVERED"}, 4),
    ],
)
def test_a_fatal_crs_is_grade_5(treated, staff, fields, grade):
    assert crs(treated, staff, **fields).astct_grade == grade


def test_a_fatal_icans_is_grade_5(treated, staff):
    values = {"term": "ICANS", "category": "ICANS", "relatedness": "PROBABLE", "onset_date": onset_of(treated),
              "ice_score": 2}  # fmt: skip
    event = edc_services.save_crf(AdverseEvent(subject=treated, **values, outcome="FATAL"), user=staff)
    assert event.astct_grade == 5


def test_api_takes_outcome_and_indication(treated, staff_api):
    onset = onset_of(treated).isoformat()
    answer = staff_api.post("/api/v1/medications/", {
        "subject": treated.subject_id, "drug": "tocilizumab", "category": "ANTI_IL6", "indication": "CRS",
        "dose_mg_per_day": "480", "start_date": onset, "stop_date": onset}, format="json")  # fmt: skip
    assert answer.status_code == 201, answer.content
    answer = staff_api.post("/api/v1/adverse-events/", {
        "subject": treated.subject_id, "term": "CRS", "category": "CRS", "relatedness": "PROBABLE",
        "onset_date": onset, "max_temperature_c": 37.2, "hypotension": "ONE_VASOPRESSOR", "hypoxia": "NONE",
        "outcome": "RECOVERED"}, format="json")  # fmt: skip
    assert answer.status_code == 201, answer.content
    assert (answer.json()["astct_grade"], answer.json()["outcome"]) == (3, "RECOVERED")
    refused = staff_api.post("/api/v1/adverse-events/", {
        "subject": treated.subject_id, "term": "CRS", "category": "CRS", "relatedness": "PROBABLE",
        "onset_date": onset, "outcome": "DEAD"}, format="json")  # fmt: skip
    assert refused.status_code == 400 and "outcome" in refused.json()


def test_sdtm_ae_carries_grade_5_for_a_fatal_crs(treated, staff, make_user, site, client_for):
    crs(treated, staff, max_temperature_c=Decimal("39.5"), outcome="FATAL")
    exporter = make_user(roles.DATA_MANAGER, site, username="exporter")
    response = client_for(exporter).get("/api/v1/exports/sdtm/ae/")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["AECAT"], r["AETOXGR"]) for r in rows] == [("CRS", "5")]


def test_admin_adverse_event_form_has_the_outcome(client, staff):
    from django.urls import reverse

    client.force_login(staff)
    page = client.get(reverse("admin:followup_adverseevent_add")).content.decode()
    assert 'name="outcome"' in page and 'value="FATAL"' in page
