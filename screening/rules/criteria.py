"""The one engine that runs the eligibility criteria of DOMAIN.md §3 (pure: no ORM, no request, no clock: the
evaluation date is passed in).

`CRITERIA` in protocol order (the `inc_*` of `inclusion`, the `exc_*` of `exclusion`), `evaluate` (the stored
evaluation and the dry run both build `EligibilityInputs` and call it), `is_eligible` and `Evaluation`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from screening.rules.check import MISSING, NOT_MET
from screening.rules.exclusion import (
    exc_autoimmune,
    exc_cns,
    exc_crisis,
    exc_iga,
    exc_investigator,
    exc_nephritis,
    exc_transplant,
)
from screening.rules.inclusion import (
    inc_age,
    inc_cardiac,
    inc_cbc,
    inc_cd19,
    inc_coag,
    inc_consent,
    inc_contraception,
    inc_hepatic,
    inc_history,
    inc_pancreas,
    inc_pulmonary,
    inc_regimen,
    inc_renal,
    inc_serology,
    inc_sledai,
    inc_slicc,
)
from screening.rules.inputs import CriterionResult, EligibilityInputs

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
