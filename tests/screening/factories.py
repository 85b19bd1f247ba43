"""Builders of screening data: one eligible subject's inputs as plain facts, as a dry-run body, and as stored rows."""

import copy
import datetime as dt
from dataclasses import replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from edc import services as edc_services
from edc.models import LabResult
from screening import rules
from screening.models import Consent, Medication, ScreeningExam, SledaiAssessment, SleHistory

SHANGHAI = ZoneInfo("Asia/Shanghai")
EVALUATION_DATE = dt.date(2025, 3, 10)
LAB_TIME = dt.datetime(2025, 3, 4, 8, 0, tzinfo=SHANGHAI)

SUBJECT = {"sex": "F", "date_of_birth": "1990-05-17", "childbearing_potential": True}
CONSENT = {"consent_date": "2025-03-01", "icf_version": "2.0", "signed_by": "SUBJECT"}
SLE_HISTORY = {
    "diagnosis_date": "2020-01-15",
    "active_on_regimen_since": "2024-06-01",
    "slicc_criteria": ["ACUTE_CUTANEOUS", "SYNOVITIS", "ANA", "ANTI_DSDNA"],
    "biopsy_lupus_nephritis": False,
}
MEDICATIONS = [
    {"drug": "hydroxychloroquine", "category": "IMMUNOMODULATOR", "dose_mg_per_day": "400",
     "start_date": "2023-01-01", "dose_stable_since": None, "stop_date": None},
    {"drug": "prednisone", "category": "CORTICOSTEROID", "dose_mg_per_day": "15",
     "start_date": "2024-06-01", "dose_stable_since": "2024-12-01", "stop_date": None},
]  # fmt: skip
SLEDAI = {
    "assessment_date": "2025-03-05",
    "descriptors": ["ARTHRITIS", "RASH", "PROTEINURIA", "LOW_COMPLEMENT", "DNA_BINDING"],
    "pga": "1.5",
}
SCREENING_EXAM = {
    "exam_date": "2025-03-05", "weight_kg": "60.0", "height_cm": "165.0", "dyspnoea_grade": 0,
    "sao2_room_air_pct": "98.0", "lvef_pct": "60.0", "lvef_method": "ECHO", "cd19_positive": True,
    "bridging_chemotherapy": False, "transfusion_or_growth_factor_7d": False, "gilbert_syndrome": False,
    "bone_or_liver_metastasis": False, "haemodialysis": False, "high_dose_steroid_14d_in_8w": False,
    "active_nephritis_prohibited_drug": False,
    "lupus_crises": [], "non_lupus_cns_disease": False, "other_autoimmune_systemic": False,
    "transplant_history": False, "contraception_agreed": True, "investigator_exclusion": False,
    "investigator_exclusion_reason": "",
}  # fmt: skip
# analyte → (value or result text, lln, uln)
LABS = {
    "ANA": ("1:320", None, None), "DSDNA": ("120", None, "100"), "SM": ("NEGATIVE", None, None),
    "LYM": ("1.2", "1.1", "3.2"), "PLAT": ("180", "125", "350"), "HGB": ("115", "115", "150"),
    "CREAT": ("70", "45", "84"), "ALT": ("30", "7", "40"), "AST": ("28", "13", "40"), "ALP": ("80", "35", "125"),
    "BILI": ("10", "0", "21"), "BILDIR": ("3", "0", "7"), "LIPASE": ("40", "0", "60"),
    "AMYLASE": ("70", "35", "100"), "PT": ("12", "9", "13"), "FIBRINO": ("2.5", "2", "4"),
    "APTT": ("30", "25", "40"), "PROT24": ("1.2", None, "0.15"), "IGA": ("2.0", "0.7", "4"),
    "C3": ("0.6", "0.9", "1.8"),
}  # fmt: skip


def lab_dict(analyte, shown, lln, uln, when=LAB_TIME) -> dict:
    text = shown if is_text(shown) else ""
    return {
        "analyte": analyte,
        "value": None if text else shown,
        "result_text": text,
        "unit": "" if text else (edc_unit(analyte) or ""),
        "lln": lln,
        "uln": uln,
        "sample_datetime": when.isoformat(),
    }


def is_text(shown) -> bool:
    return not shown.replace(".", "").isdigit()


def typed(model, values: dict) -> dict:
    """JSON-shaped values as the model's Python values (dates, decimals), like a form or serializer would."""
    return {name: model._meta.get_field(name).to_python(value) for name, value in values.items()}


def edc_unit(analyte):
    from edc.rules import ANALYTE_UNITS

    return ANALYTE_UNITS[analyte]


def dry_run_body(**overrides) -> dict:
    """One eligible subject's screening data in the dry run's shape (JSON-ready strings)."""
    body = {
        "subject": SUBJECT,
        "consent": CONSENT,
        "sle_history": SLE_HISTORY,
        "medications": MEDICATIONS,
        "sledai": SLEDAI,
        "screening_exam": SCREENING_EXAM,
        "lab_results": [lab_dict(a, *v) for a, v in LABS.items()],
        "apheresis": None,
        "evaluation_date": EVALUATION_DATE.isoformat(),
    }
    return copy.deepcopy({**body, **overrides})


def _date(text):
    return dt.date.fromisoformat(text) if text else None


def _dec(text):
    return Decimal(text) if text is not None else None


def lab_facts(analyte, value=None, uln=None, lln=None, text="", when=LAB_TIME) -> rules.LabFacts:
    return rules.LabFacts(
        analyte=analyte,
        value=_dec(value),
        result_text=text,
        unit=edc_unit(analyte) or "",
        lln=_dec(lln),
        uln=_dec(uln),
        sample_datetime=when,
        sample_date=when.astimezone(SHANGHAI).date(),
    )


def base_inputs() -> rules.EligibilityInputs:
    """The eligible subject of `dry_run_body` as the engine's plain inputs."""
    labs = []
    for analyte, (shown, lln, uln) in LABS.items():
        text = shown if is_text(shown) else ""
        labs.append(lab_facts(analyte, None if text else shown, uln, lln, text))
    exam = dict(SCREENING_EXAM.items())
    exam.update(
        exam_date=_date(exam["exam_date"]),
        weight_kg=_dec(exam["weight_kg"]),
        height_cm=_dec(exam["height_cm"]),
        sao2_room_air_pct=_dec(exam["sao2_room_air_pct"]),
        lvef_pct=_dec(exam["lvef_pct"]),
        lupus_crises=tuple(exam["lupus_crises"]),
    )
    return rules.EligibilityInputs(
        subject=rules.SubjectFacts("F", _date(SUBJECT["date_of_birth"]), True),
        consent=rules.ConsentFacts(_date(CONSENT["consent_date"]), CONSENT["icf_version"]),
        sle_history=rules.HistoryFacts(
            _date(SLE_HISTORY["diagnosis_date"]),
            _date(SLE_HISTORY["active_on_regimen_since"]),
            tuple(SLE_HISTORY["slicc_criteria"]),
            False,
        ),
        medications=tuple(
            rules.MedicationFacts(
                m["drug"],
                m["category"],
                _dec(m["dose_mg_per_day"]),
                _date(m["start_date"]),
                _date(m["dose_stable_since"]),
                _date(m["stop_date"]),
            )
            for m in MEDICATIONS
        ),  # fmt: skip
        sledai=rules.SledaiFacts(_date(SLEDAI["assessment_date"]), tuple(SLEDAI["descriptors"])),
        screening_exam=rules.ExamFacts(**exam),
        lab_results=tuple(labs),
    )


def with_lab(inputs, analyte, value=None, uln=None, lln=None, text="", when=LAB_TIME):
    """The inputs with one analyte's result replaced (value None and no text: the analyte removed)."""
    others = tuple(lab for lab in inputs.lab_results if lab.analyte != analyte)
    if value is None and not text:
        return replace(inputs, lab_results=others)
    return replace(inputs, lab_results=(*others, lab_facts(analyte, value, uln, lln, text, when)))


def with_exam(inputs, **changes):
    return replace(inputs, screening_exam=replace(inputs.screening_exam, **changes))


def store_screening(subject, user, body=None) -> None:
    """Save a dry-run body's CRFs as the subject's stored rows, through the services like any write."""
    body = body or dry_run_body()
    save = edc_services.save_crf
    save(Consent(subject=subject, **typed(Consent, body["consent"])), user=user)
    save(SleHistory(subject=subject, **typed(SleHistory, body["sle_history"])), user=user)
    for values in body["medications"]:
        save(Medication(subject=subject, **typed(Medication, values)), user=user)
    save(SledaiAssessment(subject=subject, **typed(SledaiAssessment, body["sledai"])), user=user)
    save(ScreeningExam(subject=subject, **typed(ScreeningExam, body["screening_exam"])), user=user)
    for values in body["lab_results"]:
        save(LabResult(subject=subject, **typed(LabResult, values)), user=user)
