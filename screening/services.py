"""Screening use cases: the CRFs' validators, the eligibility evaluation (stored and dry run), the confirmation.

The engine is `screening.rules.evaluate`; this module only builds its `EligibilityInputs`, from the
stored rows (`stored_inputs`) or from a dry-run body (`dry_run_inputs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from edc import i18n as edc_i18n
from edc import roles
from edc import rules as edc_rules
from edc.models import LabResult, Signature, Subject
from edc.rules import N_, Message, site_date
from edc.services import save_crf, sign
from screening import rules
from screening.models import Consent, EligibilityDecision, Medication, ScreeningExam, SledaiAssessment, SleHistory
from screening.rules.check import joined, missing_reason

# Later apps tell the eligibility engine when apheresis started (screening may not import them): the
# infusion app registers, from its `hooks` module, a function returning the subject's apheresis start or None.
ApheresisStartProvider = Callable[[Subject], dt.datetime | None]
_apheresis_start_providers: list[ApheresisStartProvider] = []


def register_apheresis_start_provider(provider: ApheresisStartProvider) -> None:
    _apheresis_start_providers.append(provider)


# Later apps say which adverse event a medication-log entry treats (DOMAIN.md §6; screening may not import them):
# followup registers a function returning, for one subject, {medication pk: the event, as staff read it}.
TreatedEventsProvider = Callable[[int], dict[int, str]]
_treated_events_providers: list[TreatedEventsProvider] = []


def register_treated_events_provider(provider: TreatedEventsProvider) -> None:
    _treated_events_providers.append(provider)


def treated_events(subject_pk: int) -> dict[int, str]:
    """{medication pk: the adverse event it treats} for one subject's medication log, in one query per provider."""
    events: dict[int, str] = {}
    for provider in _treated_events_providers:
        events.update(provider(subject_pk))
    return events


ALREADY_RECORDED = N_("a {what} is already recorded for {subject}; edit it or void it first")


def apheresis_start_of(subject: Subject) -> dt.datetime | None:
    for provider in _apheresis_start_providers:
        start = provider(subject)
        if start is not None:
            return start
    return None


# --- Validators of the screening CRFs (admin and API alike) ----------------------------------------


def _one_per_subject(instance, what: str) -> dict[str, str]:
    if instance.voided or not instance.subject_id:
        return {}
    others = type(instance).objects.filter(subject_id=instance.subject_id, voided=False).exclude(pk=instance.pk)
    if others.exists():
        return {"subject": Message(ALREADY_RECORDED, what=what, subject=str(instance.subject))}
    return {}


def _consent_date_of(subject: Subject) -> dt.date | None:
    """Read once per subject object: a bulk import validates many rows of one subject."""
    if not hasattr(subject, "_consent_date"):
        consents = Consent.objects.filter(subject_id=subject.pk, voided=False)
        subject._consent_date = consents.values_list("consent_date", flat=True).first()
    return subject._consent_date


def _after_consent(instance, field: str, day: dt.date | None, what: str) -> dict[str, str]:
    """A screening procedure dated before the recorded consent is refused (consent comes first)."""
    if day is None or instance.voided:
        return {}
    consented = _consent_date_of(instance.subject)
    if consented and day < consented:
        return {field: Message("{what} on {day} is before the informed consent of {consented}; consent comes first",
                               what=what, day=day, consented=consented)}  # fmt: skip
    return {}


def recorded_procedures(subject_id, timezone_name: str) -> list[tuple[str, dt.date]]:
    """Every dated screening procedure stored for a subject (exam, SELENA-SLEDAI, lab samples)."""
    procedures = [
        (N_("screening exam"), day)
        for day in ScreeningExam.objects.filter(subject_id=subject_id, voided=False).values_list("exam_date", flat=True)
    ]
    sledai_dates = SledaiAssessment.objects.filter(subject_id=subject_id, voided=False)
    procedures += [
        (N_("SELENA-SLEDAI assessment"), day) for day in sledai_dates.values_list("assessment_date", flat=True)
    ]
    labs = LabResult.objects.filter(subject_id=subject_id, voided=False).values_list("analyte", "sample_datetime")
    procedures += [
        (Message("{analyte} sample", analyte=analyte), site_date(moment, timezone_name)) for analyte, moment in labs
    ]
    return procedures


def validate_consent(consent: Consent, now: dt.datetime):
    consent.subject.__dict__.pop("_consent_date", None)  # the consent being saved replaces what was read
    errors = edc_rules.not_in_future("consent_date", consent.consent_date, now)
    errors.update(rules.check_consent_fields(consent.consent_date, consent.subject.date_of_birth))
    errors.update(_one_per_subject(consent, N_("consent")))
    if consent.consent_date and not consent.voided:
        earlier = rules.procedures_before_consent(
            consent.consent_date, recorded_procedures(consent.subject_id, consent.subject.site.timezone)
        )
        if earlier:
            errors.setdefault(
                "consent_date",
                Message(
                    "consent on {date} is after screening procedures already recorded: {procedures}; consent must "
                    "come first",
                    date=consent.consent_date,
                    procedures=joined(earlier, ", "),
                ),  # fmt: skip
            )
    return errors, {}


def validate_history(history: SleHistory, now: dt.datetime):
    errors = rules.check_history_fields(history.slicc_criteria)
    for field in ("diagnosis_date", "active_on_regimen_since"):
        errors.update(edc_rules.not_in_future(field, getattr(history, field), now))
    errors.update(_one_per_subject(history, N_("SLE history")))
    return errors, {}


def validate_medication(medication: Medication, now: dt.datetime):
    errors = rules.check_medication_fields(
        medication.category, medication.drug, medication.start_date, medication.dose_stable_since, medication.stop_date
    )
    for field in ("start_date", "dose_stable_since"):
        errors.update(edc_rules.not_in_future(field, getattr(medication, field), now))
    if "drug" not in errors and medication.category == rules.CORTICOSTEROID:
        medication.drug = rules.canonical_drug(medication.drug)  # one spelling per steroid
    return errors, {}


def validate_sledai(assessment: SledaiAssessment, now: dt.datetime):
    errors = rules.check_sledai_fields(assessment.descriptors)
    errors.update(edc_rules.not_in_future("assessment_date", assessment.assessment_date, now))
    if assessment.visit_id and assessment.visit.subject_id != assessment.subject_id:
        errors["visit"] = Message("visit {visit} belongs to another subject than {subject}",
                                  visit=str(assessment.visit), subject=str(assessment.subject))  # fmt: skip
    assessed = assessment.assessment_date
    errors.update(_after_consent(assessment, "assessment_date", assessed, N_("the assessment")))
    if "descriptors" not in errors:
        assessment.descriptors = sorted(set(assessment.descriptors), key=list(rules.SLEDAI_WEIGHTS).index)
        score = rules.sledai_score(assessment.descriptors)
        assessment.total, assessment.clinical, assessment.serological = score.total, score.clinical, score.serological
    return errors, {}


def validate_exam(exam: ScreeningExam, now: dt.datetime):
    errors = rules.check_exam_fields({name: getattr(exam, name) for name in rules.EXAM_FIELDS})
    errors.update(edc_rules.not_in_future("exam_date", exam.exam_date, now))
    errors.update(_one_per_subject(exam, N_("screening exam")))
    errors.update(_after_consent(exam, "exam_date", exam.exam_date, N_("the screening exam")))
    return errors, {}


def validate_lab_after_consent(result: LabResult, now: dt.datetime):
    if not result.sample_datetime or not result.subject_id:
        return {}, {}
    day = site_date(result.sample_datetime, result.subject.site.timezone)
    return _after_consent(result, "sample_datetime", day, Message("the {analyte} sample", analyte=result.analyte)), {}


def sledai_suggestions(subject: Subject, assessment_date: dt.date) -> list[rules.Suggestion]:
    """Lab-backed SELENA-SLEDAI descriptors from the subject's results of the 10 days before the assessment."""
    start = assessment_date - dt.timedelta(days=rules.SLEDAI_LOOKBACK_DAYS + 1)
    labs = LabResult.objects.filter(
        subject=subject,
        voided=False,
        analyte__in=("C3", "C4", "DSDNA", "PLAT", "WBC", "PROT24"),
        sample_datetime__date__gte=start,
    )
    facts = [_lab_facts(lab, subject.site.timezone) for lab in labs]
    return rules.suggest_sledai_descriptors(facts, assessment_date)


# --- Building the engine's inputs --------------------------------------------------------------------


def _lab_facts(lab: LabResult, timezone_name: str) -> rules.LabFacts:
    return rules.LabFacts(
        analyte=lab.analyte,
        value=lab.value,
        result_text=lab.result_text,
        unit=lab.unit,
        lln=lab.lln,
        uln=lab.uln,
        sample_datetime=lab.sample_datetime,
        sample_date=site_date(lab.sample_datetime, timezone_name),
    )


def _medication_facts(medication) -> rules.MedicationFacts:
    return rules.MedicationFacts(
        drug=medication.drug,
        category=medication.category,
        dose_mg_per_day=medication.dose_mg_per_day,
        start_date=medication.start_date,
        dose_stable_since=medication.dose_stable_since,
        stop_date=medication.stop_date,
    )


def _exam_facts(exam) -> rules.ExamFacts:
    values = {name: getattr(exam, name) for name in rules.EXAM_FIELDS}
    return rules.ExamFacts(**{**values, "lupus_crises": tuple(values["lupus_crises"] or ())})


def _inputs(subject, consent, history, medications, sledai, exam, labs, apheresis_start) -> rules.EligibilityInputs:
    """The one mapping from CRF-shaped objects (model rows or unsaved rows from a body) to the engine's inputs."""
    return rules.EligibilityInputs(
        subject=rules.SubjectFacts(subject.sex, subject.date_of_birth, bool(subject.childbearing_potential)),
        consent=rules.ConsentFacts(consent.consent_date, consent.icf_version or "") if consent else None,
        sle_history=rules.HistoryFacts(
            history.diagnosis_date,
            history.active_on_regimen_since,
            tuple(history.slicc_criteria or ()),
            bool(history.biopsy_lupus_nephritis),
        )
        if history
        else None,
        medications=tuple(_medication_facts(m) for m in medications),
        sledai=rules.SledaiFacts(sledai.assessment_date, tuple(sledai.descriptors or ())) if sledai else None,
        screening_exam=_exam_facts(exam) if exam else None,
        lab_results=tuple(labs),
        apheresis_start=apheresis_start,
    )


def stored_inputs(subject: Subject, evaluation_date: dt.date) -> rules.EligibilityInputs:
    """The subject's stored screening data (non-voided), in a fixed number of queries."""
    live = {"subject": subject, "voided": False}
    labs = LabResult.objects.filter(**live, analyte__in=rules.ELIGIBILITY_ANALYTES).order_by("sample_datetime", "id")
    sledai = (
        SledaiAssessment.objects.filter(**live, assessment_date__lte=evaluation_date)
        .order_by("-assessment_date", "-id")
        .first()
    )
    return _inputs(
        subject,
        Consent.objects.filter(**live).first(),
        SleHistory.objects.filter(**live).first(),
        list(Medication.objects.filter(**live).order_by("start_date", "id")),
        sledai,
        ScreeningExam.objects.filter(**live).first(),
        [_lab_facts(lab, subject.site.timezone) for lab in labs],
        apheresis_start_of(subject),
    )


def evaluate_subject(subject: Subject, evaluation_date: dt.date | None = None) -> rules.Evaluation:
    """Eligibility from stored data; the screening date defaults to today in the subject's site time."""
    evaluation_date = evaluation_date or timezone.localdate(timezone=ZoneInfo(subject.site.timezone))
    return rules.evaluation(stored_inputs(subject, evaluation_date), evaluation_date)


def _prefixed(prefix: str, errors: dict[str, str]) -> dict[str, list[str]]:
    return {f"{prefix}.{field}": [message] for field, message in errors.items()}


def dry_run_inputs(body: dict, now: dt.datetime | None = None) -> rules.EligibilityInputs:
    """Pre-screening inputs from a dry-run body already parsed by the API (types, choices), checked by the
    same field rules as the stored CRFs; hard-limit errors name `route.field` or `route[i].field`."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    subject = Subject(**body["subject"])
    errors.update(_prefixed("subject", edc_rules.not_in_future("date_of_birth", subject.date_of_birth, now)))

    consent = Consent(**body["consent"]) if body.get("consent") else None
    if consent:
        found = edc_rules.not_in_future("consent_date", consent.consent_date, now)
        found.update(rules.check_consent_fields(consent.consent_date, subject.date_of_birth))
        errors.update(_prefixed("consent", found))

    history = SleHistory(**body["sle_history"]) if body.get("sle_history") else None
    if history:
        errors.update(_prefixed("sle_history", rules.check_history_fields(history.slicc_criteria)))

    medications = [Medication(**values) for values in body.get("medications") or []]
    for i, m in enumerate(medications):
        found = rules.check_medication_fields(m.category, m.drug, m.start_date, m.dose_stable_since, m.stop_date)
        found.update(edc_rules.check_limits({"dose_mg_per_day": m.dose_mg_per_day}, m.field_limits)[0])
        errors.update(_prefixed(f"medications[{i}]", found))

    sledai = SledaiAssessment(**body["sledai"]) if body.get("sledai") else None
    if sledai:
        found = rules.check_sledai_fields(sledai.descriptors)
        found.update(edc_rules.check_limits({"pga": sledai.pga}, rules.SLEDAI_LIMITS)[0])
        errors.update(_prefixed("sledai", found))

    exam = ScreeningExam(**body["screening_exam"]) if body.get("screening_exam") else None
    if exam:
        values = {name: getattr(exam, name) for name in rules.EXAM_FIELDS}
        found = rules.check_exam_fields(values)
        found.update(edc_rules.check_limits(values, rules.EXAM_LIMITS)[0])
        errors.update(_prefixed("screening_exam", found))

    labs = []
    zone = settings.TIME_ZONE  # a pre-screened person has no site yet: the trial's (single) site time
    for i, values in enumerate(body.get("lab_results") or []):
        lab = LabResult(**values)
        found, _ = edc_rules.check_lab_result(
            analyte=lab.analyte,
            value=lab.value,
            result_text=lab.result_text,
            unit=lab.unit,
            lln=lab.lln,
            uln=lab.uln,
            not_detected=lab.not_detected,
        )
        found.update(edc_rules.not_in_future("sample_datetime", lab.sample_datetime, now))
        errors.update(_prefixed(f"lab_results[{i}]", found))
        labs.append(_lab_facts(lab, zone))

    if errors:
        raise ValidationError(errors)
    apheresis = (body.get("apheresis") or {}).get("start_datetime")
    return _inputs(subject, consent, history, medications, sledai, exam, labs, apheresis)


def dry_run(body: dict) -> rules.Evaluation:
    """Nothing is stored: the same engine over the body's data."""
    return rules.evaluation(dry_run_inputs(body), body["evaluation_date"])


# --- The criteria in words (what the screens show; the API keeps the codes and paths) -----------------------

# The CRF behind each route of a missing path (`route.field`, `route[i].field`, `lab_results.ANALYTE[.uln]`).
PATH_MODELS = {"subject": Subject, "consent": Consent, "sle_history": SleHistory, "sledai": SledaiAssessment,
               "screening_exam": ScreeningExam, "medications": Medication}  # fmt: skip


def path_in_words(path: str) -> str:
    """A missing input as the CRF names it: `consent.icf_version` → "ICF version (consent)"."""
    route, _, rest = path.partition(".")
    if route == "lab_results":
        code, _, limit = rest.partition(".")
        analyte = edc_i18n.translated(edc_rules.ANALYTE_NAMES.get(code, code))
        said = (
            gettext("%(analyte)s result's upper limit of normal") if limit == "uln" else gettext("%(analyte)s result")
        )
        return said % {"analyte": analyte}
    name, _, index = route.partition("[")
    model = PATH_MODELS.get(name)
    if model is None:
        return path
    if name == "medications" and not rest:
        return gettext("medication log")
    crf = str(model._meta.verbose_name)
    if index:
        crf = gettext("%(crf)s %(number)d of the log") % {"crf": crf, "number": int(index.rstrip("]")) + 1}
    if not rest:
        return crf
    return gettext("%(field)s (%(crf)s)") % {"field": model._meta.get_field(rest).verbose_name, "crf": crf}


def reason_in_words(result: rules.CriterionResult) -> str:
    """The criterion's reason with its missing inputs named as the CRFs name them (no field paths)."""
    if not result.missing:
        return result.reason
    # `Check` says a missing criterion's reason as its inputs, then what it found already (its "known").
    known = result.reason.values.get("known") if isinstance(result.reason, edc_rules.Message) else None
    return missing_reason(", ".join(path_in_words(path) for path in result.missing), [known] if known else [])


# --- The investigator's confirmation ------------------------------------------------------------------


def confirm_eligibility(
    subject: Subject, *, user, password: str, evaluation_date: dt.date | None = None
) -> EligibilityDecision:
    """Record the investigator's signed decision and move the subject to ENROLLED or SCREEN_FAILED, at once.

    The criteria are judged on the screening date (default: today at the site)."""
    if not roles.has_any_role(user, roles.SIGNERS):
        raise PermissionDenied("only an investigator confirms eligibility")
    if subject.status != Subject.Status.SCREENING:
        refusal = gettext("%(subject)s is %(status)s; only a subject in SCREENING is confirmed")
        raise ValidationError({"status": [refusal % {"subject": subject, "status": subject.status}]})
    result = evaluate_subject(subject, evaluation_date)
    if result.missing_criteria:
        raise ValidationError(
            {"criteria": [f"{c.code} is MISSING: {c.reason}" for c in result.criteria if c.outcome == rules.MISSING]}
        )
    with transaction.atomic():
        decision = save_crf(
            EligibilityDecision(
                subject=subject,
                evaluation_date=result.evaluation_date,
                eligible=bool(result.eligible),
                criteria=[c.as_dict() for c in result.criteria],
                decided_by=user,
            ),
            user=user,
        )
        decision.signature = sign(decision, Signature.Meaning.ELIGIBILITY_CONFIRMED, user=user, password=password)
        decision = save_crf(decision, user=user, reason="signed by the investigator")
        subject.status = Subject.Status.ENROLLED if decision.eligible else Subject.Status.SCREEN_FAILED
        outcome = subject.status.lower().replace("_", " ")  # the reason is stored, in English: not the label
        save_crf(subject, user=user, reason=f"eligibility confirmed by {user.get_username()}: {outcome}")
    return decision
