"""Lupus outcomes (DOMAIN.md §10), computed once for the visit CRF, the subject page, the swimmer plot, the
milestone scan and the `exports/outcomes/`, `exports/outcome-summary/` and SDTM RS datasets.

A cohort is read in a constant number of queries from server-side cursors in step, one subject at a time: memory
holds one subject's assessments whatever the size of the trial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import F, FilteredRelation, Max, OuterRef, Q, Subquery

from edc.models import LabResult, Subject, Visit
from followup import rules
from followup.models import AdverseEvent, Milestone, PrednisoneDose
from followup.rules import outcomes as outcome_rules
from followup.services.safety import SAFETY_CHUNK, BySubject, SafetyRow, safety_rows
from screening.models import Medication, SledaiAssessment
from screening.rules.sledai import DISEASE_MODIFYING_CATEGORIES


class SubjectOutcomes(NamedTuple):
    """A subject with SELENA-SLEDAI assessments, each with its outcomes (in date order)."""

    subject_pk: int
    subject_id: str
    site_code: str
    number: int
    infusion_date: dt.date | None  # at the site; None before the infusion
    outcomes: list[outcome_rules.AssessmentOutcome]


class OutcomeSummaryRow(NamedTuple):
    """A treated subject: its outcome summary, its safety summary and its B-cell course (DOMAIN.md §10)."""

    safety: SafetyRow
    outcomes: outcome_rules.OutcomeSummary
    b_cells: rules.CD19Summary


def _in_cohort(queryset, subjects):
    return queryset.filter(voided=False, subject__in=subjects, subject__voided=False)


def subject_outcomes(subjects) -> Iterator[SubjectOutcomes]:
    """Every subject among `subjects` (a Subject queryset) that has an assessment, by subject pk: two queries."""
    recorded_dose = PrednisoneDose.objects.filter(visit=OuterRef("visit_id"), voided=False).values(
        "prednisone_mg_per_day"
    )[:1]
    d0 = Q(subject__visit__code="D0", subject__visit__status=Visit.Status.DONE, subject__visit__voided=False)
    assessments = (
        _in_cohort(SledaiAssessment.objects, subjects)
        .alias(d0=FilteredRelation("subject__visit", condition=d0))
        .annotate(d0_start=F("d0__visit_datetime"), recorded_dose=Subquery(recorded_dose))
        .order_by("subject_id", "assessment_date", "id")
        .values_list("subject_id", "subject__subject_id", "subject__site__code", "subject__number",
                     "subject__site__timezone", "d0_start", "visit_id", "visit__code", "assessment_date",
                     "descriptors", "total", "clinical", "serological", "pga", "recorded_dose")
    )  # fmt: skip
    courses = (
        _in_cohort(Medication.objects, subjects)
        .filter(category__in=DISEASE_MODIFYING_CATEGORIES)
        .order_by("subject_id", "start_date", "id")
        .values_list("subject_id", "drug", "category", "dose_mg_per_day", "start_date", "stop_date")
    )
    course_stream = BySubject(courses.iterator(chunk_size=SAFETY_CHUNK))
    for rows in _grouped(assessments.iterator(chunk_size=SAFETY_CHUNK)):
        pk, subject_id, site_code, number, tz, start = rows[0][:6]
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        facts = [
            outcome_rules.AssessmentFacts(day, code or "", frozenset(descriptors), total, clinical, serological, pga,
                                          dose, visit_id)
            for *_, visit_id, code, day, descriptors, total, clinical, serological, pga, dose in rows
        ]  # fmt: skip
        log = [outcome_rules.MedicationCourse(*row[1:]) for row in course_stream.take(pk)]
        yield SubjectOutcomes(
            pk, subject_id, site_code, number, infusion_date,
            outcome_rules.assessment_outcomes(facts, log, infusion_date),
        )  # fmt: skip


def _grouped(rows) -> Iterator[list[tuple]]:
    """Rows ordered by their first column, one list per value of it."""
    group: list[tuple] = []
    for row in rows:
        if group and row[0] != group[0][0]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def subject_outcome(subject: Subject) -> SubjectOutcomes | None:
    """One subject's assessments with their outcomes; None without any assessment."""
    return next(subject_outcomes(Subject.objects.filter(pk=subject.pk)), None)


def outcome_summary_rows(subjects) -> Iterator[OutcomeSummaryRow]:
    """Each treated subject among `subjects` with its outcome and safety summaries and B-cell course, by subject
    pk: the safety summary's queries, the outcomes' two and one for CD19, whatever the number of subjects."""
    outcome_stream = BySubject(subject_outcomes(subjects))
    cd19_stream = BySubject(_cd19_rows(subjects))
    for safety in safety_rows(subjects):
        taken = outcome_stream.take(safety.subject_pk)
        found = taken[0] if taken else None
        infusion_date = found.infusion_date if found else None
        summary = outcome_rules.outcome_summary(found.outcomes if found else [], infusion_date)
        points = [(_actual_day(taken_at, safety.infusion_start), float(v)) for _, taken_at, v in
                  cd19_stream.take(safety.subject_pk)]  # fmt: skip
        yield OutcomeSummaryRow(safety, summary, rules.cd19_pd(points))


def _cd19_rows(subjects):
    """(subject pk, sample time, cells/µL) of the CD19+ B-cell results, by subject and time."""
    return (
        _in_cohort(LabResult.objects, subjects)
        .filter(analyte="CD19", value__isnull=False)
        .order_by("subject_id", "sample_datetime", "id")
        .values_list("subject_id", "sample_datetime", "value")
        .iterator(chunk_size=SAFETY_CHUNK)
    )


def _actual_day(moment: dt.datetime, start: dt.datetime) -> float:
    """Days from the infusion start, as a decimal (DOMAIN.md §8)."""
    return (moment - start).total_seconds() / 86400


# --- The cohort's swimmer plot --------------------------------------------------------------------------------------

SWIMMER_EVENTS = (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS, AdverseEvent.Category.INFECTION)


class SwimmerLane(NamedTuple):
    """One treated subject from infusion (day 0) to its last visit, in site days."""

    subject_id: str
    last_day: int
    episodes: list[tuple[str, int | None, int, int | None]]  # CRS/ICANS/INFECTION: (category, grade, onset, end)
    aplasia: tuple[float, float | None] | None  # B-cell aplasia onset and reconstitution (None: ongoing)
    pcr_negative_day: int | None
    states: list[tuple[int, str]]  # each post-infusion assessment's best state (`outcome_rules.best_state`)
    flares: list[tuple[int, str]]  # (day, MILD_MODERATE or SEVERE)


def swimmer_lanes(subjects) -> list[SwimmerLane]:
    """A lane per treated subject among `subjects`, by subject pk: seven queries whatever the cohort's size."""
    lanes = []
    last_visits = dict(
        _in_cohort(Visit.objects, subjects).filter(status=Visit.Status.DONE)
        .values("subject_id").annotate(last=Max("visit_datetime")).values_list("subject_id", "last")
    )  # fmt: skip
    events = BySubject(
        _in_cohort(AdverseEvent.objects, subjects).filter(category__in=SWIMMER_EVENTS)
        .order_by("subject_id", "onset_date", "id")
        .values_list("subject_id", "category", "astct_grade", "ctcae_grade", "onset_date", "resolution_date")
        .iterator(chunk_size=SAFETY_CHUNK)
    )  # fmt: skip
    negativity = dict(
        _in_cohort(Milestone.objects, subjects)
        .filter(kind=Milestone.Kind.PCR_NEGATIVE_CONFIRMED, revoked_at__isnull=True)
        .values_list("subject_id", "date")
    )
    outcomes = BySubject(subject_outcomes(subjects))
    cd19 = BySubject(_cd19_rows(subjects))
    infusions = (
        _in_cohort(Visit.objects, subjects)
        .filter(code="D0", status=Visit.Status.DONE, visit_datetime__isnull=False)
        .order_by("subject_id")
        .values_list("subject_id", "subject__subject_id", "subject__site__timezone", "visit_datetime")
    )
    for subject_pk, subject_id, tz, start in infusions.iterator(chunk_size=SAFETY_CHUNK):
        zone = ZoneInfo(tz)
        day0 = start.astimezone(zone).date()
        last = last_visits.get(subject_pk) or start
        b_cells = rules.cd19_pd([(_actual_day(at, start), float(v)) for _, at, v in cd19.take(subject_pk)])
        taken = outcomes.take(subject_pk)
        after = [o for o in (taken[0].outcomes if taken else []) if o.day is not None and o.day > 0]
        episodes = [
            (category, astct if category != AdverseEvent.Category.INFECTION else ctcae, (onset - day0).days,
             None if resolved is None else (resolved - day0).days)
            for _, category, astct, ctcae, onset, resolved in events.take(subject_pk)
        ]  # fmt: skip
        negative = negativity.get(subject_pk)
        lanes.append(
            SwimmerLane(
                subject_id=subject_id,
                last_day=max((last.astimezone(zone).date() - day0).days, *(o.day for o in after), 1),
                episodes=episodes,
                aplasia=None if b_cells.aplasia_onset_day is None else (b_cells.aplasia_onset_day,
                                                                        b_cells.reconstitution_day),
                pcr_negative_day=None if negative is None else (negative - day0).days,
                states=[(o.day, outcome_rules.best_state(o)) for o in after],
                flares=[(o.day, o.flare.value) for o in after if o.flare.value in ("MILD_MODERATE", "SEVERE")],
            )
        )  # fmt: skip
    return lanes
