"""Screening rules: pure functions over plain values (no ORM, no request, no clock), one module per job.

- `codes`: the code lists of DOMAIN.md §3 (SLICC criteria, lupus crises, medication categories),
  prednisone equivalents, the analytes the criteria read, and the exam and medication CRFs' limits.
- `inputs`: the plain `*Facts` dataclasses, `EligibilityInputs`, `CriterionResult`, `EXAM_FIELDS`.
- `calculations`: `num`, `months_before`, prednisone equivalents, Cockcroft-Gault, the SLICC
  classification, whether a serology result is positive.
- `sledai`: SELENA-SLEDAI, its one home (DOMAIN.md §4): weights, score and activity bands, the SELENA
  Flare Index, the weight-8/renal/major-organ descriptor sets, DORIS remission (and treatment-free), LLDAS,
  change from baseline, the prednisone-equivalent dose on a date, the lab-backed
  descriptor suggestions and the SLEDAI CRF's limits. Follow-up imports it from here.
- `field_checks`: the `check_*` field checks shared by the stored CRFs and the dry run, and the
  screening procedures dated before the consent.
- `check`: `Check` (what one criterion found: `MET`, `NOT_MET`, `MISSING`) and the look-ups the
  criteria share.
- `inclusion` and `exclusion`: each `inc_*` and `exc_*` criterion of DOMAIN.md §3.
- `criteria`: `CRITERIA` in protocol order and the one engine, `evaluate` (the stored evaluation and the
  dry run both build `EligibilityInputs` and call it), `is_eligible`, `Evaluation`.

The names below are the ones callers use as `rules.X`; anything else is imported from its module.
"""

from screening.rules.calculations import (
    canonical_drug,
    cockcroft_gault,
    months_before,
    prednisone_equivalent,
    slicc_classification,
)
from screening.rules.check import MET, MISSING, NOT_MET
from screening.rules.codes import (
    CORTICOSTEROID,
    CRITERION_TITLES,
    ELIGIBILITY_ANALYTES,
    EXAM_LIMITS,
    IMMUNOMODULATOR,
    IMMUNOSUPPRESSANT,
    LUPUS_CRISES,
    OTHER,
    PREDNISONE_EQUIVALENTS,
    SLICC_CLINICAL,
    SLICC_CODES,
    medication_limits,
)
from screening.rules.criteria import Evaluation, evaluate, evaluation, is_eligible
from screening.rules.field_checks import (
    check_consent_fields,
    check_exam_fields,
    check_history_fields,
    check_medication_fields,
    check_sledai_fields,
    procedures_before_consent,
)
from screening.rules.inputs import (
    EXAM_FIELDS,
    ConsentFacts,
    EligibilityInputs,
    ExamFacts,
    HistoryFacts,
    LabFacts,
    MedicationFacts,
    SledaiFacts,
    SubjectFacts,
)
from screening.rules.sledai import (
    SLEDAI_LIMITS,
    SLEDAI_LOOKBACK_DAYS,
    SLEDAI_ORGANS,
    SLEDAI_WEIGHTS,
    SledaiScore,
    Suggestion,
    activity_band,
    descriptor_choices,
    sledai_score,
    suggest_sledai_descriptors,
)

__all__ = [
    # codes
    "CORTICOSTEROID",
    "CRITERION_TITLES",
    "ELIGIBILITY_ANALYTES",
    "EXAM_LIMITS",
    "IMMUNOMODULATOR",
    "IMMUNOSUPPRESSANT",
    "LUPUS_CRISES",
    "medication_limits",
    "OTHER",
    "PREDNISONE_EQUIVALENTS",
    "SLICC_CLINICAL",
    "SLICC_CODES",
    # inputs
    "EXAM_FIELDS",
    "ConsentFacts",
    "EligibilityInputs",
    "ExamFacts",
    "HistoryFacts",
    "LabFacts",
    "MedicationFacts",
    "SledaiFacts",
    "SubjectFacts",
    # calculations
    "canonical_drug",
    "cockcroft_gault",
    "months_before",
    "prednisone_equivalent",
    "slicc_classification",
    # sledai
    "SLEDAI_LIMITS",
    "SLEDAI_LOOKBACK_DAYS",
    "SLEDAI_WEIGHTS",
    "SledaiScore",
    "Suggestion",
    "activity_band",
    "SLEDAI_ORGANS",
    "descriptor_choices",
    "sledai_score",
    "suggest_sledai_descriptors",
    # field_checks
    "check_consent_fields",
    "check_exam_fields",
    "check_history_fields",
    "check_medication_fields",
    "check_sledai_fields",
    "procedures_before_consent",
    # check
    "MET",
    "MISSING",
    "NOT_MET",
    # criteria
    "Evaluation",
    "evaluate",
    "evaluation",
    "is_eligible",
]
