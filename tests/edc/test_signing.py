"""Signatures (21 CFR 11.50): which meanings fit what is signed, the sign page (what is signed, the attestation,
the open-query confirmation) and where a signature shows afterwards."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from edc import rules, services
from edc.models import LabResult, Signature, Visit
from screening.models import EligibilityDecision
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(staff, subject):
    return services.save_crf(
        Visit(subject=subject, code="SCR", visit_datetime=timezone.now() - dt.timedelta(days=2), status="DONE"),
        user=staff,
    )


@pytest.fixture
def result(staff, subject, visit):
    row = LabResult(
        subject=subject, visit=visit, analyte="C3", value=Decimal("0.65"), unit="g/L", lln=Decimal("0.9"),
        uln=Decimal("1.8"), sample_datetime=timezone.now() - dt.timedelta(days=2),
    )  # fmt: skip
    return services.save_crf(row, user=staff)


@pytest.fixture
def queried(result, monitor):
    return services.open_query(result, "value", "Please check the C3 against the lab report", user=monitor)


def sign_url(row):
    return reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_sign", args=[row.pk])


def decision_of(subject, investigator):
    decided = EligibilityDecision(subject=subject, evaluation_date=timezone.localdate(), eligible=True,
                                  decided_by=investigator)  # fmt: skip
    return services.save_crf(decided, user=investigator)


# --- Which meanings fit which target ------------------------------------------------------------


def test_the_rule_offers_review_and_approval_on_data_and_eligibility_only_on_the_decision():
    assert rules.signature_meanings("edc.visit") == ("REVIEWED", "APPROVED")
    assert rules.signature_meanings("edc.subject") == ("REVIEWED", "APPROVED")
    assert rules.signature_meanings("edc.labresult") == ("REVIEWED", "APPROVED")
    assert rules.signature_meanings(rules.ELIGIBILITY_DECISION) == ("ELIGIBILITY_CONFIRMED",)
    assert rules.signature_meanings(rules.ELIGIBILITY_DECISION, ["ELIGIBILITY_CONFIRMED"]) == ()
    assert set(rules.MEANING_WORDS) == set(Signature.Meaning.values) == set(rules.ATTESTATIONS)


def test_the_service_refuses_a_meaning_that_does_not_fit(investigator, visit, subject):
    with pytest.raises(ValidationError) as refused:
        services.sign(visit, "ELIGIBILITY_CONFIRMED", user=investigator, password=factories.PASSWORD)
    assert "does not fit this visit" in refused.value.message_dict["meaning"][0]
    decision = decision_of(subject, investigator)
    with pytest.raises(ValidationError) as refused:
        services.sign(decision, "REVIEWED", user=investigator, password=factories.PASSWORD)
    assert "meaning" in refused.value.message_dict
    services.sign(decision, "ELIGIBILITY_CONFIRMED", user=investigator, password=factories.PASSWORD)
    with pytest.raises(ValidationError) as again:  # a stored decision is signed once, by its confirmation
        services.sign(decision, "ELIGIBILITY_CONFIRMED", user=investigator, password=factories.PASSWORD)
    assert "already signed" in again.value.message_dict["meaning"][0]
    assert Signature.objects.count() == 1


def test_the_api_answers_400_naming_meaning(client_for, investigator, visit):
    body = {"target_model": "edc.visit", "target_id": visit.pk, "meaning": "ELIGIBILITY_CONFIRMED",
            "password": factories.PASSWORD}  # fmt: skip
    response = client_for(investigator).post("/api/v1/signatures/", body, format="json")
    assert response.status_code == 400 and "does not fit this visit" in response.data["meaning"][0]
    assert Signature.objects.count() == 0


def test_the_sign_page_offers_only_the_meanings_that_fit(client, investigator, visit):
    client.force_login(investigator)
    page = client.get(sign_url(visit))
    assert [value for value, _ in page.context["form"].fields["meaning"].choices] == ["REVIEWED", "APPROVED"]
    assert 'value="ELIGIBILITY_CONFIRMED"' not in page.content.decode()
    forged = client.post(sign_url(visit), {"meaning": "ELIGIBILITY_CONFIRMED", "password": factories.PASSWORD})
    assert forged.status_code == 200 and Signature.objects.count() == 0


# --- The sign page: what is signed and the attestation -------------------------------------------


def test_the_sign_page_shows_what_is_signed_and_the_attestation(client, investigator, visit, result, queried):
    client.force_login(investigator)
    page = client.get(sign_url(visit)).content.decode()
    assert f"What you sign: visit screening of {visit.subject}" in page
    assert "0.65 g/L" in page and '<span class="signed-flag">low</span>' in page  # below its LLN 0.9
    assert "0.650000" not in page
    assert "Open queries (1)" in page and "Please check the C3 against the lab report" in page
    assert "<td>visit screening C3 result</td><td>Value</td>" in page  # the field by its label, not its column
    assert "<th>Code</th>" not in page and "(empty)" not in page
    assert "0 of 2 records verified" in page
    name = investigator.get_full_name()
    assert f"I, {name}, on " in page and "(Asia/Shanghai), sign visit screening of" in page
    assert "Meaning of this signature: reviewed." in page and "Meaning of this signature: approved." in page
    assert "Sign despite 1 open query" in page


def test_the_open_query_refusal_counts_the_queries():
    assert rules.open_query_refusal(0, "M1019-01-001 D7") is None
    assert rules.open_query_refusal(1, "M1019-01-001 D7").startswith("M1019-01-001 D7 has 1 open query; ")
    assert "has 3 open queries; confirm that you sign despite them" in rules.open_query_refusal(3, "D7")


def test_the_casebook_sign_page_lists_its_visits_without_identifying_data(client, investigator, subject, visit):
    client.force_login(investigator)
    page = client.get(sign_url(subject)).content.decode()
    assert f"What you sign: the casebook of {subject}" in page and "<th>Visit screening</th><td>Done</td>" in page
    signed_part = page.split("What you sign")[1]
    # As a word: the page's random CSRF token may hold the two letters.
    assert not re.search(rf"\b{subject.initials}\b", signed_part) and "1990-05-17" not in signed_part


def test_the_attestation_names_printed_name_date_time_and_meaning():
    text = rules.attestation_text("APPROVED", printed_name="Ann Li", what="visit D7 of M1019-01-001",
                                  signed_at="2026-03-02 10:15 (Asia/Shanghai)")  # fmt: skip
    assert text.startswith("I, Ann Li, on 2026-03-02 10:15 (Asia/Shanghai), sign visit D7 of M1019-01-001.")
    assert text.endswith("Meaning of this signature: approved.")


def test_the_sign_page_query_count_does_not_grow_with_the_results(client, investigator, staff, subject, visit):
    client.force_login(investigator)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(sign_url(visit)).status_code == 200
        return len(captured)

    one = count()
    for hours in range(1, 11):
        services.save_crf(LabResult(subject=subject, visit=visit, analyte="PLAT", value=Decimal(200 + hours),
                                    unit="10^9/L", sample_datetime=visit.visit_datetime + dt.timedelta(hours=hours)),
                          user=staff)  # fmt: skip
    assert count() == one


# --- Signing over open queries -------------------------------------------------------------------


def test_signing_over_open_queries_needs_the_explicit_confirmation(client, investigator, visit, queried):
    client.force_login(investigator)
    refused = client.post(sign_url(visit), {"meaning": "REVIEWED", "password": factories.PASSWORD})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert Signature.objects.count() == 0
    signed = client.post(sign_url(visit), {"meaning": "REVIEWED", "password": factories.PASSWORD,
                                           "over_open_queries": "on"})  # fmt: skip
    assert signed.status_code == 302
    assert Signature.objects.get().target_id == visit.pk


def test_without_open_queries_no_confirmation_is_asked(client, investigator, visit, result):
    client.force_login(investigator)
    page = client.get(sign_url(visit)).content.decode()
    assert "Sign despite" not in page and "None: every query over this data is closed." in page
    assert client.post(sign_url(visit), {"meaning": "APPROVED", "password": factories.PASSWORD}).status_code == 302


def test_the_service_and_the_api_refuse_open_queries_unless_acknowledged(client_for, investigator, visit, queried):
    with pytest.raises(ValidationError) as refused:
        services.sign(visit, "REVIEWED", user=investigator, password=factories.PASSWORD)
    assert "1 open query" in refused.value.message_dict["over_open_queries"][0]
    api = client_for(investigator)
    body = {"target_model": "edc.visit", "target_id": visit.pk, "meaning": "REVIEWED", "password": factories.PASSWORD}
    response = api.post("/api/v1/signatures/", body, format="json")
    assert response.status_code == 400 and "over_open_queries" in response.data
    assert Signature.objects.count() == 0
    assert api.post("/api/v1/signatures/", {**body, "over_open_queries": True}, format="json").status_code == 201


# --- Where the signature shows ---------------------------------------------------------------------


def test_the_signature_shows_on_the_visit_and_subject_pages(client, investigator, staff, visit, subject):
    services.sign(visit, "APPROVED", user=investigator, password=factories.PASSWORD)
    signed_at = timezone.localtime(Signature.objects.get().signed_at)
    shown = f"Approved by {investigator.get_full_name()}, {signed_at:%Y-%m-%d %H:%M} (Asia/Shanghai)"
    client.force_login(staff)
    visit_page = client.get(reverse("admin:edc_visit_change", args=[visit.pk])).content.decode()
    assert "<h2>Signatures</h2>" in visit_page and shown in visit_page
    subject_page = client.get(reverse("admin:edc_subject_change", args=[subject.pk])).content.decode()
    assert f"<strong>visit screening</strong>: {shown}" in subject_page
    crf_page = client.get(reverse("admin:edc_visit_crf", args=[visit.pk])).content.decode()  # followup's page
    assert f"Approved by {investigator.get_full_name()}, {signed_at:%Y-%m-%d %H:%M}" in crf_page


def test_an_unsigned_visit_says_so(client, staff, visit):
    client.force_login(staff)
    page = client.get(reverse("admin:edc_visit_change", args=[visit.pk])).content.decode()
    assert "<h2>Signatures</h2>" in page and "Not signed." in page
