"""SQLite, the embedded default: SQLite's online backup API copies a consistent image of the file while the
web, worker and beat keep using it; a restore copies the image into a new file the same way."""

import sqlite3
from contextlib import closing
from pathlib import Path

from edc.backups.errors import BackupError
from edc.backups.fingerprint import fingerprint, open_database

NAME = "sqlite"
SUFFIX = ".sqlite3"


def dump(settings_dict: dict, out: Path) -> dict:
    """Copy the database into `out` (an empty file already created) → the fingerprint of the copy."""
    with open_database(settings_dict) as source, closing(sqlite3.connect(out)) as copy:
        source.ensure_connection()
        source.connection.backup(copy)
    return _fingerprint_of(settings_dict, out)


def load(dump_file: Path, settings_dict: dict, target: str) -> dict:
    """Copy the dump into the new file `target` (refused if it exists) → its fingerprint."""
    try:
        Path(target).touch(mode=0o600, exist_ok=False)
    except FileExistsError:
        raise BackupError(f"{target} exists: a restore never overwrites a database; name a new file") from None
    try:
        with closing(sqlite3.connect(dump_file)) as image, closing(sqlite3.connect(target)) as restored:
            image.backup(restored)
        return _fingerprint_of(settings_dict, Path(target))
    except Exception:
        remove(settings_dict, target)  # created above
        raise


def remove(settings_dict: dict, target: str) -> None:
    Path(target).unlink(missing_ok=True)


def target_settings(settings_dict: dict, target: str) -> dict:
    return {**settings_dict, "NAME": str(target)}


def default_target(settings_dict: dict) -> str:
    return str(settings_dict["NAME"])


def default_scratch(settings_dict: dict, dump_path: Path) -> str:
    """The drill's file, beside the dump."""
    return f"{dump_path}.drill"


def describe(target: str) -> str:
    return f"file {target}"


def _fingerprint_of(settings_dict: dict, path: Path) -> dict:
    with open_database(target_settings(settings_dict, path)) as connection:
        return fingerprint(connection)
