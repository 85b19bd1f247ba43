"""`manage.py backup [--verify] [--scratch NAME]`: a dump of the database into EDC_BACKUP_DIR with its manifest,
keeping the newest EDC_BACKUP_KEEP; with --verify, the restore drill on the new dump."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from edc import backups


class Command(BaseCommand):
    help = (
        "Back up the database (PostgreSQL: pg_dump custom format; SQLite: its backup API) into EDC_BACKUP_DIR, "
        "with a manifest of every table's row count and row checksums; keep the newest EDC_BACKUP_KEEP."
    )
    requires_system_checks = []  # an operations command: runs whatever state the project is in

    def add_arguments(self, parser):
        parser.add_argument("--dir", dest="folder", type=Path, default=None, help="folder (default: EDC_BACKUP_DIR)")
        parser.add_argument(
            "--verify", action="store_true",
            help="then restore the new dump into a scratch database, compare it row for row, and remove it",
        )  # fmt: skip
        parser.add_argument(
            "--scratch", default=None,
            help="the drill's scratch database (PostgreSQL, created and dropped; default <database>_drill) or file",
        )  # fmt: skip

    def handle(self, *args, folder, verify, scratch, **options):
        folder = folder or settings.EDC_BACKUP_DIR
        settings_dict = connection.settings_dict
        try:
            manifest = backups.backup(settings_dict, folder, settings.EDC_BACKUP_KEEP)
            dump_path = folder / manifest["dump"]
            self.stdout.write(f"Backup written: {dump_path} ({manifest['dump_bytes']} bytes)")
            if verify:
                backups.drill(dump_path, settings_dict, scratch or backups.default_scratch(settings_dict, dump_path))
                tables = len(manifest["fingerprint"]["row_counts"])
                self.stdout.write(f"Restore drill passed: {tables} tables, row counts and checksums identical.")
        except backups.BackupError as error:
            raise CommandError(str(error)) from error
