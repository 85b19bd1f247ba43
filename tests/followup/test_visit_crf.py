import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from edc import services as edc_services
from edc.models import DataQuery, LabResult, Site, SourceVerification, Visit
from followup.models import PrednisoneDose
from screening.models import SledaiAssessment
from tests.factories import PASSWORD
from tests.followup.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


@pytest.fixture
def d7(treated):
    return Visit.objects.get(subject=treated, code="D7")


def visit_form(visit, **overrides):
    when = dt.datetime.combine(visit.planned_date, dt.time(9, 30))
    data = {
        "visit_datetime_0": when.strftime("%Y-%m-%d"), "visit_datetime_1": when.strftime("%H:%M:%S"),
        "status": "DONE",
        "CARPCR__value": "15400", "CARPCR__lloq": "50",
        "CARFLOW__value": "12.5", "CARFLOW__lloq": "0.5",
        "CD19__value": "0.4", "CD19__uln": "616",
        "DSDNA__value": "180", "DSDNA__uln": "100",
        "C3__value": "0.82", "C3__lln": "0.9", "C3__uln": "1.8",
        "C4__value": "0.11", "C4__lln": "0.1", "C4__uln": "0.4",
        "ANA__result_text": "1:320", "SM__result_text": "NEGATIVE",
        "PROT24__value": "0.4", "PROT24__uln": "0.15",
        "WBC__value": "4.1", "LYM__value": "0.6", "PLAT__value": "180", "HGB__value": "118",
        "descriptors": ["ARTHRITIS", "LOW_COMPLEMENT", "DNA_BINDING"], "pga": "1.0",
        "prednisone_mg_per_day": "12.5",
    }  # fmt: skip
    data.update(overrides)
    return data


def crf_url(visit):
    return reverse("admin:edc_visit_crf", args=[visit.pk])


def test_staff_keys_a_whole_visit_and_every_value_has_history(client, staff, d7):
    client.force_login(staff)
    page = client.get(crf_url(d7))
    assert page.status_code == 200 and "CAR transgene (qPCR)" in page.content.decode()
    response = client.post(crf_url(d7), visit_form(d7))
    assert response.status_code == 302, response.context["form"].errors
    d7.refresh_from_db()
    assert d7.status == "DONE" and d7.visit_datetime.astimezone(SHANGHAI).time() == dt.time(9, 30)
    results = {r.analyte: r for r in LabResult.objects.filter(visit=d7)}
    assert len(results) == 13
    assert results["CARPCR"].value == Decimal("15400") and results["CARPCR"].lloq == Decimal("50")
    assert results["ANA"].result_text == "1:320" and results["C3"].lln == Decimal("0.9")
    assert results["CD19"].unit == "cells/µL"
    for result in results.values():
        record = result.history.get()
        assert record.history_user == staff
    assessment = SledaiAssessment.objects.get(visit=d7)
    assert (assessment.total, assessment.clinical) == (8, 4)
    assert PrednisoneDose.objects.get(visit=d7).prednisone_mg_per_day == Decimal("12.5")


def test_a_hard_limit_refuses_the_whole_page(client, staff, d7):
    client.force_login(staff)
    response = client.post(crf_url(d7), visit_form(d7, C3__value="11"))
    assert response.status_code == 200
    assert "hard limit" in str(response.context["form"].errors["C3__value"])
    d7.refresh_from_db()
    assert d7.status == "SCHEDULED" and d7.history.count() == 1
    assert LabResult.objects.filter(visit=d7).count() == 0
    assert not SledaiAssessment.objects.exists() and not PrednisoneDose.objects.exists()


def test_a_soft_limit_is_stored_and_its_query_shows_on_the_page(client, staff, d7):
    client.force_login(staff)
    assert client.post(crf_url(d7), visit_form(d7, HGB__value="55")).status_code == 302
    query = DataQuery.objects.get(target_field="value", auto=True)
    assert LabResult.objects.get(pk=query.target_id).analyte == "HGB"
    page = client.get(crf_url(d7)).content.decode()
    assert 'class="query-badge"' in page and "below the expected 60" in page


def test_changing_an_entered_value_needs_a_reason(client, staff, d7):
    client.force_login(staff)
    client.post(crf_url(d7), visit_form(d7))
    refused = client.post(crf_url(d7), visit_form(d7, C3__value="0.95"))
    assert refused.status_code == 200 and "change_reason" in refused.context["form"].errors
    assert LabResult.objects.get(visit=d7, analyte="C3").value == Decimal("0.82")
    accepted = client.post(crf_url(d7), visit_form(d7, C3__value="0.95", change_reason="transcription"))
    assert accepted.status_code == 302
    c3 = LabResult.objects.get(visit=d7, analyte="C3")
    assert c3.value == Decimal("0.95") and c3.history.first().history_change_reason == "transcription"


def test_the_reference_range_is_proposed_from_the_last_result(client, staff, treated, d7):
    edc_services.save_crf(
        LabResult(subject=treated, analyte="C3", value=Decimal("0.7"), lln=Decimal("0.88"), uln=Decimal("1.77"),
                  sample_datetime=Visit.objects.get(subject=treated, code="D0").visit_datetime),
        user=staff,
    )  # fmt: skip
    client.force_login(staff)
    form = client.get(crf_url(d7)).context["form"]
    assert (form.initial["C3__lln"], form.initial["C3__uln"]) == ("0.88", "1.77")  # as typed, not 0.880000


def test_a_monitor_reads_but_cannot_save(client, monitor, d7):
    client.force_login(monitor)
    page = client.get(crf_url(d7))
    assert page.status_code == 200
    assert all(field.disabled for field in page.context["form"].fields.values())
    assert 'name="C3__value"' in page.content.decode() and "Save visit" not in page.content.decode()
    assert client.post(crf_url(d7), visit_form(d7)).status_code == 403
    assert LabResult.objects.count() == 0


def test_a_test_left_empty_beside_its_proposed_range_is_no_result(client, staff, d7):
    """PROT24 left empty with the range the form proposed: the visit saves, and saves again on a later edit."""
    client.force_login(staff)
    form = visit_form(d7, PROT24__value="", PROT24__uln="0.15", CARPCR__value="", CARPCR__lloq="50")
    response = client.post(crf_url(d7), form)
    assert response.status_code == 302, response.context["form"].errors
    saved = set(LabResult.objects.filter(visit=d7).values_list("analyte", flat=True))
    assert "PROT24" not in saved and "CARPCR" not in saved and "C3" in saved
    again = client.post(crf_url(d7), {**form, "C3__value": "0.95", "change_reason": "transcription"})
    assert again.status_code == 302, again.context["form"].errors
    assert LabResult.objects.get(visit=d7, analyte="C3").value == Decimal("0.95")


def test_correcting_a_queried_value_on_the_page_closes_its_query(client, staff, d7):
    client.force_login(staff)
    assert client.post(crf_url(d7), visit_form(d7, HGB__value="55")).status_code == 302
    query = DataQuery.objects.get(target_field="value", auto=True)
    corrected = client.post(crf_url(d7), visit_form(d7, HGB__value="125", change_reason="typo"))
    assert corrected.status_code == 302, corrected.context["form"].errors
    query.refresh_from_db()
    assert query.status == DataQuery.Status.CLOSED and query.closed_by == staff
    assert query.answer == "corrected by staff: value 55 → 125 (typo)"
    assert 'class="query-badge"' not in client.get(crf_url(d7)).content.decode()


def test_numbers_show_as_typed_with_flags_from_their_own_range(client, staff, d7):
    client.force_login(staff)
    client.post(crf_url(d7), visit_form(d7, CARPCR__value="1500"))
    page = client.get(crf_url(d7)).content.decode()
    assert 'value="1500"' in page and "1500.000000" not in page and 'value="0.82"' in page
    rows = {row.line.analyte: row for _, rows in client.get(crf_url(d7)).context["sections"] for row in rows}
    assert (rows["C3"].flag, rows["DSDNA"].flag, rows["HGB"].flag, rows["CARPCR"].flag) == ("L", "H", "", "")


def test_sledai_descriptors_are_named_with_their_weights_by_organ(client, staff, d7):
    client.force_login(staff)
    page = client.get(crf_url(d7)).content.decode()
    for text in ("Central nervous system", "Organic brain syndrome (8)", "Renal", "Increased DNA binding (2)"):
        assert text in page
    assert ">ORGANIC_BRAIN<" not in page and "NOT_DETECTED" not in page


def test_refused_fields_are_listed_at_the_top_with_links_and_nothing_says_saved(client, staff, d7):
    client.force_login(staff)
    typed_badly = client.post(crf_url(d7), visit_form(d7, HGB__uln="abc"), follow=True).content.decode()
    assert "Nothing was saved" in typed_badly and '<a href="#id_HGB__uln">haemoglobin — ULN</a>' in typed_badly
    over_the_limit = client.post(crf_url(d7), visit_form(d7, C3__value="11"), follow=True).content.decode()
    assert "Nothing was saved" in over_the_limit and '<a href="#id_C3__value">C3</a>: ' in over_the_limit
    for page in (typed_badly, over_the_limit):
        assert "saved." not in page.replace("Nothing was saved", "")
    assert LabResult.objects.filter(visit=d7).count() == 0


def test_signatures_and_sdv_show_on_the_page_with_a_sign_link_for_investigators(client, staff, investigator, monitor,
                                                                                  d7):  # fmt: skip
    client.force_login(staff)
    client.post(crf_url(d7), visit_form(d7))
    page = client.get(crf_url(d7)).content.decode()
    assert "not signed" in page and "Sign this visit" not in page and "0 of 14 record(s)" in page
    edc_services.verify_source(LabResult.objects.get(visit=d7, analyte="C3"), user=monitor)
    d7.refresh_from_db()
    edc_services.sign(d7, "REVIEWED", user=investigator, password=PASSWORD)
    client.force_login(investigator)
    page = client.get(crf_url(d7)).content.decode()
    assert "Reviewed by" in page and "1 of 14 record(s)" in page
    assert f'href="{reverse("admin:edc_visit_sign", args=[d7.pk])}"' in page


def test_anc_in_the_blood_count_and_igg_in_serology_with_their_units(client, staff, d7):
    client.force_login(staff)
    page = client.get(crf_url(d7)).content.decode()
    assert "neutrophils (ANC)" in page and "immunoglobulin G" in page and "10^9/L" in page
    form = visit_form(d7, ANC__value="1.8", ANC__lln="1.8", ANC__uln="6.3", IGG__value="3.9", IGG__lln="7",
                      IGG__uln="16")  # fmt: skip
    assert client.post(crf_url(d7), form).status_code == 302
    results = {r.analyte: r for r in LabResult.objects.filter(visit=d7)}
    assert (results["ANC"].value, results["ANC"].unit) == (Decimal("1.8"), "10^9/L")
    assert (results["IGG"].value, results["IGG"].unit) == (Decimal("3.9"), "g/L")
    # IgG below 4 g/L (severe hypogammaglobulinaemia) opens a query; ANC 1.8 does not.
    queries = DataQuery.objects.filter(target_model="edc.labresult", auto=True)
    assert [(q.target_id, q.target_field) for q in queries] == [(results["IGG"].pk, "value")]
    assert "below the expected 4" in queries.get().text


def test_a_monitor_verifies_the_whole_visit_from_its_crf_page(client, staff, monitor, investigator, d7):
    client.force_login(staff)
    client.post(crf_url(d7), visit_form(d7))
    assert "Verify this visit" not in client.get(crf_url(d7)).content.decode()
    client.force_login(monitor)
    before = client.get(crf_url(d7)).content.decode()
    verify = reverse("admin:edc_visit_verify", args=[d7.pk])
    assert "0 of 14 record(s)" in before and f'action="{verify}"' in before and "last verified by" not in before
    response = client.post(verify, {"next": crf_url(d7)})
    assert response.status_code == 302 and response["Location"] == crf_url(d7)
    Site.objects.filter(pk=d7.subject.site_id).update(timezone="Europe/Berlin")
    after = client.get(crf_url(d7)).content.decode()
    verification = SourceVerification.objects.filter(voided=False).latest("verified_at")
    when = verification.verified_at.astimezone(ZoneInfo("Europe/Berlin"))  # the site's time, not the study's
    assert "✔ all 14</span> record(s)" in after and f'action="{verify}"' not in after  # nothing left to verify
    assert f"last verified by {monitor.get_full_name()}, {when:%Y-%m-%d %H:%M}" in after
    client.force_login(investigator)
    assert client.post(verify, {"next": crf_url(d7)}).status_code == 403
