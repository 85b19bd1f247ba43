import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from edc.services import save_crf
from screening.models import Medication, ScreeningExam, SledaiAssessment
from tests.screening import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, staff):
    client.force_login(staff)
    return client


def subject_page(browser, subject):
    response = browser.get(reverse("admin:edc_subject_change", args=[subject.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_subject_page_marks_each_criterion_with_its_reason(browser, screened):
    save_crf(
        Medication(subject=screened, drug="prednisone", category="CORTICOSTEROID", dose_mg_per_day=80,
                   start_date=dt.date(2024, 6, 1)),
        user=screened.history.first().history_user, reason="",
    )  # fmt: skip
    page = subject_page(browser, screened)
    assert page.count('class="criterion-') == 23
    assert 'class="criterion-not_met"' in page and "#c62828" in page  # the regimen: 95 mg/day
    assert "prednisone-equivalent 95 mg/day not within 7.5–60" in page
    assert 'class="criterion-met"' in page and "#2e7d32" in page
    assert "ALT 30 U/L = 0.75 × ULN 40 ≤ 2.5 × ULN" in page
    for title in ("Consents", "SLE history", "Medications", "SELENA-SLEDAI assessment", "Screening exam"):
        assert title in page


def test_missing_criteria_are_grey(browser, subject):
    page = subject_page(browser, subject)
    assert page.count('class="criterion-missing"') == 23 and "#757575" in page
    assert "missing consent date (consent), ICF version (consent)" in page
    assert "consent.consent_date" not in page and "lab_results." not in page and "screening_exam." not in page


def test_subject_page_query_count_is_independent_of_rows(browser, screened, staff):
    def count():
        cache.clear()  # the panels are rendered again, as after any change to the subject's data
        with CaptureQueriesContext(connection) as captured:
            subject_page(browser, screened)
        return len(captured)

    subject_page(browser, screened)  # what a process loads once (content types)
    one = count()
    for day in range(1, 21):
        save_crf(Medication(subject=screened, drug=f"drug {day}", category="OTHER", start_date=dt.date(2024, 1, day)),
                 user=staff)  # fmt: skip
        save_crf(SledaiAssessment(subject=screened, assessment_date=dt.date(2025, 3, 5) + dt.timedelta(days=day),
                                  descriptors=["RASH"]), user=staff)  # fmt: skip
    assert count() == one


def exam_form(subject, **overrides):
    """The admin form's POST: NullBooleanSelect takes "true"/"false", empty for unknown."""
    values = {}
    for key, value in factories.SCREENING_EXAM.items():
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif value is not None:
            values[key] = value
    return {"subject": subject.pk, **values, **overrides}


def test_admin_exam_hard_limit_is_shown_on_the_field(browser, subject):
    response = browser.post(reverse("admin:screening_screeningexam_add"), exam_form(subject, lvef_pct="95"))
    assert response.status_code == 200
    assert "hard limit" in str(response.context["adminform"].form.errors["lvef_pct"])
    assert ScreeningExam.objects.count() == 0


def test_admin_exam_stores_ticked_crises(browser, subject):
    form = exam_form(subject, lupus_crises=["CNS_LUPUS", "VASCULITIS"])
    response = browser.post(reverse("admin:screening_screeningexam_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ScreeningExam.objects.get().lupus_crises == ["CNS_LUPUS", "VASCULITIS"]


def test_admin_sledai_score_is_computed(browser, subject):
    response = browser.post(
        reverse("admin:screening_sledaiassessment_add"),
        {"subject": subject.pk, "assessment_date": "2025-03-05", "descriptors": ["SEIZURE", "LOW_COMPLEMENT"],
         "pga": "2"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    assessment = SledaiAssessment.objects.get()
    assert (assessment.total, assessment.clinical, assessment.serological) == (10, 8, 2)
    change = browser.get(reverse("admin:screening_sledaiassessment_change", args=[assessment.pk]))
    assert change.status_code == 200


@pytest.mark.parametrize(
    "name",
    ["consent", "slehistory", "medication", "sledaiassessment", "screeningexam", "eligibilitydecision"],
)
def test_changelists_open(browser, screened, name):
    assert browser.get(reverse(f"admin:screening_{name}_changelist")).status_code == 200


def test_admin_exam_stores_the_prohibited_drug_question(browser, subject):
    # issue 15: the investigator's yes/no on active nephritis treated with a drug the protocol prohibits
    add = browser.get(reverse("admin:screening_screeningexam_add"))
    assert 'name="active_nephritis_prohibited_drug"' in add.content.decode()
    form = exam_form(subject, active_nephritis_prohibited_drug="true")
    response = browser.post(reverse("admin:screening_screeningexam_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ScreeningExam.objects.get().active_nephritis_prohibited_drug is True
