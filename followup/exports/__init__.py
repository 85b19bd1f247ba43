"""PK/PD exports (DOMAIN.md §8): which rows, in which order, assembled in constant memory.

    params      the request: dataset, format, filters, the user's role and sites (ExportRequest)
    datasets    the datasets and their columns (DATASETS)
    sources     the source querysets: subjects, lab results, SELENA-SLEDAI totals, actual days
    copy_reader PostgreSQL COPY, and the spool that keeps a second reader off its connection
    pkpd        pkpd (long, wide), PK parameters, the investigator's plot profiles
    sdtm        the SDTM domains
    sdtm_outcomes  the SDTM RS (response states) and QS (SELENA-SLEDAI) domains of the lupus outcomes
    safety      the CAR-T safety summary per treated subject (DOMAIN.md §9; computed by `followup.services`)
    outcomes    the lupus outcomes per assessment and per treated subject (DOMAIN.md §10; `followup.services`)
    text        rows as CSV text, the one form every dataset leaves in
    writers     CSV, JSON and Parquet, chunk by chunk
    xpt         SAS transport v5 of the SDTM datasets (ASCII, 200-byte values), written whole to a file
    sdtm_metadata  the SDTM labels, classes, keys, origins and code lists (XPT and define.xml)
    define      define.xml 2.1 of a package's XPT files
    submission  the submission package: every XPT, define.xml, README.txt (the `export_submission` command)

`followup.api` and the `export_pkpd` command are the two doors: both parse parameters with
`followup.api.ExportParamsSerializer`, build the request with `export_request` and stream `start_export`'s rows
through `write`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from followup.exports import outcomes, pkpd, safety, sdtm, sdtm_metadata, sdtm_outcomes
from followup.exports.datasets import DATASETS
from followup.exports.params import (
    EXPORT_ROLES,
    FORMATS,
    SHAPES,
    ExportNotFound,
    ExportRequest,
    dataset_named,
    export_request,
    filter_errors,
    format_error,
    shape_error,
)
from followup.exports.pkpd import SubjectProfile, cohort_car_profiles, profile_fingerprint, subject_profile
from followup.exports.text import as_text
from followup.exports.writers import CONTENT_TYPES, write
from followup.exports.xpt import ValueTooLong, XptFile, variables_of, write_xpt
from followup.models import ExportLog

__all__ = [
    "CONTENT_TYPES", "DATASETS", "EXPORT_ROLES", "FORMATS", "SHAPES", "ExportNotFound", "ExportRequest",
    "SubjectProfile", "cohort_car_profiles", "dataset_named", "export_request", "filter_errors", "format_error",
    "ValueTooLong", "domain_of", "mark_unfinished_incomplete", "profile_fingerprint", "rows_of", "shape_error",
    "start_export", "subject_profile", "write", "write_dataset_xpt",
]  # fmt: skip
domain_of = sdtm_metadata.domain_of


@dataclass
class Export:
    request: ExportRequest
    log: ExportLog
    rows: Iterator[tuple]


def start_export(request: ExportRequest, *, channel: str = "api") -> Export:
    """Log the export (STARTED) and return its rows; the log says COMPLETE once the last row is produced,
    INCOMPLETE if the rows stop before."""
    log = ExportLog.objects.create(
        user=request.user, started_at=timezone.now(), dataset=request.dataset.name, format=request.format,
        filters=request.filters(), pseudonymised=request.pseudonymised, channel=channel,
    )  # fmt: skip
    return Export(request, log, _counted(rows_of(request), log))


# The logs of the exports this process is producing: a server worker that stops before they end marks them
# INCOMPLETE (config/gunicorn.conf.py's worker_abort and worker_exit hooks).
_unfinished: dict[int, int] = {}  # log pk → rows so far (each thread writes its own key)


def mark_unfinished_incomplete() -> int:
    """Mark every export still running in this process INCOMPLETE, with its rows so far; how many were."""
    running = dict(_unfinished)  # a copy: the streams' threads go on meanwhile
    for pk, count in running.items():
        _finish(pk, ExportLog.Status.INCOMPLETE, count)
    return len(running)


def _finish(pk: int, status: str, count: int) -> None:
    # A COPY cut short mid-stream can leave PostgreSQL's connection closed: the log is written on a new one (not
    # inside a transaction, where the check would close a healthy connection too).
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    ExportLog.objects.filter(pk=pk, status=ExportLog.Status.STARTED).update(
        status=status, row_count=count, finished_at=timezone.now()
    )


@contextmanager
def _read_transaction():
    """PostgreSQL: one read transaction, without JIT. Outside one, PostgreSQL materialises a server-side cursor
    WITH HOLD in full before its first row (seconds at trial scale); JIT compilation only delays the first row of
    these plain scans. SQLite (no server-side cursors) reads without one: its transactions take the file's write
    lock (transaction_mode IMMEDIATE), which would hold every writer back for the whole export, the log's own
    INCOMPLETE mark by a stopping server worker too; in WAL mode the reading statement blocks none of them."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def _counted(rows: Generator[tuple], log: ExportLog) -> Iterator[tuple]:
    count = 0
    _unfinished[log.pk] = 0
    try:
        # A client that leaves mid-export closes this generator: the rows' own (a COPY still sending, say) are
        # closed inside the transaction, before it is rolled back.
        with _read_transaction(), closing(rows):
            for count, row in enumerate(rows, 1):  # noqa: B007 (the count is read after the loop)
                yield row
                _unfinished[log.pk] = count
    except BaseException:
        # Closed early (GeneratorExit), or an error: the rows sent so far, and the log says they are not all.
        _unfinished.pop(log.pk, None)
        _finish(log.pk, ExportLog.Status.INCOMPLETE, count)
        raise
    _unfinished.pop(log.pk, None)
    _finish(log.pk, ExportLog.Status.COMPLETE, count)


def rows_of(request: ExportRequest) -> Generator[tuple]:
    """The request's rows, as text (in the order of `request.columns`)."""
    builders = {
        "pkpd": pkpd.pkpd_wide_rows if request.shape == "wide" else pkpd.pkpd_rows,
        "pk-parameters": pkpd.pk_parameter_rows,
        "sdtm/dm": sdtm.sdtm_dm_rows,
        "sdtm/ex": sdtm.sdtm_ex_rows,
        "sdtm/lb": sdtm.sdtm_lb_rows,
        "sdtm/pc": sdtm.sdtm_pc_rows,
        "sdtm/pp": sdtm.sdtm_pp_rows,
        "sdtm/ae": sdtm.sdtm_ae_rows,
        "sdtm/dv": sdtm.sdtm_dv_rows,
        "sdtm/suppae": sdtm.sdtm_suppae_rows,
        "sdtm/cm": sdtm.sdtm_cm_rows,
        "sdtm/suppcm": sdtm.sdtm_suppcm_rows,
        "safety": safety.safety_rows,
        "sdtm/rs": sdtm_outcomes.sdtm_rs_rows,
        "sdtm/qs": sdtm_outcomes.sdtm_qs_rows,
        "outcomes": outcomes.outcome_rows,
        "outcome-summary": outcomes.outcome_summary_rows,
    }
    rows = builders[request.dataset.name](request)
    return rows if request.dataset.name == "pkpd" else as_text(rows)  # pkpd rows are built as text


def write_dataset_xpt(request: ExportRequest, rows, path) -> XptFile:
    """One SDTM dataset's rows to `path` as XPT v5; a value over 200 bytes raises ValueTooLong (only the
    submission package splits values, into the SUPP-- file it writes too)."""
    domain = sdtm_metadata.domain_of(request.dataset)
    variables = variables_of(domain, request.columns, sdtm_metadata.variable_label)
    return write_xpt(domain, sdtm_metadata.dataset_label(domain), variables, rows, path, split=False)
