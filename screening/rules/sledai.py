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
from fractions import Fraction

from edc.rules import N_, D, Label, Limit, Message
from screening.rules.calculations import num, prednisone_equivalent
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
SLEDAI_ORGANS: tuple[tuple[Label, tuple[tuple[str, Label], ...]], ...] = (
    (N_("Central nervous system"), (
        ("SEIZURE", N_("Seizure")), ("PSYCHOSIS", N_("Psychosis")), ("ORGANIC_BRAIN", N_("Organic brain syndrome")),
        ("VISUAL", N_("Visual disturbance")), ("CRANIAL_NERVE", N_("Cranial nerve disorder")),
        ("LUPUS_HEADACHE", N_("Lupus headache")), ("CVA", N_("Cerebrovascular accident")),
    )),
    (N_("Vascular"), (("VASCULITIS", N_("Vasculitis")),)),
    (N_("Musculoskeletal"), (("ARTHRITIS", N_("Arthritis")), ("MYOSITIS", N_("Myositis")))),
    (N_("Renal"), (
        ("URINARY_CASTS", N_("Urinary casts")), ("HEMATURIA", N_("Haematuria")), ("PROTEINURIA", N_("Proteinuria")),
        ("PYURIA", N_("Pyuria")),
    )),
    (N_("Mucocutaneous"), (
        ("RASH", N_("Rash")), ("ALOPECIA", N_("Alopecia")), ("MUCOSAL_ULCERS", N_("Mucosal ulcers")),
    )),
    (N_("Serosal"), (("PLEURISY", N_("Pleurisy")), ("PERICARDITIS", N_("Pericarditis")))),
    (N_("Immunological"), (("LOW_COMPLEMENT", N_("Low complement")), ("DNA_BINDING", N_("Increased DNA binding")))),
    (N_("Constitutional"), (("FEVER", N_("Fever")),)),
    (N_("Haematological"), (("THROMBOCYTOPENIA", N_("Thrombocytopenia")), ("LEUKOPENIA", N_("Leukopenia")))),
)  # fmt: skip


def descriptor_choices() -> list[tuple[Label, list[tuple[str, Message]]]]:
    """Grouped choices for a form: organ → [(code, "Seizure (8)")], the weight beside each name (the organ and the
    name translated where the form shows them)."""
    return [
        (
            organ,
            [
                (code, Message("{label} ({weight})", label=label, weight=SLEDAI_WEIGHTS[code]))
                for code, label in descriptors
            ],
        )
        for organ, descriptors in SLEDAI_ORGANS
    ]


WEIGHT_8_DESCRIPTORS = frozenset(code for code, weight in SLEDAI_WEIGHTS.items() if weight == 8)  # CNS, vasculitis
RENAL_DESCRIPTORS = frozenset({"URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA"})
CARDIOPULMONARY_DESCRIPTORS = frozenset({"PLEURISY", "PERICARDITIS"})
# LLDAS's "no activity in a major organ" (DOMAIN.md §4, revised): weight-8, renal, cardiopulmonary and fever.
MAJOR_ORGAN_DESCRIPTORS = WEIGHT_8_DESCRIPTORS | RENAL_DESCRIPTORS | CARDIOPULMONARY_DESCRIPTORS | {"FEVER"}

# The SLEDAI CRF's limits (CRF.md): the physician's global assessment, 0–3.
SLEDAI_LIMITS = {"pga": Limit(D(0), D(3))}

# SELENA Flare Index (Petri 2005), its score-based parts.
SEVERE_FLARE_TOTAL_ABOVE = 12
SEVERE_FLARE_PGA_ABOVE = Decimal("2.5")
FLARE_TOTAL_RISE = 3
FLARE_PGA_RISE = Decimal("1.0")
NO_FLARE, MILD_MODERATE_FLARE, SEVERE_FLARE = "NONE", "MILD_MODERATE", "SEVERE"
FLARE_LEVELS = (NO_FLARE, MILD_MODERATE_FLARE, SEVERE_FLARE)

DORIS_PGA_BELOW = Decimal("0.5")
DORIS_PREDNISONE_MAX = Decimal("5")
# Treatment-free DORIS: none of these in the medication log on the date (an antimalarial may continue).
DISEASE_MODIFYING_CATEGORIES = frozenset({"CORTICOSTEROID", "IMMUNOSUPPRESSANT", "BIOLOGIC"})
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


@dataclass(frozen=True)
class Outcome:
    """A derived state: its value (True/False, a flare level, a number), or None with the inputs it lacks named
    in `missing` (never guessed); `reasons` say why it is what it is, as the visit CRF shows them."""

    value: bool | str | int | Fraction | None
    reasons: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assessment:
    """One SELENA-SLEDAI assessment as the outcome rules read it; `pga` and `prednisone` None when not recorded."""

    total: int
    clinical: int
    descriptors: frozenset[str]
    pga: Decimal | None
    prednisone: Decimal | Fraction | None  # prednisone-equivalent mg/day on the assessment date


def _all_of(conditions: Iterable[tuple[bool | None, str, str]]) -> Outcome:
    """(holds, reason, missing input) conditions joined: False when one fails (whatever else is missing: it is
    then known), None naming each missing input when none fails, else True."""
    failed, met, missing = [], [], []
    for holds, reason, lacking in conditions:
        if holds is None:
            missing.append(lacking)
        else:
            (met if holds else failed).append(reason)
    if failed:
        return Outcome(False, tuple(failed))
    if missing:
        return Outcome(None, tuple(met), tuple(missing))
    return Outcome(True, tuple(met))


def _compare(value, holds) -> bool | None:
    return None if value is None else holds(value)


def selena_flare(previous: Assessment | None, current: Assessment) -> Outcome:
    """SELENA Flare Index against the previous assessment (DOMAIN.md §4): `SEVERE` when the total rises to > 12
    or the PGA to > 2.5 (from at or below it: a subject already above is not flaring again by staying there);
    `MILD_MODERATE` when the total rises by ≥ 3 points or the PGA by ≥ 1.0; `NONE` otherwise. Not judged on
    the first assessment; a missing PGA leaves it empty unless the total alone decides."""
    if previous is None:
        return Outcome(None, (), ("previous assessment",))
    rise = current.total - previous.total
    if previous.total <= SEVERE_FLARE_TOTAL_ABOVE < current.total:
        return Outcome(SEVERE_FLARE, (Message("SLEDAI rose from {previous} to {current} (> 12)",
                                              previous=previous.total, current=current.total),))  # fmt: skip
    pga_known = previous.pga is not None and current.pga is not None
    if pga_known and previous.pga <= SEVERE_FLARE_PGA_ABOVE < current.pga:
        rose = Message("PGA rose from {previous} to {current} (> 2.5)", previous=num(previous.pga, 1),
                       current=num(current.pga, 1))  # fmt: skip
        return Outcome(SEVERE_FLARE, (rose,))
    if rise >= FLARE_TOTAL_RISE and not pga_known:
        # Mild or moderate at least; a PGA rise could still make it severe.
        return Outcome(None, (Message("SLEDAI rose by {rise}", rise=rise),), _missing_pga(previous, current))
    if not pga_known:
        return Outcome(None, (), _missing_pga(previous, current))
    pga_rise = current.pga - previous.pga
    reasons = []
    if rise >= FLARE_TOTAL_RISE:
        reasons.append(Message("SLEDAI rose by {rise} (≥ 3)", rise=rise))
    if pga_rise >= FLARE_PGA_RISE:
        reasons.append(Message("PGA rose by {rise} (≥ 1.0)", rise=num(pga_rise, 1)))
    if reasons:
        return Outcome(MILD_MODERATE_FLARE, tuple(reasons))
    return Outcome(NO_FLARE, (Message("SLEDAI change {rise}, PGA change {pga}", rise=f"{rise:+d}",
                                      pga=num(pga_rise, 1)),))  # fmt: skip


def _missing_pga(previous: Assessment, current: Assessment) -> tuple[str, ...]:
    return tuple(name for name, a in (("previous PGA", previous), ("PGA", current)) if a.pga is None)


def doris_remission(current: Assessment) -> Outcome:
    """DORIS remission (van Vollenhoven 2021): clinical SELENA-SLEDAI 0, PGA < 0.5 and prednisone-equivalent
    ≤ 5 mg/day."""
    return _all_of(
        [
            _bound(N_("clinical SLEDAI"), current.clinical, "=", 0),
            _bound(N_("PGA"), current.pga, "<", DORIS_PGA_BELOW),
            _bound(N_("prednisone dose"), current.prednisone, "≤", DORIS_PREDNISONE_MAX, " mg/day"),
        ]
    )


def treatment_free_doris(doris: Outcome, categories_on_date: Iterable[str]) -> Outcome:
    """Treatment-free DORIS: DORIS, and no corticosteroid, immunosuppressant or biologic in the medication log on
    that date (`categories_on_date`: the categories of the courses running then; an antimalarial may continue)."""
    running = sorted(set(categories_on_date) & DISEASE_MODIFYING_CATEGORIES)
    treatment = (
        not running,
        Message("{categories} in the medication log", categories=", ".join(c.lower() for c in running)) if running
        else N_("no steroid, immunosuppressant or biologic"),
        "medication log",
    )  # fmt: skip
    return _all_of([(doris.value, N_("DORIS") if doris.value else N_("not in DORIS"), "DORIS"), treatment])


def lldas(previous: Assessment | None, current: Assessment) -> Outcome:
    """LLDAS (Franklyn 2016): total ≤ 4; no major-organ activity (weight-8, renal, cardiopulmonary descriptors or
    fever); no descriptor present now that was absent at the previous assessment; PGA ≤ 1; prednisone-equivalent
    ≤ 7.5 mg/day. The first assessment has no previous one to compare: its new activity is missing."""
    major = sorted(current.descriptors & MAJOR_ORGAN_DESCRIPTORS)
    new = None if previous is None else sorted(current.descriptors - previous.descriptors)
    return _all_of(
        [
            _bound(N_("SLEDAI"), current.total, "≤", LLDAS_SLEDAI_MAX),
            (not major, Message("major-organ activity: {codes}", codes=_codes(major)) if major
             else N_("no major-organ activity"), "SLEDAI"),
            (None if new is None else not new, Message("new activity: {codes}", codes=_codes(new)) if new
             else N_("no new activity"),
             "previous assessment"),
            _bound(N_("PGA"), current.pga, "≤", LLDAS_PGA_MAX),
            _bound(N_("prednisone dose"), current.prednisone, "≤", LLDAS_PREDNISONE_MAX, " mg/day"),
        ]
    )  # fmt: skip


def change_from_baseline(total: int, baseline_total: int | None) -> Outcome:
    """The total's change from baseline (the last assessment on or before infusion), in points."""
    if baseline_total is None:
        return Outcome(None, (), ("baseline assessment",))
    return Outcome(total - baseline_total)


def prednisone_on(courses: Iterable[tuple[str, Decimal | None, dt.date, dt.date | None]], on: dt.date) -> Outcome:
    """The prednisone-equivalent dose (mg/day) on a date from the corticosteroid courses of the medication log
    (drug, dose, start, stop; the stop day counts): their sum, 0 with none running; missing when a running
    course has no dose."""
    running = [(drug, dose) for drug, dose, start, stop in courses if start <= on and (stop is None or stop >= on)]
    if any(dose is None for _, dose in running):
        return Outcome(None, (), ("corticosteroid dose",))
    doses = [prednisone_equivalent(drug, dose) for drug, dose in running]
    return Outcome(sum((d for d in doses if d is not None), Fraction(0)))


DESCRIPTOR_LABELS = {code: label for _, descriptors in SLEDAI_ORGANS for code, label in descriptors}


def _codes(codes: Iterable[str]) -> str:
    """Descriptors as the form names them, for reasons: "haematuria, rash"."""
    return ", ".join(DESCRIPTOR_LABELS[code].lower() for code in codes)


# Each comparison with the words a reason shows when it holds and when it does not.
_COMPARISONS = {
    "=": (lambda value, bound: value == bound, "=", "≠"),
    "<": (lambda value, bound: value < bound, "<", "≥"),
    "≤": (lambda value, bound: value <= bound, "≤", ">"),
}


def _bound(name: str, value, op: str, bound, unit: str = "") -> tuple[bool | None, str, str]:
    """A condition of `_all_of`: `value op bound`, its reason ("PGA 0.8 ≥ 0.5"), or None naming `name`."""
    if value is None:
        return None, "", name
    compare, holds_word, fails_word = _COMPARISONS[op]
    holds = compare(value, bound)
    reason = Message("{name} {value}{unit} {sign} {bound}", name=name, value=num(value), unit=unit,
                     sign=holds_word if holds else fails_word, bound=num(bound))  # fmt: skip
    return holds, reason, name


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
            suggest("LOW_COMPLEMENT", Message("{analyte} {value} g/L < LLN {lln} on {when}", analyte=lab.analyte,
                                              value=num(value), lln=num(lab.lln), when=when))  # fmt: skip
        elif lab.analyte == "DSDNA" and lab.uln is not None and value > lab.uln:
            suggest("DNA_BINDING", Message("anti-dsDNA {value} IU/mL > ULN {uln} on {when}", value=num(value),
                                           uln=num(lab.uln), when=when))  # fmt: skip
        elif lab.analyte == "PLAT" and value < 100:
            suggest("THROMBOCYTOPENIA", Message("platelets {value} × 10^9/L < 100 on {when}", value=num(value),
                                                when=when))  # fmt: skip
        elif lab.analyte == "WBC" and value < 3:
            suggest("LEUKOPENIA", Message("white cells {value} × 10^9/L < 3 on {when}", value=num(value), when=when))
        elif lab.analyte == "PROT24" and value > D("0.5"):
            suggest("PROTEINURIA", Message("proteinuria {value} g/24h > 0.5 on {when}", value=num(value), when=when))
    if max_temperature_c is not None and max_temperature_c > 38:
        suggest("FEVER", Message("temperature {value} °C > 38", value=num(max_temperature_c, 1)))
    return [Suggestion(code, reason) for code, reason in found.items()]
