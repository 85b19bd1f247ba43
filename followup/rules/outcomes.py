"""Lupus outcomes over time (DOMAIN.md §10): each SELENA-SLEDAI assessment's flare, DORIS, treatment-free DORIS,
LLDAS and change from baseline, and the per-subject summary (first day, sustained, days in each state).

The rules of one assessment are `screening.rules.sledai`'s (their one home); this module lines a subject's
assessments up in time (the previous assessment, the baseline, the medication log on each date) and sums them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from followup.rules.milestones import DORIS_REMISSION, LLDAS, SEVERE_FLARE, MilestoneFact
from screening.rules import sledai
from screening.rules.sledai import Assessment, Outcome


@dataclass(frozen=True)
class AssessmentFacts:
    """One stored SELENA-SLEDAI assessment; `recorded_prednisone` is the dose keyed at its visit, if any."""

    assessment_date: dt.date
    visit: str
    descriptors: frozenset[str]
    total: int
    clinical: int
    serological: int
    pga: Decimal | None
    recorded_prednisone: Decimal | None
    visit_id: int | None = None


@dataclass(frozen=True)
class MedicationCourse:
    """A course of the medication log (the categories DORIS reads: corticosteroid, immunosuppressant, biologic)."""

    drug: str
    category: str
    dose_mg_per_day: Decimal | None
    start_date: dt.date
    stop_date: dt.date | None

    def running_on(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.stop_date is None or self.stop_date >= day)


@dataclass(frozen=True)
class AssessmentOutcome:
    facts: AssessmentFacts
    day: int | None  # days from the infusion date (site calendar); None before any infusion
    prednisone: Outcome  # prednisone-equivalent mg/day: the visit's recorded dose, else the medication log's
    flare: Outcome
    doris: Outcome
    doris_treatment_free: Outcome
    lldas: Outcome
    change_from_baseline: Outcome


def prednisone_of(facts: AssessmentFacts, courses: Iterable[MedicationCourse]) -> Outcome:
    """The prednisone-equivalent dose on the assessment date: the dose keyed at its visit when there is one (the
    visit CRF's taper), otherwise the corticosteroid courses of the medication log running that day."""
    if facts.recorded_prednisone is not None:
        return Outcome(facts.recorded_prednisone)
    steroids = [
        (c.drug, c.dose_mg_per_day, c.start_date, c.stop_date) for c in courses if c.category == "CORTICOSTEROID"
    ]
    return sledai.prednisone_on(steroids, facts.assessment_date)


def baseline_of(assessments: Sequence[AssessmentFacts], infusion_date: dt.date | None) -> AssessmentFacts | None:
    """The baseline: the last assessment on or before the infusion date (none before an infusion)."""
    if infusion_date is None:
        return None
    before = [a for a in assessments if a.assessment_date <= infusion_date]
    return before[-1] if before else None


def assessment_outcomes(
    assessments: Iterable[AssessmentFacts], courses: Iterable[MedicationCourse], infusion_date: dt.date | None
) -> list[AssessmentOutcome]:
    """Each assessment of one subject (in date order) with its outcomes, each against the one before it."""
    assessments = sorted(assessments, key=lambda a: a.assessment_date)
    courses = list(courses)
    baseline = baseline_of(assessments, infusion_date)
    outcomes, previous = [], None
    for facts in assessments:
        prednisone = prednisone_of(facts, courses)
        current = Assessment(facts.total, facts.clinical, facts.descriptors, facts.pga, prednisone.value)
        doris = sledai.doris_remission(current)
        running = [c.category for c in courses if c.running_on(facts.assessment_date)]
        outcomes.append(
            AssessmentOutcome(
                facts=facts,
                day=None if infusion_date is None else (facts.assessment_date - infusion_date).days,
                prednisone=prednisone,
                flare=sledai.selena_flare(previous, current),
                doris=doris,
                doris_treatment_free=sledai.treatment_free_doris(doris, running),
                lldas=sledai.lldas(previous, current),
                change_from_baseline=sledai.change_from_baseline(facts.total, baseline and baseline.total),
            )
        )
        previous = current
    return outcomes


@dataclass(frozen=True)
class StateCourse:
    """One state (DORIS, treatment-free DORIS or LLDAS) after the infusion."""

    first_day: int | None  # the first assessment after the infusion that meets it
    sustained: bool | None  # met at every assessment since (None: one of them is empty, none fails)
    days: int  # the intervals between consecutive post-infusion assessments that both meet it, summed


@dataclass(frozen=True)
class OutcomeSummary:
    baseline_sledai: int | None
    doris: StateCourse
    doris_treatment_free: StateCourse
    lldas: StateCourse


def state_course(outcomes: Sequence[AssessmentOutcome], state: str) -> StateCourse:
    after = [o for o in outcomes if o.day is not None and o.day > 0]
    values = [getattr(o, state).value for o in after]
    first = next((i for i, value in enumerate(values) if value is True), None)
    if first is None:
        return StateCourse(None, None, 0)
    since = values[first:]
    sustained = False if False in since else (None if None in since else True)
    days = sum(
        later.day - earlier.day
        for earlier, later, a, b in zip(after, after[1:], values, values[1:], strict=False)
        if a is True and b is True
    )
    return StateCourse(after[first].day, sustained, days)


def outcome_summary(outcomes: Sequence[AssessmentOutcome], infusion_date: dt.date | None) -> OutcomeSummary:
    """The subject's outcomes after infusion (DOMAIN.md §10)."""
    baseline = baseline_of([o.facts for o in outcomes], infusion_date)
    return OutcomeSummary(
        baseline_sledai=baseline.total if baseline else None,
        doris=state_course(outcomes, "doris"),
        doris_treatment_free=state_course(outcomes, "doris_treatment_free"),
        lldas=state_course(outcomes, "lldas"),
    )


NO_STATE = "NONE"


def best_state(o: AssessmentOutcome) -> str:
    """The best state an assessment meets, for the plots' bands: treatment-free DORIS, DORIS, LLDAS or none."""
    if o.doris_treatment_free.value:
        return "TF_DORIS"
    if o.doris.value:
        return "DORIS"
    return "LLDAS" if o.lldas.value else NO_STATE


def outcome_milestones(outcomes: Sequence[AssessmentOutcome]) -> list[MilestoneFact]:
    """The outcome milestones after the infusion: the first DORIS remission, the first LLDAS (once per subject)
    and each severe flare (once per visit), dated by their assessment."""
    after = [o for o in outcomes if o.day is not None and o.day > 0]
    facts = []
    for kind, state in ((DORIS_REMISSION, "doris"), (LLDAS, "lldas")):
        first = next((o for o in after if getattr(o, state).value is True), None)
        if first is not None:
            facts.append(MilestoneFact(kind, first.facts.assessment_date, detail=_at(first)))
    flares: dict[str, AssessmentOutcome] = {}
    for o in after:
        if o.flare.value == sledai.SEVERE_FLARE and o.facts.visit:
            flares.setdefault(o.facts.visit, o)  # one per visit (the store's uniqueness)
    for visit, o in flares.items():
        reasons = "; ".join(o.flare.reasons)
        facts.append(MilestoneFact(SEVERE_FLARE, o.facts.assessment_date, visit, f"{reasons} ({_at(o)})"))
    return facts


def _at(outcome: AssessmentOutcome) -> str:
    visit = f"{outcome.facts.visit}, " if outcome.facts.visit else ""
    return f"{visit}day {outcome.day}"


def as_number(value: Fraction | Decimal | None) -> Decimal | None:
    """A dose as a decimal for pages and exports (a Fraction from the log: 7.5, never 15/2)."""
    if value is None or isinstance(value, Decimal):
        return value
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01")).normalize()
