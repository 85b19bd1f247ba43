"""The follow-up visit CRF: which results one visit collects, laid out like the paper form."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from edc import i18n
from edc.rules import ANALYTE_NAMES, ANALYTE_UNITS


@dataclass(frozen=True)
class CrfLine:
    analyte: str
    range_fields: tuple[str, ...] = ("lln", "uln")  # the reference fields the lab reports beside the value
    text: bool = False  # a titre or POSITIVE/NEGATIVE instead of a number
    quantified: bool = False  # qPCR/flow: LLOQ and "not detected"

    @property
    def label(self) -> str:
        """What the paper form calls the test, in the reader's language."""
        return i18n.translated(ANALYTE_NAMES[self.analyte])

    @property
    def unit(self) -> str:
        return ANALYTE_UNITS[self.analyte] or ""

    @property
    def result_fields(self) -> tuple[str, ...]:
        """What makes the line a result; a reference range or LLOQ alone (the form proposes the lab's last) is not."""
        own = ("result_text",) if self.text else ("value",)
        return own + (("not_detected",) if self.quantified else ())

    @property
    def fields(self) -> tuple[str, ...]:
        own = ("result_text",) if self.text else ("value",)
        extra = ("lloq", "not_detected") if self.quantified else ()
        return own + (() if self.text else self.range_fields) + extra


# Sections in the order of the paper CRF.
VISIT_CRF: list[tuple[str, list[CrfLine]]] = [
    (_("CAR-T pharmacokinetics"), [
        CrfLine("CARPCR", range_fields=(), quantified=True),
        CrfLine("CARFLOW", range_fields=(), quantified=True),
    ]),
    (_("B cells"), [CrfLine("CD19")]),
    (_("Serology and complement"), [
        CrfLine("DSDNA"),
        CrfLine("C3"),
        CrfLine("C4"),
        CrfLine("ANA", text=True),
        CrfLine("SM", text=True),
        CrfLine("IGG"),
    ]),
    (_("Renal"), [CrfLine("PROT24")]),
    (_("Blood count"), [
        CrfLine("WBC"),
        CrfLine("ANC"),
        CrfLine("LYM"),
        CrfLine("PLAT"),
        CrfLine("HGB"),
    ]),
]  # fmt: skip
CRF_LINES = [line for _, lines in VISIT_CRF for line in lines]
