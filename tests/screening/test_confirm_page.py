"""The investigator's "Confirm eligibility" page on the subject (the same service as the API's confirmation) and
the eligibility panel in words."""

import pytest
from django.urls import reverse

from edc import roles
from edc.models import Signature
from edc.services import save_crf
from screening.models import EligibilityDecision, ScreeningExam
from tests import factories as edc_factories
from tests.screening import factories

pytestmark = pytest.mark.django_db


def confirm_url(subject):
    return reverse("admin:edc_subject_eligibility", args=[subject.pk])


def subject_page(client, subject):
    return client.get(reverse("admin:edc_subject_change", args=[subject.pk])).content.decode()


def confirm(client, subject, password=edc_factories.PASSWORD):
    shown = client.get(confirm_url(subject)).context["form"]["shown"].value()
    return client.post(confirm_url(subject), {"password": password, "shown": shown})


def test_the_page_shows_the_criteria_snapshot_in_words(client, investigator, screened):
    client.force_login(investigator)
    page = client.get(confirm_url(screened)).content.decode()
    assert page.count('class="criterion-') == 23
    assert "Informed consent signed before every screening procedure" in page and "(INC_CONSENT)" in page
    assert ">met<" in page and ">MET<" not in page
    assert "Heart: LVEF 45 % or more" in page
    name = investigator.get_full_name()
    assert f"I, {name}, on " in page and f"sign the eligibility of {screened} (eligible, screening date" in page
    assert "Meaning of this signature: eligibility confirmed." in page
    assert 'type="password"' in page


def test_a_wrong_password_signs_nothing(client, investigator, screened):
    client.force_login(investigator)
    response = confirm(client, screened, password="wrong")
    assert response.status_code == 200 and "the password does not match" in response.content.decode()
    screened.refresh_from_db()
    assert screened.status == "SCREENING"
    assert not EligibilityDecision.objects.exists() and not Signature.objects.exists()


def test_the_investigator_confirms_and_the_signature_shows(client, investigator, screened):
    client.force_login(investigator)
    response = confirm(client, screened)
    assert response.status_code == 302 and response.url == reverse("admin:edc_subject_change", args=[screened.pk])
    screened.refresh_from_db()
    decision = EligibilityDecision.objects.get()
    assert (screened.status, decision.eligible, decision.signature.meaning) == (
        "ENROLLED", True, "ELIGIBILITY_CONFIRMED",
    )  # fmt: skip
    page = subject_page(client, screened)
    assert f"Eligibility confirmed by {investigator.get_full_name()}" in page  # in the panel and the Signatures
    assert "<strong>eligibility decision</strong>: Eligibility confirmed by" in page
    assert f'href="{confirm_url(screened)}"' not in page  # decided: no button any more
    again = client.get(confirm_url(screened)).content.decode()
    assert "Eligibility was confirmed eligible" in again and 'type="password"' not in again


def test_missing_data_is_refused_on_the_form(client, investigator, subject):
    client.force_login(investigator)
    response = confirm(client, subject)
    assert response.status_code == 200
    assert "23 criteria are missing data (marked ? below)" in response.content.decode()
    assert not EligibilityDecision.objects.exists()


def test_data_changed_since_the_page_was_opened_is_refused(client, investigator, staff, screened):
    client.force_login(investigator)
    shown = client.get(confirm_url(screened)).context["form"]["shown"].value()
    exam = ScreeningExam.objects.get(subject=screened)
    exam.lvef_pct = 40
    save_crf(exam, user=staff, reason="corrected from the echo report")
    response = client.post(confirm_url(screened), {"password": edc_factories.PASSWORD, "shown": shown})
    assert (
        response.status_code == 200 and "The criteria changed since this page was opened" in response.content.decode()
    )
    assert not EligibilityDecision.objects.exists()


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER])
def test_only_an_investigator_opens_the_page(client, make_user, site, screened, role):
    client.force_login(make_user(role, site))
    assert client.get(confirm_url(screened)).status_code == 403
    assert client.post(confirm_url(screened), {"password": edc_factories.PASSWORD}).status_code == 403
    assert not EligibilityDecision.objects.exists()


def test_another_sites_investigator_gets_404(client, make_user, other_site, screened):
    client.force_login(make_user(roles.INVESTIGATOR, other_site))
    assert client.get(confirm_url(screened)).status_code == 404
    assert client.post(confirm_url(screened), {"password": edc_factories.PASSWORD}).status_code == 404


def test_the_panel_names_criteria_and_missing_inputs_in_words(client, investigator, staff, subject):
    client.force_login(investigator)
    page = subject_page(client, subject)
    assert "Informed consent signed before every screening procedure" in page
    assert "missing consent date (consent), ICF version (consent)" in page
    assert "LVEF (%) (screening exam)" in page and "creatinine result" in page
    for path in ("consent.consent_date", "screening_exam.", "lab_results.", "sle_history.", ">MISSING<"):
        assert path not in page
    assert f'<a class="button" href="{confirm_url(subject)}">Confirm eligibility</a>' in page
    client.force_login(staff)
    assert "Confirm eligibility</a>" not in subject_page(client, subject)  # staff: awaiting the investigator


def test_a_crisis_is_named_in_words(client, investigator, subject, staff):
    exam = {**factories.SCREENING_EXAM, "lupus_crises": ["CNS_LUPUS"]}
    factories.store_screening(subject, staff, factories.dry_run_body(screening_exam=exam))
    client.force_login(investigator)
    page = client.get(confirm_url(subject)).content.decode()
    assert "lupus crisis: active CNS lupus" in page and "CNS_LUPUS" not in page
