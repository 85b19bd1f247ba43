"""Seeing the study: where every visit stands (the dashboard's grid) and the work lists of the home page, each
from a fixed number of aggregate queries whatever the number of subjects (the facts of a visit are correlated
subqueries of one visit query, never a query per visit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from edc import i18n, rules
from edc.models import DataQuery, LabResult, Lock, Signature, SourceVerification, Subject, Visit


def _count(queryset: models.QuerySet) -> Coalesce:
    """COUNT(*) of a correlated queryset, as a subquery (0 when it has no rows)."""
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


def not_closed_queries() -> models.QuerySet:
    return DataQuery.objects.filter(voided=False).exclude(status=DataQuery.Status.CLOSED)


def with_sdv(visits: models.QuerySet) -> models.QuerySet:
    """Visits annotated with their source data verification. A visit's rows are the visit and its (non-voided) lab
    results, as `visit_attestation` counts them: `result_rows`, `visit_verified` + `results_verified` (rows with a
    standing SDV)."""
    results = LabResult.objects.filter(visit=OuterRef("pk"), voided=False)
    verified = SourceVerification.objects.filter(voided=False)
    return visits.annotate(
        result_rows=_count(results),
        visit_verified=Exists(verified.filter(target_model="edc.visit", target_id=OuterRef("pk"))),
        results_verified=_count(
            results.filter(Exists(verified.filter(target_model="edc.labresult", target_id=OuterRef("pk"))))
        ),
    )


def with_facts(visits: models.QuerySet) -> models.QuerySet:
    """Visits annotated with what their state depends on: their SDV (`with_sdv`), `open_queries` (not closed, on
    the visit or a result), `signatures` (not voided, over the visit) and `locked` (an active lock of the visit,
    its subject or the study)."""
    result_ids = LabResult.objects.filter(visit=OuterRef(OuterRef("pk")), voided=False).values("pk")
    return with_sdv(visits).annotate(
        open_queries=_count(
            not_closed_queries().filter(
                Q(target_model="edc.visit", target_id=OuterRef("pk"))
                | Q(target_model="edc.labresult", target_id__in=result_ids)
            )
        ),
        signatures=_count(Signature.objects.filter(target_model="edc.visit", target_id=OuterRef("pk"), voided=False)),
        locked=Exists(
            Lock.objects.filter(active=True, voided=False).filter(
                Q(level=Lock.Level.STUDY)
                | Q(level=Lock.Level.SUBJECT, subject=OuterRef("subject"))
                | Q(level=Lock.Level.VISIT, visit=OuterRef("pk"))
            )
        ),
    )


def state_of(visit: Visit, today: dt.date) -> str:
    """The dashboard state of a visit annotated by `with_facts` (`rules.visit_state`)."""
    return rules.visit_state(
        status=visit.status,
        window_start=visit.window_start,
        window_end=visit.window_end,
        today=today,
        open_queries=visit.open_queries,
        verified=int(visit.visit_verified) + visit.results_verified,
        rows=1 + visit.result_rows,
        signatures=visit.signatures,
        locked=visit.locked,
    )


def site_today(tz_name: str, now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now(), ZoneInfo(tz_name)).date()


# --- The grid -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    visit: Visit
    state: str

    @property
    def label(self) -> str:
        return i18n.translated(rules.VISIT_STATE_LABELS[self.state])


@dataclass(frozen=True)
class GridRow:
    subject: Subject
    cells: list[Cell | None]  # one per code of the grid; None: the subject has no such visit


@dataclass
class StudyGrid:
    codes: list[str]
    rows: list[GridRow]
    counts: dict[str, int] = field(default_factory=dict)  # cells per state


def study_grid(subjects: models.QuerySet, now: dt.datetime | None = None) -> StudyGrid:
    """Subjects × the schedule's visit codes (SCHEDULE order; the codes some subject has a visit of, unscheduled
    visits left out), each cell the state of that visit today in its site's calendar. Two queries: the subjects,
    and their visits with `with_facts`."""
    subject_list = list(subjects.select_related("site"))
    visits = with_facts(
        Visit.objects.filter(subject__in=[s.pk for s in subject_list], voided=False).exclude(code="UNS")
    ).order_by()
    todays: dict[str, dt.date] = {}
    by_subject: dict[int, dict[str, Cell]] = {s.pk: {} for s in subject_list}
    sites = {s.pk: s.site for s in subject_list}
    counts = dict.fromkeys(rules.VISIT_STATE_LABELS, 0)
    for visit in visits:
        tz_name = sites[visit.subject_id].timezone
        today = todays.setdefault(tz_name, site_today(tz_name, now))
        cell = Cell(visit, state_of(visit, today))
        by_subject[visit.subject_id][visit.code] = cell
        counts[cell.state] += 1
    present = {code for cells in by_subject.values() for code in cells}
    codes = [code for code in rules.SCHEDULE if code in present]
    rows = [GridRow(s, [by_subject[s.pk].get(code) for code in codes]) for s in subject_list]
    return StudyGrid(codes, rows, counts)


def subject_visits(subject: Subject, now: dt.datetime | None = None) -> list[Cell]:
    """The subject's visits (voided ones left out) in schedule order, each with its state today at its site: one
    query whatever the length of the follow-up. Each visit carries `subject` (its window reads the site)."""
    # A visit without a planned date (screening) first, on SQLite as on PostgreSQL.
    order = (F("planned_date").asc(nulls_first=True), "visit_datetime", "id")
    visits = with_facts(Visit.objects.filter(subject=subject, voided=False)).order_by(*order)
    today = site_today(subject.site.timezone, now)
    cells = []
    for visit in visits:
        visit.subject = subject  # the row's own subject: no query for its label or its window
        cells.append(Cell(visit, state_of(visit, today)))
    return cells


# --- Work lists ---------------------------------------------------------------------------------


def scheduled_visits(visits: models.QuerySet) -> models.QuerySet:
    return visits.filter(voided=False, status=Visit.Status.SCHEDULED, subject__voided=False)


def visits_due(visits: models.QuerySet, today: dt.date, days: int = 7) -> models.QuerySet:
    """Scheduled visits whose window is open on one of the `days` days from today (today included)."""
    last = today + dt.timedelta(days=days - 1)
    return scheduled_visits(visits).filter(window_start__lte=last, window_end__gte=today).order_by("window_end")


def visits_overdue(visits: models.QuerySet, today: dt.date) -> models.QuerySet:
    """Scheduled visits whose window closed before today (`rules.visit_state` OVERDUE, before queries and
    locks)."""
    return scheduled_visits(visits).filter(window_end__lt=today).order_by("window_end")


def done_visits(visits: models.QuerySet) -> models.QuerySet:
    return with_facts(visits.filter(voided=False, status=Visit.Status.DONE, subject__voided=False))


# Done visits in the order they were done (date-only visits, such as lymphodepletion days, by their planned date).
DONE_ORDER = (F("visit_datetime").asc(nulls_last=True), "planned_date", "pk")


def _all_verified() -> Q:
    return Q(visit_verified=True, results_verified__gte=F("result_rows"))


def visits_to_sign(visits: models.QuerySet) -> models.QuerySet:
    """Done, not signed, not locked."""
    return done_visits(visits).filter(signatures=0, locked=False).order_by(*DONE_ORDER)


def visits_to_verify(visits: models.QuerySet) -> models.QuerySet:
    """Done, some row (the visit or a result) not verified, not locked."""
    return done_visits(visits).filter(locked=False).exclude(_all_verified()).order_by(*DONE_ORDER)


def visits_ready_to_lock(visits: models.QuerySet) -> models.QuerySet:
    """Done, every row verified, signed, no query left open, not locked yet."""
    return (
        done_visits(visits)
        .filter(_all_verified(), signatures__gt=0, open_queries=0, locked=False)
        .order_by(*DONE_ORDER)
    )


def query_ageing(queries: models.QuerySet, now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """Queries not closed, counted by `rules.QUERY_AGE_BANDS` of their age in whole days, in one query."""
    now = now or timezone.now()
    counts = {}
    for index, (_, first, last) in enumerate(rules.QUERY_AGE_BANDS):
        band = Q(created__lte=now - dt.timedelta(days=first))
        if last is not None:
            band &= Q(created__gt=now - dt.timedelta(days=last + 1))
        counts[f"band{index}"] = models.Count("pk", filter=band)
    totals = queries.filter(voided=False).exclude(status=DataQuery.Status.CLOSED).aggregate(**counts)
    return [(label, totals[f"band{index}"]) for index, (label, _, _) in enumerate(rules.QUERY_AGE_BANDS)]
