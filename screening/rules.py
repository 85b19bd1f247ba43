"""Screening rules: pure functions over plain values (no ORM, no request, no clock).

The code lists of DOMAIN.md §3–4, the SLICC classification, the SELENA-SLEDAI score and its
lab-backed suggestions, Cockcroft-Gault, prednisone equivalents, the field checks of the screening
CRFs, and every inclusion/exclusion criterion. `evaluate` is the one eligibility engine: the stored
evaluation and the dry run both build `EligibilityInputs` and call it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal

from edc.rules import D, Limit, age_in_years, ana_titre

MET, NOT_MET, MISSING = "MET", "NOT_MET", "MISSING"

# --- Code lists ---------------------------------------------------------------------------------

SLICC_CLINICAL = (
    "ACUTE_CUTANEOUS", "CHRONIC_CUTANEOUS", "ORAL_ULCERS", "ALOPECIA", "SYNOVITIS", "SEROSITIS", "RENAL",
    "NEUROLOGIC", "HAEMOLYTIC_ANAEMIA", "LEUKOPENIA", "THROMBOCYTOPENIA",
)  # fmt: skip
SLICC_IMMUNOLOGICAL = ("ANA", "ANTI_DSDNA", "ANTI_SM", "ANTIPHOSPHOLIPID", "LOW_COMPLEMENT", "DIRECT_COOMBS")
SLICC_CODES = SLICC_CLINICAL + SLICC_IMMUNOLOGICAL

LUPUS_CRISES = (
    "CNS_LUPUS", "HAEMOLYTIC_ANAEMIA", "THROMBOCYTOPENIC_PURPURA", "AGRANULOCYTOSIS", "MYOCARDIAL",
    "PNEUMONITIS_OR_HAEMORRHAGE", "HEPATITIS", "VASCULITIS",
)  # fmt: skip

SLEDAI_WEIGHTS: dict[str, int] = {
    **dict.fromkeys(
        ("SEIZURE", "PSYCHOSIS", "ORGANIC_BRAIN", "VISUAL", "CRANIAL_NERVE", "LUPUS_HEADACHE", "CVA", "VASCULITIS"), 8
    ),
    **dict.fromkeys(("ARTHRITIS", "MYOSITIS", "URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA"), 4),
    **dict.fromkeys(
        ("RASH", "ALOPECIA", "MUCOSAL_ULCERS", "PLEURISY", "PERICARDITIS", "LOW_COMPLEMENT", "DNA_BINDING"), 2
    ),
    **dict.fromkeys(("FEVER", "THROMBOCYTOPENIA", "LEUKOPENIA"), 1),
}
SEROLOGICAL_DESCRIPTORS = ("LOW_COMPLEMENT", "DNA_BINDING")

CORTICOSTEROID, IMMUNOMODULATOR, IMMUNOSUPPRESSANT, OTHER = (
    "CORTICOSTEROID", "IMMUNOMODULATOR", "IMMUNOSUPPRESSANT", "OTHER",
)  # fmt: skip
MEDICATION_CATEGORIES = (CORTICOSTEROID, IMMUNOMODULATOR, IMMUNOSUPPRESSANT, OTHER)

# mg of prednisone per mg of drug (DOMAIN.md §3).
PREDNISONE_EQUIVALENTS: dict[str, Decimal] = {
    "prednisone": D(1),
    "prednisolone": D(1),
    "methylprednisolone": D("1.25"),
    "triamcinolone": D("1.25"),
    "hydrocortisone": D("0.25"),
    "cortisone": D("0.2"),
    "dexamethasone": D("6.67"),
    "betamethasone": D("8.33"),
}

# Analytes the eligibility criteria read.
ELIGIBILITY_ANALYTES = (
    "ANA", "DSDNA", "SM", "LYM", "PLAT", "HGB", "CREAT", "ALT", "AST", "ALP", "BILI", "BILDIR", "LIPASE",
    "AMYLASE", "PT", "FIBRINO", "APTT", "PROT24", "IGA",
)  # fmt: skip
CBC_ANALYTES = ("LYM", "PLAT", "HGB")

# --- Limits of the screening CRFs (CRF.md) -------------------------------------------------------

EXAM_LIMITS = {
    "weight_kg": Limit(D(25), D(300), D(35), D(150), "kg"),
    "height_cm": Limit(D(100), D(230), unit="cm"),
    "dyspnoea_grade": Limit(D(0), D(5)),
    "sao2_room_air_pct": Limit(D(50), D(100), D(85), unit="%"),
    "lvef_pct": Limit(D(5), D(90), D(30), unit="%"),
}
MEDICATION_LIMITS = {"dose_mg_per_day": Limit(D(0), D(10000), unit="mg/day", hard_min_exclusive=True)}
SLEDAI_LIMITS = {"pga": Limit(D(0), D(3))}


# --- Plain inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectFacts:
    sex: str
    date_of_birth: dt.date | None
    childbearing_potential: bool


@dataclass(frozen=True)
class ConsentFacts:
    consent_date: dt.date | None
    icf_version: str


@dataclass(frozen=True)
class HistoryFacts:
    diagnosis_date: dt.date | None
    active_on_regimen_since: dt.date | None
    slicc_criteria: tuple[str, ...]
    biopsy_lupus_nephritis: bool


@dataclass(frozen=True)
class MedicationFacts:
    drug: str
    category: str
    dose_mg_per_day: Decimal | None
    start_date: dt.date
    dose_stable_since: dt.date | None
    stop_date: dt.date | None


@dataclass(frozen=True)
class SledaiFacts:
    assessment_date: dt.date
    descriptors: tuple[str, ...]


@dataclass(frozen=True)
class ExamFacts:
    exam_date: dt.date | None = None
    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None
    dyspnoea_grade: int | None = None
    sao2_room_air_pct: Decimal | None = None
    lvef_pct: Decimal | None = None
    lvef_method: str = ""
    cd19_positive: bool | None = None
    bridging_chemotherapy: bool | None = None
    transfusion_or_growth_factor_7d: bool | None = None
    gilbert_syndrome: bool | None = None
    bone_or_liver_metastasis: bool | None = None
    haemodialysis: bool | None = None
    high_dose_steroid_14d_in_8w: bool | None = None
    lupus_crises: tuple[str, ...] = ()
    non_lupus_cns_disease: bool | None = None
    other_autoimmune_systemic: bool | None = None
    transplant_history: bool | None = None
    contraception_agreed: bool | None = None
    investigator_exclusion: bool | None = None
    investigator_exclusion_reason: str = ""


EXAM_FIELDS = tuple(f.name for f in fields(ExamFacts))


@dataclass(frozen=True)
class LabFacts:
    analyte: str
    value: Decimal | None
    result_text: str
    unit: str
    lln: Decimal | None
    uln: Decimal | None
    sample_datetime: dt.datetime
    sample_date: dt.date  # in site time: "before screening" and consent order are calendar rules


@dataclass(frozen=True)
class EligibilityInputs:
    subject: SubjectFacts
    consent: ConsentFacts | None = None
    sle_history: HistoryFacts | None = None
    medications: tuple[MedicationFacts, ...] = ()
    sledai: SledaiFacts | None = None
    screening_exam: ExamFacts | None = None
    lab_results: tuple[LabFacts, ...] = ()
    apheresis_start: dt.datetime | None = None


@dataclass(frozen=True)
class CriterionResult:
    code: str
    outcome: str
    reason: str
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {**asdict(self), "missing": list(self.missing)}


# --- Small calculations ---------------------------------------------------------------------------


def num(value, places: int = 2) -> str:
    """A number as shown in reasons: at most `places` decimals, no trailing zeros."""
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    text = f"{rounded.normalize():f}"
    return "0" if text in ("-0", "") else text


def months_before(day: dt.date, months: int) -> dt.date:
    """Calendar months: 6 months before 10 March is 10 September; 31 August − 6 months is 28/29 February."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def prednisone_equivalent(drug: str, dose_mg_per_day: Decimal) -> Decimal | None:
    factor = PREDNISONE_EQUIVALENTS.get(canonical_drug(drug))
    return None if factor is None else dose_mg_per_day * factor


def canonical_drug(drug: str) -> str:
    return " ".join(drug.split()).lower()


def creatinine_mg_dl(umol_l: Decimal) -> Decimal:
    return umol_l / D("88.4")


def cockcroft_gault(age_years: int, weight_kg: Decimal, female: bool, creatinine_umol_l: Decimal) -> Decimal:
    """Creatinine clearance in mL/min; age in whole years at the creatinine sample."""
    clearance = (140 - age_years) * weight_kg / (72 * creatinine_mg_dl(creatinine_umol_l))
    return clearance * D("0.85") if female else clearance


def slicc_classification(criteria: Iterable[str], biopsy_lupus_nephritis: bool) -> tuple[bool, str]:
    """2012 SLICC: ≥ 4 criteria with ≥ 1 clinical and ≥ 1 immunological, or biopsy nephritis + ANA/anti-dsDNA."""
    codes = set(criteria)
    clinical = len(codes & set(SLICC_CLINICAL))
    immunological = len(codes & set(SLICC_IMMUNOLOGICAL))
    counted = f"{clinical + immunological} SLICC criteria ({clinical} clinical, {immunological} immunological)"
    antibodies = sorted(codes & {"ANA", "ANTI_DSDNA"})
    if biopsy_lupus_nephritis and antibodies:
        return True, f"biopsy-proven lupus nephritis with {' and '.join(antibodies)}; {counted}"
    if clinical + immunological >= 4 and clinical >= 1 and immunological >= 1:
        return True, f"{counted}: ≥ 4 with ≥ 1 clinical and ≥ 1 immunological"
    return (
        False,
        f"{counted}: needs ≥ 4 with ≥ 1 clinical and ≥ 1 immunological, or biopsy nephritis with ANA/anti-dsDNA",
    )


@dataclass(frozen=True)
class SledaiScore:
    total: int
    clinical: int
    serological: int
    activity: str


def activity_band(total: int) -> str:
    if total == 0:
        return "NONE"
    if total <= 4:
        return "MILD"
    if total <= 10:
        return "MODERATE"
    return "HIGH"


def sledai_score(descriptors: Iterable[str]) -> SledaiScore:
    """Computed from the descriptors present, never typed; each descriptor counts once."""
    present = set(descriptors)
    total = sum(SLEDAI_WEIGHTS[code] for code in present)
    serological = sum(SLEDAI_WEIGHTS[code] for code in present & set(SEROLOGICAL_DESCRIPTORS))
    return SledaiScore(total, total - serological, serological, activity_band(total))


def possible_flare(previous_total: int | None, total: int) -> bool:
    """A rise of > 3 points from the previous assessment."""
    return previous_total is not None and total - previous_total > 3


@dataclass(frozen=True)
class Suggestion:
    descriptor: str
    reason: str


SLEDAI_LOOKBACK_DAYS = 10


def suggest_sledai_descriptors(
    labs: Iterable[LabFacts], assessment_date: dt.date, max_temperature_c: Decimal | None = None
) -> list[Suggestion]:
    """Lab-backed descriptors from results of the visit or the 10 days before it (the assessor confirms)."""
    window = [
        lab
        for lab in labs
        if assessment_date - dt.timedelta(days=SLEDAI_LOOKBACK_DAYS) <= lab.sample_date <= assessment_date
        and lab.value is not None
    ]
    found: dict[str, str] = {}

    def suggest(code: str, reason: str):
        found.setdefault(code, reason)

    for lab in sorted(window, key=lambda lab: lab.sample_datetime):
        value, when = lab.value, lab.sample_date.isoformat()
        if lab.analyte in ("C3", "C4") and lab.lln is not None and value < lab.lln:
            suggest("LOW_COMPLEMENT", f"{lab.analyte} {num(value)} g/L < LLN {num(lab.lln)} on {when}")
        elif lab.analyte == "DSDNA" and lab.uln is not None and value > lab.uln:
            suggest("DNA_BINDING", f"anti-dsDNA {num(value)} IU/mL > ULN {num(lab.uln)} on {when}")
        elif lab.analyte == "PLAT" and value < 100:
            suggest("THROMBOCYTOPENIA", f"platelets {num(value)} × 10^9/L < 100 on {when}")
        elif lab.analyte == "WBC" and value < 3:
            suggest("LEUKOPENIA", f"white cells {num(value)} × 10^9/L < 3 on {when}")
        elif lab.analyte == "PROT24" and value > D("0.5"):
            suggest("PROTEINURIA", f"proteinuria {num(value)} g/24h > 0.5 on {when}")
    if max_temperature_c is not None and max_temperature_c > 38:
        suggest("FEVER", f"temperature {num(max_temperature_c, 1)} °C > 38")
    return [Suggestion(code, reason) for code, reason in found.items()]


def serology_positive(lab: LabFacts) -> bool | None:
    """POSITIVE text, an ANA titre ≥ 1:80, or a value above the lab's ULN; None when it cannot be told."""
    text = lab.result_text.strip().upper()
    if text == "POSITIVE":
        return True
    if text == "NEGATIVE":
        return False
    titre = ana_titre(text) if lab.analyte == "ANA" and text else None
    if titre is not None:
        return titre >= 80
    if lab.value is not None and lab.uln is not None:
        return lab.value > lab.uln
    return None


# --- Field checks shared by the stored CRFs and the dry run ----------------------------------------


def check_codes(field_name: str, codes, allowed: Sequence[str], what: str) -> dict[str, str]:
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        return {field_name: f"must be a list of {what} codes"}
    unknown = [code for code in codes if code not in allowed]
    if unknown:
        return {field_name: f"unknown {what} code(s) {', '.join(unknown)}; expected one of {', '.join(allowed)}"}
    return {}


def check_consent_fields(consent_date: dt.date | None, date_of_birth: dt.date | None) -> dict[str, str]:
    if consent_date and date_of_birth and consent_date < date_of_birth:
        return {"consent_date": f"{consent_date} is before the date of birth {date_of_birth} (hard limit)"}
    return {}


def check_history_fields(slicc_criteria) -> dict[str, str]:
    return check_codes("slicc_criteria", slicc_criteria, SLICC_CODES, "SLICC")


def check_medication_fields(
    category: str, drug: str, start_date: dt.date | None, dose_stable_since: dt.date | None, stop_date: dt.date | None
) -> dict[str, str]:
    errors = {}
    if category not in MEDICATION_CATEGORIES:
        errors["category"] = f"unknown category {category!r}; expected one of {', '.join(MEDICATION_CATEGORIES)}"
    elif category == CORTICOSTEROID and canonical_drug(drug) not in PREDNISONE_EQUIVALENTS:
        errors["drug"] = (
            f"{drug!r} has no prednisone equivalent; a corticosteroid is one of {', '.join(PREDNISONE_EQUIVALENTS)}"
        )
    if start_date and stop_date and stop_date < start_date:
        errors["stop_date"] = f"{stop_date} is before the start date {start_date}"
    if start_date and dose_stable_since and dose_stable_since < start_date:
        errors["dose_stable_since"] = f"{dose_stable_since} is before the start date {start_date}"
    return errors


def check_sledai_fields(descriptors) -> dict[str, str]:
    return check_codes("descriptors", descriptors, tuple(SLEDAI_WEIGHTS), "SELENA-SLEDAI descriptor")


def check_exam_fields(values: dict) -> dict[str, str]:
    errors = check_codes("lupus_crises", values.get("lupus_crises", []), LUPUS_CRISES, "lupus crisis")
    if values.get("investigator_exclusion") and not (values.get("investigator_exclusion_reason") or "").strip():
        errors["investigator_exclusion_reason"] = "a reason is required when the investigator excludes the subject"
    if values.get("lvef_pct") is not None and not values.get("lvef_method"):
        errors["lvef_method"] = "say how LVEF was measured (ECHO or MUGA)"
    return errors


def procedures_before_consent(consent_date: dt.date, procedures: Iterable[tuple[str, dt.date]]) -> list[str]:
    """The screening procedures dated before the consent, each as 'what on date'."""
    return [f"{what} on {day}" for what, day in sorted(procedures, key=lambda p: p[1]) if day < consent_date]


# --- The criteria ---------------------------------------------------------------------------------


class Check:
    """Collects what one criterion found: NOT_MET wins over MISSING, which wins over MET."""

    def __init__(self, code: str):
        self.code = code
        self.passed: list[str] = []
        self.failed: list[str] = []
        self.missing: list[str] = []

    def judge(self, ok: bool, text: str) -> bool:
        (self.passed if ok else self.failed).append(text)
        return ok

    def need(self, *paths: str) -> None:
        self.missing.extend(p for p in paths if p not in self.missing)

    def result(self) -> CriterionResult:
        if self.failed:
            return CriterionResult(self.code, NOT_MET, "; ".join(self.failed))
        if self.missing:
            known = f"; {'; '.join(self.passed)}" if self.passed else ""
            return CriterionResult(self.code, MISSING, f"missing {', '.join(self.missing)}{known}", tuple(self.missing))
        return CriterionResult(self.code, MET, "; ".join(self.passed))


def latest_lab(labs: Iterable[LabFacts], analyte: str, on: dt.date) -> LabFacts | None:
    """The latest result of an analyte on or before a date (site calendar)."""
    found = [lab for lab in labs if lab.analyte == analyte and lab.sample_date <= on]
    return max(found, key=lambda lab: lab.sample_datetime, default=None)


def latest_lab_at(labs: Iterable[LabFacts], analyte: str, moment: dt.datetime) -> LabFacts | None:
    found = [lab for lab in labs if lab.analyte == analyte and lab.sample_datetime <= moment]
    return max(found, key=lambda lab: lab.sample_datetime, default=None)


def _value(check: Check, lab: LabFacts | None, analyte: str, *, uln: bool = False) -> LabFacts | None:
    """The lab when it has what the rule needs (a value, and a ULN when asked); otherwise name what is missing."""
    if lab is None or lab.value is None:
        check.need(f"lab_results.{analyte}")
        return None
    if uln and not lab.uln:
        check.need(f"lab_results.{analyte}.uln")
        return None
    return lab


def _times_uln(lab: LabFacts, factor: Decimal, unit: str, *, strict: bool = False) -> tuple[bool, str]:
    limit = factor * lab.uln
    ok = lab.value < limit if strict else lab.value <= limit
    sign = ("<" if strict else "≤") if ok else ("≥" if strict else ">")
    ratio = lab.value / lab.uln
    text = f"{lab.analyte} {num(lab.value)} {unit} = {num(ratio)} × ULN {num(lab.uln)} {sign} {num(factor)} × ULN"
    return ok, text


def _exam_flag(check: Check, exam: ExamFacts | None, name: str) -> bool | None:
    value = getattr(exam, name) if exam else None
    if value is None:
        check.need(f"screening_exam.{name}")
    return value


def _exam_value(check: Check, exam: ExamFacts | None, name: str):
    value = getattr(exam, name) if exam else None
    if value is None or value == "":
        check.need(f"screening_exam.{name}")
        return None
    return value


def screening_procedures(inputs: EligibilityInputs) -> list[tuple[str, dt.date]]:
    procedures = [(f"{lab.analyte} sample", lab.sample_date) for lab in inputs.lab_results]
    if inputs.screening_exam and inputs.screening_exam.exam_date:
        procedures.append(("screening exam", inputs.screening_exam.exam_date))
    if inputs.sledai:
        procedures.append(("SELENA-SLEDAI assessment", inputs.sledai.assessment_date))
    return procedures


def inc_consent(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CONSENT")
    consent = inputs.consent
    if consent is None or consent.consent_date is None:
        check.need("consent.consent_date")
    if consent is None or not consent.icf_version.strip():
        check.need("consent.icf_version")
    if check.missing:
        return check.result()
    signed = f"consent signed {consent.consent_date} (ICF {consent.icf_version})"
    check.judge(consent.consent_date <= on, f"{signed}, on or before the screening date {on}")
    earlier = procedures_before_consent(consent.consent_date, screening_procedures(inputs))
    check.judge(not earlier, f"{signed} after: {', '.join(earlier)}" if earlier else "before every screening procedure")
    return check.result()


def inc_age(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_AGE")
    born = inputs.subject.date_of_birth
    consented = inputs.consent.consent_date if inputs.consent else None
    if born is None:
        check.need("subject.date_of_birth")
    if consented is None:
        check.need("consent.consent_date")
    if born and consented:
        age = age_in_years(born, consented)
        check.judge(age >= 18, f"age {age} at consent {consented} (born {born}) {'≥' if age >= 18 else '<'} 18")
    return check.result()


def inc_slicc(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_SLICC")
    if inputs.sle_history is None:
        check.need("sle_history.slicc_criteria")
        return check.result()
    check.judge(*slicc_classification(inputs.sle_history.slicc_criteria, inputs.sle_history.biopsy_lupus_nephritis))
    return check.result()


def inc_history(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_HISTORY")
    history = inputs.sle_history
    diagnosed = history.diagnosis_date if history else None
    active_since = history.active_on_regimen_since if history else None
    if diagnosed is None:
        check.need("sle_history.diagnosis_date")
    else:
        latest = months_before(on, 6)
        check.judge(
            diagnosed <= latest, f"diagnosed {diagnosed} {'≤' if diagnosed <= latest else '>'} {latest} (6 months)"
        )
    if active_since is None:
        check.need("sle_history.active_on_regimen_since")
    else:
        latest = months_before(on, 2)
        ok = active_since <= latest
        check.judge(ok, f"active on regimen since {active_since} {'≤' if ok else '>'} {latest} (2 months)")
    return check.result()


def _current(medication: MedicationFacts, on: dt.date) -> bool:
    return medication.start_date <= on and (medication.stop_date is None or medication.stop_date >= on)


def inc_regimen(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_REGIMEN")
    if not inputs.medications:
        check.need("medications")
        return check.result()
    current = [(i, m) for i, m in enumerate(inputs.medications) if _current(m, on)]
    background = [m for _, m in current if m.category in (IMMUNOMODULATOR, IMMUNOSUPPRESSANT)]
    six_months = months_before(on, 6)
    long_enough = [m for m in background if m.start_date <= six_months]
    if long_enough:
        check.judge(True, ", ".join(f"{m.drug} since {m.start_date}" for m in long_enough) + f" (≤ {six_months})")
    else:
        taken = ", ".join(f"{m.drug} since {m.start_date}" for m in background) or "none taken"
        check.judge(False, f"no immunomodulator or immunosuppressant since ≤ {six_months} (6 months): {taken}")
    steroids = [(i, m) for i, m in current if m.category == CORTICOSTEROID]
    if not steroids:
        check.judge(False, "no oral corticosteroid taken")
        return check.result()
    for i, m in steroids:
        if m.dose_mg_per_day is None:
            check.need(f"medications[{i}].dose_mg_per_day")
    if check.missing:
        return check.result()
    equivalents = [prednisone_equivalent(m.drug, m.dose_mg_per_day) for _, m in steroids]
    if None in equivalents:
        check.judge(False, "a corticosteroid without a prednisone equivalent")
        return check.result()
    dose = sum(equivalents, D(0))
    on_steroid_days = (on - min(m.start_date for _, m in steroids)).days
    stable_days = (on - max(m.dose_stable_since or m.start_date for _, m in steroids)).days
    waived = any(m.category == IMMUNOSUPPRESSANT for _, m in current)
    low_ok = waived or dose >= D("7.5")
    bounds = "≤ 60 (no lower bound with an immunosuppressant)" if waived else "within 7.5–60"
    check.judge(
        low_ok and dose <= 60,
        f"prednisone-equivalent {num(dose)} mg/day {'' if low_ok and dose <= 60 else 'not '}{bounds}",
    )
    check.judge(
        on_steroid_days >= 56, f"corticosteroid for {on_steroid_days} days {'≥' if on_steroid_days >= 56 else '<'} 56"
    )
    check.judge(stable_days >= 15, f"dose unchanged for {stable_days} days {'≥' if stable_days >= 15 else '<'} 15")
    return check.result()


def inc_serology(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_SEROLOGY")
    negatives = []
    for analyte in ("ANA", "DSDNA", "SM"):
        lab = latest_lab(inputs.lab_results, analyte, on)
        positive = serology_positive(lab) if lab else None
        shown = f"{analyte} {lab.result_text or num(lab.value)} on {lab.sample_date}" if lab else analyte
        if positive:
            return CriterionResult("INC_SEROLOGY", MET, f"{shown} positive")
        if positive is False:
            negatives.append(f"{shown} negative")
        elif lab is None:
            check.need(f"lab_results.{analyte}")
        else:
            check.need(f"lab_results.{analyte}.uln")
    if not check.missing:
        check.judge(False, "; ".join(negatives))
    else:
        check.passed.extend(negatives)
    return check.result()


def inc_sledai(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_SLEDAI")
    if inputs.sledai is None:
        check.need("sledai.descriptors")
        return check.result()
    score = sledai_score(inputs.sledai.descriptors)
    shown = (
        f"SELENA-SLEDAI {score.total} on {inputs.sledai.assessment_date} "
        f"(clinical {score.clinical}, serological {score.serological}, {score.activity.lower()})"
    )
    check.judge(score.total >= 8, f"{shown}: total {score.total} {'≥' if score.total >= 8 else '<'} 8")
    if score.serological:
        ok = score.clinical >= 6
        check.judge(ok, f"serology scores, so clinical {score.clinical} {'≥' if ok else '<'} 6")
    return check.result()


def inc_contraception(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CONTRACEPTION")
    subject = inputs.subject
    if subject.sex == "F" and not subject.childbearing_potential:
        check.judge(True, "not required: woman without childbearing potential")
        return check.result()
    who = "man" if subject.sex == "M" else "woman of childbearing potential"
    agreed = _exam_flag(check, inputs.screening_exam, "contraception_agreed")
    if agreed is not None:
        check.judge(agreed, f"{who} {'agrees' if agreed else 'does not agree'} to effective contraception")
    return check.result()


def inc_cd19(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CD19")
    positive = _exam_flag(check, inputs.screening_exam, "cd19_positive")
    if positive is not None:
        check.judge(positive, f"CD19 expression {'positive' if positive else 'negative'} by flow cytometry")
    return check.result()


CBC_MINIMA = {"LYM": (D("0.5"), "10^9/L"), "PLAT": (D(25), "10^9/L"), "HGB": (D(70), "g/L")}
CBC_WINDOW = dt.timedelta(hours=24)


def inc_cbc(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CBC")
    exam, apheresis = inputs.screening_exam, inputs.apheresis_start
    bridging = exam.bridging_chemotherapy if exam else None
    drawn = []
    for analyte, (minimum, unit) in CBC_MINIMA.items():
        if apheresis:
            lab = latest_lab_at(inputs.lab_results, analyte, apheresis)
        else:
            lab = latest_lab(inputs.lab_results, analyte, on)
        if analyte == "LYM" and bridging and (lab is None or lab.value is None or lab.value < minimum):
            check.judge(True, "lymphocyte minimum waived under bridging chemotherapy")
            continue
        lab = _value(check, lab, analyte)
        if lab is None:
            continue
        drawn.append(lab)
        ok = lab.value >= minimum
        if not ok and analyte == "LYM" and bridging is None:
            check.need("screening_exam.bridging_chemotherapy")
            continue
        check.judge(ok, f"{analyte} {num(lab.value)} {unit} {'≥' if ok else '<'} {num(minimum)}")
    transfused = _exam_flag(check, exam, "transfusion_or_growth_factor_7d")
    if transfused is not None:
        said = "a" if transfused else "no"
        check.judge(not transfused, f"{said} transfusion or growth factor in the 7 days before the draw")
    if apheresis is None:
        check.passed.append("apheresis not recorded: the 24-hour timing before apheresis start is still to be checked")
    for lab in drawn:
        before = apheresis - lab.sample_datetime if apheresis else None
        if before is not None:
            hours = num(Decimal(before.total_seconds()) / 3600, 1)
            ok = before <= CBC_WINDOW
            check.judge(ok, f"{lab.analyte} drawn {hours} h before apheresis start {'≤' if ok else '>'} 24 h")
    return check.result()


def inc_renal(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_RENAL")
    lab = _value(check, latest_lab(inputs.lab_results, "CREAT", on), "CREAT")
    if lab is None:
        return check.result()
    ratio_text = None
    if lab.uln:
        ok, ratio_text = _times_uln(lab, D("1.5"), "µmol/L")
        if ok:
            check.judge(True, ratio_text)
            return check.result()
    weight = inputs.screening_exam.weight_kg if inputs.screening_exam else None
    born = inputs.subject.date_of_birth
    if weight is None or born is None:
        check.need(*(["screening_exam.weight_kg"] if weight is None else []))
        check.need(*(["subject.date_of_birth"] if born is None else []))
        check.need(*([] if lab.uln else ["lab_results.CREAT.uln"]))
        return check.result()
    age = age_in_years(born, lab.sample_date)
    clearance = cockcroft_gault(age, weight, inputs.subject.sex == "F", lab.value)
    ok = clearance >= 40
    cg_text = (
        f"Cockcroft-Gault clearance {num(clearance, 1)} mL/min {'≥' if ok else '<'} 40 "
        f"(age {age}, {num(weight, 1)} kg, {'female' if inputs.subject.sex == 'F' else 'male'}, "
        f"creatinine {num(lab.value)} µmol/L = {num(creatinine_mg_dl(lab.value))} mg/dL)"
    )
    if ok:
        check.judge(True, f"{ratio_text}, but {cg_text}" if ratio_text else cg_text)
    elif not lab.uln:
        check.need("lab_results.CREAT.uln")
        check.passed.append(cg_text)
    else:
        check.judge(False, f"{ratio_text} and {cg_text}")
    return check.result()


def inc_hepatic(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_HEPATIC")
    exam = inputs.screening_exam
    metastasis = exam.bone_or_liver_metastasis if exam else None
    for analyte in ("ALT", "AST", "ALP"):
        lab = _value(check, latest_lab(inputs.lab_results, analyte, on), analyte, uln=True)
        if lab is None:
            continue
        ok, text = _times_uln(lab, D("2.5"), "U/L")
        if ok:
            check.judge(True, text)
            continue
        within_five, five_text = _times_uln(lab, D(5), "U/L")
        if within_five and metastasis is None:
            check.need("screening_exam.bone_or_liver_metastasis")
            check.passed.append(text)
        elif metastasis:
            check.judge(within_five, f"{five_text} (bone or liver metastasis)")
        else:
            check.judge(False, text)
    bili = _value(check, latest_lab(inputs.lab_results, "BILI", on), "BILI", uln=True)
    if bili is not None:
        _bilirubin(check, inputs, on, bili, exam)
    return check.result()


def _bilirubin(check: Check, inputs: EligibilityInputs, on: dt.date, bili: LabFacts, exam: ExamFacts | None):
    ok, text = _times_uln(bili, D(2), "µmol/L")
    if ok:
        check.judge(True, text)
        return
    gilbert = exam.gilbert_syndrome if exam else None
    if gilbert is None:
        check.need("screening_exam.gilbert_syndrome")
        check.passed.append(text)
        return
    if not gilbert:
        check.judge(False, text)
        return
    total_ok, total_text = _times_uln(bili, D(3), "µmol/L", strict=True)
    check.judge(total_ok, f"{total_text} (Gilbert-Meulengracht)")
    direct = _value(check, latest_lab(inputs.lab_results, "BILDIR", on), "BILDIR", uln=True)
    if direct is not None:
        check.judge(*_times_uln(direct, D("1.5"), "µmol/L", strict=True))


def inc_pancreas(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_PANCREAS")
    for analyte in ("LIPASE", "AMYLASE"):
        lab = _value(check, latest_lab(inputs.lab_results, analyte, on), analyte, uln=True)
        if lab is not None:
            check.judge(*_times_uln(lab, D("1.5"), "U/L"))
    return check.result()


def inc_coag(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_COAG")
    pt = _value(check, latest_lab(inputs.lab_results, "PT", on), "PT", uln=True)
    if pt is not None:
        over = pt.value - pt.uln
        ok = over <= 4
        check.judge(ok, f"PT {num(pt.value)} s = ULN {num(pt.uln)} + {num(over)} s {'≤' if ok else '>'} ULN + 4 s")
    fibrinogen = _value(check, latest_lab(inputs.lab_results, "FIBRINO", on), "FIBRINO")
    if fibrinogen is not None:
        ok = fibrinogen.value >= 1
        check.judge(ok, f"fibrinogen {num(fibrinogen.value)} g/L {'≥' if ok else '<'} 1")
    aptt = _value(check, latest_lab(inputs.lab_results, "APTT", on), "APTT", uln=True)
    if aptt is not None:
        check.judge(*_times_uln(aptt, D("1.5"), "s"))
    return check.result()


def inc_pulmonary(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_PULMONARY")
    grade = _exam_value(check, inputs.screening_exam, "dyspnoea_grade")
    if grade is not None:
        check.judge(grade <= 1, f"dyspnoea CTCAE grade {grade} {'≤' if grade <= 1 else '>'} 1")
    sao2 = _exam_value(check, inputs.screening_exam, "sao2_room_air_pct")
    if sao2 is not None:
        check.judge(sao2 > 91, f"SaO2 {num(sao2, 1)} % on room air {'>' if sao2 > 91 else '≤'} 91 %")
    return check.result()


def inc_cardiac(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CARDIAC")
    lvef = _exam_value(check, inputs.screening_exam, "lvef_pct")
    method = _exam_value(check, inputs.screening_exam, "lvef_method")
    if lvef is not None:
        by = f" by {method}" if method else ""
        check.judge(lvef >= 45, f"LVEF {num(lvef, 1)} %{by} {'≥' if lvef >= 45 else '<'} 45 %")
    return check.result()


def exc_nephritis(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_NEPHRITIS")
    protein = _value(check, latest_lab(inputs.lab_results, "PROT24", on), "PROT24")
    if protein is not None:
        ok = protein.value <= 6
        check.judge(ok, f"proteinuria {num(protein.value)} g/24h {'≤' if ok else '>'} 6")
    creatinine = _value(check, latest_lab(inputs.lab_results, "CREAT", on), "CREAT")
    if creatinine is not None:
        ok = creatinine.value <= 221
        shown = f"creatinine {num(creatinine.value)} µmol/L ({num(creatinine_mg_dl(creatinine.value))} mg/dL)"
        check.judge(ok, f"{shown} {'≤' if ok else '>'} 221 µmol/L (2.5 mg/dL)")
    exam = inputs.screening_exam
    for flag, present, absent in (
        ("haemodialysis", "on haemodialysis", "no haemodialysis"),
        (
            "high_dose_steroid_14d_in_8w",
            "prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks",
            "no prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks",
        ),
    ):
        value = _exam_flag(check, exam, flag)
        if value is not None:
            check.judge(not value, present if value else absent)
    return check.result()


def exc_crisis(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_CRISIS")
    if inputs.screening_exam is None:
        check.need("screening_exam.lupus_crises")
        return check.result()
    crises = inputs.screening_exam.lupus_crises
    check.judge(not crises, f"lupus crisis: {', '.join(crises)}" if crises else "no lupus crisis")
    return check.result()


def _exclusion_flag(code: str, flag: str, applies: str, does_not: str):
    def criterion(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
        check = Check(code)
        value = _exam_flag(check, inputs.screening_exam, flag)
        if value is not None:
            check.judge(not value, applies if value else does_not)
        return check.result()

    criterion.__name__ = code.lower()
    return criterion


exc_cns = _exclusion_flag(
    "EXC_CNS", "non_lupus_cns_disease", "clinically significant CNS disease not caused by lupus",
    "no CNS disease other than lupus",
)  # fmt: skip
exc_autoimmune = _exclusion_flag(
    "EXC_AUTOIMMUNE", "other_autoimmune_systemic", "another autoimmune disease needs systemic treatment",
    "no other autoimmune disease needing systemic treatment",
)  # fmt: skip
exc_transplant = _exclusion_flag(
    "EXC_TRANSPLANT", "transplant_history", "major organ or haematopoietic stem cell transplant",
    "no organ or stem cell transplant",
)  # fmt: skip


def exc_iga(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_IGA")
    iga = _value(check, latest_lab(inputs.lab_results, "IGA", on), "IGA")
    if iga is not None:
        ok = iga.value >= D("0.1")
        check.judge(ok, f"IgA {num(iga.value, 3)} g/L ({num(iga.value * 100)} mg/dL) {'≥' if ok else '<'} 10 mg/dL")
    return check.result()


def exc_investigator(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_INVESTIGATOR")
    excluded = _exam_flag(check, inputs.screening_exam, "investigator_exclusion")
    if excluded is not None:
        reason = inputs.screening_exam.investigator_exclusion_reason
        check.judge(not excluded, f"investigator judges unsuitable: {reason}" if excluded else "judged suitable")
    return check.result()


CRITERIA: tuple[Callable[[EligibilityInputs, dt.date], CriterionResult], ...] = (
    inc_consent, inc_age, inc_slicc, inc_history, inc_regimen, inc_serology, inc_sledai, inc_contraception,
    inc_cd19, inc_cbc, inc_renal, inc_hepatic, inc_pancreas, inc_coag, inc_pulmonary, inc_cardiac,
    exc_nephritis, exc_crisis, exc_cns, exc_autoimmune, exc_transplant, exc_iga, exc_investigator,
)  # fmt: skip


def evaluate(inputs: EligibilityInputs, evaluation_date: dt.date) -> list[CriterionResult]:
    """Every criterion of DOMAIN.md §3, in protocol order."""
    return [criterion(inputs, evaluation_date) for criterion in CRITERIA]


def is_eligible(results: Iterable[CriterionResult]) -> bool | None:
    """True when all are MET; False as soon as one is NOT_MET; None while some are MISSING."""
    outcomes = {result.outcome for result in results}
    if NOT_MET in outcomes:
        return False
    return None if MISSING in outcomes else True


@dataclass(frozen=True)
class Evaluation:
    evaluation_date: dt.date
    apheresis_start: dt.datetime | None
    criteria: list[CriterionResult] = field(default_factory=list)

    @property
    def eligible(self) -> bool | None:
        return is_eligible(self.criteria)

    @property
    def missing_criteria(self) -> list[str]:
        return [c.code for c in self.criteria if c.outcome == MISSING]

    def as_dict(self) -> dict:
        return {
            "evaluation_date": self.evaluation_date.isoformat(),
            "apheresis_start": self.apheresis_start.isoformat() if self.apheresis_start else None,
            "eligible": self.eligible,
            "criteria": [c.as_dict() for c in self.criteria],
        }


def evaluation(inputs: EligibilityInputs, evaluation_date: dt.date) -> Evaluation:
    return Evaluation(evaluation_date, inputs.apheresis_start, evaluate(inputs, evaluation_date))
