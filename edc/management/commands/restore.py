"""`manage.py restore DUMP [--into NAME] [--drill]`: a backup restored into a new database and checked against its
manifest; never over an existing database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from edc import backups


class Command(BaseCommand):
    help = (
        "Restore a backup of `manage.py backup` into a new database (PostgreSQL, created here) or file (SQLite), "
        "then check every table's row count and row checksums against its manifest. An existing database is "
        "never overwritten."
    )
    requires_system_checks = []  # the configured database may be the one being restored (not there yet)

    def add_arguments(self, parser):
        parser.add_argument("dump", type=Path, help="the .dump (PostgreSQL) or .sqlite3 file, its .json beside it")
        parser.add_argument(
            "--into", default=None,
            help="the new database (PostgreSQL, same server and credentials) or file; default: the configured one",
        )  # fmt: skip
        parser.add_argument(
            "--drill", action="store_true",
            help="restore into a scratch database (--into, default <database>_drill), compare, then remove it",
        )  # fmt: skip

    def handle(self, *args, dump, into, drill, **options):
        settings_dict = connection.settings_dict
        try:
            if drill:
                backups.drill(dump, settings_dict, into or backups.default_scratch(settings_dict, dump))
                self.stdout.write(f"Restore drill passed: {dump} restores with identical row counts and checksums.")
                return
            target = into or settings_dict["NAME"]
            backups.restore(dump, settings_dict, target)
            self.stdout.write(f"Restored {dump} into {target}: row counts and checksums identical to the backup.")
        except backups.BackupError as error:
            raise CommandError(str(error)) from error
