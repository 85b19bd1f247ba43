"""Kernel jobs."""

from celery import shared_task
from django.conf import settings
from django.db import connection

from edc import backups


@shared_task(acks_late=True)
def health_check() -> dict:
    """Proves a worker is consuming and can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        database_ok = cursor.fetchone()[0] == 1
    return {"worker": "ok", "database": "ok" if database_ok else "error"}


@shared_task(acks_late=False)
def backup_database() -> dict:
    """The nightly backup (beat: 01:30 site time). Not acknowledged late: a worker lost mid-dump must not run a
    second one on redelivery; the next night's run comes anyway, and the failure is in the log."""
    manifest = backups.backup(connection.settings_dict, settings.EDC_BACKUP_DIR, settings.EDC_BACKUP_KEEP)
    return {"dump": manifest["dump"], "bytes": manifest["dump_bytes"]}


@shared_task(acks_late=False)
def drill_latest_backup() -> dict:
    """The weekly restore drill: the newest backup restored into a scratch database and compared row for row."""
    dump_path = backups.latest_backup(settings.EDC_BACKUP_DIR)
    scratch = backups.default_scratch(connection.settings_dict, dump_path)
    manifest = backups.drill(dump_path, connection.settings_dict, scratch)
    return {"dump": manifest["dump"], "tables": len(manifest["fingerprint"]["row_counts"])}
