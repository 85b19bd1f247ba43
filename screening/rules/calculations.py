"""Small screening calculations (pure: no ORM, no request, no clock).

How a number is shown in reasons, calendar months, prednisone equivalents (DOMAIN.md §3),
Cockcroft-Gault, the 2012 SLICC classification and whether a serology result is positive.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

from edc.rules import D, Message, ana_titre
from screening.rules.codes import PREDNISONE_EQUIVALENTS, SLICC_CLINICAL, SLICC_IMMUNOLOGICAL
from screening.rules.inputs import LabFacts


def num(value, places: int = 2) -> str:
    """A number as shown in reasons: at most `places` decimals, no trailing zeros."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    text = f"{rounded.normalize():f}"
    return "0" if text in ("-0", "") else text


def months_before(day: dt.date, months: int) -> dt.date:
    """Calendar months: 6 months before 10 March is 10 September; 31 August − 6 months is 28/29 February."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def prednisone_equivalent(drug: str, dose_mg_per_day: Decimal) -> Fraction | None:
    """The prednisone-equivalent dose, exact (a Fraction: dexamethasone 9 mg is 60 mg, not 60.03)."""
    factor = PREDNISONE_EQUIVALENTS.get(canonical_drug(drug))
    return None if factor is None else Fraction(dose_mg_per_day) * factor


def course_start(current_start: dt.date, courses: Iterable[tuple[dt.date, dt.date | None]]) -> dt.date:
    """When a continuous treatment that includes a course starting `current_start` began.

    `courses` are (start, stop) of every course of the same kind in the log. Treatment is continuous across a
    switch of agent when the next starts on or before the day after the previous stops (DOMAIN.md §3): an
    earlier course links when it started before and stopped (or goes on) on or after the day before.
    """
    courses = list(courses)
    start, moved = current_start, True
    while moved:
        moved = False
        for begun, stopped in courses:
            if begun < start and (stopped is None or stopped >= start - dt.timedelta(days=1)):
                start, moved = begun, True
    return start


HIGH_DOSE_PREDNISONE = Fraction(100)  # mg/day prednisone-equivalent (EXC_NEPHRITIS)
HIGH_DOSE_WINDOW_DAYS = 56  # the 8 weeks before screening


def high_dose_steroid_days(
    courses: Iterable[tuple[str, Decimal | None, dt.date, dt.date | None, dt.date | None]], on: dt.date
) -> int:
    """Days of the 8 weeks (56 days) before `on` with a prednisone-equivalent dose ≥ 100 mg/day, summed
    (not necessarily consecutive), from the corticosteroid courses of the medication log (DOMAIN.md §3).

    `courses` are (drug, dose_mg_per_day, start, dose_stable_since, stop) of corticosteroids with a dose and a
    prednisone equivalent. The window is `on` − 56 … `on` − 1. Each day's dose is the sum of the courses taken
    that day; a course's recorded dose holds from its `dose_stable_since` (or its start) to its stop: the dose of
    its earlier days is not recorded, so they add nothing.
    """
    courses = [(prednisone_equivalent(d, dose), stable or start, stop) for d, dose, start, stable, stop in courses]
    days = 0
    for back in range(1, HIGH_DOSE_WINDOW_DAYS + 1):
        day = on - dt.timedelta(days=back)
        dose = sum((eq for eq, since, stop in courses if since <= day and (stop is None or stop >= day)), Fraction(0))
        days += dose >= HIGH_DOSE_PREDNISONE
    return days


def canonical_drug(drug: str) -> str:
    return " ".join(drug.split()).lower()


def creatinine_mg_dl(umol_l: Decimal) -> Decimal:
    return umol_l / D("88.4")


def cockcroft_gault(age_years: int, weight_kg: Decimal, female: bool, creatinine_umol_l: Decimal) -> Decimal:
    """Creatinine clearance in mL/min; age in whole years at the creatinine sample."""
    clearance = (140 - age_years) * weight_kg / (72 * creatinine_mg_dl(creatinine_umol_l))
    return clearance * D("0.85") if female else clearance


def slicc_classification(criteria: Iterable[str], biopsy_lupus_nephritis: bool) -> tuple[bool, str]:
    """2012 SLICC: ≥ 4 criteria with ≥ 1 clinical and ≥ 1 immunological, or biopsy nephritis + ANA/anti-dsDNA.

    `DIRECT_COOMBS` counts only when `HAEMOLYTIC_ANAEMIA` is not also recorded (Petri 2012, DOMAIN.md §3).
    """
    codes = set(criteria)
    coombs_not_counted = {"DIRECT_COOMBS", "HAEMOLYTIC_ANAEMIA"} <= codes
    if coombs_not_counted:
        codes.discard("DIRECT_COOMBS")
    clinical = len(codes & set(SLICC_CLINICAL))
    immunological = len(codes & set(SLICC_IMMUNOLOGICAL))
    counted = Message("{total} SLICC criteria ({clinical} clinical, {immunological} immunological)",
                      total=clinical + immunological, clinical=clinical, immunological=immunological)  # fmt: skip
    if coombs_not_counted:
        counted = Message("{counted}; DIRECT_COOMBS not counted beside HAEMOLYTIC_ANAEMIA", counted=counted)
    antibodies = sorted(codes & {"ANA", "ANTI_DSDNA"})
    if biopsy_lupus_nephritis and antibodies:
        return True, Message("biopsy-proven lupus nephritis with {antibodies}; {counted}",
                             antibodies=" and ".join(antibodies), counted=counted)  # fmt: skip
    if clinical + immunological >= 4 and clinical >= 1 and immunological >= 1:
        return True, Message("{counted}: ≥ 4 with ≥ 1 clinical and ≥ 1 immunological", counted=counted)
    return False, Message(
        "{counted}: needs ≥ 4 with ≥ 1 clinical and ≥ 1 immunological, or biopsy nephritis with ANA/anti-dsDNA",
        counted=counted,
    )


def serology_positive(lab: LabFacts) -> bool | None:
    """POSITIVE text, an ANA titre ≥ 1:80, or a value above the lab's ULN; None when it cannot be told."""
    text = lab.result_text.strip().upper()
    if text == "POSITIVE":
        return True
    if text == "NEGATIVE":
        return False
    titre = ana_titre(text) if lab.analyte == "ANA" and text else None
    if titre is not None:
        return titre >= 80
    if lab.value is not None and lab.uln is not None:
        return lab.value > lab.uln
    return None
