"""The follow-up visit CRF: which results one visit collects, laid out like the paper form."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from edc.rules import ANALYTE_UNITS


@dataclass(frozen=True)
class CrfLine:
    analyte: str
    label: str  # what the paper form calls the test, in the reader's language
    range_fields: tuple[str, ...] = ("lln", "uln")  # the reference fields the lab reports beside the value
    text: bool = False  # a titre or POSITIVE/NEGATIVE instead of a number
    quantified: bool = False  # qPCR/flow: LLOQ and "not detected"

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
        CrfLine("CARPCR", _("CAR transgene (qPCR)"), range_fields=(), quantified=True),
        CrfLine("CARFLOW", _("CAR+ T cells (flow)"), range_fields=(), quantified=True),
    ]),
    (_("B cells"), [CrfLine("CD19", _("CD19+ B cells"))]),
    (_("Serology and complement"), [
        CrfLine("DSDNA", _("anti-dsDNA")),
        CrfLine("C3", _("C3")),
        CrfLine("C4", _("C4")),
        CrfLine("ANA", _("ANA (titre)"), text=True),
        CrfLine("SM", _("anti-Smith"), text=True),
        CrfLine("IGG", _("immunoglobulin G")),
    ]),
    (_("Renal"), [CrfLine("PROT24", _("24 h urine protein"))]),
    (_("Blood count"), [
        CrfLine("WBC", _("white cells")),
        CrfLine("ANC", _("neutrophils (ANC)")),
        CrfLine("LYM", _("lymphocytes")),
        CrfLine("PLAT", _("platelets")),
        CrfLine("HGB", _("haemoglobin")),
    ]),
]  # fmt: skip
CRF_LINES = [line for _, lines in VISIT_CRF for line in lines]
