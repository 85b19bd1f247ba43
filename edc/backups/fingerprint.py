"""What a database holds, in a form two databases can be compared by: every table's row count, and a SHA-256 of
every row of the project's apps (clinical and historical tables) read in primary-key order.

The backup writes it into its manifest (taken from exactly what was dumped); a restore and the drill recompute it
on the restored database and compare. Each row is hashed as the database itself renders it as text (PostgreSQL's
row literal, SQLite's `quote()` of every column), so the figure depends on no Python type conversion.
"""

import hashlib
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.utils import load_backend

FETCH_ROWS = 2000  # rows per round trip: a table of millions is streamed, never held in memory


@contextmanager
def open_database(settings_dict: dict):
    """A connection of its own to the database `settings_dict` names (the live one, a restored copy, a scratch
    database): never the request's or the test's connection, whose transaction state it must not change."""
    alias = f"backups:{settings_dict['NAME']}"
    # Registered under its own alias while open: Django's internals look a connection up by its alias.
    connections[alias] = wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        yield wrapper
    finally:
        wrapper.close()
        del connections[alias]


def project_tables() -> set[str]:
    """The tables of `EDC_PROJECT_APPS`: every CRF, its history table, and their many-to-many tables."""
    return {
        model._meta.db_table
        for label in settings.EDC_PROJECT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }


def fingerprint(connection) -> dict:
    """{"row_counts": {table: rows} for every table, "checksums": {table: sha256} for the project's tables}."""
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        row_counts = {table: _row_count(connection, cursor, table) for table in tables}
    checksums = {table: _checksum(connection, table) for table in sorted(project_tables() & set(tables))}
    return {"row_counts": row_counts, "checksums": checksums}


def differences(expected: dict, actual: dict) -> list[str]:
    """What differs between two fingerprints, one line per table; empty when they are identical."""
    lines = []
    for kind in ("row_counts", "checksums"):
        tables = sorted(set(expected[kind]) | set(actual[kind]))
        lines += [
            f"{table}: {kind.replace('_', ' ')[:-1]} {expected[kind].get(table, 'missing')} in the backup, "
            f"{actual[kind].get(table, 'missing')} restored"
            for table in tables
            if expected[kind].get(table) != actual[kind].get(table)
        ]
    return lines


def _row_count(connection, cursor, table: str) -> int:
    cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected name
    return cursor.fetchone()[0]


def _checksum(connection, table: str) -> str:
    digest = hashlib.sha256()
    with connection.chunked_cursor() as cursor:
        cursor.execute(_rows_as_text(connection, table))
        while rows := cursor.fetchmany(FETCH_ROWS):
            for (text,) in rows:
                digest.update(text.encode() + b"\n")
    return digest.hexdigest()


def _rows_as_text(connection, table: str) -> str:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        primary_key = connection.introspection.get_primary_key_column(cursor, table)
        columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
    if connection.vendor == "postgresql":
        row, source = "row_as_text::text", f"{quote(table)} AS row_as_text"
    else:
        row, source = " || ',' || ".join(f"quote({quote(column)})" for column in columns), quote(table)
    # Every Django table has a primary key; a table without one is ordered by its whole row.
    order = quote(primary_key) if primary_key else "1"
    return f"SELECT {row} FROM {source} ORDER BY {order}"  # noqa: S608 - introspected names
