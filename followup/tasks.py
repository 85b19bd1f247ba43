"""Milestone jobs: thin, idempotent, late-acknowledged, retried with backoff."""

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import KombuError

from followup import export_jobs, services

logger = logging.getLogger(__name__)
RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


def _summary(result: services.ScanResult) -> dict:
    return {
        "subjects": result.subjects,
        "raised": len(result.raised),
        "updated": result.updated,
        "revoked": result.revoked,
    }


def _day(today: str | None) -> dt.date:
    return dt.date.fromisoformat(today) if today else timezone.localdate()


@shared_task(**RETRY)
def scan_milestones(today: str | None = None) -> dict:
    """Daily scan of every treated subject (beat, 02:00 site time)."""
    return _summary(services.scan_milestones(_day(today)))


@shared_task(**RETRY)
def recompute_subject_milestones(subject_ids: list[int], today: str | None = None) -> dict:
    """The scan for the subjects whose qPCR results, visits or infusion just changed."""
    return _summary(services.scan_milestones(_day(today), subject_ids=subject_ids))


def enqueue_recompute(subject_ids: list[int]) -> None:
    """Queue the recompute; with the broker down, data entry still succeeds and the daily scan
    catches the subjects up."""
    try:
        recompute_subject_milestones.apply_async((subject_ids,), retry=False)
    except (KombuError, OSError) as error:
        logger.warning("recompute of subjects %s not queued (%s); the daily scan catches up", subject_ids, error)


@shared_task(**RETRY)
def run_export_job(job_id: int) -> dict:
    """Write an export job's file (`followup.export_jobs`); run twice, the complete file is kept."""
    job = export_jobs.run_job(job_id)
    return {"job": job.pk, "status": job.status, "rows": job.rows_written}
