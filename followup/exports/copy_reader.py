"""Source rows as text straight from the database: PostgreSQL's COPY (a server-side cursor elsewhere), and the
spool that keeps a second reader off the connection while a COPY owns it."""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection
from django.db.models import QuerySet
from psycopg import pq

from followup.exports.text import DATABASE_TEXT, rows_as_text

CHUNK_SIZE = 5000  # rows per fetch from a server-side cursor
SPOOL_IN_MEMORY = 4 << 20  # bytes of spooled rows held in memory (~90,000 SELENA-SLEDAI totals) before a file

_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(.)")


def unescaped(field: str) -> str:
    return _COPY_ESCAPE.sub(lambda match: _COPY_ESCAPES.get(match[1], match[1]), field)


def copied_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """The queryset's rows through PostgreSQL's `COPY … TO STDOUT`, as lists of text ("" for NULL).

    COPY sends rows as text with no per-value conversion on either side, and keeps sending while the rows
    are being worked on: reading a row this way costs about what the database spends writing it.
    """
    sql, params = queryset.query.sql_with_params()
    statement = f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT (NULL '')"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        pgconn = cursor.connection.pgconn
        # psycopg's read() waits until a row arrives; the rows already received are then taken straight from
        # libpq (one whole row, line feed included, per call), which saves psycopg's per-row machinery.
        while block := copy.read():
            while block:
                line = block.tobytes().decode()[:-1]
                fields = line.split("\t")
                yield [unescaped(f) for f in fields] if "\\" in line else fields
                size, block = pgconn.get_copy_data(1)  # (0, b""): nothing received yet; read() waits
                if size == -1:
                    _end_of_copy(pgconn)
                    return


def _end_of_copy(pgconn) -> None:
    """After libpq's end-of-COPY answer, its closing result, taken as psycopg would: the connection is idle again
    (and psycopg's Copy, left by a normal exit, reads nothing more)."""
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise DatabaseError(f"COPY failed: {(result.error_message or b'').decode(errors='replace')}")


def text_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """A values_list queryset's rows as lists of text: COPY on PostgreSQL, a server-side cursor elsewhere."""
    if connection.vendor == "postgresql":
        return copied_rows(queryset)
    return (list(row) for row in rows_as_text(queryset.iterator(chunk_size=CHUNK_SIZE), DATABASE_TEXT))


@contextmanager
def spooled(rows: Iterable[list[str]]) -> Iterator[Iterator[list[str]]]:
    """`rows` read to their end first, then given back (as text) from a spool: in memory up to SPOOL_IN_MEMORY
    bytes, in a temporary file beyond.

    A COPY owns the connection until its last row: a query sent meanwhile (another cursor's next FETCH) would
    wait for ever. So a second source merged with a COPY's rows is spooled before the COPY starts.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+", newline="") as spool:
        csv.writer(spool).writerows(rows)
        spool.seek(0)
        yield csv.reader(spool)
