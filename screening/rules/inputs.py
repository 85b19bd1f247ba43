"""The plain inputs and outputs of the eligibility engine (pure: no ORM, no request, no clock).

One frozen dataclass per screening CRF (`SubjectFacts` … `LabFacts`), `EligibilityInputs` that holds them
all (built by the services from stored rows, or from the dry run's body), `CriterionResult` for one
criterion's outcome, and `EXAM_FIELDS`, the screening exam's fields by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal


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
    active_nephritis_prohibited_drug: bool | None = None
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
        """Stored and sent as plain English (the reason's parts are kept only for the screens' translation)."""
        return {"code": self.code, "outcome": self.outcome, "reason": str(self.reason), "missing": list(self.missing)}
