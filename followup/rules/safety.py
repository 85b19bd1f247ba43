"""CAR-T safety derivations (DOMAIN.md §9): ICAHT, hypogammaglobulinaemia, the worst CRS/ICANS grade, infections,
and one subject's safety summary. Pure functions over plain values: days are site calendar days relative to the
infusion (day 0), computed by the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

# --- ICAHT (EHA/EBMT 2023, Rejeski) --------------------------------------------------------------

EARLY_FIRST_DAY, EARLY_LAST_DAY = 0, 30
# A day without a result takes the last result before it for at most this many days after the window's last one.
CARRY_FORWARD_DAYS = 2
ANC_SEVERE = Decimal("0.5")  # × 10^9/L
ANC_PROFOUND = Decimal("0.1")
# Early grade: (grade, threshold, days at or below it), the highest that holds wins.
EARLY_GRADES = ((4, ANC_PROFOUND, 7), (3, ANC_SEVERE, 14), (2, ANC_SEVERE, 7), (1, ANC_SEVERE, 1))
# Late grade (after day 30): (grade, threshold), each needing LATE_MIN_RESULTS results at or below it.
LATE_GRADES = ((4, Decimal("0.1")), (3, Decimal("0.5")), (2, Decimal("1.0")), (1, Decimal("1.5")))
LATE_MIN_RESULTS = 2


class LabPoint(NamedTuple):
    """One result: its site calendar day from the infusion (day 0), its value, and whether it was sampled after
    the infusion started (a day-0 sample may precede it)."""

    day: int
    value: Decimal
    after_infusion: bool = True


def daily_anc(results: Iterable[LabPoint]) -> dict[int, Decimal]:
    """Each day of days 0–30 with an ANC: the lowest result that day; a day without a result takes the last result
    before it (in the window), up to the next result, and never more than 2 days after the window's last result."""
    lowest: dict[int, Decimal] = {}
    for point in results:
        if EARLY_FIRST_DAY <= point.day <= EARLY_LAST_DAY:
            lowest[point.day] = min(point.value, lowest.get(point.day, point.value))
    days = sorted(lowest)
    filled: dict[int, Decimal] = {}
    for i, day in enumerate(days):
        until = days[i + 1] if i + 1 < len(days) else min(day + CARRY_FORWARD_DAYS, EARLY_LAST_DAY) + 1
        for covered in range(day, until):
            filled[covered] = lowest[day]
    return filled


@dataclass(frozen=True)
class EarlyIcaht:
    grade: int | None  # None: no ANC result in days 0–30
    days_le_0_5: int | None
    days_le_0_1: int | None


def early_icaht(results: Iterable[LabPoint]) -> EarlyIcaht:
    """Early ICAHT, days 0–30: grade 1 with ANC ≤ 0.5 on 1–6 days, 2 on 7–13, 3 on ≥ 14, 4 with ANC ≤ 0.1 on
    ≥ 7 days (the highest that holds), else 0. Days are summed, not consecutive (a second fall counts too)."""
    days = daily_anc(results)
    if not days:
        return EarlyIcaht(None, None, None)
    count = {threshold: sum(value <= threshold for value in days.values()) for threshold in (ANC_SEVERE, ANC_PROFOUND)}
    grade = next((g for g, threshold, needed in EARLY_GRADES if count[threshold] >= needed), 0)
    return EarlyIcaht(grade, count[ANC_SEVERE], count[ANC_PROFOUND])


def late_icaht(results: Iterable[LabPoint]) -> int | None:
    """Late ICAHT, after day 30: grade 1 ANC ≤ 1.5, 2 ≤ 1.0, 3 ≤ 0.5, 4 ≤ 0.1 × 10^9/L, each only when at least two
    results after day 30 are at or below it (non-transient); the highest that holds, else 0; None without any
    result after day 30."""
    values = [point.value for point in results if point.day > EARLY_LAST_DAY]
    if not values:
        return None
    return next(
        (g for g, threshold in LATE_GRADES if sum(v <= threshold for v in values) >= LATE_MIN_RESULTS),
        0,
    )


# --- Hypogammaglobulinaemia ---------------------------------------------------------------------

IGG_SEVERE_BELOW = Decimal(4)  # g/L


def hypogammaglobulinaemia(value: Decimal, lln: Decimal | None) -> bool | None:
    """IgG below the LLN of its own result (below 4 g/L is below any lab's LLN); None when it cannot be told."""
    if value < IGG_SEVERE_BELOW:
        return True
    return None if lln is None else value < lln


def severe_hypogammaglobulinaemia(value: Decimal) -> bool:
    return value < IGG_SEVERE_BELOW


def igg_nadir(results: Iterable[LabPoint]) -> LabPoint | None:
    """The lowest IgG sampled after the infusion, and its day (the first, when it repeats)."""
    lowest = None
    for point in results:
        if point.after_infusion and (lowest is None or point.value < lowest.value):
            lowest = point
    return lowest


def ivig_given(courses: Iterable[tuple[dt.date, dt.date | None]], infusion_date: dt.date) -> bool:
    """Whether an IVIG course of the medication log ((start, stop)) was given from the infusion day on: a course
    stopped before the infusion (e.g. for the lupus, years earlier) does not count."""
    return any(stop is None or stop >= infusion_date for _start, stop in courses)


# --- Adverse events -----------------------------------------------------------------------------


class GradedEvent(NamedTuple):
    grade: int | None  # ASTCT for CRS/ICANS, CTCAE otherwise
    onset_day: int | None  # site calendar day from the infusion (day 0)


def worst_grade(events: Iterable[GradedEvent]) -> tuple[int, int | None]:
    """(the worst grade, the onset day of the first event of grade ≥ 1); (0, None) without such an event.

    A CRS without fever and without treatment for it is ASTCT grade 0 (not CRS): it sets no onset."""
    graded = [e for e in events if e.grade]
    if not graded:
        return 0, None
    onsets = [e.onset_day for e in graded if e.onset_day is not None]
    return max(e.grade for e in graded), min(onsets) if onsets else None


def infection_counts(events: Iterable[GradedEvent]) -> tuple[int, int]:
    """(infections, infections of grade ≥ 3)."""
    events = list(events)
    return len(events), sum(1 for e in events if e.grade is not None and e.grade >= 3)


# --- One subject's summary ----------------------------------------------------------------------


@dataclass(frozen=True)
class SafetySummary:
    """The columns of `exports/safety/` (CRF.md) and the subject page's safety panel."""

    crs_max_grade: int
    crs_onset_day: int | None
    icans_max_grade: int
    icans_onset_day: int | None
    icaht_early_grade: int | None
    icaht_late_grade: int | None
    anc_le_0_5_days: int | None
    igg_min: Decimal | None
    igg_min_day: int | None
    ivig_given: bool
    infections: int
    infections_grade3plus: int
    pcr_negative_date: dt.date | None


def safety_summary(
    *,
    infusion_date: dt.date,
    anc: Iterable[LabPoint],
    igg: Iterable[LabPoint],
    crs: Iterable[GradedEvent],
    icans: Iterable[GradedEvent],
    infections: Iterable[GradedEvent],
    ivig_courses: Iterable[tuple[dt.date, dt.date | None]],
    pcr_negative_date: dt.date | None,
) -> SafetySummary:
    anc = list(anc)
    early = early_icaht(anc)
    nadir = igg_nadir(igg)
    crs_grade, crs_onset = worst_grade(crs)
    icans_grade, icans_onset = worst_grade(icans)
    n_infections, severe_infections = infection_counts(infections)
    return SafetySummary(
        crs_max_grade=crs_grade,
        crs_onset_day=crs_onset,
        icans_max_grade=icans_grade,
        icans_onset_day=icans_onset,
        icaht_early_grade=early.grade,
        icaht_late_grade=late_icaht(anc),
        anc_le_0_5_days=early.days_le_0_5,
        igg_min=nadir.value if nadir else None,
        igg_min_day=nadir.day if nadir else None,
        ivig_given=ivig_given(ivig_courses, infusion_date),
        infections=n_infections,
        infections_grade3plus=severe_infections,
        pcr_negative_date=pcr_negative_date,
    )
