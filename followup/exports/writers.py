"""Streaming writers of the PK/PD exports: CSV, JSON and Parquet, chunk by chunk, never a whole dataset.

Rows are tuples of text in the order of their columns (`followup.exports.datasets.Column`: a name and a kind),
as CRF.md writes them in CSV: booleans `true`/`false`, decimals as typed, "" for a missing value. CSV joins
them; JSON and Parquet read each cell back by its column's kind. Each writer is a generator of bytes, so that a
StreamingHttpResponse or a file can take the chunks as they come.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice

CSV_ROWS_PER_CHUNK = 500  # ~40 kB blocks: a first byte at once, one write per block
JSON_ROWS_PER_CHUNK = 500
PARQUET_ROWS_PER_GROUP = 10_000

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "xpt": "application/x-sas-xport",  # written whole, not chunk by chunk: followup.exports.xpt
}


def _csv_line(row: tuple[str, ...]) -> str:
    """One row as the csv module writes it: a cell holding a comma, a quote or a line break is quoted."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue()


def csv_chunks(columns, rows: Iterable[tuple[str, ...]], *, trailer: bool = False) -> Iterator[bytes]:
    """CSV (RFC 4180, CRLF) in blocks of rows; with `trailer`, a last line `# rows=N sha256=HEX` once every row is
    written (HEX: the digest of every byte before that line), so that a file cut short can be told from a whole
    one. Without it, nothing in a CSV says that it is complete."""
    digest, count = hashlib.sha256(), 0
    for chunk, rows_in_chunk in _csv_blocks(columns, rows):
        if trailer:
            digest.update(chunk)
        count += rows_in_chunk
        yield chunk
    if trailer:
        yield f"# rows={count} sha256={digest.hexdigest()}\r\n".encode()


def _csv_blocks(columns, rows: Iterable[tuple[str, ...]]) -> Iterator[tuple[bytes, int]]:
    """The header line, then blocks of rows: (bytes, rows in them)."""
    separators = len(columns) - 1
    yield _csv_line([c.name for c in columns]).encode(), 0
    rows = iter(rows)
    while block := list(islice(rows, CSV_ROWS_PER_CHUNK)):
        # Cells are codes, identifiers and numbers: a plain join is right unless the block holds a quote, a
        # line break or more commas than separators, and it is ten times faster than the csv module.
        text = "\r\n".join(map(",".join, block)) + "\r\n"
        lines = len(block)
        plain = (
            '"' not in text and text.count(",") == separators * lines and text.count("\n") == lines == text.count("\r")
        )
        yield (text if plain else "".join(map(_csv_line, block))).encode(), lines


# Text → JSON and Parquet values, by column kind; "" is a missing value in every kind.
_READERS = {"str": str, "float": float, "int": int, "bool": lambda text: text == "true"}


def _typed(columns, row: tuple[str, ...]) -> list:
    return [None if text == "" else _READERS[column.kind](text) for column, text in zip(columns, row, strict=True)]


def json_chunks(columns, rows: Iterable[tuple[str, ...]]) -> Iterator[bytes]:
    """A JSON array of objects, written as it goes: `[` … `,` … `]`."""
    names = [c.name for c in columns]
    yield b"["
    separator = ""
    rows = iter(rows)
    while block := list(islice(rows, JSON_ROWS_PER_CHUNK)):
        parts = []
        for row in block:
            item = json.dumps(dict(zip(names, _typed(columns, row), strict=True)), ensure_ascii=False)
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
    sink = _ChunkSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema)
    rows = iter(rows)
    while block := list(islice(rows, PARQUET_ROWS_PER_GROUP)):
        typed = [_typed(columns, row) for row in block]
        arrays = [
            pa.array(values, type=field.type) for values, field in zip(zip(*typed, strict=True), schema, strict=True)
        ]
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        yield sink.drain()
    writer.close()
    yield sink.drain()


WRITERS = {"csv": csv_chunks, "json": json_chunks, "parquet": parquet_chunks}


def write(export_format: str, columns, rows: Iterable[tuple], *, trailer: bool = False) -> Iterator[bytes]:
    """The export's bytes. JSON is complete when it parses (its closing `]` is written after the last row) and
    Parquet when it opens (its footer is written last); CSV carries the trailer line when asked (`trailer`)."""
    if export_format == "csv":
        return csv_chunks(columns, rows, trailer=trailer)
    return WRITERS[export_format](columns, rows)
