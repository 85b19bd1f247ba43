"""PK/PD export use cases (DOMAIN.md §8): which rows, in which order, assembled in constant memory.

Every dataset is read from server-side cursors (`values_list(...).iterator()`), or for the largest, pkpd, through
PostgreSQL's COPY, ordered so that one subject's rows arrive together; the only state held is the current
subject's (a baseline, a sequence number, one NCA profile), whatever the size of the trial. Rows leave as tuples
of CSV text, which the writers of `followup.exports` turn into CSV, JSON or Parquet; `followup.api` and the
`export_pkpd` command are the two doors.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import math
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, FilteredRelation, FloatField, Func, Q, QuerySet
from django.utils import timezone
from psycopg import pq

from edc import roles
from edc import rules as edc_rules
from edc.models import DataQuery, LabResult, Subject, Visit
from followup import rules
from followup.models import AdverseEvent, ExportLog
from infusion.models import Infusion, LymphodepletionDose
from screening.models import SledaiAssessment

STUDY_ID = "NCT06711146"
CHUNK_SIZE = 5000  # rows per fetch from the server-side cursor
SLEDAI_SPOOL_IN_MEMORY = 4 << 20  # bytes of SELENA-SLEDAI rows held in memory (~90,000 visits) before a file

PK_ANALYTES = ("CARPCR", "CARFLOW")
PKPD_ANALYTES = ("CD19", "CARPCR", "CARFLOW", "DSDNA", "C3", "C4", "SLEDAI")
LB_ANALYTES = tuple(code for code in edc_rules.ANALYTE_UNITS if code not in PK_ANALYTES)
FORMATS = ("csv", "json", "parquet")
SHAPES = ("long", "wide")

# Who exports: investigators and data managers get full data, sponsor viewers pseudonymised data.
FULL_EXPORT_ROLES = frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER})
EXPORT_ROLES = FULL_EXPORT_ROLES | {roles.SPONSOR_VIEWER}

T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "float", "int" or "bool": the writers map it to JSON and Parquet types


def _columns(spec: str) -> tuple[Column, ...]:
    """'name:kind name:kind …' → columns (kind defaults to str)."""
    return tuple(Column(*(item.split(":") if ":" in item else (item, "str"))) for item in spec.split())


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    analytes: tuple[str, ...] = ()  # the analytes the filter may name; empty: no analyte filter
    day_filter: bool = False  # from_day/to_day apply (to the actual day of each sample)


def _sdtm_results(prefix: str, extra: str = "") -> tuple[Column, ...]:
    p = prefix
    return _columns(
        f"STUDYID DOMAIN USUBJID {p}SEQ:int {p}TESTCD {p}TEST {p}ORRES {p}ORRESU {p}STRESN:float {p}STRESU "
        f"{p}NRIND {extra} VISIT VISITNUM:float {p}DTC {p}DY:int"
    )


PKPD_LONG_COLUMNS = _columns(
    "usubjid visit visitnum:float nominal_day:int actual_day:float analyte value:float unit lloq:float blq:bool "
    "baseline:float change_from_baseline_pct:float open_queries:int"
)
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("pkpd", PKPD_LONG_COLUMNS, PKPD_ANALYTES, day_filter=True),
        Dataset(
            "pk-parameters",
            _columns(
                "usubjid analyte CMAX:float TMAX:float AUC0_28:float CLAST:float TLAST:float n_quantifiable:int unit"
            ),
            PK_ANALYTES,
        ),
        Dataset(
            "sdtm/dm",
            _columns("STUDYID DOMAIN USUBJID SUBJID RFSTDTC SITEID BRTHDTC AGE:int AGEU SEX"),
        ),
        Dataset(
            "sdtm/ex",
            _columns("STUDYID DOMAIN USUBJID EXSEQ:int EXTRT EXDOSE:float EXDOSU EXSTDTC EXSTDY:int"),
        ),
        Dataset("sdtm/lb", _sdtm_results("LB"), LB_ANALYTES, day_filter=True),
        Dataset("sdtm/pc", _sdtm_results("PC", "PCLLOQ:float"), PK_ANALYTES, day_filter=True),
        Dataset(
            "sdtm/pp",
            _columns(
                "STUDYID DOMAIN USUBJID PPSEQ:int PPCAT PPTESTCD PPTEST PPORRES PPORRESU PPSTRESN:float PPSTRESU "
                "PPSTINT PPENINT"
            ),
            PK_ANALYTES,
        ),
        Dataset(
            "sdtm/ae",
            _columns(
                "STUDYID DOMAIN USUBJID AESEQ:int AETERM AECAT AESER AEREL AETOXGR:int AESTDTC AEENDTC AESTDY:int "
                "AEENDY:int"
            ),
        ),
    )
}


class ExportNotFound(Exception):
    """A dataset or a subject that does not exist for this user (HTTP 404 naming the parameter)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ExportRequest:
    dataset: Dataset
    format: str = "csv"
    shape: str = "long"
    subjects: tuple[str, ...] = ()
    analytes: tuple[str, ...] = ()
    from_day: float | None = None
    to_day: float | None = None
    pseudonymised: bool = False
    site_ids: tuple[int, ...] | None = None  # None: every site
    user: object = field(default=None, compare=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        if self.dataset.name == "pkpd" and self.shape == "wide":
            analytes = self.analytes or PKPD_ANALYTES
            return (*_columns("usubjid visit visitnum:float nominal_day:int actual_day:float"),
                    *(Column(a, "float") for a in analytes))  # fmt: skip
        return self.dataset.columns

    def filters(self) -> dict:
        """The filters as the export log records them."""
        shown = {"subject": list(self.subjects), "analyte": list(self.analytes), "from_day": self.from_day,
                 "to_day": self.to_day, "shape": self.shape if self.dataset.name == "pkpd" else None}  # fmt: skip
        return {name: value for name, value in shown.items() if value not in (None, [])}


def _values(params: Mapping, name: str) -> list[str]:
    """A parameter given once comma-separated, or repeated (`?analyte=C3&analyte=C4`)."""
    raw = params.getlist(name) if hasattr(params, "getlist") else [params[name]] if name in params else []
    return [v.strip() for item in raw for v in str(item).split(",") if v.strip()]


def _day(params: Mapping, name: str) -> float | None:
    values = _values(params, name)
    if not values:
        return None
    try:
        day = float(values[0])
    except ValueError:
        raise ValidationError({name: [f"{values[0]!r} is not a number of days"]}) from None
    if not math.isfinite(day):
        raise ValidationError({name: [f"{values[0]!r} is not a finite number of days"]})
    return day


def parse_request(dataset_name: str, params: Mapping, user) -> ExportRequest:
    """Check a request's dataset, format and filters against the user's role and sites.

    Bad values raise ValidationError naming the parameter (400); an unknown dataset, or a subject that is not
    at the user's sites, ExportNotFound (404); a role without exports PermissionDenied (403).
    """
    if user is not None and not roles.has_any_role(user, EXPORT_ROLES):
        raise PermissionDenied("exports are for investigators, data managers and sponsor viewers")
    dataset = DATASETS.get(dataset_name.strip("/"))
    if dataset is None:
        raise ExportNotFound("dataset", f"unknown dataset {dataset_name!r}; one of {', '.join(DATASETS)}")
    errors: dict[str, list[str]] = {}
    export_format = (_values(params, "format") or ["csv"])[0].lower()
    if export_format not in FORMATS:
        errors["format"] = [f"unknown format {export_format!r}; one of {', '.join(FORMATS)}"]
    shape = (_values(params, "shape") or ["long"])[0].lower()
    if shape not in SHAPES or (shape == "wide" and dataset.name != "pkpd"):
        errors["shape"] = [f"shape {shape!r} is not offered for {dataset.name}; pkpd takes long or wide"]
    analytes = tuple(dict.fromkeys(_values(params, "analyte")))
    if analytes and not dataset.analytes:
        errors["analyte"] = [f"{dataset.name} has no analyte filter"]
    elif unknown := [a for a in analytes if a not in dataset.analytes]:
        errors["analyte"] = [f"unknown analyte {', '.join(unknown)} for {dataset.name}; one of "
                             f"{', '.join(dataset.analytes)}"]  # fmt: skip
    try:
        from_day, to_day = _day(params, "from_day"), _day(params, "to_day")
    except ValidationError as error:
        errors.update(error.message_dict)
        from_day = to_day = None
    if (from_day is not None or to_day is not None) and not dataset.day_filter:
        errors["from_day" if from_day is not None else "to_day"] = [f"{dataset.name} has no day filter"]
    elif from_day is not None and to_day is not None and from_day > to_day:
        errors["from_day"] = [f"from_day {from_day:g} is after to_day {to_day:g}"]
    if errors:
        raise ValidationError(errors)
    site_ids = None if user is None or user.is_superuser else tuple(roles.site_ids_of(user))
    subjects = tuple(dict.fromkeys(_values(params, "subject")))
    _check_subjects(subjects, site_ids)
    pseudonymised = user is not None and not roles.has_any_role(user, FULL_EXPORT_ROLES)
    return ExportRequest(dataset, export_format, shape, subjects, analytes, from_day, to_day, pseudonymised,
                         site_ids, user)  # fmt: skip


def _check_subjects(subject_ids: tuple[str, ...], site_ids: tuple[int, ...] | None) -> None:
    if not subject_ids:
        return
    visible = Subject.objects.filter(subject_id__in=subject_ids)
    if site_ids is not None:
        visible = visible.filter(site_id__in=site_ids)
    missing = set(subject_ids) - set(visible.values_list("subject_id", flat=True))
    if missing:
        raise ExportNotFound("subject", f"no subject {', '.join(sorted(missing))} at your sites")


# --- Export runs and their log ------------------------------------------------------------------


@dataclass
class Export:
    request: ExportRequest
    log: ExportLog
    rows: Iterator[tuple]


def start_export(request: ExportRequest, *, channel: str = "api") -> Export:
    """Log the export and return its rows; the log gets the row count once the last row is produced."""
    log = ExportLog.objects.create(
        user=request.user, started_at=timezone.now(), dataset=request.dataset.name, format=request.format,
        filters=request.filters(), pseudonymised=request.pseudonymised, channel=channel,
    )  # fmt: skip
    return Export(request, log, _counted(rows_of(request), log))


def _counted(rows: Generator[tuple], log: ExportLog) -> Iterator[tuple]:
    count = 0
    # Streamed inside one read transaction: outside one, PostgreSQL materialises a server-side cursor
    # WITH HOLD in full before its first row (seconds at trial scale). JIT compilation only delays the
    # first row of these plain scans.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        # A client that leaves mid-export closes this generator: the rows' own (a COPY still sending, say) are
        # closed inside the transaction, before it is rolled back.
        with closing(rows):
            for count, row in enumerate(rows, 1):  # noqa: B007 (the count is read after the loop)
                yield row
    ExportLog.objects.filter(pk=log.pk).update(row_count=count, finished_at=timezone.now())


def rows_of(request: ExportRequest) -> Generator[tuple]:
    builders = {
        "pkpd": pkpd_wide_rows if request.shape == "wide" else pkpd_rows,
        "pk-parameters": pk_parameter_rows,
        "sdtm/dm": sdtm_dm_rows,
        "sdtm/ex": sdtm_ex_rows,
        "sdtm/lb": sdtm_lb_rows,
        "sdtm/pc": sdtm_pc_rows,
        "sdtm/pp": sdtm_pp_rows,
        "sdtm/ae": sdtm_ae_rows,
    }
    rows = builders[request.dataset.name](request)
    return rows if request.dataset.name == "pkpd" else as_text(rows)  # pkpd rows are built as text


# --- Samples: lab results (and SLEDAI totals) with their subject's infusion --------------------


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
    subject_pk: int
    usubjid: str
    tz: str
    infusion_start: dt.datetime | None  # None in undated samples
    visit_id: int | None
    visit: str
    analyte: str
    taken: dt.datetime | dt.date | None  # a date for SLEDAI assessments; None in undated samples
    value: Decimal | None
    result_text: str
    unit: str
    lln: Decimal | None
    uln: Decimal | None
    lloq: Decimal | None
    not_detected: bool
    actual_day: float | None  # None before an infusion
    result_id: int | None  # the lab result's id; None for a SELENA-SLEDAI total

    @property
    def infusion_date(self) -> dt.date | None:
        return self.infusion_start.astimezone(ZoneInfo(self.tz)).date() if self.infusion_start else None

    @property
    def site_date(self) -> dt.date:
        return self.taken.astimezone(ZoneInfo(self.tz)).date() if isinstance(self.taken, dt.datetime) else self.taken

    @property
    def blq(self) -> bool:
        return rules.is_blq(self.value, self.lloq, self.not_detected)


def _scoped(queryset: QuerySet, request: ExportRequest, subject_path: str = "subject__") -> QuerySet:
    """Rows of the request's sites and subjects, voided rows left out (`subject_path` "" for Subject itself)."""
    queryset = queryset.filter(voided=False)
    if request.site_ids is not None:
        queryset = queryset.filter(**{f"{subject_path}site_id__in": request.site_ids})
    if request.subjects:
        queryset = queryset.filter(**{f"{subject_path}subject_id__in": request.subjects})
    return queryset


_SUBJECT_COLUMNS = ("subject_id", "subject__site__code", "subject__number", "subject__site__timezone", "d0_start")
_RESULT_COLUMNS = ("value", "result_text", "unit", "lln", "uln", "lloq", "not_detected", "actual_day", "pk")


def _lab_results_in_order(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The results of `analytes` by subject, analyte and sample time, each with its actual day."""
    return (
        with_infusion_start(_scoped(LabResult.objects.filter(analyte__in=analytes), request))
        .annotate(actual_day=ActualDay("sample_datetime", "d0_start"))
        # The index (subject, analyte, sample_datetime) gives this order: the first rows come without a sort.
        .order_by("subject_id", "analyte", "sample_datetime")
    )


def lab_results(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The samples' rows with their infusion start and sample time (for the SDTM dates)."""
    return _lab_results_in_order(request, analytes).values_list(
        *_SUBJECT_COLUMNS, "visit_id", "visit__code", "analyte", "sample_datetime", *_RESULT_COLUMNS
    )


def _lab_samples(rows: Iterable[tuple]) -> Iterator[Sample]:
    current, subject = None, ""
    for pk, site, number, tz, start, visit_id, code, analyte, taken, value, text, unit, lln, uln, lloq, not_detected, \
            actual_day, result_pk in rows:  # fmt: skip
        if pk != current:  # one USUBJID per subject, not per row
            current, subject = pk, usubjid(site, number)
        yield Sample(pk, subject, tz, start, visit_id, code, analyte, taken, value, text, unit, lln, uln, lloq,
                     not_detected, actual_day, result_pk)  # fmt: skip


def _sledai_assessments(request: ExportRequest) -> Iterator[tuple]:
    """(subject pk, site code, number, timezone, infusion start, visit id, visit code, date, total), by subject."""
    assessments = (
        with_infusion_start(_scoped(SledaiAssessment.objects.all(), request))
        .order_by("subject_id", "assessment_date", "id")
        .values_list(*_SUBJECT_COLUMNS, "visit_id", "visit__code", "assessment_date", "total")
    )
    return assessments.iterator(chunk_size=CHUNK_SIZE)


def _assessment_day(assessed: dt.date, start: dt.datetime | None, tz: str) -> float | None:
    """An assessment date's actual day: whole days from the infusion's date at the site."""
    return float((assessed - start.astimezone(ZoneInfo(tz)).date()).days) if start else None


def _sledai_samples(request: ExportRequest) -> Iterator[Sample]:
    for pk, site, number, tz, start, visit_id, code, day, total in _sledai_assessments(request):
        yield Sample(pk, usubjid(site, number), tz, start, visit_id, code, "SLEDAI", day, Decimal(total), "", "",
                     None, None, None, False, _assessment_day(day, start, tz), None)  # fmt: skip


def _after_each_subject(items: Iterable[T], extra: Iterable[T], subject_of: Callable[[T], int]) -> Iterator[T]:
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


def samples(request: ExportRequest, analytes: tuple[str, ...]) -> Iterator[Sample]:
    """The subjects' results of `analytes`, by subject, then analyte (SLEDAI last), then sample time."""
    lab_analytes = [a for a in analytes if a != "SLEDAI"]
    labs = iter(())
    if lab_analytes:
        labs = _lab_samples(lab_results(request, lab_analytes).iterator(chunk_size=CHUNK_SIZE))
    if "SLEDAI" not in analytes:
        return labs
    return _after_each_subject(labs, _sledai_samples(request), attrgetter("subject_pk"))


def _in_days(request: ExportRequest, day: float | None) -> bool:
    if request.from_day is None and request.to_day is None:
        return True
    if day is None:
        return False
    return (request.from_day is None or day >= request.from_day) and (request.to_day is None or day <= request.to_day)


def _number(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize() if value != value.to_integral() else value.quantize(1)


# --- Rows as text -------------------------------------------------------------------------------
# Every dataset's rows are tuples of CSV text ("" for a missing value): the writers of `followup.exports`
# join them for CSV and read them back by column kind for JSON and Parquet.


def _decimal_text(value: Decimal) -> str:
    return f"{_number(value):f}"


def float_text(value: float) -> str:
    """A float as PostgreSQL prints a double: the shortest text that reads back the same, '28' not '28.0'."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


_CSV_TEXT = {
    type(None): lambda value: "",
    bool: lambda value: "true" if value else "false",
    Decimal: _decimal_text,
    float: float_text,
}
# As PostgreSQL's COPY writes them, so that source rows read the same from either database.
_DATABASE_TEXT = {**_CSV_TEXT, bool: lambda value: "t" if value else "f"}


def _as_text(rows: Iterable[tuple], text_of: Mapping) -> Iterator[tuple[str, ...]]:
    text_of = text_of.get
    for row in rows:
        yield tuple(value if value.__class__ is str else text_of(value.__class__, str)(value) for value in row)


def as_text(rows: Iterable[tuple]) -> Iterator[tuple[str, ...]]:
    """Rows of Python values (None, bool, int, float, Decimal, str) as text rows."""
    return _as_text(rows, _CSV_TEXT)


_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(.)")


def _unescaped(field: str) -> str:
    return _COPY_ESCAPE.sub(lambda match: _COPY_ESCAPES.get(match[1], match[1]), field)


def _copied_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """The queryset's rows through PostgreSQL's `COPY … TO STDOUT`, as lists of text ("" for NULL).

    COPY sends rows as text with no per-value conversion on either side, and keeps sending while the rows
    are being worked on: reading a row this way costs about what the database spends writing it.
    """
    sql, params = queryset.query.sql_with_params()
    statement = f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT (NULL '')"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        pgconn = cursor.connection.pgconn
        # psycopg's read() waits until a row arrives; the rows already received are then taken straight from
        # libpq (one whole row, line feed included, per call), which saves psycopg's per-row machinery.
        while block := copy.read():
            while block:
                line = block.tobytes().decode()[:-1]
                fields = line.split("\t")
                yield [_unescaped(f) for f in fields] if "\\" in line else fields
                size, block = pgconn.get_copy_data(1)  # (0, b""): nothing received yet; read() waits
                if size == -1:
                    _end_of_copy(pgconn)
                    return


def _end_of_copy(pgconn) -> None:
    """After libpq's end-of-COPY answer, its closing result, taken as psycopg would: the connection is idle again
    (and psycopg's Copy, left by a normal exit, reads nothing more)."""
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise DatabaseError(f"COPY failed: {(result.error_message or b'').decode(errors='replace')}")


def _text_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """A values_list queryset's rows as lists of text: COPY on PostgreSQL, a server-side cursor elsewhere."""
    if connection.vendor == "postgresql":
        return _copied_rows(queryset)
    return (list(row) for row in _as_text(queryset.iterator(chunk_size=CHUNK_SIZE), _DATABASE_TEXT))


# --- pkpd: long and wide ------------------------------------------------------------------------


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
        return self.source_expressions[0].as_sql(compiler, connection)  # the reader trims (`_DATABASE_TEXT`)


def _pkpd_source(request: ExportRequest, analytes: Iterable[str]) -> QuerySet:
    """The pkpd dataset's source rows: subject, visit, result and actual day, as text from the database."""
    return (
        _lab_results_in_order(request, analytes)
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
    """Each subject × analyte's source rows (text, in `_pkpd_source` order) in time order, SLEDAI last in each
    subject. A group is streamed, not held: a subject may have thousands of results of one analyte."""
    lab_analytes = [a for a in analytes if a != "SLEDAI"]
    with tempfile.SpooledTemporaryFile(max_size=SLEDAI_SPOOL_IN_MEMORY, mode="w+", newline="") as spool:
        # The lab results' COPY owns the connection until its last row: a query sent meanwhile (the SLEDAI
        # cursor's next FETCH) would wait for ever. So the SLEDAI totals, one per visit, are read to their end
        # first, into a spool that goes to a temporary file beyond SLEDAI_SPOOL_IN_MEMORY, and merged from there.
        if "SLEDAI" in analytes:
            csv.writer(spool).writerows(_sledai_rows(request))
            spool.seek(0)
        labs = iter(())
        if lab_analytes:
            grouped = groupby(_text_rows(_pkpd_source(request, lab_analytes)), key=itemgetter(0, 5))
            labs = ((int(subject_pk), rows) for (subject_pk, _), rows in grouped)
        sledai = ((int(subject_pk), list(rows)) for subject_pk, rows in groupby(csv.reader(spool), key=itemgetter(0)))
        for _, rows in _after_each_subject(labs, sledai, itemgetter(0)):
            yield rows


def _sledai_rows(request: ExportRequest) -> Iterator[list[str]]:
    """The SELENA-SLEDAI totals as source rows, by subject."""
    for pk, site, number, tz, start, visit_id, code, assessed, total in _sledai_assessments(request):
        day = _assessment_day(assessed, start, tz)
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
            if day_filtered and not _in_days(request, float(day_text) if day_text else None):
                continue
            if (site, number) not in subject_of:
                subject_of = {(site, number): usubjid(site, int(number))}  # subjects come one after the other
            if row_baseline is not baseline:
                baseline = row_baseline
                change = rules.change_from(baseline if analyte in rules.PERCENT_CHANGE_ANALYTES else None)
                baseline_shown = "" if baseline is None else _decimal_text(baseline)
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


# --- SDTM ---------------------------------------------------------------------------------------


def _dtc(moment: dt.datetime | dt.date | None, tz: str, request: ExportRequest) -> str | None:
    """ISO 8601 in site time; none at all in pseudonymised exports (their dates are the --DY study days)."""
    if moment is None or request.pseudonymised:
        return None
    if isinstance(moment, dt.datetime):
        return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")
    return moment.isoformat()


def _dy(on: dt.date | None, infusion_date: dt.date | None) -> int | None:
    return rules.study_day(on, infusion_date) if on is not None and infusion_date is not None else None


def _nrind(sample: Sample) -> str | None:
    if sample.value is None:
        return None
    if sample.lln is not None and sample.value < sample.lln:
        return "LOW"
    if sample.uln is not None and sample.value > sample.uln:
        return "HIGH"
    return "NORMAL" if sample.lln is not None or sample.uln is not None else None


def _orres(sample: Sample, blq_as_text: bool) -> str:
    if sample.not_detected:
        return "NOT DETECTED"
    if blq_as_text and sample.blq:
        return "BLQ"
    if sample.value is None:
        return sample.result_text
    return f"{_number(sample.value):f}"


def _sdtm_result_rows(request: ExportRequest, domain: str, analytes: tuple[str, ...]) -> Iterator[tuple]:
    is_pc = domain == "PC"
    seq, current = 0, None
    for sample in samples(request, analytes):
        if sample.subject_pk != current:
            seq, current = 0, sample.subject_pk
        seq += 1  # numbered before the day filter, so a filtered export keeps the full dataset's --SEQ
        if not _in_days(request, sample.actual_day):
            continue
        visit = edc_rules.SCHEDULE.get(sample.visit)
        stresn = None if sample.value is None or (is_pc and sample.blq) else _number(sample.value)
        yield (
            STUDY_ID, domain, sample.usubjid, seq, sample.analyte, sample.analyte, _orres(sample, is_pc),
            sample.unit or None, stresn, sample.unit or None, None if is_pc else _nrind(sample),
            *((_number(sample.lloq),) if is_pc else ()), sample.visit or None, visit.visitnum if visit else None,
            _dtc(sample.taken, sample.tz, request), _dy(sample.site_date, sample.infusion_date),
        )  # fmt: skip


def sdtm_lb_rows(request: ExportRequest) -> Iterator[tuple]:
    return _sdtm_result_rows(request, "LB", request.analytes or tuple(a for a in LB_ANALYTES))


def sdtm_pc_rows(request: ExportRequest) -> Iterator[tuple]:
    return _sdtm_result_rows(request, "PC", request.analytes or PK_ANALYTES)


# PPTESTCD → (PPTEST, the NcaResult attribute, unit: None for the analyte's own, interval)
PP_TESTS = {
    "CMAX": ("Max Conc", "cmax", None, None),
    "TMAX": ("Time of CMAX", "tmax", "day", None),
    "AUCINT": ("AUC from T1 to T2", "auc0_28", "day*{unit}", ("P0D", "P28D")),
    "CLST": ("Last Nonzero Conc", "clast", None, None),
    "TLST": ("Time of Last Nonzero Conc", "tlast", "day", None),
}


def sdtm_pp_rows(request: ExportRequest) -> Iterator[tuple]:
    seq, current = 0, None
    for p in pk_parameters(request):
        if p.usubjid != current:
            seq, current = 0, p.usubjid
        for code, (test, attribute, unit, interval) in PP_TESTS.items():
            seq += 1
            value = getattr(p.nca, attribute)
            unit = (unit or "{unit}").format(unit=p.unit)
            start, end = interval or (None, None)
            orres = None if value is None else float_text(value)
            yield STUDY_ID, "PP", p.usubjid, seq, p.analyte, code, test, orres, unit, value, unit, start, end


def sdtm_dm_rows(request: ExportRequest) -> Iterator[tuple]:
    subjects = with_infusion_start(_scoped(Subject.objects.all(), request, subject_path=""), subject_path="")
    rows = subjects.order_by("pk").values_list(
        "subject_id", "site__code", "number", "site__timezone", "date_of_birth", "sex", "d0_start"
    )
    for subject_id, site, number, tz, birth, sex, start in rows.iterator(chunk_size=CHUNK_SIZE):
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        age = edc_rules.age_in_years(birth, infusion_date) if infusion_date else None
        yield (STUDY_ID, "DM", usubjid(site, number), subject_id, _dtc(start, tz, request), site,
               _dtc(birth, tz, request), age, "YEARS" if age is not None else None, sex)  # fmt: skip


def sdtm_ex_rows(request: ExportRequest) -> Iterator[tuple]:
    """Lymphodepletion (fludarabine, cyclophosphamide, mg) and the CAR-T infusion (CAR+ cells/kg)."""
    doses = (
        with_infusion_start(_scoped(LymphodepletionDose.objects.all(), request))
        .order_by("subject_id", "day", "id")
        .values_list(*_SUBJECT_COLUMNS, "date", "fludarabine_mg", "cyclophosphamide_mg")
    )
    infusions = (
        with_infusion_start(_scoped(Infusion.objects.all(), request))
        .order_by("subject_id", "id")
        .values_list(*_SUBJECT_COLUMNS, "infusion_start", "dose_car_cells_per_kg")
    )
    dose_rows = (
        (pk, site, number, tz, start, date, drug, mg, "mg")
        for pk, site, number, tz, start, date, fludarabine, cyclophosphamide in doses.iterator(chunk_size=CHUNK_SIZE)
        for drug, mg in (("FLUDARABINE", fludarabine), ("CYCLOPHOSPHAMIDE", cyclophosphamide))
    )
    infusion_rows = (
        (pk, site, number, tz, start, when, "META10-19", dose, "CAR+ cells/kg")
        for pk, site, number, tz, start, when, dose in infusions.iterator(chunk_size=CHUNK_SIZE)
    )
    seq, current = 0, None
    for pk, site, number, tz, start, when, treatment, dose, unit in heapq.merge(
        dose_rows, infusion_rows, key=lambda r: (r[0], r[6] == "META10-19")
    ):
        if pk != current:
            seq, current = 0, pk
        seq += 1
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        on = when.astimezone(ZoneInfo(tz)).date() if isinstance(when, dt.datetime) else when
        yield (STUDY_ID, "EX", usubjid(site, number), seq, treatment, _number(dose), unit, _dtc(when, tz, request),
               _dy(on, infusion_date))  # fmt: skip


def sdtm_ae_rows(request: ExportRequest) -> Iterator[tuple]:
    events = (
        with_infusion_start(_scoped(AdverseEvent.objects.all(), request))
        .order_by("subject_id", "onset_date", "id")
        .values_list(
            *_SUBJECT_COLUMNS,
            "term",
            "category",
            "serious",
            "relatedness",
            "astct_grade",
            "ctcae_grade",
            "onset_date",
            "resolution_date",
        )  # fmt: skip
    )
    seq, current = 0, None
    for pk, site, number, tz, start, term, category, serious, related, astct, ctcae, onset, end in events.iterator(
        chunk_size=CHUNK_SIZE
    ):
        if pk != current:
            seq, current = 0, pk
        seq += 1
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        yield (STUDY_ID, "AE", usubjid(site, number), seq, term, category, "Y" if serious else "N", related,
               astct if astct is not None else ctcae, _dtc(onset, tz, request), _dtc(end, tz, request),
               _dy(onset, infusion_date), _dy(end, infusion_date))  # fmt: skip


# --- The investigator's plots: one subject's profiles, the cohort's CAR transgene ---------------


@dataclass(frozen=True)
class SubjectProfile:
    usubjid: str
    series: dict[str, list[tuple[float, float]]]  # analyte → (actual day, value), post-infusion and baseline
    cd19: rules.CD19Summary


def subject_profile(subject: Subject) -> SubjectProfile:
    series: dict[str, list[tuple[float, float]]] = {a: [] for a in ("CARPCR", "CD19", "C3", "C4", "DSDNA")}
    request = ExportRequest(DATASETS["pkpd"], subjects=(subject.subject_id,), analytes=tuple(series))
    for row in pkpd_long(request):
        if row.actual_day and row.value:
            series[row.analyte].append((float(row.actual_day), float(row.value)))
    return SubjectProfile(usubjid(subject.site.code, subject.number), series, rules.cd19_pd(series["CD19"]))


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
