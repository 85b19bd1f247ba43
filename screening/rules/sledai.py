"""SELENA-SLEDAI (pure: no ORM, no request, no clock).

The weights and the serological descriptors of DOMAIN.md §4, the score and its activity bands, the
flare rule, the lab-backed descriptor suggestions and the limits of the SLEDAI CRF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from edc.rules import D, Limit
from screening.rules.calculations import num
from screening.rules.inputs import LabFacts

SLEDAI_WEIGHTS: dict[str, int] = {
    **dict.fromkeys(
        ("SEIZURE", "PSYCHOSIS", "ORGANIC_BRAIN", "VISUAL", "CRANIAL_NERVE", "LUPUS_HEADACHE", "CVA", "VASCULITIS"), 8
    ),
    **dict.fromkeys(("ARTHRITIS", "MYOSITIS", "URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA"), 4),
    **dict.fromkeys(
        ("RASH", "ALOPECIA", "MUCOSAL_ULCERS", "PLEURISY", "PERICARDITIS", "LOW_COMPLEMENT", "DNA_BINDING"), 2
    ),
    **dict.fromkeys(("FEVER", "THROMBOCYTOPENIA", "LEUKOPENIA"), 1),
}
SEROLOGICAL_DESCRIPTORS = ("LOW_COMPLEMENT", "DNA_BINDING")

# The SLEDAI CRF's limits (CRF.md): the physician's global assessment, 0–3.
SLEDAI_LIMITS = {"pga": Limit(D(0), D(3))}

# --- Score ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SledaiScore:
    total: int
    clinical: int
    serological: int
    activity: str


def activity_band(total: int) -> str:
    if total == 0:
        return "NONE"
    if total <= 4:
        return "MILD"
    if total <= 10:
        return "MODERATE"
    return "HIGH"


def sledai_score(descriptors: Iterable[str]) -> SledaiScore:
    """Computed from the descriptors present, never typed; each descriptor counts once."""
    present = set(descriptors)
    total = sum(SLEDAI_WEIGHTS[code] for code in present)
    serological = sum(SLEDAI_WEIGHTS[code] for code in present & set(SEROLOGICAL_DESCRIPTORS))
    return SledaiScore(total, total - serological, serological, activity_band(total))


def possible_flare(previous_total: int | None, total: int) -> bool:
    """A rise of > 3 points from the previous assessment."""
    return previous_total is not None and total - previous_total > 3


# --- Lab-backed suggestions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    descriptor: str
    reason: str


SLEDAI_LOOKBACK_DAYS = 10


def suggest_sledai_descriptors(
    labs: Iterable[LabFacts], assessment_date: dt.date, max_temperature_c: Decimal | None = None
) -> list[Suggestion]:
    """Lab-backed descriptors from results of the visit or the 10 days before it (the assessor confirms)."""
    window = [
        lab
        for lab in labs
        if assessment_date - dt.timedelta(days=SLEDAI_LOOKBACK_DAYS) <= lab.sample_date <= assessment_date
        and lab.value is not None
    ]
    found: dict[str, str] = {}

    def suggest(code: str, reason: str):
        found.setdefault(code, reason)

    for lab in sorted(window, key=lambda lab: lab.sample_datetime):
        value, when = lab.value, lab.sample_date.isoformat()
        if lab.analyte in ("C3", "C4") and lab.lln is not None and value < lab.lln:
            suggest("LOW_COMPLEMENT", f"{lab.analyte} {num(value)} g/L < LLN {num(lab.lln)} on {when}")
        elif lab.analyte == "DSDNA" and lab.uln is not None and value > lab.uln:
            suggest("DNA_BINDING", f"anti-dsDNA {num(value)} IU/mL > ULN {num(lab.uln)} on {when}")
        elif lab.analyte == "PLAT" and value < 100:
            suggest("THROMBOCYTOPENIA", f"platelets {num(value)} × 10^9/L < 100 on {when}")
        elif lab.analyte == "WBC" and value < 3:
            suggest("LEUKOPENIA", f"white cells {num(value)} × 10^9/L < 3 on {when}")
        elif lab.analyte == "PROT24" and value > D("0.5"):
            suggest("PROTEINURIA", f"proteinuria {num(value)} g/24h > 0.5 on {when}")
    if max_temperature_c is not None and max_temperature_c > 38:
        suggest("FEVER", f"temperature {num(max_temperature_c, 1)} °C > 38")
    return [Suggestion(code, reason) for code, reason in found.items()]
