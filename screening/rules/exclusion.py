"""The exclusion criteria of DOMAIN.md §3 (`EXC_*`), each a pure function of the inputs and the evaluation date."""

from __future__ import annotations

import datetime as dt

from edc.rules import N_, D, Message
from screening.rules.calculations import (
    HIGH_DOSE_WINDOW_DAYS,
    creatinine_mg_dl,
    high_dose_steroid_days,
    num,
    prednisone_equivalent,
)
from screening.rules.check import (
    Check,
    exam_flag,
    joined,
    latest_lab,
    usable_lab,
)
from screening.rules.codes import CORTICOSTEROID, LUPUS_CRISIS_WORDS
from screening.rules.inputs import CriterionResult, EligibilityInputs


def exc_nephritis(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_NEPHRITIS")
    protein = usable_lab(check, latest_lab(inputs.lab_results, "PROT24", on), "PROT24")
    if protein is not None:
        ok = protein.value <= 6
        check.judge(ok, Message("proteinuria {value} g/24h {sign} 6", value=num(protein.value),
                                sign="≤" if ok else ">"))  # fmt: skip
    creatinine = usable_lab(check, latest_lab(inputs.lab_results, "CREAT", on), "CREAT")
    if creatinine is not None:
        ok = creatinine.value <= 221
        shown = Message("creatinine {value} µmol/L ({mg_dl} mg/dL)", value=num(creatinine.value),
                        mg_dl=num(creatinine_mg_dl(creatinine.value)))  # fmt: skip
        check.judge(ok, Message("{shown} {sign} 221 µmol/L (2.5 mg/dL)", shown=shown, sign="≤" if ok else ">"))
    exam = inputs.screening_exam
    for flag, present, absent in (
        ("haemodialysis", N_("on haemodialysis"), N_("no haemodialysis")),
        (
            "active_nephritis_prohibited_drug",
            N_("active nephritis treated with a drug the protocol prohibits (investigator)"),
            N_("no active nephritis treated with a prohibited drug (investigator)"),
        ),
        (
            "high_dose_steroid_14d_in_8w",
            N_("prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks (investigator)"),
            N_("no prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks (investigator)"),
        ),
    ):
        value = exam_flag(check, exam, flag)
        if value is not None:
            check.judge(not value, present if value else absent)
    _high_dose_steroid_in_log(check, inputs, on)
    return check.result()


def _high_dose_steroid_in_log(check: Check, inputs: EligibilityInputs, on: dt.date) -> None:
    """EXC_NEPHRITIS's steroid clause from the medication log: ≥ 14 days at ≥ 100 mg/day in the 8 weeks before."""
    window_start = on - dt.timedelta(days=HIGH_DOSE_WINDOW_DAYS)
    courses = []
    for i, m in enumerate(inputs.medications):
        if m.category != CORTICOSTEROID or prednisone_equivalent(m.drug, D(0)) is None:
            continue
        if m.start_date >= on or (m.stop_date is not None and m.stop_date < window_start):
            continue  # not taken in the window
        if m.dose_mg_per_day is None:
            check.need(f"medications[{i}].dose_mg_per_day")
            continue
        courses.append((m.drug, m.dose_mg_per_day, m.start_date, m.dose_stable_since, m.stop_date))
    days = high_dose_steroid_days(courses, on)
    ok = days < 14
    check.judge(ok, Message(
        "medication log: prednisone-equivalent ≥ 100 mg/day on {days} days {sign} 14 days of the 8 weeks "
        "{start} – {end}", days=days, sign="<" if ok else "≥", start=window_start, end=on - dt.timedelta(days=1),
    ))  # fmt: skip


def exc_crisis(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_CRISIS")
    if inputs.screening_exam is None:
        check.need("screening_exam.lupus_crises")
        return check.result()
    crises = inputs.screening_exam.lupus_crises
    named = joined([LUPUS_CRISIS_WORDS.get(crisis, crisis) for crisis in crises], ", ")
    check.judge(not crises, Message("lupus crisis: {named}", named=named) if crises else N_("no lupus crisis"))
    return check.result()


def _exclusion_flag(code: str, flag: str, applies: str, does_not: str):
    def criterion(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
        check = Check(code)
        value = exam_flag(check, inputs.screening_exam, flag)
        if value is not None:
            check.judge(not value, applies if value else does_not)
        return check.result()

    criterion.__name__ = code.lower()
    return criterion


exc_cns = _exclusion_flag(
    "EXC_CNS", "non_lupus_cns_disease", N_("clinically significant CNS disease not caused by lupus"),
    N_("no CNS disease other than lupus"),
)  # fmt: skip
exc_autoimmune = _exclusion_flag(
    "EXC_AUTOIMMUNE", "other_autoimmune_systemic", N_("another autoimmune disease needs systemic treatment"),
    N_("no other autoimmune disease needing systemic treatment"),
)  # fmt: skip
exc_transplant = _exclusion_flag(
    "EXC_TRANSPLANT", "transplant_history", N_("major organ or haematopoietic stem cell transplant"),
    N_("no organ or stem cell transplant"),
)  # fmt: skip


def exc_iga(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_IGA")
    iga = usable_lab(check, latest_lab(inputs.lab_results, "IGA", on), "IGA")
    if iga is not None:
        ok = iga.value >= D("0.1")
        check.judge(ok, Message("IgA {value} g/L ({mg_dl} mg/dL) {sign} 10 mg/dL", value=num(iga.value, 3),
                                mg_dl=num(iga.value * 100), sign="≥" if ok else "<"))  # fmt: skip
    return check.result()


def exc_investigator(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("EXC_INVESTIGATOR")
    excluded = exam_flag(check, inputs.screening_exam, "investigator_exclusion")
    if excluded is not None:
        reason = inputs.screening_exam.investigator_exclusion_reason
        unsuitable = Message("investigator judges unsuitable: {reason}", reason=reason)
        check.judge(not excluded, unsuitable if excluded else N_("judged suitable"))
    return check.result()
