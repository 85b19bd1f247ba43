"""The backup folder: a dump and its manifest side by side, written so that a dump cut short is never taken for a
whole one, readable by its owner only, and pruned to the newest `EDC_BACKUP_KEEP`.

`edc-20260315T013000.123456Z.dump` (or `.sqlite3`) is written as `….partial` and renamed when complete; the
manifest `edc-20260315T013000.123456Z.json` is written last and names the dump's SHA-256. A dump without its
manifest is not a backup: retention ignores it and a restore refuses it.
"""

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

PREFIX = "edc-"
MANIFEST_SUFFIX = ".json"
PRIVATE_FILE = 0o600  # the dump holds every row of the trial, password hashes and tokens included
PRIVATE_FOLDER = 0o700


def new_dump_path(folder: Path, suffix: str, now: dt.datetime) -> Path:
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    return folder / f"{PREFIX}{now.astimezone(dt.UTC):%Y%m%dT%H%M%S.%fZ}{suffix}"


def partial_path(dump_path: Path) -> Path:
    return dump_path.with_name(dump_path.name + ".partial")


def create_private(path: Path) -> Path:
    """An empty file only its owner may read, created here (never an existing one reused)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return path


def manifest_path(dump_path: Path) -> Path:
    return dump_path.with_suffix(MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(dump_path: Path, manifest: dict) -> Path:
    """Written whole or not at all (a temporary file renamed), after the dump it describes."""
    path = manifest_path(dump_path)
    temporary = create_private(partial_path(path))
    temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(temporary, path)
    return path


def read_manifest(dump_path: Path) -> dict | None:
    path = manifest_path(dump_path)
    return json.loads(path.read_text()) if path.is_file() else None


def complete_backups(folder: Path) -> list[Path]:
    """The dumps with their manifest, oldest first (the names sort by time)."""
    manifests = sorted(folder.glob(f"{PREFIX}*{MANIFEST_SUFFIX}")) if folder.is_dir() else []
    return [folder / Path(json.loads(path.read_text())["dump"]).name for path in manifests]  # never outside it


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` complete backups → the dumps removed. Runs only after a backup succeeded,
    so a run of failed nights never removes the last good dumps."""
    removed = complete_backups(folder)[:-keep]
    for dump_path in removed:
        dump_path.unlink(missing_ok=True)
        manifest_path(dump_path).unlink()
    return removed
