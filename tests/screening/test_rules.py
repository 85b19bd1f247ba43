"""Table-driven tests of the screening rules: both sides of every boundary of DOMAIN.md §3–4."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from edc import rules as edc_rules
from screening import rules
from screening.rules import MET, MISSING, NOT_MET
from tests.screening.factories import EVALUATION_DATE, LAB_TIME, base_inputs, lab_facts, with_exam, with_lab

D = Decimal


def outcome_of(code, inputs, on=EVALUATION_DATE):
    return next(r for r in rules.evaluate(inputs, on) if r.code == code)


def with_history(inputs, **changes):
    return replace(inputs, sle_history=replace(inputs.sle_history, **changes))


def with_meds(inputs, *meds):
    return replace(inputs, medications=tuple(meds))


def med(category, drug, dose, start, stable=None, stop=None):
    return rules.MedicationFacts(drug, category, None if dose is None else D(dose), start, stable, stop)


HCQ = med("IMMUNOMODULATOR", "hydroxychloroquine", "400", dt.date(2023, 1, 1))
MMF = med("IMMUNOSUPPRESSANT", "mycophenolate", "1500", dt.date(2023, 1, 1))


def steroid(dose, drug="prednisone", start=dt.date(2024, 6, 1), stable=dt.date(2024, 12, 1)):
    return med("CORTICOSTEROID", drug, dose, start, stable)


def test_the_base_subject_meets_every_criterion():
    results = rules.evaluate(base_inputs(), EVALUATION_DATE)
    assert [r.code for r in results if r.outcome != MET] == []
    assert len(results) == 23
    assert rules.is_eligible(results) is True


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (dt.date(2025, 3, 10), 6, dt.date(2024, 9, 10)),
        (dt.date(2024, 8, 31), 6, dt.date(2024, 2, 29)),
        (dt.date(2023, 8, 31), 6, dt.date(2023, 2, 28)),
        (dt.date(2025, 1, 15), 2, dt.date(2024, 11, 15)),
    ],
)
def test_calendar_months(day, months, expected):
    assert rules.months_before(day, months) == expected


@pytest.mark.parametrize(
    "change, code, expected",
    [
        # INC_AGE: ≥ 18 at consent (2025-03-01)
        (lambda i: replace(i, subject=replace(i.subject, date_of_birth=dt.date(2007, 3, 1))), "INC_AGE", MET),
        (lambda i: replace(i, subject=replace(i.subject, date_of_birth=dt.date(2007, 3, 2))), "INC_AGE", NOT_MET),
        # INC_CONSENT: on or before every procedure (first lab 2025-03-04) and the screening date
        (lambda i: replace(i, consent=rules.ConsentFacts(dt.date(2025, 3, 4), "2.0")), "INC_CONSENT", MET),
        (lambda i: replace(i, consent=rules.ConsentFacts(dt.date(2025, 3, 5), "2.0")), "INC_CONSENT", NOT_MET),
        # INC_SLICC
        (lambda i: with_history(i, slicc_criteria=("SYNOVITIS", "ANA", "ANTI_SM", "DIRECT_COOMBS")), "INC_SLICC", MET),
        (lambda i: with_history(i, slicc_criteria=("SYNOVITIS", "ANA", "ANTI_SM")), "INC_SLICC", NOT_MET),
        (lambda i: with_history(i, slicc_criteria=("SYNOVITIS", "RENAL", "ALOPECIA", "SEROSITIS")), "INC_SLICC",
         NOT_MET),
        (lambda i: with_history(i, slicc_criteria=("ANA", "ANTI_SM", "ANTI_DSDNA", "LOW_COMPLEMENT")), "INC_SLICC",
         NOT_MET),
        (lambda i: with_history(i, slicc_criteria=("ANA",), biopsy_lupus_nephritis=True), "INC_SLICC", MET),
        (lambda i: with_history(i, slicc_criteria=("ANTI_DSDNA",), biopsy_lupus_nephritis=True), "INC_SLICC", MET),
        (lambda i: with_history(i, slicc_criteria=("ANTI_SM",), biopsy_lupus_nephritis=True), "INC_SLICC", NOT_MET),
        # INC_HISTORY: diagnosed ≥ 6 months, active on regimen ≥ 2 months before 2025-03-10
        (lambda i: with_history(i, diagnosis_date=dt.date(2024, 9, 10)), "INC_HISTORY", MET),
        (lambda i: with_history(i, diagnosis_date=dt.date(2024, 9, 11)), "INC_HISTORY", NOT_MET),
        (lambda i: with_history(i, active_on_regimen_since=dt.date(2025, 1, 10)), "INC_HISTORY", MET),
        (lambda i: with_history(i, active_on_regimen_since=dt.date(2025, 1, 11)), "INC_HISTORY", NOT_MET),
        # INC_REGIMEN: background drug ≥ 6 months
        (lambda i: with_meds(i, replace(HCQ, start_date=dt.date(2024, 9, 10)), steroid("15")), "INC_REGIMEN", MET),
        (lambda i: with_meds(i, replace(HCQ, start_date=dt.date(2024, 9, 11)), steroid("15")), "INC_REGIMEN",
         NOT_MET),
        (lambda i: with_meds(i, replace(HCQ, stop_date=dt.date(2025, 3, 9)), steroid("15")), "INC_REGIMEN", NOT_MET),
        # steroid ≥ 56 days, unchanged ≥ 15 days
        (lambda i: with_meds(i, HCQ, steroid("15", start=dt.date(2025, 1, 13), stable=dt.date(2025, 1, 13))),
         "INC_REGIMEN", MET),
        (lambda i: with_meds(i, HCQ, steroid("15", start=dt.date(2025, 1, 14), stable=dt.date(2025, 1, 14))),
         "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, HCQ, steroid("15", stable=dt.date(2025, 2, 23))), "INC_REGIMEN", MET),
        (lambda i: with_meds(i, HCQ, steroid("15", stable=dt.date(2025, 2, 24))), "INC_REGIMEN", NOT_MET),
        # dose 7.5–60 inclusive; no lower bound with an immunosuppressant
        (lambda i: with_meds(i, HCQ, steroid("7.5")), "INC_REGIMEN", MET),
        (lambda i: with_meds(i, HCQ, steroid("7.49")), "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, HCQ, steroid("60")), "INC_REGIMEN", MET),
        (lambda i: with_meds(i, HCQ, steroid("60.01")), "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, MMF, steroid("5")), "INC_REGIMEN", MET),
        (lambda i: with_meds(i, HCQ, steroid("5")), "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, MMF, steroid("60.01")), "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, HCQ, steroid("6", drug="methylprednisolone")), "INC_REGIMEN", MET),  # 7.5
        (lambda i: with_meds(i, HCQ, steroid("5.9", drug="methylprednisolone")), "INC_REGIMEN", NOT_MET),
        (lambda i: with_meds(i, HCQ), "INC_REGIMEN", NOT_MET),
        # INC_SEROLOGY: ANA ≥ 1:80, value > ULN, or POSITIVE
        (lambda i: with_lab(with_lab(i, "DSDNA", "100", uln="100"), "ANA", text="1:80"), "INC_SEROLOGY", MET),
        (lambda i: with_lab(with_lab(i, "DSDNA", "100", uln="100"), "ANA", text="1:40"), "INC_SEROLOGY", NOT_MET),
        (lambda i: with_lab(with_lab(i, "DSDNA", "100.1", uln="100"), "ANA", text="NEGATIVE"), "INC_SEROLOGY", MET),
        (lambda i: with_lab(with_lab(with_lab(i, "DSDNA", "5", uln="100"), "ANA", text="NEGATIVE"), "SM",
                            text="POSITIVE"), "INC_SEROLOGY", MET),
        # INC_CONTRACEPTION
        (lambda i: with_exam(replace(i, subject=replace(i.subject, childbearing_potential=False)),
                             contraception_agreed=None), "INC_CONTRACEPTION", MET),
        (lambda i: with_exam(replace(i, subject=replace(i.subject, sex="M", childbearing_potential=False)),
                             contraception_agreed=False), "INC_CONTRACEPTION", NOT_MET),
        (lambda i: with_exam(i, contraception_agreed=False), "INC_CONTRACEPTION", NOT_MET),
        # INC_CD19
        (lambda i: with_exam(i, cd19_positive=False), "INC_CD19", NOT_MET),
        # INC_CBC: LYM ≥ 0.5 (waived under bridging), PLAT ≥ 25, HGB ≥ 70, no transfusion
        (lambda i: with_lab(i, "LYM", "0.5"), "INC_CBC", MET),
        (lambda i: with_lab(i, "LYM", "0.49"), "INC_CBC", NOT_MET),
        (lambda i: with_exam(with_lab(i, "LYM", "0.49"), bridging_chemotherapy=True), "INC_CBC", MET),
        (lambda i: with_exam(with_lab(i, "LYM"), bridging_chemotherapy=True), "INC_CBC", MET),
        (lambda i: with_lab(i, "PLAT", "25"), "INC_CBC", MET),
        (lambda i: with_lab(i, "PLAT", "24.9"), "INC_CBC", NOT_MET),
        (lambda i: with_lab(i, "HGB", "70"), "INC_CBC", MET),
        (lambda i: with_lab(i, "HGB", "69.9"), "INC_CBC", NOT_MET),
        (lambda i: with_exam(i, transfusion_or_growth_factor_7d=True), "INC_CBC", NOT_MET),
        # INC_PULMONARY and INC_CARDIAC
        (lambda i: with_exam(i, dyspnoea_grade=1), "INC_PULMONARY", MET),
        (lambda i: with_exam(i, dyspnoea_grade=2), "INC_PULMONARY", NOT_MET),
        (lambda i: with_exam(i, sao2_room_air_pct=D("91.1")), "INC_PULMONARY", MET),
        (lambda i: with_exam(i, sao2_room_air_pct=D("91")), "INC_PULMONARY", NOT_MET),
        (lambda i: with_exam(i, lvef_pct=D("45")), "INC_CARDIAC", MET),
        (lambda i: with_exam(i, lvef_pct=D("44.9")), "INC_CARDIAC", NOT_MET),
        # INC_PANCREAS: ≤ 1.5 × ULN
        (lambda i: with_lab(i, "LIPASE", "90", uln="60"), "INC_PANCREAS", MET),
        (lambda i: with_lab(i, "LIPASE", "90.1", uln="60"), "INC_PANCREAS", NOT_MET),
        (lambda i: with_lab(i, "AMYLASE", "150", uln="100"), "INC_PANCREAS", MET),
        (lambda i: with_lab(i, "AMYLASE", "150.1", uln="100"), "INC_PANCREAS", NOT_MET),
        # INC_COAG: PT ≤ ULN + 4 s, fibrinogen ≥ 1 g/L, APTT ≤ 1.5 × ULN
        (lambda i: with_lab(i, "PT", "17", uln="13"), "INC_COAG", MET),
        (lambda i: with_lab(i, "PT", "17.1", uln="13"), "INC_COAG", NOT_MET),
        (lambda i: with_lab(i, "FIBRINO", "1"), "INC_COAG", MET),
        (lambda i: with_lab(i, "FIBRINO", "0.99"), "INC_COAG", NOT_MET),
        (lambda i: with_lab(i, "APTT", "60", uln="40"), "INC_COAG", MET),
        (lambda i: with_lab(i, "APTT", "60.1", uln="40"), "INC_COAG", NOT_MET),
        # EXC_NEPHRITIS (MET = does not apply)
        (lambda i: with_lab(i, "PROT24", "6"), "EXC_NEPHRITIS", MET),
        (lambda i: with_lab(i, "PROT24", "6.01"), "EXC_NEPHRITIS", NOT_MET),
        (lambda i: with_lab(i, "CREAT", "221", uln="84"), "EXC_NEPHRITIS", MET),
        (lambda i: with_lab(i, "CREAT", "221.1", uln="84"), "EXC_NEPHRITIS", NOT_MET),
        (lambda i: with_exam(i, haemodialysis=True), "EXC_NEPHRITIS", NOT_MET),
        (lambda i: with_exam(i, high_dose_steroid_14d_in_8w=True), "EXC_NEPHRITIS", NOT_MET),
        # the other exclusions
        (lambda i: with_exam(i, lupus_crises=("CNS_LUPUS",)), "EXC_CRISIS", NOT_MET),
        (lambda i: with_exam(i, non_lupus_cns_disease=True), "EXC_CNS", NOT_MET),
        (lambda i: with_exam(i, other_autoimmune_systemic=True), "EXC_AUTOIMMUNE", NOT_MET),
        (lambda i: with_exam(i, transplant_history=True), "EXC_TRANSPLANT", NOT_MET),
        (lambda i: with_lab(i, "IGA", "0.1"), "EXC_IGA", MET),
        (lambda i: with_lab(i, "IGA", "0.0999"), "EXC_IGA", NOT_MET),
        (lambda i: with_exam(i, investigator_exclusion=True, investigator_exclusion_reason="poor venous access"),
         "EXC_INVESTIGATOR", NOT_MET),
    ],
)  # fmt: skip
def test_boundaries(change, code, expected):
    result = outcome_of(code, change(base_inputs()))
    assert result.outcome == expected, result.reason


@pytest.mark.parametrize("analyte", ["ALT", "AST", "ALP"])
@pytest.mark.parametrize(
    "value, metastasis, expected",
    [
        ("100", False, MET),  # 2.5 × ULN 40 admitted
        ("100.1", False, NOT_MET),
        ("100.1", True, MET),  # metastasis exception: ≤ 5 × ULN
        ("200", True, MET),
        ("200.1", True, NOT_MET),
        ("100.1", None, MISSING),  # the exception decides: it must be answered
        ("90", None, MET),  # within 2.5 × ULN the metastasis question does not matter
    ],
)
def test_hepatic_enzymes_and_the_metastasis_exception(analyte, value, metastasis, expected):
    inputs = with_exam(with_lab(base_inputs(), analyte, value, uln="40"), bone_or_liver_metastasis=metastasis)
    result = outcome_of("INC_HEPATIC", inputs)
    assert result.outcome == expected, result.reason
    if expected == MISSING:
        assert result.missing == ("screening_exam.bone_or_liver_metastasis",)


@pytest.mark.parametrize(
    "total, direct, gilbert, expected",
    [
        ("42", "3", False, MET),  # 2 × ULN 21 admitted
        ("42.1", "3", False, NOT_MET),
        ("42.1", "3", True, MET),  # Gilbert: total < 3 × ULN and direct < 1.5 × ULN 7
        ("62.9", "10.4", True, MET),
        ("63", "3", True, NOT_MET),
        ("50", "10.5", True, NOT_MET),
        ("42.1", "3", None, MISSING),
        ("42.1", None, True, MISSING),
    ],
)
def test_bilirubin_and_the_gilbert_exception(total, direct, gilbert, expected):
    inputs = with_lab(with_lab(base_inputs(), "BILI", total, uln="21"), "BILDIR", direct, uln="7")
    result = outcome_of("INC_HEPATIC", with_exam(inputs, gilbert_syndrome=gilbert))
    assert result.outcome == expected, result.reason


def male_aged_40_at_the_sample(weight="72"):
    inputs = base_inputs()
    inputs = replace(inputs, subject=replace(inputs.subject, sex="M", date_of_birth=dt.date(1985, 1, 1)))
    return with_exam(inputs, weight_kg=D(weight))


@pytest.mark.parametrize(
    "creatinine, uln, weight, expected",
    [
        ("126", "84", "72", MET),  # 1.5 × ULN admitted
        ("221", "100", "72", MET),  # 2.21 × ULN, but clearance (140-40)×72 ÷ (72×2.5) = 40 mL/min exactly
        ("221.1", "100", "72", NOT_MET),  # 39.98 mL/min and > 1.5 × ULN
        ("200", "100", None, MISSING),  # above 1.5 × ULN and no weight for the clearance
        ("126.1", "84", "72", MET),  # just above 1.5 × ULN, clearance ≈ 70 mL/min
    ],
)
def test_renal_creatinine_or_clearance(creatinine, uln, weight, expected):
    inputs = with_lab(male_aged_40_at_the_sample(weight or "72"), "CREAT", creatinine, uln=uln)
    if weight is None:
        inputs = with_exam(inputs, weight_kg=None)
    result = outcome_of("INC_RENAL", inputs)
    assert result.outcome == expected, result.reason
    if expected == MISSING:
        assert result.missing == ("screening_exam.weight_kg",)


def test_cockcroft_gault():
    assert rules.cockcroft_gault(40, D(72), False, D(221)) == 40
    assert rules.cockcroft_gault(40, D(72), True, D(221)) == D(34)
    assert rules.cockcroft_gault(40, D(72), False, D("221.1")) < 40


@pytest.mark.parametrize(
    "descriptors, expected",
    [
        (("SEIZURE",), MET),  # 8, no serology
        (("ARTHRITIS", "RASH", "FEVER"), NOT_MET),  # 7
        (("ARTHRITIS", "RASH", "LOW_COMPLEMENT"), MET),  # 8, clinical 6
        (("ARTHRITIS", "LOW_COMPLEMENT", "DNA_BINDING"), NOT_MET),  # 8, clinical 4
        (("ARTHRITIS", "FEVER", "LOW_COMPLEMENT", "DNA_BINDING"), NOT_MET),  # 9, clinical 5
        (("ARTHRITIS", "RASH", "LOW_COMPLEMENT", "DNA_BINDING"), MET),  # 10, clinical 6
    ],
)
def test_sledai_total_and_the_serology_rule(descriptors, expected):
    inputs = replace(base_inputs(), sledai=rules.SledaiFacts(dt.date(2025, 3, 5), descriptors))
    result = outcome_of("INC_SLEDAI", inputs)
    assert result.outcome == expected, result.reason


@pytest.mark.parametrize(
    "descriptors, total, clinical, serological, activity",
    [
        ((), 0, 0, 0, "NONE"),
        (("FEVER",), 1, 1, 0, "MILD"),
        (("LOW_COMPLEMENT", "DNA_BINDING"), 4, 0, 4, "MILD"),
        (("ARTHRITIS", "FEVER"), 5, 5, 0, "MODERATE"),
        (("SEIZURE", "RASH"), 10, 10, 0, "MODERATE"),
        (("SEIZURE", "RASH", "FEVER"), 11, 11, 0, "HIGH"),
        (("FEVER", "FEVER"), 1, 1, 0, "MILD"),
        (tuple(rules.SLEDAI_WEIGHTS), 105, 101, 4, "HIGH"),
    ],
)
def test_sledai_score(descriptors, total, clinical, serological, activity):
    assert rules.sledai_score(descriptors) == rules.SledaiScore(total, clinical, serological, activity)


@pytest.mark.parametrize(
    "lab, expected",
    [
        ({"analyte": "C3", "value": "0.89", "lln": "0.9"}, ["LOW_COMPLEMENT"]),
        ({"analyte": "C4", "value": "0.1", "lln": "0.1"}, []),
        ({"analyte": "DSDNA", "value": "100.1", "uln": "100"}, ["DNA_BINDING"]),
        ({"analyte": "DSDNA", "value": "100", "uln": "100"}, []),
        ({"analyte": "PLAT", "value": "99.9"}, ["THROMBOCYTOPENIA"]),
        ({"analyte": "PLAT", "value": "100"}, []),
        ({"analyte": "WBC", "value": "2.9"}, ["LEUKOPENIA"]),
        ({"analyte": "WBC", "value": "3"}, []),
        ({"analyte": "PROT24", "value": "0.51"}, ["PROTEINURIA"]),
        ({"analyte": "PROT24", "value": "0.5"}, []),
        ({"analyte": "PLAT", "value": "50", "when": LAB_TIME - dt.timedelta(days=10)}, ["THROMBOCYTOPENIA"]),
        ({"analyte": "PLAT", "value": "50", "when": LAB_TIME - dt.timedelta(days=11)}, []),
    ],
)
def test_lab_backed_sledai_suggestions(lab, expected):
    suggestions = rules.suggest_sledai_descriptors([lab_facts(**lab)], LAB_TIME.date())
    assert [s.descriptor for s in suggestions] == expected


def test_fever_suggestion():
    assert [s.descriptor for s in rules.suggest_sledai_descriptors([], LAB_TIME.date(), D("38.1"))] == ["FEVER"]
    assert rules.suggest_sledai_descriptors([], LAB_TIME.date(), D("38")) == []


@pytest.mark.parametrize("drug, factor", list(rules.PREDNISONE_EQUIVALENTS.items()))
def test_prednisone_equivalents(drug, factor):
    assert rules.prednisone_equivalent(drug.upper(), D(10)) == 10 * factor


def test_unknown_steroid_has_no_equivalent():
    assert rules.prednisone_equivalent("budesonide", D(9)) is None


class TestCbcTiming:
    def test_without_apheresis_the_reason_says_timing_is_still_to_check(self):
        result = outcome_of("INC_CBC", base_inputs())
        assert result.outcome == MET
        assert "still to be checked" in result.reason

    @pytest.mark.parametrize(
        "after_draw, expected", [(dt.timedelta(hours=24), MET), (dt.timedelta(hours=24, seconds=1), NOT_MET)]
    )
    def test_cbc_within_24_hours_before_apheresis(self, after_draw, expected):
        inputs = replace(base_inputs(), apheresis_start=LAB_TIME + after_draw)
        result = outcome_of("INC_CBC", inputs)
        assert result.outcome == expected, result.reason

    def test_the_latest_cbc_on_or_before_apheresis_is_used(self):
        start = LAB_TIME + dt.timedelta(days=5)
        inputs = replace(base_inputs(), apheresis_start=start)
        for analyte in ("LYM", "PLAT", "HGB"):
            inputs = with_lab(inputs, analyte, "100", when=start - dt.timedelta(hours=2))
        late = lab_facts("PLAT", "10", when=start + dt.timedelta(hours=1))  # after the start: not this CBC
        with_late = replace(inputs, lab_results=(*inputs.lab_results, late))
        assert outcome_of("INC_CBC", with_late).outcome == MET
        stale = lab_facts("HGB", "120", when=start - dt.timedelta(hours=30))  # older draw: the latest is used
        assert outcome_of("INC_CBC", replace(inputs, lab_results=(*inputs.lab_results, stale))).outcome == MET
        only_stale = with_lab(inputs, "HGB", "120", when=start - dt.timedelta(hours=30))
        assert outcome_of("INC_CBC", only_stale).outcome == NOT_MET


def test_reason_carries_the_numbers():
    result = outcome_of("INC_HEPATIC", with_lab(base_inputs(), "ALT", "95", uln="35"))
    assert result.reason == "ALT 95 U/L = 2.71 × ULN 35 > 2.5 × ULN"
    renal = outcome_of("INC_RENAL", with_lab(male_aged_40_at_the_sample(), "CREAT", "221", uln="100"))
    assert "Cockcroft-Gault clearance 40 mL/min ≥ 40" in renal.reason and "2.21 × ULN 100" in renal.reason


EXAM_INPUTS = [
    ("dyspnoea_grade", "INC_PULMONARY"),
    ("sao2_room_air_pct", "INC_PULMONARY"),
    ("lvef_pct", "INC_CARDIAC"),
    ("lvef_method", "INC_CARDIAC"),
    ("cd19_positive", "INC_CD19"),
    ("transfusion_or_growth_factor_7d", "INC_CBC"),
    ("haemodialysis", "EXC_NEPHRITIS"),
    ("high_dose_steroid_14d_in_8w", "EXC_NEPHRITIS"),
    ("active_nephritis_prohibited_drug", "EXC_NEPHRITIS"),
    ("non_lupus_cns_disease", "EXC_CNS"),
    ("other_autoimmune_systemic", "EXC_AUTOIMMUNE"),
    ("transplant_history", "EXC_TRANSPLANT"),
    ("contraception_agreed", "INC_CONTRACEPTION"),
    ("investigator_exclusion", "EXC_INVESTIGATOR"),
]
LAB_INPUTS = [
    ("LYM", ["INC_CBC"]), ("PLAT", ["INC_CBC"]), ("HGB", ["INC_CBC"]), ("CREAT", ["INC_RENAL", "EXC_NEPHRITIS"]),
    ("ALT", ["INC_HEPATIC"]), ("AST", ["INC_HEPATIC"]), ("ALP", ["INC_HEPATIC"]), ("BILI", ["INC_HEPATIC"]),
    ("LIPASE", ["INC_PANCREAS"]), ("AMYLASE", ["INC_PANCREAS"]), ("PT", ["INC_COAG"]), ("FIBRINO", ["INC_COAG"]),
    ("APTT", ["INC_COAG"]), ("PROT24", ["EXC_NEPHRITIS"]), ("IGA", ["EXC_IGA"]),
]  # fmt: skip


def missing_by_code(inputs):
    return {r.code: r.missing for r in rules.evaluate(inputs, EVALUATION_DATE) if r.outcome == MISSING}


@pytest.mark.parametrize("field, code", EXAM_INPUTS)
def test_missing_names_each_absent_exam_answer(field, code):
    value = "" if field == "lvef_method" else None
    assert missing_by_code(with_exam(base_inputs(), **{field: value})) == {code: (f"screening_exam.{field}",)}


@pytest.mark.parametrize("analyte, codes", LAB_INPUTS)
def test_missing_names_each_absent_lab(analyte, codes):
    assert missing_by_code(with_lab(base_inputs(), analyte)) == dict.fromkeys(codes, (f"lab_results.{analyte}",))


def test_missing_uln_is_named():
    assert missing_by_code(with_lab(base_inputs(), "ALT", "30")) == {"INC_HEPATIC": ("lab_results.ALT.uln",)}


def test_missing_serology_names_the_three_tests():
    inputs = with_lab(with_lab(with_lab(base_inputs(), "ANA"), "DSDNA"), "SM")
    assert missing_by_code(inputs) == {"INC_SEROLOGY": ("lab_results.ANA", "lab_results.DSDNA", "lab_results.SM")}


def test_missing_crfs_are_named():
    inputs = rules.EligibilityInputs(subject=rules.SubjectFacts("F", None, True))
    missing = missing_by_code(inputs)
    assert missing["INC_CONSENT"] == ("consent.consent_date", "consent.icf_version")
    assert missing["INC_AGE"] == ("subject.date_of_birth", "consent.consent_date")
    assert missing["INC_SLICC"] == ("sle_history.slicc_criteria",)
    assert missing["INC_HISTORY"] == ("sle_history.diagnosis_date", "sle_history.active_on_regimen_since")
    assert missing["INC_REGIMEN"] == ("medications",)
    assert missing["INC_SLEDAI"] == ("sledai.descriptors",)
    assert missing["EXC_CRISIS"] == ("screening_exam.lupus_crises",)
    assert len(missing) == 23
    assert rules.is_eligible(rules.evaluate(inputs, EVALUATION_DATE)) is None


def test_missing_steroid_dose_names_the_medication():
    inputs = with_meds(base_inputs(), HCQ, steroid(None))
    # EXC_NEPHRITIS reads the log's doses of the 8 weeks before screening too (DOMAIN.md §3, issue 15)
    assert missing_by_code(inputs) == dict.fromkeys(
        ("INC_REGIMEN", "EXC_NEPHRITIS"), ("medications[1].dose_mg_per_day",)
    )


def test_a_failure_wins_over_missing_and_makes_the_subject_ineligible():
    inputs = with_exam(with_lab(base_inputs(), "PT"), lvef_pct=D(30))
    results = rules.evaluate(inputs, EVALUATION_DATE)
    assert rules.is_eligible(results) is False


@pytest.mark.parametrize(
    "check, expected_field",
    [
        (lambda: rules.check_history_fields(["ANA", "LUPUS"]), "slicc_criteria"),
        (lambda: rules.check_sledai_fields(["RASH", "ITCH"]), "descriptors"),
        (lambda: rules.check_sledai_fields("RASH"), "descriptors"),
        (lambda: rules.check_exam_fields({"lupus_crises": ["NOPE"]}), "lupus_crises"),
        (lambda: rules.check_exam_fields({"investigator_exclusion": True}), "investigator_exclusion_reason"),
        (lambda: rules.check_medication_fields("STEROID", "prednisone", None, None, None), "category"),
        (lambda: rules.check_medication_fields("CORTICOSTEROID", "budesonide", None, None, None), "drug"),
        (lambda: rules.check_medication_fields("OTHER", "x", dt.date(2025, 1, 2), None, dt.date(2025, 1, 1)),
         "stop_date"),
        (lambda: rules.check_consent_fields(dt.date(1990, 1, 1), dt.date(1990, 1, 2)), "consent_date"),
    ],
)  # fmt: skip
def test_field_checks_name_the_field(check, expected_field):
    assert list(check()) == [expected_field]


# --- Issue 15 corrections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "criteria, expected",
    [
        # the case of issue 15: DIRECT_COOMBS does not count beside HAEMOLYTIC_ANAEMIA (Petri 2012)
        (("HAEMOLYTIC_ANAEMIA", "SYNOVITIS", "ORAL_ULCERS", "DIRECT_COOMBS"), NOT_MET),
        # a fourth criterion (immunological) besides makes it ≥ 4 again
        (("HAEMOLYTIC_ANAEMIA", "SYNOVITIS", "ORAL_ULCERS", "DIRECT_COOMBS", "ANA"), MET),
        # DIRECT_COOMBS as the only immunological criterion beside HAEMOLYTIC_ANAEMIA: no immunological left
        (("HAEMOLYTIC_ANAEMIA", "SYNOVITIS", "ORAL_ULCERS", "ALOPECIA", "DIRECT_COOMBS"), NOT_MET),
        # without HAEMOLYTIC_ANAEMIA, DIRECT_COOMBS counts (and is the one immunological criterion)
        (("SYNOVITIS", "ORAL_ULCERS", "ALOPECIA", "DIRECT_COOMBS"), MET),
        # HAEMOLYTIC_ANAEMIA itself still counts as clinical
        (("HAEMOLYTIC_ANAEMIA", "SYNOVITIS", "ORAL_ULCERS", "ANA"), MET),
    ],
)
def test_slicc_direct_coombs_does_not_count_with_haemolytic_anaemia(criteria, expected):
    result = outcome_of("INC_SLICC", with_history(base_inputs(), slicc_criteria=criteria))
    assert result.outcome == expected, result.reason


@pytest.mark.parametrize(
    "drug, dose, expected",
    [
        # the cases of issue 15: exact factors 20/3 and 25/3 put these on the bounds, inside them
        ("dexamethasone", "9", MET),  # = 60 mg prednisone exactly
        ("dexamethasone", "9.001", NOT_MET),  # > 60
        ("dexamethasone", "1.125", MET),  # = 7.5 exactly
        ("dexamethasone", "1.124", NOT_MET),  # < 7.5
        ("betamethasone", "0.9", MET),  # = 7.5 mg prednisone exactly
        ("betamethasone", "0.899", NOT_MET),
        ("betamethasone", "7.2", MET),  # = 60 exactly
        ("betamethasone", "7.201", NOT_MET),
        ("methylprednisolone", "48", MET),  # 5/4 × 48 = 60
        ("methylprednisolone", "48.01", NOT_MET),
        ("triamcinolone", "6", MET),  # 7.5
        ("hydrocortisone", "30", MET),  # 1/4 × 30 = 7.5
        ("hydrocortisone", "29.9", NOT_MET),
        ("cortisone", "37.5", MET),  # 1/5 × 37.5 = 7.5
        ("cortisone", "300", MET),  # 60
        ("cortisone", "300.1", NOT_MET),
        ("prednisolone", "60", MET),
    ],
)
def test_prednisone_equivalents_are_exact_fractions_at_the_dose_bounds(drug, dose, expected):
    result = outcome_of("INC_REGIMEN", with_meds(base_inputs(), HCQ, steroid(dose, drug=drug)))
    assert result.outcome == expected, result.reason


@pytest.mark.parametrize(
    "drug, dose, prednisone",
    [("dexamethasone", "0.75", 5), ("dexamethasone", "9", 60), ("betamethasone", "0.6", 5),
     ("betamethasone", "0.9", D("7.5")), ("methylprednisolone", "4", 5), ("hydrocortisone", "20", 5),
     ("cortisone", "25", 5), ("triamcinolone", "4", 5)],
)  # fmt: skip
def test_prednisone_equivalent_is_exact(drug, dose, prednisone):
    assert rules.prednisone_equivalent(drug, D(dose)) == prednisone


def _switch(stop, start, dose="12", drug="methylprednisolone"):
    """Prednisone 15 mg since 2025-06-01 (stopped `stop`), then `drug` from `start`."""
    first = med("CORTICOSTEROID", "prednisone", "15", dt.date(2025, 6, 1), None, stop)
    return first, med("CORTICOSTEROID", drug, dose, start)


SWITCH_SCREENING = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    "stop, start, expected",
    [
        # the case of issue 15: methylprednisolone 12 mg (= 15 mg prednisone) from 2026-02-02, 36 days before
        # screening, after prednisone since 2025-06: one continuous course of 282 days
        (dt.date(2026, 2, 1), dt.date(2026, 2, 2), MET),
        (dt.date(2026, 2, 2), dt.date(2026, 2, 2), MET),  # overlap of a day
        (dt.date(2026, 2, 10), dt.date(2026, 2, 2), MET),  # overlap of days
        (dt.date(2026, 1, 31), dt.date(2026, 2, 2), NOT_MET),  # a day without steroid: only 36 days
    ],
)
def test_corticosteroid_course_is_continuous_across_a_switch(stop, start, expected):
    inputs = with_meds(base_inputs(), HCQ, *_switch(stop, start))
    result = outcome_of("INC_REGIMEN", inputs, SWITCH_SCREENING)
    assert result.outcome == expected, result.reason


@pytest.mark.parametrize(
    "chain_start, expected",
    [
        # 56 days through the switch: the course starts on 2026-01-13 (56 days before 2026-03-10)
        (dt.date(2026, 1, 13), MET),
        (dt.date(2026, 1, 14), NOT_MET),  # 55 days
    ],
)
def test_the_56_days_count_from_the_first_agent_of_a_continuous_course(chain_start, expected):
    first = med("CORTICOSTEROID", "prednisone", "15", chain_start, None, dt.date(2026, 2, 1))
    second = med("CORTICOSTEROID", "prednisolone", "15", dt.date(2026, 2, 2))
    result = outcome_of("INC_REGIMEN", with_meds(base_inputs(), HCQ, first, second), SWITCH_SCREENING)
    assert result.outcome == expected, result.reason


def test_a_course_links_through_several_switches():
    a = med("CORTICOSTEROID", "prednisone", "15", dt.date(2025, 6, 1), None, dt.date(2025, 12, 31))
    b = med("CORTICOSTEROID", "prednisolone", "15", dt.date(2026, 1, 1), None, dt.date(2026, 2, 1))
    c = med("CORTICOSTEROID", "methylprednisolone", "12", dt.date(2026, 2, 2))
    result = outcome_of("INC_REGIMEN", with_meds(base_inputs(), HCQ, a, b, c), SWITCH_SCREENING)
    assert result.outcome == MET, result.reason
    assert "since 2025-06-01" in result.reason


def pulse(first, last, dose="120", drug="prednisone", stable=None):
    return med("CORTICOSTEROID", drug, dose, first, stable, last)


# The 8 weeks before the screening date 2025-03-10: 2025-01-13 … 2025-03-09 (56 days).
@pytest.mark.parametrize(
    "courses, expected",
    [
        # the case of issue 15: prednisone 120 mg/day for 21 days in the log excludes
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 21)),), NOT_MET),
        # ≥ 14 days: 14 excludes, 13 does not
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14)),), NOT_MET),
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 13)),), MET),
        # ≥ 100 mg/day: 100 counts, 99.99 does not
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "100"),), NOT_MET),
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "99.99"),), MET),
        # exact equivalents: dexamethasone 15 mg = 100 mg prednisone; 14.99 mg is less
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "15", "dexamethasone"),), NOT_MET),
        ((pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "14.99", "dexamethasone"),), MET),
        # days summed, not necessarily consecutive: 7 + 7 excludes, 7 + 6 does not
        ((pulse(dt.date(2025, 1, 20), dt.date(2025, 1, 26)), pulse(dt.date(2025, 2, 20), dt.date(2025, 2, 26))),
         NOT_MET),
        ((pulse(dt.date(2025, 1, 20), dt.date(2025, 1, 26)), pulse(dt.date(2025, 2, 20), dt.date(2025, 2, 25))),
         MET),
        # the base prednisone 15 mg/day adds to an overlapping 85 mg/day course: 100 mg/day on each day
        ((steroid("15"), pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "85")), NOT_MET),
        ((steroid("15"), pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 14), "84.99")), MET),
        # the window: 2025-01-13 is its first day, 2025-03-09 its last (the screening day is not before it)
        ((pulse(dt.date(2025, 1, 13), dt.date(2025, 1, 26)),), NOT_MET),
        ((pulse(dt.date(2025, 1, 12), dt.date(2025, 1, 25)),), MET),  # 13 days in the window
        ((pulse(dt.date(2025, 2, 24), dt.date(2025, 3, 9)),), NOT_MET),
        ((pulse(dt.date(2025, 2, 25), dt.date(2025, 3, 10)),), MET),  # 13 days before the screening day
        # a course still going on counts every day from its start up to the day before screening
        ((pulse(dt.date(2025, 2, 24), None),), NOT_MET),
        ((pulse(dt.date(2025, 2, 25), None),), MET),
        # the recorded dose holds from `dose_stable_since`; earlier days of that course have no recorded dose
        ((pulse(dt.date(2025, 1, 1), None, stable=dt.date(2025, 2, 25)),), MET),
        ((pulse(dt.date(2025, 1, 1), None, stable=dt.date(2025, 2, 24)),), NOT_MET),
    ],
)  # fmt: skip
def test_nephritis_high_dose_steroid_is_computed_from_the_medication_log(courses, expected):
    result = outcome_of("EXC_NEPHRITIS", with_meds(base_inputs(), HCQ, *courses))
    assert result.outcome == expected, result.reason


def test_nephritis_log_and_both_questions_are_all_read():
    high = pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 21))
    # the log excludes even when the investigator answers no
    assert outcome_of("EXC_NEPHRITIS", with_meds(base_inputs(), HCQ, high)).outcome == NOT_MET
    # the investigator's yes excludes even when the log shows nothing
    assert outcome_of("EXC_NEPHRITIS", with_exam(base_inputs(), high_dose_steroid_14d_in_8w=True)).outcome == NOT_MET
    prohibited = outcome_of("EXC_NEPHRITIS", with_exam(base_inputs(), active_nephritis_prohibited_drug=True))
    assert prohibited.outcome == NOT_MET
    assert "prohibit" in prohibited.reason
    assert "14 days" in outcome_of("EXC_NEPHRITIS", with_meds(base_inputs(), HCQ, high)).reason


def test_nephritis_needs_the_dose_of_a_corticosteroid_in_the_window():
    inputs = with_meds(base_inputs(), HCQ, steroid("15"), pulse(dt.date(2025, 2, 1), dt.date(2025, 2, 21), None))
    assert missing_by_code(inputs)["EXC_NEPHRITIS"] == ("medications[2].dose_mg_per_day",)


def test_sledai_descriptors_by_organ_name_every_descriptor_once_with_its_weight():
    grouped = [(code, label) for _, choices in rules.descriptor_choices() for code, label in choices]
    assert sorted(code for code, _ in grouped) == sorted(rules.SLEDAI_WEIGHTS)
    assert dict(grouped)["ORGANIC_BRAIN"] == "Organic brain syndrome (8)"
    assert dict(grouped)["DNA_BINDING"] == "Increased DNA binding (2)"
    assert [organ for organ, _ in rules.SLEDAI_ORGANS][0] == "Central nervous system"


@pytest.mark.parametrize(
    ("category", "dose", "hard", "soft"),
    [
        ("CORTICOSTEROID", "0", True, False), ("CORTICOSTEROID", "0.01", False, False),
        ("IMMUNOSUPPRESSANT", "10000", False, False), ("IMMUNOSUPPRESSANT", "10000.01", False, True),
        ("OTHER", "200000", False, True), ("OTHER", "200000.01", True, False),
        ("IVIG", "40000", False, False), ("IVIG", "200000", False, False), ("IVIG", "200000.01", True, False),
    ],
)  # fmt: skip
def test_medication_dose_limits_by_category(category, dose, hard, soft):
    """IVIG is dosed in grams a day (0.4–2 g/kg); any other drug above 10 g a day is queried, not refused."""
    errors, warnings = edc_rules.check_limits({"dose_mg_per_day": Decimal(dose)}, rules.medication_limits(category))
    assert ("dose_mg_per_day" in errors, "dose_mg_per_day" in warnings) == (hard, soft)
