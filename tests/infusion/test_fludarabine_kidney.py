"""Fludarabine and kidney function (DOMAIN.md §9): a registered validator of the lymphodepletion days opens a query
on `fludarabine_mg_per_m2`, from the admin and the API alike; never a refusal."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from edc import services as edc_services
from edc.models import DataQuery, LabResult
from infusion.models import LymphodepletionDose
from tests.infusion import factories
from tests.infusion.factories import payload

pytestmark = pytest.mark.django_db

# A woman of 60 kg; with this creatinine Cockcroft-Gault gives ~50 mL/min, with 250 µmol/L ~26 mL/min.
REDUCED_CREATININE, SEVERE_CREATININE, NORMAL_CREATININE = "130", "250", "60"


@pytest.fixture
def collected(enrolled, staff, day0):
    factories.make_apheresis(enrolled, staff, day0)
    return enrolled


def creatinine(subject, user, when: dt.datetime, umol_l: str) -> LabResult:
    return edc_services.save_crf(
        LabResult(subject=subject, analyte="CREAT", value=Decimal(umol_l), unit="µmol/L", sample_datetime=when),
        user=user,
    )


def fludarabine_queries():
    return list(
        DataQuery.objects.filter(target_model="infusion.lymphodepletiondose", target_field="fludarabine_mg_per_m2")
    )


def dose(subject, day, day0, mg_per_m2="30"):
    per_m2 = Decimal(mg_per_m2)
    return factories.dose_values(
        subject, day, day0, fludarabine_mg_per_m2=per_m2, fludarabine_mg=per_m2 * Decimal("1.66")
    )


def test_api_a_full_dose_with_reduced_clearance_is_stored_with_a_query(staff_api, staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=7)), NORMAL_CREATININE)
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), REDUCED_CREATININE)  # the latest
    response = staff_api.post("/api/v1/lymphodepletion/", payload(dose(collected, -5, day0)), format="json")
    assert response.status_code == 201, response.data
    (query,) = fludarabine_queries()
    assert query.auto and query.status == "OPEN" and query.target_id == response.data["id"]
    crcl = float(re.search(r"not reduced for CrCl ([\d.]+) mL/min", query.text).group(1))
    assert 45 < crcl < 55 and "normally avoided" not in query.text


def test_api_a_dose_reduced_to_80_percent_opens_no_query(staff_api, staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), REDUCED_CREATININE)
    response = staff_api.post("/api/v1/lymphodepletion/", payload(dose(collected, -5, day0, "24")), format="json")
    assert response.status_code == 201, response.data
    assert fludarabine_queries() == []


def test_very_low_clearance_says_fludarabine_is_normally_avoided(staff_api, staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), SEVERE_CREATININE)
    response = staff_api.post("/api/v1/lymphodepletion/", payload(dose(collected, -5, day0, "20")), format="json")
    assert response.status_code == 201, response.data
    (query,) = fludarabine_queries()
    assert "fludarabine is normally avoided" in query.text and "not reduced" not in query.text


def test_the_creatinine_is_the_latest_on_or_before_the_first_day_with_that_days_weight(staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=5), 7), NORMAL_CREATININE)  # day −5, 07:00
    factories.services.record_lymphodepletion_dose(LymphodepletionDose(**dose(collected, -5, day0)), user=staff)
    # A creatinine after the first lymphodepletion day does not judge the later days.
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=4), 7), SEVERE_CREATININE)
    factories.services.record_lymphodepletion_dose(LymphodepletionDose(**dose(collected, -4, day0)), user=staff)
    assert fludarabine_queries() == []


def test_no_creatinine_no_query(staff_api, collected, day0):
    response = staff_api.post("/api/v1/lymphodepletion/", payload(dose(collected, -5, day0)), format="json")
    assert response.status_code == 201 and fludarabine_queries() == []


def test_admin_stores_the_dose_and_opens_the_same_query(client, staff, collected, day0):
    from tests.infusion.test_admin import add

    client.force_login(staff)
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), REDUCED_CREATININE)
    response = add(client, LymphodepletionDose, dose(collected, -5, day0))
    assert response.status_code == 302
    stored = LymphodepletionDose.objects.get(subject=collected)
    (query,) = fludarabine_queries()
    assert query.target_id == stored.pk and "not reduced for CrCl" in query.text
    page = client.get(reverse("admin:infusion_lymphodepletiondose_change", args=[stored.pk])).content.decode()
    assert "not reduced for CrCl" in page


# --- Re-checked when the data it reads changes after the dose (a save listener) ------------------------------


def three_full_doses(subject, user, day0) -> list[LymphodepletionDose]:
    return [
        factories.services.record_lymphodepletion_dose(LymphodepletionDose(**dose(subject, day, day0)), user=user)
        for day in (-5, -4, -3)
    ]


def open_fludarabine_queries():
    return [query for query in fludarabine_queries() if query.status != DataQuery.Status.CLOSED]


def test_a_creatinine_keyed_after_the_doses_opens_the_query_on_each_day(staff, collected, day0):
    doses = three_full_doses(collected, staff, day0)
    assert fludarabine_queries() == []  # no creatinine yet: nothing to judge by
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), REDUCED_CREATININE)
    queries = open_fludarabine_queries()
    assert sorted(q.target_id for q in queries) == sorted(d.pk for d in doses)
    assert all(q.auto and "not reduced for CrCl" in q.text for q in queries)
    # Keyed again (an import re-sending the same result), nothing opens twice.
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6), 10), REDUCED_CREATININE)
    assert len(open_fludarabine_queries()) == 3


def test_a_later_normal_creatinine_before_the_first_day_settles_the_query(staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=7)), REDUCED_CREATININE)
    three_full_doses(collected, staff, day0)
    assert len(open_fludarabine_queries()) == 3
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), NORMAL_CREATININE)  # now the latest
    assert open_fludarabine_queries() == []
    closed = fludarabine_queries()
    assert len(closed) == 3 and all(q.status == DataQuery.Status.CLOSED for q in closed)
    assert all(q.answer.startswith("no longer applies") and q.closed_by.username == "edc-system" for q in closed)


def test_voiding_the_creatinine_that_judged_the_dose_reopens_the_earlier_verdict(staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=7)), REDUCED_CREATININE)
    latest = creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), NORMAL_CREATININE)
    three_full_doses(collected, staff, day0)
    assert fludarabine_queries() == []
    edc_services.void_crf(latest, user=staff, reason="wrong patient's sample")
    assert len(open_fludarabine_queries()) == 3


def test_a_creatinine_after_the_first_day_changes_nothing(staff, collected, day0):
    three_full_doses(collected, staff, day0)
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=4)), SEVERE_CREATININE)
    assert fludarabine_queries() == []


def test_a_changed_first_day_weight_re_judges_every_day(staff, collected, day0):
    creatinine(collected, staff, factories.at(day0 - dt.timedelta(days=6)), REDUCED_CREATININE)
    first, *_ = three_full_doses(collected, staff, day0)
    assert len(open_fludarabine_queries()) == 3
    # 60 kg was a typo for 100 kg (the mg/m² dose unchanged): CrCl above 70 mL/min, no reduction needed.
    first.weight_kg, first.fludarabine_mg = Decimal("100"), Decimal("61.2")
    first.height_cm = Decimal("165")
    factories.services.record_lymphodepletion_dose(first, user=staff, reason="weight typo")
    assert open_fludarabine_queries() == []
