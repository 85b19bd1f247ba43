"""`manage.py backup` / `restore`: the dump, its manifest, retention, restores that never overwrite, refusals of a
dump cut short, the drill, the beat tasks. On the default database of the run (SQLite by default, PostgreSQL under
`make test-services`); the PostgreSQL dump-drop-restore drill is in test_backup_postgres.py."""

import json
import logging
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from config.settings import env_count
from edc import backups, roles
from edc.backups import operations
from edc.models import LabResult
from edc.tasks import backup_database, drill_latest_backup
from tests import factories
from tests.casebook import treated_casebook


@pytest.fixture
def casebook(transactional_db):
    """A treated subject's casebook, committed: the backup reads the database from a connection of its own."""
    for role in roles.ALL_ROLES:  # an earlier transactional test's flush removed the migration's groups
        Group.objects.get_or_create(name=role)
    site = factories.SiteFactory(code="01")
    staff = factories.UserFactory(username="staff")
    staff.groups.add(Group.objects.get(name=roles.SITE_STAFF))
    site.users.add(staff)
    return treated_casebook(factories.make_subject(site, staff), staff)


@pytest.fixture
def scratch(tmp_path):
    """Names of new databases (PostgreSQL: `backups_…` on the test server) or files (SQLite), removed after."""
    made = []

    def name(label: str) -> str:
        made.append(f"backups_{label}" if connection.vendor == "postgresql" else str(tmp_path / f"{label}.sqlite3"))
        return made[-1]

    yield name
    for target in made:
        operations.engine_of(connection.settings_dict).remove(connection.settings_dict, target)


def live_fingerprint() -> dict:
    with backups.open_database(connection.settings_dict) as live:
        return backups.fingerprint(live)


def target_fingerprint(target: str) -> dict:
    engine = operations.engine_of(connection.settings_dict)
    with backups.open_database(engine.target_settings(connection.settings_dict, target)) as restored:
        return backups.fingerprint(restored)


def target_exists(target: str) -> bool:
    if connection.vendor == "sqlite":
        return Path(target).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target])
        return cursor.fetchone() is not None


def take_backup(folder) -> tuple:
    call_command("backup", folder=folder)
    [manifest_file] = folder.glob("*.json")
    return folder / json.loads(manifest_file.read_text())["dump"], json.loads(manifest_file.read_text())


def test_backup_writes_a_private_dump_and_a_manifest_of_what_it_holds(casebook, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="edc.backups")
    folder = tmp_path / "backups"
    dump, manifest = take_backup(folder)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()} == {0o600}
    assert manifest["dump_sha256"] == backups.operations.archive.file_sha256(dump)
    assert manifest["fingerprint"] == live_fingerprint()
    # Every table counted; every clinical and history table of the four apps checksummed, and only those.
    counts, checksums = manifest["fingerprint"]["row_counts"], manifest["fingerprint"]["checksums"]
    assert counts["auth_user"] >= 1 and counts["django_migrations"] > 0
    assert counts["followup_historicaladverseevent"] >= 1 and counts["edc_labresult"] >= 1
    assert {"edc_historicalsubject", "infusion_historicalinfusion", "screening_consent"} <= set(checksums)
    assert not {table for table in checksums if table.startswith(("auth_", "django_"))}
    # The database only: no setting travels with it.
    assert settings.SECRET_KEY.encode() not in dump.read_bytes() + json.dumps(manifest).encode()
    assert f"backup {dump} written" in caplog.text


def test_restore_into_a_new_database_is_identical_row_for_row(casebook, tmp_path, scratch, capsys):
    dump, manifest = take_backup(tmp_path)
    target = scratch("restored")

    call_command("restore", str(dump), into=target)

    assert "row counts and checksums identical" in capsys.readouterr().out
    assert target_fingerprint(target) == manifest["fingerprint"] == live_fingerprint()


def test_restore_never_overwrites_a_database(casebook, tmp_path, scratch):
    dump, manifest = take_backup(tmp_path)
    target = scratch("existing")
    call_command("restore", str(dump), into=target)

    with pytest.raises(CommandError, match="never overwrites"):
        call_command("restore", str(dump), into=target)
    assert target_fingerprint(target) == manifest["fingerprint"]  # still there, untouched


def test_restore_with_no_target_names_the_configured_database_and_refuses_it(casebook, tmp_path):
    if connection.vendor == "sqlite":
        pytest.skip("the test database is in memory: there is no file to refuse")
    dump, _ = take_backup(tmp_path)
    with pytest.raises(CommandError, match="never overwrites"):
        call_command("restore", str(dump))
    assert live_fingerprint()["row_counts"]["edc_subject"] == 1


def test_a_dump_cut_short_or_without_its_manifest_is_refused_before_anything_is_made(
    casebook, tmp_path, scratch, caplog
):
    caplog.set_level(logging.ERROR, logger="edc.backups")
    dump, _ = take_backup(tmp_path)
    target = scratch("never_made")
    whole = dump.read_bytes()
    dump.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CommandError, match="SHA-256 of its manifest: cut short or altered"):
        call_command("restore", str(dump), into=target)
    assert f"restore of {dump} into {target} failed: {dump} does not match the SHA-256" in caplog.text

    dump.write_bytes(whole)
    dump.with_suffix(".json").unlink()
    with pytest.raises(CommandError, match="not a complete backup"):
        call_command("restore", str(dump), into=target)
    with pytest.raises(CommandError, match="not a complete backup"):
        call_command("restore", str(tmp_path / "no-such.dump"), into=target)
    assert not target_exists(target)


def test_the_drill_names_what_differs_and_removes_its_scratch_database(casebook, tmp_path, scratch):
    dump, manifest = take_backup(tmp_path)
    manifest["fingerprint"]["checksums"]["edc_labresult"] = "0" * 64
    manifest["fingerprint"]["row_counts"]["edc_visit"] += 1
    dump.with_suffix(".json").write_text(json.dumps(manifest))
    target = scratch("drill")

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(dump), drill=True, into=target)

    assert "edc_labresult: checksum " + "0" * 64 + " in the backup" in str(refused.value)
    assert "edc_visit: row count" in str(refused.value)
    assert not target_exists(target)


def test_backup_verify_drills_the_new_dump_and_leaves_no_scratch(casebook, tmp_path, scratch, capsys):
    target = scratch("verify")
    call_command("backup", folder=tmp_path, verify=True, scratch=target)

    assert "Restore drill passed" in capsys.readouterr().out
    suffix = operations.engine_of(connection.settings_dict).SUFFIX
    assert {path.suffix for path in tmp_path.iterdir()} == {".json", suffix}  # the backup, and nothing else
    assert not target_exists(target)


def test_retention_keeps_the_newest_complete_backups(casebook, tmp_path):
    (tmp_path / "edc-20000101T000000.000000Z.dump.partial").write_bytes(b"cut short")  # a crashed run's leftover
    with override_settings(EDC_BACKUP_KEEP=2):
        for _ in range(3):
            call_command("backup", folder=tmp_path)
    kept = backups.operations.archive.complete_backups(tmp_path)

    assert len(kept) == 2 and len(list(tmp_path.glob("*.json"))) == 2
    assert all(path.is_file() for path in kept)
    assert (tmp_path / "edc-20000101T000000.000000Z.dump.partial").is_file()  # never taken for a backup


def test_one_changed_value_changes_that_tables_checksum_only(casebook):
    before = live_fingerprint()
    assert live_fingerprint() == before  # deterministic
    LabResult.objects.filter(pk=casebook["lab-results"]).update(value=123)  # behind the services: a test's tamper

    assert backups.differences(before, live_fingerprint()) == [
        f"edc_labresult: checksum {before['checksums']['edc_labresult']} in the backup, "
        f"{live_fingerprint()['checksums']['edc_labresult']} restored"
    ]


def test_backups_refuse_an_engine_they_do_not_know():
    with pytest.raises(backups.BackupError, match="PostgreSQL and SQLite, not django.db.backends.mysql"):
        operations.engine_of({"ENGINE": "django.db.backends.mysql", "NAME": "edc"})


def test_beat_backs_up_nightly_and_drills_weekly(casebook, tmp_path, scratch, monkeypatch):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["edc.tasks.backup_database"].hour == {1} and schedule["edc.tasks.backup_database"].minute == {30}
    assert schedule["edc.tasks.drill_latest_backup"].day_of_week == {0}
    assert settings.CELERY_TASK_ROUTES["edc.tasks.backup_database"] == {"queue": settings.EDC_BACKUP_QUEUE}

    with override_settings(EDC_BACKUP_DIR=tmp_path):
        made = backup_database.apply().get(timeout=60)
        target = scratch("weekly")
        monkeypatch.setattr(backups, "default_scratch", lambda settings_dict, dump_path: target)
        drilled = drill_latest_backup.apply().get(timeout=60)

    assert (tmp_path / made["dump"]).is_file() and drilled["dump"] == made["dump"]


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5"])
def test_backup_keep_is_a_count_of_at_least_one(monkeypatch, value):
    monkeypatch.setenv("EDC_BACKUP_KEEP", value)
    with pytest.raises(
        ImproperlyConfigured, match=f"EDC_BACKUP_KEEP must be a whole number of at least 1, not '{value}'"
    ):
        env_count("EDC_BACKUP_KEEP", 14)
