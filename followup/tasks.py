"""Milestone jobs: thin, idempotent, late-acknowledged, retried with backoff."""

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import KombuError

from followup import services

logger = logging.getLogger(__name__)
RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


def _summary(result: services.ScanResult) -> dict:
    return {"subjects": result.subjects, "raised": len(result.raised), "updated": result.updated,
            "revoked": result.revoked}  # fmt: skip


@shared_task(**RETRY)
def scan_milestones(today: str | None = None) -> dict:
    """Daily scan of every treated subject (beat, 02:00 site time)."""
    day = dt.date.fromisoformat(today) if today else timezone.localdate()
    return _summary(services.scan_milestones(day))


@shared_task(**RETRY)
def recompute_subject_milestones(subject_id: int, today: str | None = None) -> dict:
    day = dt.date.fromisoformat(today) if today else timezone.localdate()
    return _summary(services.scan_milestones(day, subject_ids=[subject_id]))


def enqueue_recompute(subject_id: int) -> None:
    """Queue one subject's recompute; with the broker down, data entry still succeeds and the
    daily scan catches the subject up."""
    try:
        recompute_subject_milestones.apply_async((subject_id,), retry=False)
    except (KombuError, OSError) as error:
        logger.warning(
            "milestone recompute of subject %s not queued (%s); the daily scan will catch up", subject_id, error
        )
