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

from django.db.models import F, FilteredRelation, OuterRef, Q, Subquery

from edc.models import LabResult, Subject, Visit
from followup import rules
from followup.models import PrednisoneDose
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
    cd19 = (
        _in_cohort(LabResult.objects, subjects)
        .filter(analyte="CD19", value__isnull=False)
        .order_by("subject_id", "sample_datetime", "id")
        .values_list("subject_id", "sample_datetime", "value")
    )
    cd19_stream = BySubject(cd19.iterator(chunk_size=SAFETY_CHUNK))
    for safety in safety_rows(subjects):
        taken = outcome_stream.take(safety.subject_pk)
        found = taken[0] if taken else None
        infusion_date = found.infusion_date if found else None
        summary = outcome_rules.outcome_summary(found.outcomes if found else [], infusion_date)
        points = [(_actual_day(taken_at, safety.infusion_start), float(v)) for _, taken_at, v in
                  cd19_stream.take(safety.subject_pk)]  # fmt: skip
        yield OutcomeSummaryRow(safety, summary, rules.cd19_pd(points))


def _actual_day(moment: dt.datetime, start: dt.datetime) -> float:
    """Days from the infusion start, as a decimal (DOMAIN.md §8)."""
    return (moment - start).total_seconds() / 86400
