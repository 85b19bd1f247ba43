"""Backups that restore: `manage.py backup` / `restore`, the nightly beat task and the restore drill.

- `operations`: `backup`, `restore`, `drill` (the use cases, logged on `edc.backups`).
- `archive`: the backup folder (names, manifests, private files, retention).
- `fingerprint`: row counts and row checksums of a database, and their `differences`.
- `postgres`, `sqlite`: the two engines (pg_dump/pg_restore; SQLite's backup API).
"""

from edc.backups.errors import BackupError
from edc.backups.fingerprint import differences, fingerprint, open_database
from edc.backups.operations import backup, default_scratch, drill, latest_backup, restore

__all__ = [
    "BackupError",
    "backup",
    "default_scratch",
    "differences",
    "drill",
    "fingerprint",
    "latest_backup",
    "open_database",
    "restore",
]
