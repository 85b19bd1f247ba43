"""What one eligibility criterion found, and the look-ups the criteria share (pure: no ORM, no request,
no clock).

`Check` collects a criterion's findings into a `CriterionResult` (`MET`, `NOT_MET` or `MISSING`, with the
reason and the missing paths); the helpers find the latest lab result, ask for a value (and its ULN) or an
exam field, and compare a value with a multiple of the ULN, naming what is missing on the check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from edc.rules import Message
from screening.rules.calculations import num
from screening.rules.inputs import CriterionResult, ExamFacts, LabFacts

MET, NOT_MET, MISSING = "MET", "NOT_MET", "MISSING"


def joined(texts: list[str], separator: str = "; ") -> str:
    """Texts joined as one `Message` whose parts are each said in the reader's language where it is shown (the
    English is the texts joined by `separator`)."""
    if len(texts) <= 1:
        return texts[0] if texts else ""
    template = separator.join(f"{{part{i}}}" for i in range(len(texts)))
    return Message(template, **{f"part{i}": text for i, text in enumerate(texts)})


class Check:
    """Collects what one criterion found: NOT_MET wins over MISSING, which wins over MET."""

    def __init__(self, code: str):
        self.code = code
        self.passed: list[str] = []
        self.failed: list[str] = []
        self.missing: list[str] = []

    def judge(self, ok: bool, text: str) -> bool:
        (self.passed if ok else self.failed).append(text)
        return ok

    def need(self, *paths: str) -> None:
        self.missing.extend(p for p in paths if p not in self.missing)

    def result(self) -> CriterionResult:
        if self.failed:
            return CriterionResult(self.code, NOT_MET, joined(self.failed))
        if self.missing:
            return CriterionResult(self.code, MISSING, missing_reason(", ".join(self.missing), self.passed),
                                   tuple(self.missing))  # fmt: skip
        return CriterionResult(self.code, MET, joined(self.passed))


def missing_reason(inputs: str, known: list[str]) -> str:
    """What a criterion lacks (`inputs`, named as paths or in words), then what it found already."""
    if known:
        return Message("missing {inputs}; {known}", inputs=inputs, known=joined(known))
    return Message("missing {inputs}", inputs=inputs)


def latest_lab(labs: Iterable[LabFacts], analyte: str, on: dt.date) -> LabFacts | None:
    """The latest result of an analyte on or before a date (site calendar)."""
    found = [lab for lab in labs if lab.analyte == analyte and lab.sample_date <= on]
    return max(found, key=lambda lab: lab.sample_datetime, default=None)


def latest_lab_at(labs: Iterable[LabFacts], analyte: str, moment: dt.datetime) -> LabFacts | None:
    found = [lab for lab in labs if lab.analyte == analyte and lab.sample_datetime <= moment]
    return max(found, key=lambda lab: lab.sample_datetime, default=None)


def usable_lab(check: Check, lab: LabFacts | None, analyte: str, *, uln: bool = False) -> LabFacts | None:
    """The lab when it has what the rule needs (a value, and a ULN when asked); otherwise name what is missing."""
    if lab is None or lab.value is None:
        check.need(f"lab_results.{analyte}")
        return None
    if uln and not lab.uln:
        check.need(f"lab_results.{analyte}.uln")
        return None
    return lab


def times_uln(lab: LabFacts, factor: Decimal, unit: str, *, strict: bool = False) -> tuple[bool, str]:
    limit = factor * lab.uln
    ok = lab.value < limit if strict else lab.value <= limit
    sign = ("<" if strict else "≤") if ok else ("≥" if strict else ">")
    ratio = lab.value / lab.uln
    text = Message(
        "{analyte} {value} {unit} = {ratio} × ULN {uln} {sign} {factor} × ULN",
        analyte=lab.analyte, value=num(lab.value), unit=unit, ratio=num(ratio), uln=num(lab.uln), sign=sign,
        factor=num(factor),
    )  # fmt: skip
    return ok, text


def exam_flag(check: Check, exam: ExamFacts | None, name: str) -> bool | None:
    value = getattr(exam, name) if exam else None
    if value is None:
        check.need(f"screening_exam.{name}")
    return value


def exam_value(check: Check, exam: ExamFacts | None, name: str):
    value = getattr(exam, name) if exam else None
    if value is None or value == "":
        check.need(f"screening_exam.{name}")
        return None
    return value
