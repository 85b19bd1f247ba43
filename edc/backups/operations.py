"""Back up, restore and drill: the use cases behind `manage.py backup`, `manage.py restore` and the beat tasks.

Each takes the Django settings of the database (`connection.settings_dict`), logs what it did on the
`edc.backups` logger (file, size, tables, time; never a password), and raises `BackupError` with a sentence
saying what went wrong.
"""

import datetime as dt
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path

from django.utils import timezone

from edc.backups import archive, postgres, sqlite
from edc.backups.errors import BackupError
from edc.backups.fingerprint import differences

logger = logging.getLogger("edc.backups")
ENGINES = {engine.NAME: engine for engine in (postgres, sqlite)}
MANIFEST_FORMAT = 1


def engine_of(settings_dict: dict):
    vendor = settings_dict["ENGINE"].rsplit(".", 1)[-1]  # django.db.backends.postgresql, ….sqlite3
    engine = ENGINES.get(vendor.removesuffix("3"))
    if engine is None:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {settings_dict['ENGINE']}")
    return engine


def backup(settings_dict: dict, folder: Path, keep: int) -> dict:
    """Dump the database into `folder`, write its manifest, keep the newest `keep` backups → the manifest."""
    engine = engine_of(settings_dict)
    started = time.monotonic()
    dump_path = archive.new_dump_path(folder, engine.SUFFIX, timezone.now())
    partial = archive.create_private(archive.partial_path(dump_path))
    try:
        with logged_failure(f"backup into {folder}"):
            contents = engine.dump(settings_dict, partial)
        os.replace(partial, dump_path)
    finally:
        partial.unlink(missing_ok=True)  # a failed dump leaves nothing that looks like a backup
    manifest = {
        "format": MANIFEST_FORMAT,
        "engine": engine.NAME,
        "database": Path(settings_dict["NAME"]).name,
        "created_at": timezone.now().astimezone(dt.UTC).isoformat(),
        "dump": dump_path.name,
        "dump_bytes": dump_path.stat().st_size,
        "dump_sha256": archive.file_sha256(dump_path),
        "fingerprint": contents,
    }
    archive.write_manifest(dump_path, manifest)
    removed = archive.prune(folder, keep)
    logger.info(
        "backup %s written: %d bytes, %d tables, %d rows, %.1f s; %d older backup(s) removed (keeping %d)",
        dump_path, manifest["dump_bytes"], len(contents["row_counts"]), sum(contents["row_counts"].values()),
        time.monotonic() - started, len(removed), keep,
    )  # fmt: skip
    return manifest


def restore(dump_path: Path, settings_dict: dict, target: str) -> dict:
    """Restore a backup into the new database `target` (never over an existing one) and check it holds what the
    manifest says, row for row → the manifest. A restore that does not match is removed again."""
    engine = engine_of(settings_dict)
    started = time.monotonic()
    with logged_failure(f"restore of {dump_path} into {target}"):
        manifest = checked_manifest(dump_path, engine)
        restored = engine.load(dump_path, settings_dict, target)
    mismatches = differences(manifest["fingerprint"], restored)
    if mismatches:
        engine.remove(settings_dict, target)
        logger.error("restore of %s into %s does not match its backup: %s", dump_path, target, "; ".join(mismatches))
        described = engine.describe(target)
        raise BackupError(f"the restored {described} differs from the backup (removed): " + "; ".join(mismatches))
    logger.info(
        "backup %s restored into %s: %d tables, row counts and checksums identical, %.1f s",
        dump_path, engine.describe(target), len(restored["row_counts"]), time.monotonic() - started,
    )  # fmt: skip
    return manifest


def drill(dump_path: Path, settings_dict: dict, scratch: str) -> dict:
    """The restore drill: restore into a scratch database, compare, remove it → the manifest."""
    engine = engine_of(settings_dict)
    try:
        return restore(dump_path, settings_dict, scratch)
    finally:
        engine.remove(settings_dict, scratch)


@contextmanager
def logged_failure(what: str):
    """A refusal or a failing client program is one error line on `edc.backups`, then the caller's error."""
    try:
        yield
    except BackupError as error:
        logger.error("%s failed: %s", what, error)
        raise


def default_scratch(settings_dict: dict, dump_path: Path) -> str:
    return engine_of(settings_dict).default_scratch(settings_dict, dump_path)


def latest_backup(folder: Path) -> Path:
    backups = archive.complete_backups(folder)
    if not backups:
        raise BackupError(f"no complete backup in {folder}")
    return backups[-1]


def checked_manifest(dump_path: Path, engine) -> dict:
    """The manifest of a whole, untouched dump of this engine; anything else is refused before a database is made."""
    manifest = archive.read_manifest(dump_path) if dump_path.is_file() else None
    if manifest is None:
        manifest_name = archive.manifest_path(dump_path).name
        raise BackupError(f"{dump_path} is not a complete backup: the dump or its manifest {manifest_name} is missing")
    if manifest["engine"] != engine.NAME:
        raise BackupError(f"{dump_path} is a {manifest['engine']} backup; this database is not")
    if archive.file_sha256(dump_path) != manifest["dump_sha256"]:
        raise BackupError(f"{dump_path} does not match the SHA-256 of its manifest: cut short or altered")
    return manifest
