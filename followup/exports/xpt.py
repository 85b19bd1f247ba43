"""SDTM datasets as SAS transport files, version 5 (the FDA's format), written by pyreadstat.

Version 5 limits what a file may hold, and each limit is kept here rather than left to the reader:
- names of ≤ 8 characters and labels of ≤ 40 (`followup.exports.sdtm_metadata`; a longer one is a defect, refused);
- ASCII only: common typographic characters are transliterated (° → "deg", µ → "u", – → "-", ≥ → ">=", é → "e"),
  any other (Chinese free text, say) is replaced by "?" and counted per variable, for the export log and the
  package's README — never written as broken bytes;
- character values of ≤ 200 bytes: a longer one is split as the SDTM IG does (4.5.3.2): the first 200 in the
  variable, the rest in supplemental qualifiers `AETERM1`, `AETERM2`… of its record (`SplitText`). Only the
  submission package, which writes the SUPP-- files too, can do that; a single dataset's download refuses such a
  value (`ValueTooLong`), naming the variable, the record and the limit. Pieces are cut before a space, so that
  their concatenation is the text (a trailing blank would be lost: SAS pads character values with blanks).
- dates are ISO 8601 text, as the other formats write them (no SAS date numbers).

Memory: pyreadstat writes a whole DataFrame (XPT v5 has no appendable form there), so a dataset is held once in
memory, as Arrow columns (about the size of its CSV, plus 8 bytes per numeric cell), while it is written to a
temporary file; the rows are read from the database in chunks as for every format.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from followup.exports.datasets import Column

MAX_NAME = 8
MAX_LABEL = 40
MAX_VALUE_BYTES = 200
ROWS_PER_BLOCK = 10_000  # rows turned into Arrow arrays at a time

# After NFKD (which already turns full-width punctuation, ligatures, "…" and "²" into ASCII, and splits accents
# off their letters): the characters of clinical text NFKD leaves alone.
TRANSLITERATIONS = str.maketrans({
    "°": "deg", "μ": "u", "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "×": "x", "÷": "/", "≥": ">=",
    "≤": "<=", "±": "+/-", "‘": "'", "’": "'", "“": '"', "”": '"', "·": ".", "•": "*", "→": "->", "←": "<-",
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda", "ß": "ss",
})  # fmt: skip
REPLACEMENT = "?"


def to_ascii(text: str) -> tuple[str, list[str]]:
    """`text` in ASCII, and the characters that have no ASCII form (each written as "?")."""
    if text.isascii():
        return text, []
    decomposed = unicodedata.normalize("NFKD", text).translate(TRANSLITERATIONS)
    kept, replaced = [], []
    for character in decomposed:
        if character.isascii():
            kept.append(character)
        elif not unicodedata.combining(character):  # an accent split off its letter is dropped
            kept.append(REPLACEMENT)
            replaced.append(character)
    return "".join(kept), replaced


def split_text(text: str, limit: int = MAX_VALUE_BYTES) -> list[str]:
    """ASCII `text` in pieces of ≤ `limit` characters, each cut before a space where the piece has one."""
    pieces = []
    while len(text) > limit:
        cut = text.rfind(" ", 1, limit + 1)
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def supplemental_name(name: str, label: str, number: int) -> tuple[str, str]:
    """QNAM and QLABEL of the `number`th overflow of a variable: AETERM1, "Reported Term for the Adverse Event 1"."""
    suffix = str(number)
    return name[: MAX_NAME - len(suffix)] + suffix, f"{label[: MAX_LABEL - len(suffix) - 1]} {suffix}"


class ValueTooLong(Exception):
    """A character value over 200 bytes where it cannot be split into SUPP-- (a single dataset's download)."""

    def __init__(self, domain: str, variable: str, record: str, length: int):
        self.variable = variable
        super().__init__(
            f"{domain}.{variable} of {record} is {length} bytes; SAS XPT v5 holds at most {MAX_VALUE_BYTES}: "
            f"export the submission package, which splits it into SUPP{domain}"
        )


@dataclass
class Variable:
    name: str
    label: str
    kind: str  # "str", "int" or "float"
    length: int = 1  # character: the longest value's bytes (at least 1); numeric: 8

    @property
    def numeric(self) -> bool:
        return self.kind != "str"


@dataclass
class XptFile:
    """One XPT file as written: what define.xml and the README say of it."""

    domain: str
    label: str
    variables: list[Variable]
    path: Path
    rows: int = 0
    replaced: dict[str, Counter] = field(default_factory=dict)  # variable → the characters written as "?"
    overflow: list[tuple[str, ...]] = field(default_factory=list)  # SUPP-- rows of the values split

    @property
    def replaced_counts(self) -> dict[str, int]:
        return {name: sum(characters.values()) for name, characters in self.replaced.items()}


def check_names(domain: str, label: str, variables: Iterable[Variable]) -> None:
    """A name or label over the v5 limits is a defect of the metadata: refused before anything is written."""
    too_long = [f"name {v.name!r}" for v in variables if len(v.name) > MAX_NAME]
    too_long += [f"label {v.label!r}" for v in variables if len(v.label) > MAX_LABEL]
    if len(domain) > MAX_NAME or len(label) > MAX_LABEL:
        too_long.append(f"dataset {domain!r} {label!r}")
    if too_long:
        raise ValueError(f"{domain}: over XPT v5's 8-character names or 40-character labels: {', '.join(too_long)}")


class _Cells:
    """Text rows → XPT cells: ASCII, split or refused when over 200 bytes, numbers as floats."""

    def __init__(self, xpt: XptFile, split: bool):
        self.xpt, self.split = xpt, split
        names = [v.name for v in xpt.variables]
        self.seq_index = names.index(f"{xpt.domain}SEQ") if f"{xpt.domain}SEQ" in names else None
        self.subject_index = names.index("USUBJID")

    def row(self, row: tuple[str, ...]) -> list:
        return [self.cell(variable, text, row) for variable, text in zip(self.xpt.variables, row, strict=True)]

    def cell(self, variable: Variable, text: str, row: tuple[str, ...]):
        if variable.numeric:
            return None if text == "" else float(text)
        text, replaced = to_ascii(text)
        if replaced:
            self.xpt.replaced.setdefault(variable.name, Counter()).update(replaced)
        if len(text) > MAX_VALUE_BYTES:
            text = self.overflow(variable, text, row)
        variable.length = max(variable.length, len(text))
        return text

    def overflow(self, variable: Variable, text: str, row: tuple[str, ...]) -> str:
        if not self.split or self.seq_index is None:
            seq = f" {self.xpt.domain}SEQ {row[self.seq_index]}" if self.seq_index is not None else ""
            raise ValueTooLong(self.xpt.domain, variable.name, f"{row[self.subject_index]}{seq}", len(text))
        first, *rest = split_text(text)
        idvar, seq = self.xpt.variables[self.seq_index].name, row[self.seq_index]
        for number, piece in enumerate(rest, 1):
            qnam, qlabel = supplemental_name(variable.name, variable.label, number)
            self.xpt.overflow.append(
                (row[0], self.xpt.domain, row[self.subject_index], idvar, seq, qnam, qlabel, piece, "CRF")
            )
        return first


def _table(cells: _Cells, rows: Iterator[tuple[str, ...]]):
    """The rows as one Arrow table, built ROWS_PER_BLOCK rows at a time."""
    import pyarrow as pa

    schema = pa.schema([(v.name, pa.float64() if v.numeric else pa.string()) for v in cells.xpt.variables])
    batches = []
    while block := list(islice(rows, ROWS_PER_BLOCK)):
        columns = zip(*(cells.row(row) for row in block), strict=True)
        arrays = [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)]
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        cells.xpt.rows += len(block)
    return pa.Table.from_batches(batches, schema=schema)


def write_xpt(
    domain: str, label: str, variables: list[Variable], rows: Iterable[tuple[str, ...]], path: Path, *, split: bool
) -> XptFile:
    """Write the text rows of one dataset to `path` as XPT v5. `split`: over-long values go to `overflow` (the
    package writes them into SUPP--); otherwise they raise ValueTooLong before anything is written."""
    import pyreadstat

    check_names(domain, label, variables)
    xpt = XptFile(domain, label, variables, path)
    frame = _table(_Cells(xpt, split), iter(rows)).to_pandas()
    # Character values missing are blank in SAS (NaN would be written as the text "nan").
    frame = frame.fillna({v.name: "" for v in variables if not v.numeric})
    pyreadstat.write_xport(
        frame, str(path), file_label=label, table_name=domain, column_labels=[v.label for v in variables],
        file_format_version=5,
    )  # fmt: skip
    return xpt


def variables_of(domain: str, columns: Iterable[Column], label_of) -> list[Variable]:
    return [Variable(c.name, label_of(domain, c.name), c.kind, 1 if c.kind == "str" else 8) for c in columns]
