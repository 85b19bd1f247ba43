"""PK/PD derivations of the exports, DOMAIN.md §8 (pure: no ORM, no request, no clock).

Percent change from baseline, BLQ and the baseline of each subject × analyte, the non-compartmental
analysis of the CAR-T levels (NCA), the CD19 B-cell PD summary, complement normalisation and the SDTM
study day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import TypeVar

from edc.rules import as_decimal

T = TypeVar("T")


# --- Change from baseline (DOMAIN.md §8) ------------------------------------------------------

# The analytes whose percent change from baseline is a PD derivation; CD19 and the CAR transgene are followed by
# their own measures (nadir, aplasia, reconstitution; NCA), not against a baseline.
PERCENT_CHANGE_ANALYTES = frozenset({"DSDNA", "C3", "C4", "SLEDAI"})


def change_from(baseline: Decimal | float | int | None) -> Callable[[Decimal | float | int | None], float | None]:
    """(value − baseline) ÷ baseline × 100 for a series of values from one baseline (worked out once); None when
    either is missing or the baseline is 0."""
    if baseline is None or baseline == 0:
        return lambda value: None
    base_numerator, base_denominator = as_decimal(baseline).as_integer_ratio()

    def change(value: Decimal | float | int | None) -> float | None:
        if value is None:
            return None
        numerator, denominator = as_decimal(value).as_integer_ratio()
        # Exact fractions, rounded once (int / int is correctly rounded): 0.9 → 1.2 gives the double nearest
        # 33.33…, with no float artefact on the way.
        return (numerator * base_denominator - base_numerator * denominator) * 100 / (base_numerator * denominator)

    return change


def is_blq(value: Decimal | None, lloq: Decimal | None, not_detected: bool) -> bool:
    """Below the limit of quantification: not detected, or a value under the LLOQ (a value at it is quantified)."""
    return not_detected or (value is not None and lloq is not None and value < lloq)


def with_baselines(points: Iterable[tuple[float | None, Decimal | None, T]]) -> Iterator[tuple[T, Decimal | None]]:
    """Each (actual day, value, item) of one subject × analyte, in time order, with the baseline its change is
    measured from: the last value on or before the infusion (day ≤ 0). Items without a day (no infusion) get none.

    Only the pre-infusion items wait until the baseline is known (a handful per subject); the rest stream.
    """
    waiting: list[T] = []
    baseline = None
    for day, value, item in points:
        if day is not None and day <= 0:
            waiting.append(item)
            if value is not None:
                baseline = value
            continue
        if waiting:
            yield from ((early, baseline) for early in waiting)
            waiting.clear()
        yield item, baseline if day is not None else None
    yield from ((early, baseline) for early in waiting)


# --- PK: non-compartmental analysis (DOMAIN.md §8) ----------------------------------------------

AUC_END_DAY = 28.0


@dataclass(frozen=True)
class Concentration:
    day: float  # actual day from infusion start
    value: float | None
    blq: bool  # below the LLOQ or not detected


@dataclass(frozen=True)
class NcaResult:
    cmax: float | None
    tmax: float | None
    auc0_28: float
    clast: float | None
    tlast: float | None
    n_quantifiable: int


def _profile(points: list[Concentration]) -> list[tuple[float, float, bool]]:
    """(day, value, quantifiable) from (0, 0): BLQ as 0 before the first quantifiable, left out after it.

    A point that is neither BLQ nor valued (no result) is left out: it says nothing about the level.
    """
    profile = [(0.0, 0.0, False)]
    seen_quantifiable = False
    for point in sorted((p for p in points if p.day > 0), key=lambda p: p.day):
        if point.blq:
            if not seen_quantifiable:
                profile.append((point.day, 0.0, False))
        elif point.value is not None:
            seen_quantifiable = True
            profile.append((point.day, float(point.value), True))
    return profile


def _is_log_segment(c1: float, c2: float) -> bool:
    # Linear-up/log-down: log only when strictly falling between two positive values. Adjacent floats
    # whose ratio rounds to 1 have no usable log; both methods give c1 × Δt there, so linear is exact.
    return c2 > 0 and c1 > c2 and c1 / c2 > 1.0


def _segment_area(t1: float, c1: float, t2: float, c2: float) -> float:
    if _is_log_segment(c1, c2):
        return (c1 - c2) / math.log(c1 / c2) * (t2 - t1)
    return (c1 + c2) / 2 * (t2 - t1)


def _value_at(t: float, t1: float, c1: float, t2: float, c2: float) -> float:
    fraction = (t - t1) / (t2 - t1)
    if _is_log_segment(c1, c2):
        return c1 * (c2 / c1) ** fraction
    return c1 + (c2 - c1) * fraction


def _auc_to(profile: list[tuple[float, float, bool]], end_day: float) -> float:
    auc = 0.0
    for (t1, c1, _), (t2, c2, _) in pairwise(profile):
        if t1 >= end_day:
            break
        if t2 <= end_day:
            auc += _segment_area(t1, c1, t2, c2)
            continue
        # The end day falls inside this segment: integrate that segment's own curve (linear or log) up
        # to it. Deciding the method on the full segment matters when it falls to 0: that segment is
        # linear, so its part up to day 28 is too, although both of that part's ends are positive.
        c_end = _value_at(end_day, t1, c1, t2, c2)
        if _is_log_segment(c1, c2):
            # ∫ c1·e^(−k(t−t1)) dt from t1 to 28 = (c1 − c28) ÷ k with k = ln(c1 ÷ c2) ÷ Δt: the same value
            # as the formula on (c1, c28), without dividing by ln(c1 ÷ c28), which is 0 when 28 ≈ t1.
            auc += (c1 - c_end) / math.log(c1 / c2) * (t2 - t1)
        else:
            auc += (c1 + c_end) / 2 * (end_day - t1)
        break
    return auc


def nca(points: list[Concentration]) -> NcaResult:
    """CMAX, TMAX, AUC0_28, CLAST, TLAST and n_quantifiable exactly as DOMAIN.md §8.

    Points: post-infusion (day > 0) in time order plus (0, 0); BLQ is 0 before the first quantifiable
    value and left out after it. CMAX is the largest value, TMAX the day of its first occurrence;
    CLAST/TLAST the last quantifiable value and day. AUC0_28 is linear-up/log-down over [0, 28],
    interpolating day 28 the same way, and stops at the last point when none lies after day 28. With
    nothing quantifiable, CMAX/TMAX/CLAST/TLAST are None and AUC0_28 is 0.
    """
    profile = _profile(points)
    quantifiable = [(t, c) for t, c, q in profile if q]
    if not quantifiable:
        return NcaResult(None, None, 0.0, None, None, 0)
    cmax = max(c for _, c in quantifiable)
    tmax = next(t for t, c in quantifiable if c == cmax)
    tlast, clast = quantifiable[-1]
    return NcaResult(cmax, tmax, _auc_to(profile, AUC_END_DAY), clast, tlast, len(quantifiable))


# --- PD -----------------------------------------------------------------------------------------

B_CELL_APLASIA_BELOW = 1.0  # cells/µL


@dataclass(frozen=True)
class CD19Summary:
    nadir: float | None
    nadir_day: float | None
    aplasia_onset_day: float | None
    aplasia_duration_days: float | None  # None while aplasia is ongoing (or never began)
    reconstitution_day: float | None


def cd19_pd(points: list[tuple[float, float]], aplasia_threshold: float = B_CELL_APLASIA_BELOW) -> CD19Summary:
    """CD19+ B-cell nadir and aplasia from (actual day, cells/µL) points after the infusion (day > 0).

    Nadir: the lowest value and the day of its first occurrence. Aplasia onset: first day below the
    threshold. Reconstitution: first day at or above the threshold after the onset. Duration:
    reconstitution − onset, None while aplasia is ongoing.
    """
    post_infusion = sorted((p for p in points if p[0] > 0), key=lambda p: p[0])
    if not post_infusion:
        return CD19Summary(None, None, None, None, None)
    nadir = min(value for _, value in post_infusion)
    nadir_day = next(day for day, value in post_infusion if value == nadir)
    onset = next((day for day, value in post_infusion if value < aplasia_threshold), None)
    reconstitution = None
    if onset is not None:
        reconstitution = next((day for day, value in post_infusion if day > onset and value >= aplasia_threshold), None)
    duration = reconstitution - onset if reconstitution is not None else None
    return CD19Summary(nadir, nadir_day, onset, duration, reconstitution)


def complement_normalised(value: Decimal | float | None, lln: Decimal | float | None) -> bool:
    """C3/C4 normalised: value ≥ the lab's LLN. False when either is missing (nothing shows it)."""
    if value is None or lln is None:
        return False
    return as_decimal(value) >= as_decimal(lln)


def study_day(on: dt.date, infusion_date: dt.date) -> int:
    """SDTM --DY: the day of infusion is day 1, the day before it day −1 (there is no day 0)."""
    delta = (on - infusion_date).days
    return delta + 1 if delta >= 0 else delta
