"""SELENA-SLEDAI, its one home (pure: no ORM, no request, no clock).

Everything derived from the descriptors of DOMAIN.md §4: the weights and the serological descriptors,
the score and its activity bands, the flare rule, the weight-8, renal and major-organ descriptor sets,
DORIS remission and LLDAS, the lab-backed descriptor suggestions and the limits of the SLEDAI CRF.
Screening scores the assessment with it; follow-up reads it over time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from edc.rules import D, Limit, as_decimal
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

# The descriptors as the SELENA-SLEDAI form prints them, by organ (DOMAIN.md §4 lists the same codes by weight).
SLEDAI_ORGANS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Central nervous system", (
        ("SEIZURE", "Seizure"), ("PSYCHOSIS", "Psychosis"), ("ORGANIC_BRAIN", "Organic brain syndrome"),
        ("VISUAL", "Visual disturbance"), ("CRANIAL_NERVE", "Cranial nerve disorder"),
        ("LUPUS_HEADACHE", "Lupus headache"), ("CVA", "Cerebrovascular accident"),
    )),
    ("Vascular", (("VASCULITIS", "Vasculitis"),)),
    ("Musculoskeletal", (("ARTHRITIS", "Arthritis"), ("MYOSITIS", "Myositis"))),
    ("Renal", (
        ("URINARY_CASTS", "Urinary casts"), ("HEMATURIA", "Haematuria"), ("PROTEINURIA", "Proteinuria"),
        ("PYURIA", "Pyuria"),
    )),
    ("Mucocutaneous", (("RASH", "Rash"), ("ALOPECIA", "Alopecia"), ("MUCOSAL_ULCERS", "Mucosal ulcers"))),
    ("Serosal", (("PLEURISY", "Pleurisy"), ("PERICARDITIS", "Pericarditis"))),
    ("Immunological", (("LOW_COMPLEMENT", "Low complement"), ("DNA_BINDING", "Increased DNA binding"))),
    ("Constitutional", (("FEVER", "Fever"),)),
    ("Haematological", (("THROMBOCYTOPENIA", "Thrombocytopenia"), ("LEUKOPENIA", "Leukopenia"))),
)  # fmt: skip


def descriptor_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a form: organ → [(code, "Seizure (8)")], the weight beside each name."""
    return [
        (organ, [(code, f"{label} ({SLEDAI_WEIGHTS[code]})") for code, label in descriptors])
        for organ, descriptors in SLEDAI_ORGANS
    ]


WEIGHT_8_DESCRIPTORS = frozenset(code for code, weight in SLEDAI_WEIGHTS.items() if weight == 8)  # CNS, vasculitis
RENAL_DESCRIPTORS = frozenset({"URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA"})
# Weight-8 descriptors plus the renal ones: "major-organ activity" of LLDAS.
MAJOR_ORGAN_DESCRIPTORS = WEIGHT_8_DESCRIPTORS | RENAL_DESCRIPTORS

# The SLEDAI CRF's limits (CRF.md): the physician's global assessment, 0–3.
SLEDAI_LIMITS = {"pga": Limit(D(0), D(3))}

FLARE_RISE = 3  # a rise of MORE than this many points flags a possible flare
DORIS_PGA_BELOW = Decimal("0.5")
DORIS_PREDNISONE_MAX = Decimal("5")
LLDAS_SLEDAI_MAX = 4
LLDAS_PGA_MAX = Decimal("1")
LLDAS_PREDNISONE_MAX = Decimal("7.5")

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


# --- Over time: flare, remission, low disease activity -------------------------------------------


def possible_flare(previous_total: int | None, total: int) -> bool:
    """Possible flare: the total rose by more than `FLARE_RISE` (3) points since the previous assessment
    (3 is not, 4 is).

    The first assessment (no previous total) cannot be a flare.
    """
    return previous_total is not None and total - previous_total > FLARE_RISE


def doris_remission(clinical_sledai: int, pga: Decimal | float, prednisone_mg_per_day: Decimal | float) -> bool:
    """DORIS remission: clinical SELENA-SLEDAI 0, PGA < 0.5 and prednisone-equivalent ≤ 5 mg/day."""
    return (
        clinical_sledai == 0
        and as_decimal(pga) < DORIS_PGA_BELOW
        and as_decimal(prednisone_mg_per_day) <= DORIS_PREDNISONE_MAX
    )


def lldas(
    total_sledai: int, descriptors: set[str], pga: Decimal | float, prednisone_mg_per_day: Decimal | float
) -> bool:
    """LLDAS: total ≤ 4, no weight-8 or renal descriptor, PGA ≤ 1 and prednisone-equivalent ≤ 7.5 mg/day."""
    return (
        total_sledai <= LLDAS_SLEDAI_MAX
        # A renal descriptor (weight 4) fits in a total of 4, so the total alone does not exclude it.
        and not (set(descriptors) & MAJOR_ORGAN_DESCRIPTORS)
        and as_decimal(pga) <= LLDAS_PGA_MAX
        and as_decimal(prednisone_mg_per_day) <= LLDAS_PREDNISONE_MAX
    )


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
