"""Streaming writers of the PK/PD exports: CSV, JSON and Parquet, chunk by chunk, never a whole dataset.

Rows are tuples of plain values (str, int, float, Decimal, bool, None) in the order of their columns
(`followup.export_services.Column`: a name and a kind). Each writer is a generator of bytes, so that a
StreamingHttpResponse or a file can take the chunks as they come.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice

CSV_ROWS_PER_CHUNK = 500  # ~40 kB blocks: a first byte at once, one write per block
JSON_ROWS_PER_CHUNK = 500
PARQUET_ROWS_PER_GROUP = 10_000

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


# CRF.md: booleans are `true`/`false`, missing values empty cells (the csv module's own None), decimals as typed
# (no exponent). Only these two types differ from what the csv module writes by itself.
_CSV_TEXT = {bool: lambda value: "true" if value else "false", Decimal: lambda value: f"{value:f}"}


def csv_chunks(columns, rows: Iterable[tuple]) -> Iterator[bytes]:
    """CSV in blocks of rows, each block written with one `writerows` call."""
    # Booleans and decimals only ever sit in bool and float columns; the other cells go to the csv module as
    # they are, so a row costs one pass over a handful of cells, not one call per cell.
    converted = [i for i, column in enumerate(columns) if column.kind in ("bool", "float")]
    text = _CSV_TEXT.get

    def cells(row: tuple) -> list:
        row = list(row)
        for i in converted:
            value = row[i]
            if (convert := text(value.__class__)) is not None:
                row[i] = convert(value)
        return row

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in columns])
    rows = iter(rows)
    while block := list(islice(rows, CSV_ROWS_PER_CHUNK)):
        writer.writerows(map(cells, block))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue().encode()


def _json_value(value):
    return float(value) if isinstance(value, Decimal) else value


def json_chunks(columns, rows: Iterable[tuple]) -> Iterator[bytes]:
    """A JSON array of objects, written as it goes: `[` … `,` … `]`."""
    names = [c.name for c in columns]
    yield b"["
    separator = ""
    rows = iter(rows)
    while block := list(islice(rows, JSON_ROWS_PER_CHUNK)):
        parts = []
        for row in block:
            item = json.dumps({n: _json_value(v) for n, v in zip(names, row, strict=True)}, ensure_ascii=False)
            parts.append(separator + item)
            separator = ","
        yield "".join(parts).encode()
    yield b"]"


class _ChunkSink:
    """A write-only file for pyarrow that keeps what was written until it is drained.

    `tell` counts every byte ever written: Parquet records column chunk offsets from it.
    """

    closed = False

    def __init__(self):
        self._chunks: list[bytes] = []
        self._position = 0

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _arrow_schema(columns):
    import pyarrow as pa

    types = {"str": pa.string(), "float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
    return pa.schema([(c.name, types[c.kind]) for c in columns])


def parquet_chunks(columns, rows: Iterable[tuple]) -> Iterator[bytes]:
    """Parquet with one row group per 10,000 rows, each sent as soon as it is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(columns)
    converters = [float if c.kind == "float" else None for c in columns]
    sink = _ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema)
    rows = iter(rows)
    while block := list(islice(rows, PARQUET_ROWS_PER_GROUP)):
        arrays = [
            pa.array([v if v is None or convert is None else convert(v) for v in values], type=field.type)
            for values, convert, field in zip(zip(*block, strict=True), converters, schema, strict=True)
        ]
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        yield sink.drain()
    writer.close()
    yield sink.drain()


WRITERS = {"csv": csv_chunks, "json": json_chunks, "parquet": parquet_chunks}


def write(export_format: str, columns, rows: Iterable[tuple]) -> Iterator[bytes]:
    return WRITERS[export_format](columns, rows)
