"""Rows as text: every dataset's rows are tuples of CSV text ("" for a missing value), which the writers
(`followup.exports.writers`) join for CSV and read back by column kind for JSON and Parquet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal


def normalised(value: Decimal | None) -> Decimal | None:
    """A decimal as typed, without its column's padding: 12.300000 → 12.3, 1000.000000 → 1000."""
    return None if value is None else value.normalize() if value != value.to_integral() else value.quantize(1)


def decimal_text(value: Decimal) -> str:
    return f"{normalised(value):f}"


def float_text(value: float) -> str:
    """A float as PostgreSQL prints a double: the shortest text that reads back the same, '28' not '28.0'."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


CSV_TEXT = {
    type(None): lambda value: "",
    bool: lambda value: "true" if value else "false",
    Decimal: decimal_text,
    float: float_text,
}
# As PostgreSQL's COPY writes them, so that source rows read the same from either database.
DATABASE_TEXT = {**CSV_TEXT, bool: lambda value: "t" if value else "f"}


def rows_as_text(rows: Iterable[tuple], text_of: Mapping) -> Iterator[tuple[str, ...]]:
    text_of = text_of.get
    for row in rows:
        yield tuple(value if value.__class__ is str else text_of(value.__class__, str)(value) for value in row)


def as_text(rows: Iterable[tuple]) -> Iterator[tuple[str, ...]]:
    """Rows of Python values (None, bool, int, float, Decimal, str) as text rows."""
    return rows_as_text(rows, CSV_TEXT)
