"""The inclusion criteria of DOMAIN.md §3 (`INC_*`), each a pure function of the inputs and the evaluation date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from edc.rules import N_, D, Message, age_in_years
from screening.rules.calculations import (
    cockcroft_gault,
    course_start,
    creatinine_mg_dl,
    months_before,
    num,
    prednisone_equivalent,
    serology_positive,
    slicc_classification,
)
from screening.rules.check import (
    MET,
    Check,
    exam_flag,
    exam_value,
    joined,
    latest_lab,
    latest_lab_at,
    times_uln,
    usable_lab,
)
from screening.rules.codes import CORTICOSTEROID, IMMUNOMODULATOR, IMMUNOSUPPRESSANT
from screening.rules.field_checks import procedures_before_consent, screening_procedures
from screening.rules.inputs import CriterionResult, EligibilityInputs, ExamFacts, LabFacts, MedicationFacts
from screening.rules.sledai import sledai_score


def inc_consent(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CONSENT")
    consent = inputs.consent
    if consent is None or consent.consent_date is None:
        check.need("consent.consent_date")
    if consent is None or not consent.icf_version.strip():
        check.need("consent.icf_version")
    if check.missing:
        return check.result()
    signed = Message("consent signed {date} (ICF {icf})", date=consent.consent_date, icf=consent.icf_version)
    check.judge(consent.consent_date <= on, Message("{signed}, on or before the screening date {on}", signed=signed,
                                                    on=on))  # fmt: skip
    earlier = procedures_before_consent(consent.consent_date, screening_procedures(inputs))
    after = Message("{signed} after: {procedures}", signed=signed, procedures=joined(earlier, ", "))
    check.judge(not earlier, after if earlier else N_("before every screening procedure"))
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
        check.judge(age >= 18, Message("age {age} at consent {consented} (born {born}) {sign} 18", age=age,
                                       consented=consented, born=born, sign="≥" if age >= 18 else "<"))  # fmt: skip
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
        ok = diagnosed <= latest
        check.judge(ok, Message("diagnosed {diagnosed} {sign} {latest} (6 months)", diagnosed=diagnosed,
                                sign="≤" if ok else ">", latest=latest))  # fmt: skip
    if active_since is None:
        check.need("sle_history.active_on_regimen_since")
    else:
        latest = months_before(on, 2)
        ok = active_since <= latest
        check.judge(ok, Message("active on regimen since {since} {sign} {latest} (2 months)", since=active_since,
                                sign="≤" if ok else ">", latest=latest))  # fmt: skip
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
        check.judge(True, Message("{courses} (≤ {date})", courses=_since(long_enough), date=six_months))
    else:
        taken = _since(background) or N_("none taken")
        check.judge(False, Message("no immunomodulator or immunosuppressant since ≤ {date} (6 months): {taken}",
                                   date=six_months, taken=taken))  # fmt: skip
    steroids = [(i, m) for i, m in current if m.category == CORTICOSTEROID]
    if not steroids:
        check.judge(False, N_("no oral corticosteroid taken"))
        return check.result()
    for i, m in steroids:
        if m.dose_mg_per_day is None:
            check.need(f"medications[{i}].dose_mg_per_day")
    if check.missing:
        return check.result()
    equivalents = [prednisone_equivalent(m.drug, m.dose_mg_per_day) for _, m in steroids]
    if None in equivalents:
        check.judge(False, N_("a corticosteroid without a prednisone equivalent"))
        return check.result()
    dose = sum(equivalents, Fraction(0))
    courses = [(m.start_date, m.stop_date) for m in inputs.medications if m.category == CORTICOSTEROID]
    since = min(course_start(m.start_date, courses) for _, m in steroids)
    on_steroid_days = (on - since).days
    stable_days = (on - max(m.dose_stable_since or m.start_date for _, m in steroids)).days
    waived = any(m.category == IMMUNOSUPPRESSANT for _, m in current)
    low_ok = waived or dose >= Fraction("7.5")
    bounds = N_("≤ 60 (no lower bound with an immunosuppressant)") if waived else N_("within 7.5–60")
    in_bounds = low_ok and dose <= 60
    dose_text = N_("prednisone-equivalent {dose} mg/day {bounds}") if in_bounds else (
        N_("prednisone-equivalent {dose} mg/day not {bounds}"))  # fmt: skip
    check.judge(in_bounds, Message(dose_text, dose=num(dose), bounds=bounds))
    check.judge(on_steroid_days >= 56, Message(
        "corticosteroid since {since} (continuous across switches of agent) for {days} days {sign} 56",
        since=since, days=on_steroid_days, sign="≥" if on_steroid_days >= 56 else "<"))  # fmt: skip
    check.judge(stable_days >= 15, Message("dose unchanged for {days} days {sign} 15", days=stable_days,
                                           sign="≥" if stable_days >= 15 else "<"))  # fmt: skip
    return check.result()


def _since(medications: list[MedicationFacts]) -> str:
    """Courses as "drug since date", comma-separated."""
    return joined([Message("{drug} since {start}", drug=m.drug, start=m.start_date) for m in medications], ", ")


def inc_serology(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_SEROLOGY")
    negatives = []
    for analyte in ("ANA", "DSDNA", "SM"):
        lab = latest_lab(inputs.lab_results, analyte, on)
        positive = serology_positive(lab) if lab else None
        shown = analyte
        if lab:
            shown = Message("{analyte} {result} on {date}", analyte=analyte, result=lab.result_text or num(lab.value),
                            date=lab.sample_date)  # fmt: skip
        if positive:
            return CriterionResult("INC_SEROLOGY", MET, Message("{shown} positive", shown=shown))
        if positive is False:
            negatives.append(Message("{shown} negative", shown=shown))
        elif lab is None:
            check.need(f"lab_results.{analyte}")
        else:
            check.need(f"lab_results.{analyte}.uln")
    if not check.missing:
        check.judge(False, joined(negatives))
    else:
        check.passed.extend(negatives)
    return check.result()


# The score in words, by its activity band (the band's word inside each: the catalogue's "high" is a lab flag's).
SLEDAI_SHOWN = {
    "NONE": N_("SELENA-SLEDAI {total} on {date} (clinical {clinical}, serological {serological}, none)"),
    "MILD": N_("SELENA-SLEDAI {total} on {date} (clinical {clinical}, serological {serological}, mild)"),
    "MODERATE": N_("SELENA-SLEDAI {total} on {date} (clinical {clinical}, serological {serological}, moderate)"),
    "HIGH": N_("SELENA-SLEDAI {total} on {date} (clinical {clinical}, serological {serological}, high)"),
}


def inc_sledai(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_SLEDAI")
    if inputs.sledai is None:
        check.need("sledai.descriptors")
        return check.result()
    score = sledai_score(inputs.sledai.descriptors)
    shown = Message(SLEDAI_SHOWN[score.activity], total=score.total, date=inputs.sledai.assessment_date,
                    clinical=score.clinical, serological=score.serological)  # fmt: skip
    check.judge(score.total >= 8, Message("{shown}: total {total} {sign} 8", shown=shown, total=score.total,
                                          sign="≥" if score.total >= 8 else "<"))  # fmt: skip
    if score.serological:
        ok = score.clinical >= 6
        check.judge(ok, Message("serology scores, so clinical {clinical} {sign} 6", clinical=score.clinical,
                                sign="≥" if ok else "<"))  # fmt: skip
    return check.result()


def inc_contraception(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CONTRACEPTION")
    subject = inputs.subject
    if subject.sex == "F" and not subject.childbearing_potential:
        check.judge(True, N_("not required: woman without childbearing potential"))
        return check.result()
    who = N_("man") if subject.sex == "M" else N_("woman of childbearing potential")
    agreed = exam_flag(check, inputs.screening_exam, "contraception_agreed")
    if agreed is not None:
        said = N_("{who} agrees to effective contraception") if agreed else (
            N_("{who} does not agree to effective contraception"))  # fmt: skip
        check.judge(agreed, Message(said, who=who))
    return check.result()


def inc_cd19(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CD19")
    positive = exam_flag(check, inputs.screening_exam, "cd19_positive")
    if positive is not None:
        check.judge(positive, N_("CD19 expression positive by flow cytometry") if positive else
                    N_("CD19 expression negative by flow cytometry"))  # fmt: skip
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
            check.judge(True, N_("lymphocyte minimum waived under bridging chemotherapy"))
            continue
        lab = usable_lab(check, lab, analyte)
        if lab is None:
            continue
        drawn.append(lab)
        ok = lab.value >= minimum
        if not ok and analyte == "LYM" and bridging is None:
            check.need("screening_exam.bridging_chemotherapy")
            continue
        check.judge(ok, Message("{analyte} {value} {unit} {sign} {minimum}", analyte=analyte, value=num(lab.value),
                                unit=unit, sign="≥" if ok else "<", minimum=num(minimum)))  # fmt: skip
    transfused = exam_flag(check, exam, "transfusion_or_growth_factor_7d")
    if transfused is not None:
        check.judge(not transfused, N_("a transfusion or growth factor in the 7 days before the draw") if transfused
                    else N_("no transfusion or growth factor in the 7 days before the draw"))  # fmt: skip
    if apheresis is None:
        check.passed.append(
            N_("apheresis not recorded: the 24-hour timing before apheresis start is still to be checked")
        )
    for lab in drawn:
        before = apheresis - lab.sample_datetime if apheresis else None
        if before is not None:
            hours = num(Decimal(before.total_seconds()) / 3600, 1)
            ok = before <= CBC_WINDOW
            check.judge(ok, Message("{analyte} drawn {hours} h before apheresis start {sign} 24 h", analyte=lab.analyte,
                                    hours=hours, sign="≤" if ok else ">"))  # fmt: skip
    return check.result()


def inc_renal(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_RENAL")
    lab = usable_lab(check, latest_lab(inputs.lab_results, "CREAT", on), "CREAT")
    if lab is None:
        return check.result()
    ratio_text = None
    if lab.uln:
        ok, ratio_text = times_uln(lab, D("1.5"), "µmol/L")
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
    cg_text = Message(
        "Cockcroft-Gault clearance {clearance} mL/min {sign} 40 (age {age}, {weight} kg, {sex}, creatinine "
        "{creatinine} µmol/L = {mg_dl} mg/dL)", clearance=num(clearance, 1), sign="≥" if ok else "<", age=age,
        weight=num(weight, 1), sex=N_("female") if inputs.subject.sex == "F" else N_("male"),
        creatinine=num(lab.value), mg_dl=num(creatinine_mg_dl(lab.value)),
    )  # fmt: skip
    if ok:
        check.judge(True, Message("{ratio}, but {cg}", ratio=ratio_text, cg=cg_text) if ratio_text else cg_text)
    elif not lab.uln:
        check.need("lab_results.CREAT.uln")
        check.passed.append(cg_text)
    else:
        check.judge(False, Message("{ratio} and {cg}", ratio=ratio_text, cg=cg_text))
    return check.result()


def inc_hepatic(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_HEPATIC")
    exam = inputs.screening_exam
    metastasis = exam.bone_or_liver_metastasis if exam else None
    for analyte in ("ALT", "AST", "ALP"):
        lab = usable_lab(check, latest_lab(inputs.lab_results, analyte, on), analyte, uln=True)
        if lab is None:
            continue
        ok, text = times_uln(lab, D("2.5"), "U/L")
        if ok:
            check.judge(True, text)
            continue
        within_five, five_text = times_uln(lab, D(5), "U/L")
        if within_five and metastasis is None:
            check.need("screening_exam.bone_or_liver_metastasis")
            check.passed.append(text)
        elif metastasis:
            check.judge(within_five, Message("{text} (bone or liver metastasis)", text=five_text))
        else:
            check.judge(False, text)
    bili = usable_lab(check, latest_lab(inputs.lab_results, "BILI", on), "BILI", uln=True)
    if bili is not None:
        _bilirubin(check, inputs, on, bili, exam)
    return check.result()


def _bilirubin(check: Check, inputs: EligibilityInputs, on: dt.date, bili: LabFacts, exam: ExamFacts | None):
    ok, text = times_uln(bili, D(2), "µmol/L")
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
    total_ok, total_text = times_uln(bili, D(3), "µmol/L", strict=True)
    check.judge(total_ok, Message("{text} (Gilbert-Meulengracht)", text=total_text))
    direct = usable_lab(check, latest_lab(inputs.lab_results, "BILDIR", on), "BILDIR", uln=True)
    if direct is not None:
        check.judge(*times_uln(direct, D("1.5"), "µmol/L", strict=True))


def inc_pancreas(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_PANCREAS")
    for analyte in ("LIPASE", "AMYLASE"):
        lab = usable_lab(check, latest_lab(inputs.lab_results, analyte, on), analyte, uln=True)
        if lab is not None:
            check.judge(*times_uln(lab, D("1.5"), "U/L"))
    return check.result()


def inc_coag(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_COAG")
    pt = usable_lab(check, latest_lab(inputs.lab_results, "PT", on), "PT", uln=True)
    if pt is not None:
        over = pt.value - pt.uln
        ok = over <= 4
        check.judge(ok, Message("PT {value} s = ULN {uln} + {over} s {sign} ULN + 4 s", value=num(pt.value),
                                uln=num(pt.uln), over=num(over), sign="≤" if ok else ">"))  # fmt: skip
    fibrinogen = usable_lab(check, latest_lab(inputs.lab_results, "FIBRINO", on), "FIBRINO")
    if fibrinogen is not None:
        ok = fibrinogen.value >= 1
        check.judge(ok, Message("fibrinogen {value} g/L {sign} 1", value=num(fibrinogen.value),
                                sign="≥" if ok else "<"))  # fmt: skip
    aptt = usable_lab(check, latest_lab(inputs.lab_results, "APTT", on), "APTT", uln=True)
    if aptt is not None:
        check.judge(*times_uln(aptt, D("1.5"), "s"))
    return check.result()


def inc_pulmonary(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_PULMONARY")
    grade = exam_value(check, inputs.screening_exam, "dyspnoea_grade")
    if grade is not None:
        check.judge(grade <= 1, Message("dyspnoea CTCAE grade {grade} {sign} 1", grade=grade,
                                        sign="≤" if grade <= 1 else ">"))  # fmt: skip
    sao2 = exam_value(check, inputs.screening_exam, "sao2_room_air_pct")
    if sao2 is not None:
        check.judge(sao2 > 91, Message("SaO2 {value} % on room air {sign} 91 %", value=num(sao2, 1),
                                       sign=">" if sao2 > 91 else "≤"))  # fmt: skip
    return check.result()


def inc_cardiac(inputs: EligibilityInputs, on: dt.date) -> CriterionResult:
    check = Check("INC_CARDIAC")
    lvef = exam_value(check, inputs.screening_exam, "lvef_pct")
    method = exam_value(check, inputs.screening_exam, "lvef_method")
    if lvef is not None:
        said = N_("LVEF {value} % by {method} {sign} 45 %") if method else N_("LVEF {value} % {sign} 45 %")
        check.judge(lvef >= 45, Message(said, value=num(lvef, 1), method=method, sign="≥" if lvef >= 45 else "<"))
    return check.result()
