"""The pkpd dataset (long and wide), the PK parameters, and the investigator's plots that read them.

pkpd is the largest export: its lab results come through PostgreSQL's COPY as text and stay text from end to
end; only the current subject × analyte's baseline is held (README: "How the largest export keeps up").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import NamedTuple

from django.db.models import Count, Func, Max, OuterRef, QuerySet, Subquery

from edc import roles
from edc import rules as edc_rules
from edc.models import DataQuery, LabResult, Subject, Visit
from followup import rules
from followup.exports.copy_reader import spooled, text_rows
from followup.exports.datasets import DATASETS, PK_ANALYTES, PKPD_ANALYTES
from followup.exports.params import ExportRequest
from followup.exports.sources import (
    after_each_subject,
    assessment_day,
    in_days,
    lab_results_in_order,
    samples,
    sledai_assessments,
    usubjid,
)
from followup.exports.text import decimal_text, float_text


class PkpdRow(NamedTuple):  # text, in the order of PKPD_LONG_COLUMNS
    usubjid: str
    visit: str
    visitnum: str
    nominal_day: str
    actual_day: str
    analyte: str
    value: str
    unit: str
    lloq: str
    blq: str
    baseline: str
    change_from_baseline_pct: str
    open_queries: str


class TrimScale(Func):
    """A decimal without the padding of its column's scale, as typed: 12.300000 → 12.3, 1000.000000 → 1000."""

    function = "trim_scale"

    def as_sqlite(self, compiler, connection):
        return self.source_expressions[0].as_sql(compiler, connection)  # the reader trims (`DATABASE_TEXT`)


def pkpd_source(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The pkpd dataset's source rows: subject, visit, result and actual day, as text from the database."""
    return (
        lab_results_in_order(request, analytes)
        .annotate(value_shown=TrimScale("value"), lloq_shown=TrimScale("lloq"))
        .values_list(
            "subject_id",
            "subject__site__code",
            "subject__number",
            "visit_id",
            "visit__code",
            "analyte",
            "value_shown",
            "unit",
            "lloq_shown",
            "not_detected",
            "actual_day",
            "pk",
        )  # fmt: skip
    )


def _pkpd_groups(request: ExportRequest, analytes: tuple[str, ...]) -> Iterator[Iterable[list[str]]]:
    """Each subject × analyte's source rows (text, in `pkpd_source` order) in time order, SLEDAI last in each
    subject. A group is streamed, not held: a subject may have thousands of results of one analyte."""
    lab_analytes = [a for a in analytes if a != "SLEDAI"]
    # The SLEDAI totals (one per visit) are read to their end before the lab results' COPY starts.
    with spooled(_sledai_rows(request) if "SLEDAI" in analytes else ()) as sledai_rows:
        labs = iter(())
        if lab_analytes:
            grouped = groupby(text_rows(pkpd_source(request, lab_analytes)), key=itemgetter(0, 5))
            labs = ((int(subject_pk), rows) for (subject_pk, _), rows in grouped)
        sledai = ((int(subject_pk), list(rows)) for subject_pk, rows in groupby(sledai_rows, key=itemgetter(0)))
        for _, rows in after_each_subject(labs, sledai, itemgetter(0)):
            yield rows


def _sledai_rows(request: ExportRequest) -> Iterator[list[str]]:
    """The SELENA-SLEDAI totals as source rows, by subject."""
    for pk, site, number, tz, start, visit_id, code, assessed, total in sledai_assessments(request):
        day = assessment_day(assessed, start, tz)
        yield [str(pk), site, str(number), "" if visit_id is None else str(visit_id), code or "", "SLEDAI", str(total),
               "", "", "f", "" if day is None else float_text(day), ""]  # fmt: skip


def _pkpd_points(rows: Iterable[list[str]]) -> Iterator[tuple[float | None, Decimal | None, tuple]]:
    """(actual day, (value, source row)) of one subject × analyte's source rows."""
    for row in rows:
        day_text, value_text = row[10], row[6]
        value = Decimal(value_text) if value_text else None
        yield float(day_text) if day_text else None, value, (value, row)


def _pkpd_items(request: ExportRequest, *, with_visit_ids: bool = False) -> Iterator[tuple]:
    """The long rows (text, in the order of PKPD_LONG_COLUMNS); with their visit's id (for the wide shape)."""
    # The hot loop of the largest export: lookups prepared once, text passed through as the database wrote it.
    schedule = {code: (str(visit.visitnum), str(visit.day)) for code, visit in edc_rules.SCHEDULE.items()}
    unscheduled = ("", "")
    day_filtered = request.from_day is not None or request.to_day is not None
    open_queries = {str(pk): str(n) for pk, n in open_queries_by_result().items()}
    subject_of: dict[tuple[str, str], str] = {}
    for group in _pkpd_groups(request, request.analytes or PKPD_ANALYTES):
        limits: dict[str, Decimal | None] = {}  # a handful of LLOQs per group: each parsed once
        baseline, change, baseline_shown = None, rules.change_from(None), ""
        for (value, row), row_baseline in rules.with_baselines(_pkpd_points(group)):
            _, site, number, visit_id, code, analyte, value_text, unit, lloq_text, not_detected, day_text, pk = row
            if day_filtered and not in_days(request, float(day_text) if day_text else None):
                continue
            if (site, number) not in subject_of:
                subject_of = {(site, number): usubjid(site, int(number))}  # subjects come one after the other
            if row_baseline is not baseline:
                baseline = row_baseline
                change = rules.change_from(baseline if analyte in rules.PERCENT_CHANGE_ANALYTES else None)
                baseline_shown = "" if baseline is None else decimal_text(baseline)
            if lloq_text not in limits:
                limits[lloq_text] = Decimal(lloq_text) if lloq_text else None
            lloq = limits[lloq_text]
            percent = change(value)
            line = (
                subject_of[site, number], code, *schedule.get(code, unscheduled), day_text, analyte,
                value_text, unit, lloq_text, "true" if rules.is_blq(value, lloq, not_detected == "t")
                else "false", baseline_shown, "" if percent is None else float_text(percent),
                open_queries.get(pk, "0"),
            )  # fmt: skip
            yield (line, visit_id) if with_visit_ids else line


def open_queries_by_result() -> dict[int, int]:
    """Open (or answered, not yet closed) data queries per lab result: few, so held in one dict."""
    open_queries = DataQuery.objects.filter(target_model="edc.labresult").exclude(status=DataQuery.Status.CLOSED)
    return dict(open_queries.values("target_id").annotate(n=Count("id")).values_list("target_id", "n"))


def pkpd_long(request: ExportRequest) -> Iterator[PkpdRow]:
    return map(PkpdRow._make, _pkpd_items(request))


def pkpd_rows(request: ExportRequest) -> Iterator[tuple]:
    return _pkpd_items(request)


def _day_order(text: str) -> float:
    return float(text) if text else 0.0


def pkpd_wide_rows(request: ExportRequest) -> Iterator[tuple]:
    """One row per subject × visit, one column per analyte; a subject's rows are pivoted once it is complete.

    Results without a visit have no place in this shape and are left out (the long shape has them).
    """
    analytes = request.analytes or PKPD_ANALYTES
    items = ((PkpdRow._make(row), visit_id) for row, visit_id in _pkpd_items(request, with_visit_ids=True))
    for _, subject_rows in groupby(items, key=lambda item: item[0].usubjid):
        visits: dict[str, dict] = {}
        for row, visit_id in subject_rows:
            if not visit_id:
                continue
            cells = visits.setdefault(visit_id, {"row": row, "values": {}})
            earliest = cells["row"].actual_day
            if row.actual_day and (not earliest or float(row.actual_day) < float(earliest)):
                cells["row"] = row  # the visit's earliest sample gives its actual day
            cells["values"][row.analyte] = row.value
        ordered = sorted(
            visits.values(), key=lambda c: (_day_order(c["row"].visitnum), _day_order(c["row"].actual_day))
        )
        for cells in ordered:
            first = cells["row"]
            yield (first.usubjid, first.visit, first.visitnum, first.nominal_day, first.actual_day,
                   *(cells["values"].get(a, "") for a in analytes))  # fmt: skip


# --- PK parameters ------------------------------------------------------------------------------


_subject_and_analyte = attrgetter("subject_pk", "analyte")


class PkParameters(NamedTuple):
    usubjid: str
    analyte: str
    unit: str
    nca: rules.NcaResult


def pk_parameters(request: ExportRequest) -> Iterator[PkParameters]:
    """NCA per subject × analyte (CARPCR, CARFLOW) of the treated subjects, one profile in memory at a time."""
    for (_, analyte), group in groupby(samples(request, request.analytes or PK_ANALYTES), key=_subject_and_analyte):
        group = list(group)  # one subject's profile of one analyte: tens of points
        if group[0].actual_day is None:  # not infused
            continue
        points = [rules.Concentration(s.actual_day, None if s.value is None else float(s.value), s.blq) for s in group]
        yield PkParameters(group[0].usubjid, analyte, edc_rules.ANALYTE_UNITS[analyte], rules.nca(points))


def pk_parameter_rows(request: ExportRequest) -> Iterator[tuple]:
    for p in pk_parameters(request):
        n = p.nca
        yield p.usubjid, p.analyte, n.cmax, n.tmax, n.auc0_28, n.clast, n.tlast, n.n_quantifiable, p.unit


# --- The investigator's plots: one subject's profiles, the cohort's CAR transgene ---------------


@dataclass(frozen=True)
class SubjectProfile:
    usubjid: str
    series: dict[str, list[tuple[float, float]]]  # analyte → (actual day, value), post-infusion and baseline
    cd19: rules.CD19Summary


PROFILE_ANALYTES = ("CARPCR", "CD19", "C3", "C4", "DSDNA")


def subject_profile(subject: Subject) -> SubjectProfile:
    series: dict[str, list[tuple[float, float]]] = {a: [] for a in PROFILE_ANALYTES}
    request = ExportRequest(DATASETS["pkpd"], subjects=(subject.subject_id,), analytes=tuple(series))
    for row in pkpd_long(request):
        if row.actual_day and row.value:
            series[row.analyte].append((float(row.actual_day), float(row.value)))
    return SubjectProfile(usubjid(subject.site.code, subject.number), series, rules.cd19_pd(series["CD19"]))


def profile_fingerprint(subject: Subject) -> str:
    """What `subject_profile` reads, in one query: how many results of its analytes the subject has and when one
    last changed (a correction or a void changes `modified`), and when the infusion visit last changed (the days
    count from it). Any change to the profile's data gives another fingerprint."""
    results = LabResult.objects.filter(subject=OuterRef("pk"), analyte__in=PROFILE_ANALYTES).order_by()
    d0 = Visit.objects.filter(subject=OuterRef("pk"), code="D0").order_by()
    facts = (
        Subject.objects.filter(pk=subject.pk)
        .annotate(
            results=Subquery(results.values("subject").annotate(n=Count("pk")).values("n")),
            results_changed=Subquery(results.values("subject").annotate(at=Max("modified")).values("at")),
            infusion_changed=Subquery(d0.values("subject").annotate(at=Max("modified")).values("at")),
        )
        .values_list("results", "results_changed", "infusion_changed")
        .get()
    )
    return "|".join(str(fact) for fact in facts)


def cohort_car_profiles(user) -> Iterator[tuple[str, list[tuple[float, float]]]]:
    """Each treated subject's CAR transgene (qPCR) after infusion, for the overlay plot."""
    site_ids = None if user is None or user.is_superuser else tuple(roles.site_ids_of(user))
    request = ExportRequest(DATASETS["pkpd"], analytes=("CARPCR",), site_ids=site_ids)
    for subject, rows in groupby(pkpd_long(request), key=lambda row: row.usubjid):
        points = [
            (float(r.actual_day), float(r.value)) for r in rows if r.actual_day and float(r.actual_day) > 0 and r.value
        ]
        if points:
            yield subject, points
