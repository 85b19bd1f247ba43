import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from edc import roles
from edc.models import DataQuery, LabResult, Signature, Subject
from screening import services
from screening.models import (
    Consent,
    EligibilityDecision,
    Medication,
    ScreeningExam,
    SledaiAssessment,
    SleHistory,
)
from tests import factories as edc_factories
from tests.screening import factories

pytestmark = pytest.mark.django_db

SCREENING_MODELS = (Consent, SleHistory, Medication, SledaiAssessment, ScreeningExam, EligibilityDecision, LabResult)


def snapshot():
    """Row and history counts of every screening model (and lab results): bad input leaves them as they were."""
    return {m.__name__: (m.objects.count(), m.history.count()) for m in SCREENING_MODELS} | {
        "signatures": Signature.objects.count(),
        "queries": DataQuery.objects.count(),
    }


def payload(subject, route, **overrides):
    body = factories.dry_run_body()
    data = {
        "consents": body["consent"],
        "sle-history": body["sle_history"],
        "medications": body["medications"][1],
        "sledai": body["sledai"],
        "screening-exams": body["screening_exam"],
    }[route]
    return {"subject": subject.subject_id, **data, **overrides}


@pytest.mark.parametrize("route", ["consents", "sle-history", "medications", "sledai", "screening-exams"])
def test_each_crf_is_created_with_history(staff_api, staff, subject, route):
    response = staff_api.post(f"/api/v1/{route}/", payload(subject, route), format="json")
    assert response.status_code == 201, response.content
    assert response["ETag"] == '"1"'
    model = {m._meta.model_name: m for m in SCREENING_MODELS}
    row = next(m for m in model.values() if m.objects.filter(pk=response.data["id"]).exists())
    record = row.history.get(id=response.data["id"])
    assert record.history_user == staff


def test_sledai_score_is_computed_not_typed(staff_api, subject):
    response = staff_api.post(
        "/api/v1/sledai/", payload(subject, "sledai", total=99, descriptors=["RASH", "DNA_BINDING", "RASH"]),
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert (response.data["total"], response.data["clinical"], response.data["serological"]) == (4, 2, 2)
    assert response.data["activity"] == "MILD"
    assert response.data["descriptors"] == ["RASH", "DNA_BINDING"]


@pytest.mark.parametrize(
    "route, overrides, field",
    [
        ("consents", {"consent_date": "2099-01-01"}, "consent_date"),
        ("consents", {"consent_date": "1980-01-01"}, "consent_date"),  # before birth
        ("sle-history", {"slicc_criteria": ["ANA", "BUTTERFLY"]}, "slicc_criteria"),
        ("medications", {"category": "STEROID"}, "category"),
        ("medications", {"drug": "budesonide"}, "drug"),
        ("medications", {"dose_mg_per_day": 0}, "dose_mg_per_day"),
        ("medications", {"stop_date": "2024-01-01"}, "stop_date"),
        ("sledai", {"descriptors": ["RASH", "ITCH"]}, "descriptors"),
        ("sledai", {"pga": "3.5"}, "pga"),
        ("screening-exams", {"sao2_room_air_pct": "49.9"}, "sao2_room_air_pct"),
        ("screening-exams", {"sao2_room_air_pct": "100.1"}, "sao2_room_air_pct"),
        ("screening-exams", {"lvef_pct": "4.9"}, "lvef_pct"),
        ("screening-exams", {"lvef_pct": "90.1"}, "lvef_pct"),
        ("screening-exams", {"weight_kg": "24.9"}, "weight_kg"),
        ("screening-exams", {"weight_kg": "300.1"}, "weight_kg"),
        ("screening-exams", {"height_cm": "99"}, "height_cm"),
        ("screening-exams", {"height_cm": "231"}, "height_cm"),
        ("screening-exams", {"dyspnoea_grade": 6}, "dyspnoea_grade"),
        ("screening-exams", {"lupus_crises": ["ZOMBIE"]}, "lupus_crises"),
        ("screening-exams", {"investigator_exclusion": True}, "investigator_exclusion_reason"),
        ("screening-exams", {"exam_date": "2099-01-01"}, "exam_date"),
    ],
)
def test_hard_limits_are_refused_naming_the_field(staff_api, subject, route, overrides, field):
    before = snapshot()
    response = staff_api.post(f"/api/v1/{route}/", payload(subject, route, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.data, response.data
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value, expected_in_query",
    [("sao2_room_air_pct", "84.9", "below the expected 85"), ("lvef_pct", "29", "below the expected 30"),
     ("weight_kg", "151", "above the expected 150")],
)  # fmt: skip
def test_soft_limits_store_and_open_a_query(staff_api, subject, field, value, expected_in_query):
    response = staff_api.post("/api/v1/screening-exams/", payload(subject, "screening-exams", **{field: value}),
                              format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    query = DataQuery.objects.get()
    assert (query.target_model, query.target_field, query.auto) == ("screening.screeningexam", field, True)
    assert expected_in_query in query.text


def test_a_second_consent_is_refused(staff_api, subject):
    assert staff_api.post("/api/v1/consents/", payload(subject, "consents"), format="json").status_code == 201
    before = snapshot()
    response = staff_api.post("/api/v1/consents/", payload(subject, "consents"), format="json")
    assert response.status_code == 400 and "subject" in response.data
    assert snapshot() == before


class TestConsentComesFirst:
    def test_a_procedure_dated_before_the_consent_is_refused(self, staff_api, subject):
        staff_api.post("/api/v1/consents/", payload(subject, "consents"), format="json")  # 2025-03-01
        before = snapshot()
        exam = staff_api.post(
            "/api/v1/screening-exams/", payload(subject, "screening-exams", exam_date="2025-02-28"), format="json"
        )
        sledai = staff_api.post("/api/v1/sledai/", payload(subject, "sledai", assessment_date="2025-02-28"),
                                format="json")  # fmt: skip
        lab = staff_api.post(
            "/api/v1/lab-results/",
            edc_factories.lab_payload(subject, sample_datetime="2025-02-28T23:30:00+08:00"),
            format="json",
        )
        assert (exam.status_code, sledai.status_code, lab.status_code) == (400, 400, 400)
        assert "before the informed consent of 2025-03-01" in exam.data["exam_date"][0]
        assert "assessment_date" in sledai.data and "sample_datetime" in lab.data
        assert snapshot() == before

    def test_a_lab_on_the_consent_day_in_site_time_is_accepted(self, staff_api, subject):
        staff_api.post("/api/v1/consents/", payload(subject, "consents"), format="json")
        # 2025-02-28 16:30 UTC is 2025-03-01 00:30 in Hangzhou: the consent day
        lab = staff_api.post(
            "/api/v1/lab-results/", edc_factories.lab_payload(subject, sample_datetime="2025-02-28T16:30:00+00:00"),
            format="json",
        )  # fmt: skip
        assert lab.status_code == 201, lab.content

    def test_a_consent_after_a_recorded_procedure_is_refused(self, staff_api, subject):
        exam = staff_api.post("/api/v1/screening-exams/", payload(subject, "screening-exams"), format="json")
        assert exam.status_code == 201  # 2025-03-05, no consent recorded yet
        before = snapshot()
        response = staff_api.post("/api/v1/consents/", payload(subject, "consents", consent_date="2025-03-06"),
                                  format="json")  # fmt: skip
        assert response.status_code == 400
        assert "screening exam on 2025-03-05" in response.data["consent_date"][0]
        assert snapshot() == before


def eligibility(api, subject, on="2025-03-10"):
    return api.get(f"/api/v1/subjects/{subject.subject_id}/eligibility/?evaluation_date={on}")


def test_stored_eligibility_of_an_eligible_subject(staff_api, screened):
    response = eligibility(staff_api, screened)
    assert response.status_code == 200, response.content
    assert response.data["eligible"] is True
    assert len(response.data["criteria"]) == 23
    assert {c["outcome"] for c in response.data["criteria"]} == {"MET"}
    assert response.data["apheresis_start"] is None


def test_stored_eligibility_reports_missing_inputs(staff_api, subject):
    response = eligibility(staff_api, subject)
    assert response.data["eligible"] is None
    consent = next(c for c in response.data["criteria"] if c["code"] == "INC_CONSENT")
    assert consent["missing"] == ["consent.consent_date", "consent.icf_version"]


def test_eligibility_of_another_sites_subject_is_404(client_for, make_user, other_site, screened):
    api = client_for(make_user(roles.SITE_STAFF, other_site))
    assert eligibility(api, screened).status_code == 404


def test_eligibility_bad_date_is_400(staff_api, screened):
    response = eligibility(staff_api, screened, on="10/03/2025")
    assert response.status_code == 400 and "evaluation_date" in response.data


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"screening_exam": {**factories.SCREENING_EXAM, "lvef_pct": "40", "gilbert_syndrome": None}},
        {"lab_results": [lab for lab in factories.dry_run_body()["lab_results"] if lab["analyte"] != "PT"]},
        {"medications": [{**factories.MEDICATIONS[1], "dose_mg_per_day": "5"}]},
    ],
    ids=["eligible", "lvef-low", "pt-missing", "regimen"],
)
def test_dry_run_and_stored_evaluation_give_identical_answers(staff_api, subject, staff, variant):
    body = factories.dry_run_body(**variant)
    factories.store_screening(subject, staff, body)
    stored = eligibility(staff_api, subject)
    before = snapshot()
    dry = staff_api.post("/api/v1/eligibility/evaluate/", body, format="json")
    assert dry.status_code == 200, dry.content
    assert dry.json() == stored.json()
    assert snapshot() == before  # the dry run stores nothing


def test_dry_run_example_of_the_schema_evaluates(staff_api):
    from screening.api import DRY_RUN_EXAMPLE

    response = staff_api.post("/api/v1/eligibility/evaluate/", DRY_RUN_EXAMPLE, format="json")
    assert response.status_code == 200, response.content
    assert response.data["evaluation_date"] == "2025-03-10"


def test_dry_run_takes_the_apheresis_start_from_the_body(staff_api):
    body = factories.dry_run_body(apheresis={"start_datetime": "2025-03-06T08:00:00+08:00"})  # CBC 48 h before
    response = staff_api.post("/api/v1/eligibility/evaluate/", body, format="json")
    cbc = next(c for c in response.data["criteria"] if c["code"] == "INC_CBC")
    assert cbc["outcome"] == "NOT_MET" and "48 h before apheresis start > 24 h" in cbc["reason"]


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b["lab_results"][1].update(value="-1"), "lab_results[1].value"),
        (lambda b: b["lab_results"][3].update(unit="mg/dL"), "lab_results[3].unit"),
        (lambda b: b["lab_results"][0].update(analyte="XYZ"), "lab_results[0].analyte"),
        (lambda b: b["medications"][0].update(category="HERBAL"), "medications[0].category"),
        (lambda b: b["medications"][1].update(drug="budesonide"), "medications[1].drug"),
        (lambda b: b["sledai"].update(descriptors=["ITCH"]), "sledai.descriptors"),
        (lambda b: b["sle_history"].update(slicc_criteria=["MALAR"]), "sle_history.slicc_criteria"),
        (lambda b: b["screening_exam"].update(sao2_room_air_pct="101"), "screening_exam.sao2_room_air_pct"),
        (lambda b: b["screening_exam"].update(lupus_crises=["NOPE"]), "screening_exam.lupus_crises"),
        (lambda b: b["consent"].update(consent_date="1980-01-01"), "consent.consent_date"),
        (lambda b: b["subject"].update(sex="X"), "subject.sex"),
        (lambda b: b.update(evaluation_date="soon"), "evaluation_date"),
    ],
)
def test_dry_run_hard_limits_name_the_field(staff_api, change, field):
    body = factories.dry_run_body()
    change(body)
    before = snapshot()
    response = staff_api.post("/api/v1/eligibility/evaluate/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.data, response.data
    assert snapshot() == before


def test_dry_run_reports_a_consent_after_a_procedure_as_not_met(staff_api):
    body = factories.dry_run_body()
    body["consent"]["consent_date"] = "2025-03-06"
    response = staff_api.post("/api/v1/eligibility/evaluate/", body, format="json")
    consent = next(c for c in response.data["criteria"] if c["code"] == "INC_CONSENT")
    assert consent["outcome"] == "NOT_MET" and "screening exam on 2025-03-05" in consent["reason"]


def test_dry_run_needs_a_clinical_role(client_for, make_user, site):
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    response = client_for(sponsor).post("/api/v1/eligibility/evaluate/", factories.dry_run_body(), format="json")
    assert response.status_code == 403


def test_stored_evaluation_runs_a_fixed_number_of_queries(screened, staff):
    from decimal import Decimal

    from edc.services import save_crf

    def count():
        with CaptureQueriesContext(connection) as captured:
            services.evaluate_subject(Subject.objects.select_related("site").get(pk=screened.pk), dt.date(2025, 3, 10))
        return len(captured)

    few = count()
    for day in range(1, 30):
        when = dt.datetime(2025, 3, 4, 8, tzinfo=factories.SHANGHAI) - dt.timedelta(hours=day)
        save_crf(LabResult(subject=screened, analyte="ALT", value=Decimal(30), uln=Decimal(40), unit="U/L",
                           sample_datetime=when + dt.timedelta(days=2)), user=staff)  # fmt: skip
        save_crf(Medication(subject=screened, drug="vitamin D", category="OTHER", start_date=dt.date(2024, 1, day)),
                 user=staff)  # fmt: skip
    assert count() == few == 8  # 7 screening reads + the apheresis start from the infusion app


def test_apheresis_start_comes_from_registered_providers(staff_api, screened, monkeypatch):
    start = dt.datetime(2025, 3, 4, 20, tzinfo=factories.SHANGHAI)  # 12 h after the CBC
    monkeypatch.setattr(services, "_apheresis_start_providers", [lambda subject: None, lambda subject: start])
    response = eligibility(staff_api, screened)
    assert response.data["apheresis_start"] == start.isoformat()
    cbc = next(c for c in response.data["criteria"] if c["code"] == "INC_CBC")
    assert cbc["outcome"] == "MET" and "12 h before apheresis start ≤ 24 h" in cbc["reason"]


class TestConfirm:
    def confirm(self, api, subject, password=edc_factories.PASSWORD):
        return api.post(f"/api/v1/subjects/{subject.subject_id}/eligibility/confirm/", {"password": password},
                        format="json")  # fmt: skip

    def test_investigator_confirms_and_the_subject_is_enrolled(self, client_for, investigator, screened):
        response = self.confirm(client_for(investigator), screened)
        assert response.status_code == 201, response.content
        screened.refresh_from_db()
        assert screened.status == "ENROLLED"
        signature = Signature.objects.get()
        assert (signature.meaning, signature.signed_by, signature.target_model) == (
            "ELIGIBILITY_CONFIRMED", investigator, "screening.eligibilitydecision",
        )  # fmt: skip
        decision = EligibilityDecision.objects.get()
        assert (decision.eligible, decision.signature, len(decision.criteria)) == (True, signature, 23)
        assert response.data["subject_status"] == "ENROLLED"
        assert screened.history.first().history_change_reason.startswith("eligibility confirmed by investigator")

    def test_an_ineligible_subject_is_screen_failed(self, client_for, investigator, subject, staff):
        exam = {**factories.SCREENING_EXAM, "lvef_pct": "40"}
        factories.store_screening(subject, staff, factories.dry_run_body(screening_exam=exam))
        response = self.confirm(client_for(investigator), subject)
        assert response.status_code == 201, response.content
        subject.refresh_from_db()
        assert (subject.status, EligibilityDecision.objects.get().eligible) == ("SCREEN_FAILED", False)

    def test_wrong_password_changes_nothing(self, client_for, investigator, screened):
        before = snapshot()
        response = self.confirm(client_for(investigator), screened, password="wrong")
        assert response.status_code == 400 and "password" in response.data
        screened.refresh_from_db()
        assert (screened.status, screened.history.count()) == ("SCREENING", 1)
        assert snapshot() == before

    def test_only_an_investigator_confirms(self, staff_api, screened):
        before = snapshot()
        assert self.confirm(staff_api, screened).status_code == 403
        screened.refresh_from_db()
        assert screened.status == "SCREENING" and snapshot() == before

    def test_missing_criteria_are_listed_and_nothing_changes(self, client_for, investigator, subject):
        before = snapshot()
        response = self.confirm(client_for(investigator), subject)
        assert response.status_code == 400
        assert any(message.startswith("INC_CONSENT is MISSING") for message in response.data["criteria"])
        subject.refresh_from_db()
        assert subject.status == "SCREENING" and snapshot() == before

    def test_a_decided_subject_is_not_confirmed_again(self, client_for, investigator, screened):
        api = client_for(investigator)
        assert self.confirm(api, screened).status_code == 201
        before = snapshot()
        again = self.confirm(api, screened)
        assert again.status_code == 400 and "status" in again.data
        assert snapshot() == before


def test_sledai_suggestions_from_the_labs(staff_api, screened):
    response = staff_api.get(f"/api/v1/sledai/suggestions/?subject={screened.subject_id}&assessment_date=2025-03-05")
    assert response.status_code == 200
    assert {s["descriptor"] for s in response.data} == {"LOW_COMPLEMENT", "DNA_BINDING", "PROTEINURIA"}


@pytest.mark.parametrize("route", ["consents", "sle-history", "medications", "sledai", "screening-exams"])
def test_list_query_count_is_independent_of_rows(route, staff_api, staff, site):
    def build(n):
        for _ in range(n):
            subject = edc_factories.make_subject(site, staff)
            assert staff_api.post(f"/api/v1/{route}/", payload(subject, route), format="json").status_code == 201

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = staff_api.get(f"/api/v1/{route}/?page_size=100")
        return len(captured), response.data["count"]

    build(1)
    one, rows_one = count()
    build(49)
    fifty, rows_fifty = count()
    assert (rows_one, rows_fifty) == (1, 50)
    assert one == fifty


def test_schema_documents_the_dry_run_with_an_example(client, staff):
    client.force_login(staff)
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/eligibility/evaluate/"]["post"]
    assert "examples" in operation["requestBody"]["content"]["application/json"]
    assert "/api/v1/subjects/{subject_id}/eligibility/confirm/" in schema["paths"]


def test_updating_a_consent_keeps_the_rules_and_the_version_check(staff_api, screened):
    consent = Consent.objects.get(subject=screened)
    url = f"/api/v1/consents/{consent.pk}/"
    before = snapshot()
    later = staff_api.patch(url, {"consent_date": "2025-03-06", "change_reason": "typo"}, format="json",
                            HTTP_IF_MATCH='"1"')  # fmt: skip
    assert later.status_code == 400 and "consent_date" in later.data
    assert snapshot() == before
    ok = staff_api.patch(url, {"icf_version": "2.1", "change_reason": "typo"}, format="json", HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200, ok.content
    stale = staff_api.patch(url, {"icf_version": "2.2", "change_reason": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412
    assert [r.history_change_reason for r in consent.history.order_by("history_id")] == [None, "typo"]


def test_an_ivig_course_in_grams_a_day_is_stored_without_a_query(staff_api, subject):
    ivig = {"subject": subject.subject_id, "drug": "IVIG", "category": "IVIG", "dose_mg_per_day": "40000",
            "start_date": "2026-11-01"}  # fmt: skip
    response = staff_api.post("/api/v1/medications/", ivig)
    assert response.status_code == 201, response.content
    assert not DataQuery.objects.filter(target_model="screening.medication").exists()
    steroid = {**ivig, "drug": "methylprednisolone", "category": "CORTICOSTEROID", "dose_mg_per_day": "20000"}
    assert staff_api.post("/api/v1/medications/", steroid).status_code == 201
    assert "above the expected 10000" in DataQuery.objects.get(target_model="screening.medication").text
