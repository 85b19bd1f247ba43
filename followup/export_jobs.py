"""Exports as jobs: requested (`request_job`), written to a file by a Celery worker (`run_job`), downloaded with a
checksum (`open_file`).

The file goes to the `exports` storage (settings.STORAGES: a folder under EDC_VAR_DIR, or an S3-compatible bucket
through django-storages when EDC_EXPORTS_S3_BUCKET is set; only the storage API's save and open are used, no
local path). It is written to a local temporary file first, hashed as it is written, and saved (uploaded) once
complete, so a job's file is never a partial one and its SHA-256 is that of the bytes stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
from contextlib import closing, contextmanager
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from rest_framework.exceptions import ValidationError

from followup import exports
from followup.models import ExportJob

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 10_000  # rows between two updates of a running job's row count
JOB_PARAMETERS = ("shape", "subject", "analyte", "from_day", "to_day")  # the `filters` a job takes, besides format
# XPT is written whole (pyreadstat), by the dataset route or the submission package: a job streams the others.
JOB_FORMATS = ("csv", "json", "parquet")


def job_format_error(export_format: str) -> str | None:
    """Why an export format cannot be a job (None: it can, or it is no format at all, which the export routes'
    parameters refuse in their own words)."""
    if export_format in exports.FORMATS and export_format not in JOB_FORMATS:
        return f"a job writes {', '.join(JOB_FORMATS)}; {export_format} comes from the dataset route or the package"
    return None


class StorageUnavailable(Exception):
    """The exports storage did not answer or refused a file (a bucket unreachable, credentials refused)."""


class _WrittenFile(File):
    """A finished local file: the file-system storage moves it into place instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def storage():
    return storages["exports"]


def export_params(export_format: str, filters: dict) -> dict:
    """The export routes' parameters of a job (what ExportParamsSerializer reads)."""
    return {"format": export_format, **filters}


def request_job(export_request: exports.ExportRequest) -> ExportJob:
    """Record the job of a checked request and queue it once the job's row is committed. Its parameters are the
    request's own, as the export log records them (only the filters its dataset takes), read back by the worker."""
    job = ExportJob.objects.create(
        user=export_request.user, requested_at=timezone.now(), dataset=export_request.dataset.name,
        format=export_request.format, params=export_params(export_request.format, export_request.filters()),
    )  # fmt: skip
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from followup.tasks import run_export_job  # tasks import this module

    try:
        run_export_job.apply_async((job_id,), retry=False)
    except (KombuError, OSError) as error:
        logger.warning("export job %s not queued (%s)", job_id, error)
        _fail(job_id, "the job queue is not reachable; request the export again later")


def run_job(job_id: int) -> ExportJob:
    """Write the job's file; a job already complete (a message delivered twice) is left as it is."""
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    if job.status == ExportJob.Status.COMPLETE:
        return job
    ExportJob.objects.filter(pk=job_id).update(status=ExportJob.Status.RUNNING, started_at=timezone.now(),
                                               rows_written=0, error="")  # fmt: skip
    try:
        export_request = _checked_request(job)
    except (PermissionDenied, exports.ExportNotFound, ValidationError) as refused:
        # The user's role or sites changed since the request: the worker answers as the route would now.
        _fail(job_id, _refusal_text(refused))
        return ExportJob.objects.get(pk=job_id)
    partial = _partial_path(job)
    try:
        _write(job, export_request, partial)
    except StorageUnavailable:
        partial.unlink(missing_ok=True)
        _fail(job_id, "every row was written but the exports storage refused the file; request the export again")
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        _fail(job_id, "the export failed on the server; the export log has the rows written before")
        raise
    return ExportJob.objects.get(pk=job_id)


def _checked_request(job: ExportJob) -> exports.ExportRequest:
    from followup.api import ExportParamsSerializer  # the API's parameters; the API imports this module

    params = ExportParamsSerializer(data=job.params, context={"dataset": exports.dataset_named(job.dataset)})
    params.is_valid(raise_exception=True)
    return params.export_request(job.user)


def _refusal_text(refused: Exception) -> str:
    if isinstance(refused, ValidationError):
        return "; ".join(f"{name}: {' '.join(map(str, texts))}" for name, texts in refused.detail.items())
    return str(refused)


def _partial_path(job: ExportJob) -> Path:
    folder = Path(settings.VAR_DIR) / "exports" / "partial"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"job-{job.pk}.part"


def file_name(job: ExportJob) -> str:
    """The download's name: the dataset and the job, e.g. `sdtm-lb-job-12.csv`."""
    return f"{job.dataset.replace('/', '-')}-job-{job.pk}.{job.format}"


def _write(job: ExportJob, export_request: exports.ExportRequest, partial: Path) -> None:
    export = exports.start_export(export_request, channel="job")
    ExportJob.objects.filter(pk=job.pk).update(log=export.log)
    digest, size = hashlib.sha256(), 0
    # Closed on an error too: the rows read inside a transaction of their own, which must end (rolled back, the log
    # marked INCOMPLETE) before the job is marked failed, or that mark would be rolled back with it.
    with closing(export.rows), partial.open("wb") as output:
        for chunk in exports.write(export_request.format, export_request.columns, _progress(job.pk, export.rows)):
            output.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        output.flush()
        os.fsync(output.fileno())
    export.log.refresh_from_db()
    with partial.open("rb") as written:
        name = _save(file_name(job), _WrittenFile(written))
    partial.unlink(missing_ok=True)  # moved into place by a local storage, copied by others
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.COMPLETE, finished_at=timezone.now(), rows_written=export.log.row_count,
        size=size, sha256=digest.hexdigest(), file_name=name,
    )  # fmt: skip


def _save(name: str, written: File) -> str:
    """Save the complete file (an upload, on S3); a storage that refuses it is a StorageUnavailable."""
    try:
        return storage().save(name, written)
    except (OSError, BotoCoreError, ClientError) as error:
        raise StorageUnavailable(str(error)) from error


def _progress(job_id: int, rows):
    with _progress_reporter(job_id) as report:
        for count, row in enumerate(rows, 1):
            yield row
            if count % PROGRESS_EVERY == 0:
                report(count)


@contextmanager
def _progress_reporter(job_id: int):
    """`report(rows)`: the running job's row count, visible to the status route while the export reads.

    On PostgreSQL the export reads inside a transaction of its own (`exports.start_export`), so the count is
    written through a second connection, committed at once. On SQLite the export reads outside a transaction:
    the count is written on its connection, committed at once too.
    """
    if connection.vendor != "postgresql":
        yield lambda count: ExportJob.objects.filter(pk=job_id).update(rows_written=count)
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    update = f"UPDATE {ExportJob._meta.db_table} SET rows_written = %s WHERE id = %s"  # noqa: S608 (our table name)

    def report(count: int) -> None:
        with side.cursor() as cursor:
            cursor.execute(update, [count, job_id])

    try:
        yield report
    finally:
        side.close()


def _fail(job_id: int, reason: str) -> None:
    ExportJob.objects.filter(pk=job_id).update(status=ExportJob.Status.FAILED, finished_at=timezone.now(),
                                               error=reason)  # fmt: skip


def open_file(job: ExportJob):
    """The complete job's file, opened for reading and its first bytes fetched, so that a storage which does not
    answer is a StorageUnavailable here rather than an error once the response has started. An S3 object is read
    into a spooled temporary file (django-storages' S3File) and streamed from there."""
    try:
        opened = storage().open(job.file_name, "rb")
        opened.read(0)
    except (OSError, BotoCoreError, ClientError) as error:
        logger.warning("export job %s: its file could not be read from the exports storage (%s)", job.pk, error)
        raise StorageUnavailable(str(error)) from error
    return opened
