"""CAR-T safety summaries (DOMAIN.md §9), computed once for the subject page and the safety export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple
from zoneinfo import ZoneInfo

from edc.models import LabResult, Subject, Visit
from followup import rules
from followup.models import AdverseEvent, Milestone
from screening.models import Medication

# --- CAR-T safety (DOMAIN.md §9) ------------------------------------------------------------------

SAFETY_ANALYTES = ("ANC", "IGG")
SAFETY_AE_CATEGORIES = (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS, AdverseEvent.Category.INFECTION)
SAFETY_CHUNK = 5000


class SafetyRow(NamedTuple):
    """A treated subject and its safety summary."""

    subject_pk: int
    subject_id: str
    site_code: str
    number: int
    infusion_start: dt.datetime
    summary: rules.SafetySummary


class BySubject:
    """Rows of one stream ordered by subject pk (their first column), taken one subject at a time: the streams of
    `safety_rows` advance together, so memory holds one subject's rows whatever the size of the trial."""

    def __init__(self, rows):
        self._rows = iter(rows)
        self._pending = next(self._rows, None)

    def take(self, subject_pk: int) -> list[tuple]:
        while self._pending is not None and self._pending[0] < subject_pk:
            self._pending = next(self._rows, None)  # a subject the main stream does not list (not treated)
        taken = []
        while self._pending is not None and self._pending[0] == subject_pk:
            taken.append(self._pending)
            self._pending = next(self._rows, None)
        return taken


def safety_rows(subjects) -> Iterator[SafetyRow]:
    """The safety summary of each treated subject among `subjects` (a Subject queryset), by subject pk: six
    queries whatever the number of subjects, read from server-side cursors in step."""
    infusions = (
        Visit.objects.filter(
            code="D0", status=Visit.Status.DONE, voided=False, visit_datetime__isnull=False, subject__in=subjects,
            subject__voided=False,
        )
        .order_by("subject_id")
        .values_list("subject_id", "subject__subject_id", "subject__site__code", "subject__number",
                     "subject__site__timezone", "visit_datetime")
    )  # fmt: skip
    labs = (
        LabResult.objects.filter(analyte__in=SAFETY_ANALYTES, voided=False, value__isnull=False, subject__in=subjects)
        .order_by("subject_id", "sample_datetime", "id")
        .values_list("subject_id", "analyte", "sample_datetime", "value")
    )
    events = (
        AdverseEvent.objects.filter(category__in=SAFETY_AE_CATEGORIES, voided=False, subject__in=subjects)
        .order_by("subject_id", "onset_date", "id")
        .values_list("subject_id", "category", "astct_grade", "ctcae_grade", "onset_date")
    )
    ivig = (
        Medication.objects.filter(category=Medication.Category.IVIG, voided=False, subject__in=subjects)
        .order_by("subject_id", "start_date", "id")
        .values_list("subject_id", "start_date", "stop_date")
    )
    negativity = (
        Milestone.objects.filter(
            kind=Milestone.Kind.PCR_NEGATIVE_CONFIRMED, revoked_at__isnull=True, voided=False, subject__in=subjects
        )
        .order_by("subject_id", "date")
        .values_list("subject_id", "date")
    )
    streams = [BySubject(q.iterator(chunk_size=SAFETY_CHUNK)) for q in (labs, events, ivig, negativity)]
    for subject_pk, subject_id, site_code, number, tz, start in infusions.iterator(chunk_size=SAFETY_CHUNK):
        lab_rows, event_rows, ivig_rows, negative_rows = (stream.take(subject_pk) for stream in streams)
        summary = _safety_summary(start, tz, lab_rows, event_rows, ivig_rows, negative_rows)
        yield SafetyRow(subject_pk, subject_id, site_code, number, start, summary)


def _safety_summary(start, tz, lab_rows, event_rows, ivig_rows, negative_rows) -> rules.SafetySummary:
    zone = ZoneInfo(tz)
    infusion_date = start.astimezone(zone).date()

    def day_of(moment: dt.datetime) -> int:
        return (moment.astimezone(zone).date() - infusion_date).days

    points = {analyte: [] for analyte in SAFETY_ANALYTES}
    for _, analyte, taken, value in lab_rows:
        points[analyte].append(rules.LabPoint(day_of(taken), value, taken > start))
    graded = {category: [] for category in SAFETY_AE_CATEGORIES}
    for _, category, astct, ctcae, onset in event_rows:
        grade = astct if category != AdverseEvent.Category.INFECTION else ctcae
        graded[category].append(rules.GradedEvent(grade, (onset - infusion_date).days))
    return rules.safety_summary(
        infusion_date=infusion_date,
        anc=points["ANC"],
        igg=points["IGG"],
        crs=graded[AdverseEvent.Category.CRS],
        icans=graded[AdverseEvent.Category.ICANS],
        infections=graded[AdverseEvent.Category.INFECTION],
        ivig_courses=[(start_date, stop) for _, start_date, stop in ivig_rows],
        pcr_negative_date=negative_rows[0][1] if negative_rows else None,
    )


def subject_safety(subject: Subject) -> rules.SafetySummary | None:
    """One subject's safety summary (the subject page's panel); None before the infusion."""
    row = next(safety_rows(Subject.objects.filter(pk=subject.pk)), None)
    return row.summary if row else None
