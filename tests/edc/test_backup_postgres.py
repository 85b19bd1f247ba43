"""The restore drill of issue 18 on PostgreSQL: dump a database, drop it, restore the dump into a new database;
every table's row count and the checksum of every clinical and history row are identical.

The test database itself cannot be dropped under pytest-django, so the drill runs on `backups_source`, a copy of
it made by `manage.py restore`; its databases are `backups_…` and removed whatever happens."""

import subprocess

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from edc import backups, roles
from edc.backups import postgres
from tests import factories
from tests.casebook import treated_casebook

SOURCE, RESTORED = "backups_source", "backups_restored"


@pytest.fixture
def drill_databases(postgres):
    yield
    for name in (SOURCE, RESTORED):
        postgres_engine_remove(name)


def postgres_engine_remove(name: str) -> None:
    postgres.remove(connection.settings_dict, name)


def fingerprint_of(name: str) -> dict:
    with backups.open_database(postgres.target_settings(connection.settings_dict, name)) as database:
        return backups.fingerprint(database)


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def casebooks(count: int) -> None:
    """Treated subjects with their screening, treatment, adverse events, medications, results and history."""
    site = factories.SiteFactory(code="01")
    staff = factories.UserFactory(username="staff")
    staff.groups.add(Group.objects.get(name=roles.SITE_STAFF))
    site.users.add(staff)
    for _ in range(count):
        treated_casebook(factories.make_subject(site, staff), staff)


def test_dump_drop_restore_into_a_new_database_keeps_every_row(drill_databases, tmp_path):
    casebooks(3)
    settings_dict = connection.settings_dict
    copy = backups.backup(settings_dict, tmp_path / "of-the-test-database", keep=1)
    backups.restore(tmp_path / "of-the-test-database" / copy["dump"], settings_dict, SOURCE)
    before = fingerprint_of(SOURCE)
    assert before == copy["fingerprint"]

    manifest = backups.backup(postgres.target_settings(settings_dict, SOURCE), tmp_path / "drill", keep=1)
    postgres_engine_remove(SOURCE)  # the loss
    assert not database_exists(SOURCE)
    backups.restore(tmp_path / "drill" / manifest["dump"], settings_dict, RESTORED)

    after = fingerprint_of(RESTORED)
    assert backups.differences(before, after) == []
    assert after == before == manifest["fingerprint"]
    assert len(after["row_counts"]) == len(connection.introspection.table_names())
    clinical = ("edc_subject", "edc_labresult", "infusion_infusion", "followup_adverseevent", "screening_medication")
    assert all(after["row_counts"][table] >= 3 for table in clinical)
    assert all(after["row_counts"]["edc_historical" + table.removeprefix("edc_")] >= 3 for table in clinical[:2])


def test_restored_sequences_continue_after_the_last_row(drill_databases, tmp_path):
    casebooks(1)
    manifest = backups.backup(connection.settings_dict, tmp_path, keep=1)
    backups.restore(tmp_path / manifest["dump"], connection.settings_dict, RESTORED)

    restored_settings = postgres.target_settings(connection.settings_dict, RESTORED)
    with backups.open_database(restored_settings) as restored, restored.cursor() as cursor:
        cursor.execute("SELECT max(id), nextval(pg_get_serial_sequence('edc_labresult', 'id')) FROM edc_labresult")
        last_id, next_id = cursor.fetchone()
    assert next_id > last_id  # a new result after a restore never collides with a restored one


def test_a_client_of_another_major_version_is_refused_with_what_to_install(postgres, monkeypatch, tmp_path):
    real_run = subprocess.run

    def pg_dump_99(arguments, **options):
        if arguments == ["pg_dump", "--version"]:
            return subprocess.CompletedProcess(arguments, 0, stdout="pg_dump (PostgreSQL) 99.1\n")
        return real_run(arguments, **options)

    monkeypatch.setattr(subprocess, "run", pg_dump_99)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
    with pytest.raises(backups.BackupError, match=f"pg_dump is version 99 and the server {server_major}: install"):
        backups.backup(connection.settings_dict, tmp_path, keep=1)
    assert list(tmp_path.iterdir()) == []  # nothing that looks like a backup
