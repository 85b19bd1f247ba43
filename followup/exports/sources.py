"""The source rows every dataset reads: the request's subjects (their sites, not voided), each with its infusion
start, and their lab results and SELENA-SLEDAI totals by subject, with the actual day of each sample.

Rows come from server-side cursors (`values_list(...).iterator()`) ordered so that one subject's rows arrive
together: the datasets hold only the current subject's state, whatever the size of the trial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import F, FilteredRelation, FloatField, Func, Q, QuerySet

from edc.models import LabResult, Visit
from followup import rules
from followup.exports.copy_reader import CHUNK_SIZE
from followup.exports.params import ExportRequest
from screening.models import SledaiAssessment

STUDY_ID = "NCT06711146"

T = TypeVar("T")


def usubjid(site_code: str, number: int) -> str:
    """USUBJID = study id + site + subject number (DOMAIN.md §8): `NCT06711146-01-001`."""
    return f"{STUDY_ID}-{site_code}-{number:03d}"


def with_infusion_start(queryset: QuerySet, subject_path: str = "subject__") -> QuerySet:
    """Rows annotated with `d0_start`, their subject's infusion start: the DONE `D0` visit's time, which the
    infusion service writes (`subject_path` "" for Subject itself)."""
    # One non-voided D0 per subject (a unique constraint), so a join gives each row at most one. A join, not a
    # correlated subquery per row: the planner costs that so high that PostgreSQL JIT-compiles the query, ~0.2 s
    # before the first row.
    d0 = f"{subject_path}visit"
    condition = Q(**{f"{d0}__code": "D0", f"{d0}__status": Visit.Status.DONE, f"{d0}__voided": False})
    return queryset.alias(d0=FilteredRelation(d0, condition=condition)).annotate(d0_start=F("d0__visit_datetime"))


class ActualDay(Func):
    """Days from the infusion start to the sample, as a decimal (DOMAIN.md §8): the one definition every
    dataset reads, computed by the database from two timestamps it already holds."""

    output_field = FloatField()

    def __init__(self, sample: str, start: str):
        super().__init__(F(sample) - F(start))

    def as_postgresql(self, compiler, connection):
        # EXTRACT(EPOCH …) of an interval is an exact numeric: the division is rounded once, to a double.
        return self.as_sql(compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) / 86400)::float8")

    def as_sqlite(self, compiler, connection):
        # Django subtracts SQLite timestamps into microseconds.
        return self.as_sql(compiler, connection, template="(%(expressions)s / 86400000000.0)")


class Sample(NamedTuple):
    """A lab result with its subject's infusion, as the SDTM domains and the PK parameters read it."""

    subject_pk: int
    usubjid: str
    tz: str
    infusion_start: dt.datetime | None  # None in undated samples
    visit_id: int | None
    visit: str
    analyte: str
    taken: dt.datetime | None  # None in undated samples
    value: Decimal | None
    result_text: str
    unit: str
    lln: Decimal | None
    uln: Decimal | None
    lloq: Decimal | None
    not_detected: bool
    actual_day: float | None  # None before an infusion
    result_id: int

    @property
    def infusion_date(self) -> dt.date | None:
        return self.infusion_start.astimezone(ZoneInfo(self.tz)).date() if self.infusion_start else None

    @property
    def site_date(self) -> dt.date | None:
        return self.taken.astimezone(ZoneInfo(self.tz)).date() if isinstance(self.taken, dt.datetime) else self.taken

    @property
    def blq(self) -> bool:
        return rules.is_blq(self.value, self.lloq, self.not_detected)


def scoped(queryset: QuerySet, request: ExportRequest, subject_path: str = "subject__") -> QuerySet:
    """Rows of the request's sites and subjects, voided rows left out (`subject_path` "" for Subject itself)."""
    queryset = queryset.filter(voided=False)
    if request.site_ids is not None:
        queryset = queryset.filter(**{f"{subject_path}site_id__in": request.site_ids})
    if request.subjects:
        queryset = queryset.filter(**{f"{subject_path}subject_id__in": request.subjects})
    return queryset


SUBJECT_COLUMNS = ("subject_id", "subject__site__code", "subject__number", "subject__site__timezone", "d0_start")
_RESULT_COLUMNS = ("value", "result_text", "unit", "lln", "uln", "lloq", "not_detected", "actual_day", "pk")


def lab_results_in_order(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The results of `analytes` by subject, analyte and sample time, each with its actual day."""
    return (
        with_infusion_start(scoped(LabResult.objects.filter(analyte__in=analytes), request))
        .annotate(actual_day=ActualDay("sample_datetime", "d0_start"))
        # The index (subject, analyte, sample_datetime) gives this order: the first rows come without a sort.
        .order_by("subject_id", "analyte", "sample_datetime")
    )


def lab_results(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The samples' rows with their infusion start and sample time (for the SDTM dates)."""
    return lab_results_in_order(request, analytes).values_list(
        *SUBJECT_COLUMNS, "visit_id", "visit__code", "analyte", "sample_datetime", *_RESULT_COLUMNS
    )


def _lab_samples(rows: Iterable[tuple]) -> Iterator[Sample]:
    current, subject = None, ""
    for pk, site, number, tz, start, visit_id, code, analyte, taken, value, text, unit, lln, uln, lloq, not_detected, \
            actual_day, result_pk in rows:  # fmt: skip
        if pk != current:  # one USUBJID per subject, not per row
            current, subject = pk, usubjid(site, number)
        yield Sample(pk, subject, tz, start, visit_id, code, analyte, taken, value, text, unit, lln, uln, lloq,
                     not_detected, actual_day, result_pk)  # fmt: skip


def samples(request: ExportRequest, analytes: tuple[str, ...]) -> Iterator[Sample]:
    """The subjects' lab results of `analytes`, by subject, then analyte, then sample time."""
    return _lab_samples(lab_results(request, analytes).iterator(chunk_size=CHUNK_SIZE))


def sledai_assessments(request: ExportRequest) -> Iterator[tuple]:
    """(subject pk, site code, number, timezone, infusion start, visit id, visit code, date, total), by subject."""
    assessments = (
        with_infusion_start(scoped(SledaiAssessment.objects.all(), request))
        .order_by("subject_id", "assessment_date", "id")
        .values_list(*SUBJECT_COLUMNS, "visit_id", "visit__code", "assessment_date", "total")
    )
    return assessments.iterator(chunk_size=CHUNK_SIZE)


def assessment_day(assessed: dt.date, start: dt.datetime | None, tz: str) -> float | None:
    """An assessment date's actual day: whole days from the infusion's date at the site."""
    return float((assessed - start.astimezone(ZoneInfo(tz)).date()).days) if start else None


def after_each_subject(items: Iterable[T], extra: Iterable[T], subject_of: Callable[[T], int]) -> Iterator[T]:
    """Two streams ordered by subject (`subject_of` gives an item's subject pk) as one: each subject's `extra`
    items after its `items`."""
    extra = iter(extra)
    pending = next(extra, None)
    for item in items:
        while pending is not None and subject_of(pending) < subject_of(item):
            yield pending
            pending = next(extra, None)
        yield item
    if pending is not None:
        yield pending
        yield from extra


def in_days(request: ExportRequest, day: float | None) -> bool:
    if request.from_day is None and request.to_day is None:
        return True
    if day is None:
        return False
    return (request.from_day is None or day >= request.from_day) and (request.to_day is None or day <= request.to_day)
