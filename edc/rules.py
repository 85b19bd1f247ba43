"""Kernel rules: pure functions over plain values (no ORM, no clock).

The analyte catalogue and units (DOMAIN.md §2), the hard and soft limits of CRF.md, the visit
schedule with its windows (DOMAIN.md §6) and the subject identifier format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

# --- Analytes and units -------------------------------------------------------------------------

# Stored unit per analyte code; None means the result is text (titre, positive/negative).
ANALYTE_UNITS: dict[str, str | None] = {
    "LYM": "10^9/L",
    "PLAT": "10^9/L",
    "WBC": "10^9/L",
    "HGB": "g/L",
    "CREAT": "µmol/L",
    "ALT": "U/L",
    "AST": "U/L",
    "ALP": "U/L",
    "LIPASE": "U/L",
    "AMYLASE": "U/L",
    "BILI": "µmol/L",
    "BILDIR": "µmol/L",
    "PT": "s",
    "APTT": "s",
    "FIBRINO": "g/L",
    "IGA": "g/L",
    "C3": "g/L",
    "C4": "g/L",
    "DSDNA": "IU/mL",
    "ANA": None,
    "SM": None,
    "PROT24": "g/24h",
    "CD19": "cells/µL",
    "CARPCR": "copies/µg",
    "CARFLOW": "cells/µL",
    "ANC": "10^9/L",
    "IGG": "g/L",
}

# Analytes that may carry a text result instead of a value.
TEXT_RESULT_ANALYTES = {"ANA", "SM", "DSDNA"}
RESULT_TEXTS = {"POSITIVE", "NEGATIVE"}


# --- Words people read: English here, translated where they are shown (edc.i18n; README, "Languages") -----------
# Rules are free of Django, so they mark their texts for the catalogue (`manage.py makemessages` collects N_ and
# Message) and keep them English: the value a rule returns is also what tests, logs and stored codes compare.


class Label(str):
    """An English label the catalogue holds (marked with `N_`): where it is shown, or a value of a `Message`, it is
    translated; a plain string (a code, a name, a subject id) is shown as it is."""


def N_(text: str) -> Label:  # noqa: N802 - the catalogue's marker, as gettext's N_
    return Label(text)


# What the screens call each analyte (the lab sheet's name); the code stays in the data, the API and the exports.
ANALYTE_NAMES: dict[str, Label] = {
    "LYM": N_("lymphocytes"), "PLAT": N_("platelets"), "WBC": N_("white cells"), "HGB": N_("haemoglobin"),
    "CREAT": N_("creatinine"), "ALT": N_("ALT"), "AST": N_("AST"), "ALP": N_("alkaline phosphatase"),
    "LIPASE": N_("lipase"), "AMYLASE": N_("amylase"), "BILI": N_("total bilirubin"),
    "BILDIR": N_("direct bilirubin"), "PT": N_("prothrombin time"), "APTT": N_("APTT"),
    "FIBRINO": N_("fibrinogen"), "IGA": N_("immunoglobulin A"), "C3": N_("C3"), "C4": N_("C4"),
    "DSDNA": N_("anti-dsDNA"), "ANA": N_("ANA (titre)"), "SM": N_("anti-Smith"),
    "PROT24": N_("24 h urine protein"), "CD19": N_("CD19+ B cells"), "CARPCR": N_("CAR transgene (qPCR)"),
    "CARFLOW": N_("CAR+ T cells (flow)"), "ANC": N_("neutrophils (ANC)"), "IGG": N_("immunoglobulin G"),
}  # fmt: skip
ANALYTE_CHOICES = [(code, ANALYTE_NAMES[code]) for code in ANALYTE_UNITS]


class Message(str):
    """An English message built from a template and its values (numbers already as typed, units as stored), which
    keeps both so that `edc.i18n.translated` can say it in the reader's language with the same values."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> Message:
        message = super().__new__(cls, template.format(**values))
        message.template, message.values = template, values
        return message


# The texts of the queries the edit checks open. A query keeps its text in English (the words of its audit trail);
# the screens say it in the reader's language by matching it against these (`edc.i18n.translated_query_text`).
BELOW_EXPECTED = N_("{value} is below the expected {expected}; please confirm")
ABOVE_EXPECTED = N_("{value} is above the expected {expected}; please confirm")
BELOW_TENTH_OF_LLN = N_("{value} is below 0.1 × LLN {lln}; please confirm")
ABOVE_TEN_TIMES_ULN = N_("{value} is above 10 × ULN {uln}; please confirm")
VISIT_OUT_OF_WINDOW = N_("visit {code} is {days} day(s) {early_or_late} (window {start} … {end}); please confirm")
QUERY_TEXTS = (BELOW_EXPECTED, ABOVE_EXPECTED, BELOW_TENTH_OF_LLN, ABOVE_TEN_TIMES_ULN, VISIT_OUT_OF_WINDOW)


@dataclass(frozen=True)
class Limit:
    """Hard range refuses a write; soft range stores it and opens a data query."""

    hard_min: Decimal | None = None
    hard_max: Decimal | None = None
    soft_min: Decimal | None = None
    soft_max: Decimal | None = None
    unit: str = ""
    # The hard minimum itself is refused ("> 0" rather than "≥ 0").
    hard_min_exclusive: bool = False

    def hard_error(self, value: Decimal) -> str | None:
        if self.hard_min is not None:
            below = value <= self.hard_min if self.hard_min_exclusive else value < self.hard_min
            if below:
                sign = ">" if self.hard_min_exclusive else "≥"
                return Message("must be {sign} {limit}{unit} (hard limit); got {value}", sign=sign,
                               limit=as_typed(self.hard_min), unit=_unit(self.unit), value=as_typed(value))  # fmt: skip
        if self.hard_max is not None and value > self.hard_max:
            return Message("must be ≤ {limit}{unit} (hard limit); got {value}", limit=as_typed(self.hard_max),
                           unit=_unit(self.unit), value=as_typed(value))  # fmt: skip
        return None

    def soft_warning(self, value: Decimal) -> str | None:
        typed = f"{as_typed(value)}{_unit(self.unit)}"
        if self.soft_min is not None and value < self.soft_min:
            return Message(BELOW_EXPECTED, value=typed, expected=as_typed(self.soft_min))
        if self.soft_max is not None and value > self.soft_max:
            return Message(ABOVE_EXPECTED, value=typed, expected=as_typed(self.soft_max))
        return None


def as_typed(value: Decimal | float | int) -> str:
    """A number as site staff typed it: 1500, not 1500.000000 or 1.5E+3 (the columns keep six decimals)."""
    return f"{Decimal(str(value)).normalize():f}"


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def D(value) -> Decimal:  # noqa: N802 - short constructor for limit tables
    return Decimal(str(value))


def as_decimal(value: Decimal | float | int) -> Decimal:
    """A Decimal as it is; a float or int through str, so that a float such as 0.49 compares as the 0.49
    the user typed, not its binary neighbour."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


# Analyte-specific limits of CRF.md; every value is also ≥ 0.
ANALYTE_LIMITS: dict[str, Limit] = {
    "HGB": Limit(D(20), D(250), D(60), D(200), "g/L"),
    "PLAT": Limit(D(0), D(2000), None, D(1000), "10^9/L"),
    "CREAT": Limit(D(10), D(3000), None, D(500), "µmol/L"),
    "C3": Limit(D(0), D(10), unit="g/L"),
    "C4": Limit(D(0), D(5), unit="g/L"),
    "CD19": Limit(D(0), D(5000), None, D(1500), "cells/µL"),
    "CARPCR": Limit(D(0), D("1e8"), None, D("1e6"), "copies/µg"),
    "ANC": Limit(D(0), D(100), D("0.5"), D(30), "10^9/L"),
    "IGG": Limit(D(0), D(100), D(4), D(30), "g/L"),
}
NON_NEGATIVE = Limit(hard_min=D(0))


def normalise_unit(unit: str) -> str:
    """µ (U+00B5), μ (U+03BC) and u are the same letter in a unit (CRF.md)."""
    # casefold turns the micro sign into the Greek letter, so fold both back to one symbol after it.
    return unit.strip().casefold().replace("μ", "µ").replace("u", "µ")


def units_equal(given: str, expected: str) -> bool:
    return normalise_unit(given) == normalise_unit(expected)


def check_lab_result(
    *,
    analyte: str,
    value: Decimal | None,
    result_text: str,
    unit: str,
    lln: Decimal | None,
    uln: Decimal | None,
    not_detected: bool,
    lloq: Decimal | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Hard errors and soft warnings, each keyed by field name."""
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    if analyte not in ANALYTE_UNITS:
        errors["analyte"] = Message("unknown analyte {analyte}; expected one of {codes}", analyte=repr(analyte),
                                    codes=", ".join(ANALYTE_UNITS))  # fmt: skip
        return errors, warnings
    expected_unit = ANALYTE_UNITS[analyte]
    if unit and expected_unit and not units_equal(unit, expected_unit):
        errors["unit"] = Message("{analyte} is stored in {expected}, not {unit}", analyte=analyte,
                                 expected=expected_unit, unit=repr(unit))  # fmt: skip
    if unit and expected_unit is None:
        errors["unit"] = Message("{analyte} is a text result and has no unit", analyte=analyte)
    if value is None and not result_text and not not_detected:
        errors["value"] = Message("{analyte} needs a value or a result_text", analyte=analyte)
    if result_text and analyte not in TEXT_RESULT_ANALYTES:
        errors["result_text"] = Message("{analyte} takes a numeric value, not a text result", analyte=analyte)
    elif result_text and analyte != "ANA" and result_text not in RESULT_TEXTS:
        errors["result_text"] = Message("must be one of {values}", values=", ".join(sorted(RESULT_TEXTS)))
    elif result_text and analyte == "ANA" and result_text not in RESULT_TEXTS and ana_titre(result_text) is None:
        errors["result_text"] = N_("ANA takes a titre such as 1:80, or POSITIVE/NEGATIVE")
    if value is not None:
        if expected_unit is None:
            errors["value"] = Message("{analyte} is a text result; send result_text", analyte=analyte)
            return errors, warnings
        if not_detected:
            errors["not_detected"] = N_("a result that was not detected has no value")
        limit = ANALYTE_LIMITS.get(analyte, NON_NEGATIVE)
        hard = NON_NEGATIVE.hard_error(value) or limit.hard_error(value)
        if hard:
            errors["value"] = hard
        else:
            soft = limit.soft_warning(value) or _reference_range_warning(value, lln, uln, expected_unit)
            if soft:
                warnings["value"] = soft
    for field, bound in (("lln", lln), ("uln", uln), ("lloq", lloq)):
        if bound is not None and bound < 0:
            errors[field] = Message("must be {sign} {limit}{unit} (hard limit); got {value}", sign="≥", limit="0",
                                    unit="", value=as_typed(bound))  # fmt: skip
    if lln is not None and uln is not None and lln > uln:
        errors["uln"] = Message("ULN {uln} is below LLN {lln}", uln=as_typed(uln), lln=as_typed(lln))
    return errors, warnings


def _reference_range_warning(value: Decimal, lln, uln, unit: str) -> str | None:
    """Soft limit of any lab value: outside 0.1 × LLN … 10 × ULN."""
    if lln is not None and lln > 0 and value < lln * D("0.1"):
        return Message(BELOW_TENTH_OF_LLN, value=f"{as_typed(value)} {unit}", lln=as_typed(lln))
    if uln is not None and uln > 0 and value > uln * 10:
        return Message(ABOVE_TEN_TIMES_ULN, value=f"{as_typed(value)} {unit}", uln=as_typed(uln))
    return None


def ana_titre(text: str) -> int | None:
    """The denominator of an ANA titre written 1:N, or None when the text is not a titre."""
    head, sep, tail = text.replace(" ", "").partition(":")
    if sep and head == "1" and tail.isdigit():
        return int(tail)
    return None


def reference_flag(value: Decimal | None, lln: Decimal | None, uln: Decimal | None) -> str | None:
    """LOW, HIGH or NORMAL against the result's own reference range (the lab's, that day); None without a value
    or without a range."""
    if value is None or (lln is None and uln is None):
        return None
    if lln is not None and value < lln:
        return "LOW"
    if uln is not None and value > uln:
        return "HIGH"
    return "NORMAL"


def check_limits(values: dict, limits: dict[str, Limit]) -> tuple[dict[str, str], dict[str, str]]:
    """Apply a CRF's declared field limits to its values (None is left to 'required' checks)."""
    errors, warnings = {}, {}
    for field, limit in limits.items():
        value = values.get(field)
        if value is None:
            continue
        value = D(value)
        error = limit.hard_error(value)
        if error:
            errors[field] = error
            continue
        warning = limit.soft_warning(value)
        if warning:
            warnings[field] = warning
    return errors, warnings


# Dates far outside any subject's life or the trial are typing slips (0001-01-01, 2206-…): a hard limit on
# every date and timestamp, checked before any other rule, whose offset arithmetic years 1 and 9999 overflow.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def implausible_date(value: dt.date | dt.datetime | None) -> str | None:
    """Why a date or timestamp cannot be a trial's, or None (a timestamp is judged by its own calendar day)."""
    if value is None:
        return None
    day = value.date() if isinstance(value, dt.datetime) else value
    if EARLIEST_DATE <= day <= LATEST_DATE:
        return None
    return Message("{day} is outside {earliest} … {latest} (hard limit)", day=day.isoformat(),
                   earliest=EARLIEST_DATE.isoformat(), latest=LATEST_DATE.isoformat())  # fmt: skip


# A subject leaves the study from screening, enrolment or follow-up; a screen failure never entered it.
OFF_STUDY_FROM = ("SCREENING", "ENROLLED", "TREATED")


def off_study_errors(status: str, on: dt.date, reason: str, today: dt.date) -> dict[str, str]:
    """Why a subject cannot be taken off study on `on` (site date) with this reason; empty when it can."""
    errors = {}
    if status not in OFF_STUDY_FROM:
        errors["status"] = Message(
            "a subject {status} cannot be taken off study", status=status.replace("_", " ").lower()
        )
    if on > today:
        errors["date"] = Message(IN_THE_FUTURE, value=on.isoformat(), latest=today.isoformat())
    elif error := implausible_date(on):
        errors["date"] = error
    if not reason.strip():
        errors["reason"] = N_("a reason is required to take a subject off study")
    return errors


IN_THE_FUTURE = N_("{value} is in the future (hard limit: not after {latest})")


def not_in_future(field: str, value: dt.date | dt.datetime | None, now: dt.datetime) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dt.datetime):
        if value > now:
            return {field: Message(IN_THE_FUTURE, value=value.isoformat(), latest=now.isoformat())}
        return {}
    if value > now.date():
        return {field: Message(IN_THE_FUTURE, value=value.isoformat(), latest=now.date().isoformat())}
    return {}


# --- Visit schedule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitDef:
    code: str
    visitnum: float
    day: int | None  # nominal day relative to infusion (day 0); None for unscheduled
    window_before: int = 0
    window_after: int = 0
    follow_up: bool = False


def _follow_up_defs() -> list[VisitDef]:
    defs = [VisitDef(f"D{d}", 100 + d, d, 1, 1, True) for d in (1, 4, 7, 10, 14)]
    defs += [VisitDef(f"D{d}", 100 + d, d, 2, 2, True) for d in (21, 28)]
    defs += [VisitDef(f"M{m}", 200 + m, day, 7, 7, True) for m, day in ((2, 60), (3, 90))]
    defs += [VisitDef(f"M{m}", 200 + m, day, 14, 14, True) for m, day in ((6, 180), (9, 270), (12, 365))]
    defs += [VisitDef(f"M{m}", 200 + m, day, 30, 30, True) for m, day in ((15, 455), (18, 545), (21, 635), (24, 730))]
    defs += [VisitDef(f"Y{n}", 300 + n, 365 * n, 30, 30, True) for n in range(3, 16)]
    return defs


# Pre-infusion visits have no window: they are anchored on the lymphodepletion and infusion dates.
PRE_INFUSION = [
    VisitDef("SCR", 1, None),
    VisitDef("BL", 2, -5),
    VisitDef("LD_M5", 3, -5),
    VisitDef("LD_M4", 4, -4),
    VisitDef("LD_M3", 5, -3),
    VisitDef("D0_PRE", 6, 0),
    VisitDef("D0", 7, 0),
]
FOLLOW_UP = _follow_up_defs()
UNSCHEDULED = VisitDef("UNS", 999, None)
SCHEDULE: dict[str, VisitDef] = {v.code: v for v in [*PRE_INFUSION, *FOLLOW_UP, UNSCHEDULED]}


@dataclass(frozen=True)
class PlannedVisit:
    code: str
    planned_date: dt.date
    window_start: dt.date
    window_end: dt.date


def follow_up_plan(infusion_date: dt.date) -> list[PlannedVisit]:
    """The scheduled follow-up visits with their windows, from the infusion date (site calendar)."""
    return [
        PlannedVisit(
            code=v.code,
            planned_date=infusion_date + dt.timedelta(days=v.day),
            window_start=infusion_date + dt.timedelta(days=v.day - v.window_before),
            window_end=infusion_date + dt.timedelta(days=v.day + v.window_after),
        )
        for v in FOLLOW_UP
    ]


def follow_up_sample_error(sample: dt.datetime | None, infusion_start: dt.datetime | None) -> str | None:
    """A follow-up sample is taken after the infusion (hard limit)."""
    if sample is None:
        return None
    if infusion_start is None:
        return N_("a follow-up sample needs a recorded infusion")
    if sample < infusion_start:
        return Message("{sample} is before the infusion at {infusion} (hard limit)", sample=sample.isoformat(),
                       infusion=infusion_start.isoformat())  # fmt: skip
    return None


@dataclass(frozen=True)
class WindowStatus:
    status: str  # IN_WINDOW, EARLY or LATE
    days_outside: int  # 0 in the window; otherwise days before its start or after its end


def window_status(visit_date: dt.date, window_start: dt.date, window_end: dt.date) -> WindowStatus:
    """A visit on the first or the last day of its window is in it; otherwise EARLY/LATE by so many days."""
    if visit_date < window_start:
        return WindowStatus("EARLY", (window_start - visit_date).days)
    if visit_date > window_end:
        return WindowStatus("LATE", (visit_date - window_end).days)
    return WindowStatus("IN_WINDOW", 0)


def site_date(moment: dt.datetime, tz_name: str) -> dt.date:
    """The calendar date of an aware datetime at the site (00:30 in Hangzhou is that day, not UTC's)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"site_date needs an aware datetime; got naive {moment.isoformat()}")
    return moment.astimezone(ZoneInfo(tz_name)).date()


# --- Subjects -----------------------------------------------------------------------------------


def format_subject_id(site_code: str, number: int) -> str:
    """`M1019-<site>-<nnn>` as CRF.md assigns it."""
    return f"M1019-{site_code}-{number:03d}"


def age_in_years(date_of_birth: dt.date, on: dt.date) -> int:
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - before_birthday


# --- Study status: where each visit stands, and how old a query is ------------------------------

# What the study's screens call the visits whose code is not already their name (follow-up codes, D7 or M3, are).
VISIT_NAMES = {
    "SCR": N_("screening"),
    "BL": N_("baseline"),
    "LD_M5": N_("LD day −5"),
    "LD_M4": N_("LD day −4"),
    "LD_M3": N_("LD day −3"),
    "D0_PRE": N_("D0 pre-infusion"),
    "D0": N_("D0 infusion"),
    "UNS": N_("unscheduled"),
}


def visit_name(code: str) -> str:
    return VISIT_NAMES.get(code, code)


# The states of a visit on the study dashboard, in the order of the legend: (state, label, what it means).
VISIT_STATES = (
    ("SCHEDULED", N_("scheduled"), N_("planned; its window has not opened")),
    ("DUE", N_("due"), N_("its window is open today")),
    ("OVERDUE", N_("overdue"), N_("its window has closed and it is not done")),
    ("MISSED", N_("missed"), N_("recorded as missed")),
    ("DONE", N_("done"), N_("done; not yet verified or signed")),
    ("QUERIES", N_("open queries"), N_("a query on the visit or one of its results is not closed")),
    ("VERIFIED", N_("SDV done"), N_("the visit and every one of its results verified against source")),
    ("SIGNED", N_("signed"), N_("signed by the investigator")),
    ("LOCKED", N_("locked"), N_("locked by data management (visit, subject or study)")),
)
VISIT_STATE_LABELS = {state: label for state, label, _ in VISIT_STATES}


def visit_state(
    *,
    status: str,
    window_start: dt.date | None,
    window_end: dt.date | None,
    today: dt.date,
    open_queries: int = 0,
    verified: int = 0,
    rows: int = 1,
    signatures: int = 0,
    locked: bool = False,
) -> str:
    """One state of `VISIT_STATES` for a visit, from its status and window (site dates), today (site date), the
    queries not closed on it or its results, how many of its `rows` (the visit and its results) are verified, its
    signatures and whether a lock covers it. The first that holds wins: locked, open queries, then for a done
    visit signed, SDV done, done; for a scheduled one overdue (today after the window's last day), due (today in
    the window, both ends included), scheduled (before the window, or no window: pre-infusion visits)."""
    if locked:
        return "LOCKED"
    if open_queries > 0:
        return "QUERIES"
    if status == "MISSED":
        return "MISSED"
    if status == "DONE":
        if signatures > 0:
            return "SIGNED"
        if verified >= rows:
            return "VERIFIED"
        return "DONE"
    if window_end is not None and today > window_end:
        return "OVERDUE"
    if window_start is not None and window_end is not None and window_start <= today:
        return "DUE"
    return "SCHEDULED"


# Age bands of queries not yet closed, in days since they were raised: (label, first day, last day or None).
QUERY_AGE_BANDS = ((N_("0–7 days"), 0, 7), (N_("8–30 days"), 8, 30), (N_("over 30 days"), 31, None))


def query_age_band(age_days: int) -> str:
    """The band of `QUERY_AGE_BANDS` a query of this age (whole days since it was raised) falls in."""
    for label, first, last in QUERY_AGE_BANDS:
        if age_days >= first and (last is None or age_days <= last):
            return label
    raise ValueError(f"a query cannot be {age_days} days old")


# --- Protocol deviations ------------------------------------------------------------------------

# What raised a proposal, as its `source` key: one proposal per cause, whatever how often the cause is saved.
VISIT_WINDOW_SOURCE = "visit-window:{visit_pk}"


def deviation_errors(*, reported_to_ec: bool, reported_to_ec_date: dt.date | None, deviation_date: dt.date | None):
    """Reported to the ethics committee: yes with the day it was reported (not before the deviation), no without."""
    if reported_to_ec and reported_to_ec_date is None:
        return {"reported_to_ec_date": N_("required when the deviation was reported to the ethics committee")}
    if not reported_to_ec and reported_to_ec_date is not None:
        return {"reported_to_ec_date": N_("only when the deviation was reported to the ethics committee (tick it)")}
    if reported_to_ec_date and deviation_date and reported_to_ec_date < deviation_date:
        return {
            "reported_to_ec_date": Message(
                "{reported} is before the deviation ({deviation})",
                reported=reported_to_ec_date.isoformat(),
                deviation=deviation_date.isoformat(),
            )  # fmt: skip
        }
    return {}


def dismissal_errors(reason: str) -> dict[str, str]:
    return {} if reason.strip() else {"dismiss_reason": N_("a reason is required to dismiss a proposed deviation")}


def visit_window_deviation(code: str, visit_date: dt.date, window_start: dt.date, window_end: dt.date) -> str | None:
    """The description of the deviation a visit outside its window is, or None in the window."""
    window = window_status(visit_date, window_start, window_end)
    if window.status == "IN_WINDOW":
        return None
    return (
        f"visit {visit_name(code)} done on {visit_date.isoformat()}, {window.days_outside} day(s) "
        f"{window.status.lower()} (window {window_start.isoformat()} … {window_end.isoformat()})"
    )


# --- Electronic signatures (21 CFR 11.50) --------------------------------------------------------

REVIEWED, APPROVED, ELIGIBILITY_CONFIRMED = "REVIEWED", "APPROVED", "ELIGIBILITY_CONFIRMED"
# The row the investigator's eligibility confirmation records and signs (screening's; named, not imported).
ELIGIBILITY_DECISION = "screening.eligibilitydecision"
# What each meaning attests: the words shown beside the password, the signature's manifestation with the printed
# name and the date and time.
MEANING_WORDS = {
    REVIEWED: N_("reviewed"),
    APPROVED: N_("approved"),
    ELIGIBILITY_CONFIRMED: N_("eligibility confirmed"),
}
ATTESTATIONS = {
    REVIEWED: N_("I have reviewed the data recorded, as shown"),
    APPROVED: N_("I approve the data recorded, as shown, as complete and accurate"),
    ELIGIBILITY_CONFIRMED: N_("I confirm the eligibility decision judged on the criteria shown"),
}
# The statement signed; the attestation and the meaning are translated with it (edc.i18n.translated).
ATTESTATION_TEMPLATE = N_(
    "I, {printed_name}, on {signed_at}, sign {what}. {attestation}. Meaning of this signature: {meaning}."
)


def signature_meanings(target_model: str, signed: Iterable[str] = ()) -> tuple[str, ...]:
    """The meanings a new signature over a row of `target_model` (app_label.model) may carry, given the meanings
    of the row's live signatures: a visit, a CRF row or a casebook is reviewed or approved; eligibility is
    confirmed only over the eligibility decision, once (the confirmation records the decision and signs it at
    once, so the signature routes never add one to a stored decision)."""
    if target_model == ELIGIBILITY_DECISION:
        return () if ELIGIBILITY_CONFIRMED in signed else (ELIGIBILITY_CONFIRMED,)
    return (REVIEWED, APPROVED)


def attestation_text(meaning: str, *, printed_name: str, what: str, signed_at: str) -> str:
    """The statement an investigator signs: who (the printed full name), when (site time), what, and the meaning."""
    return Message(ATTESTATION_TEMPLATE, printed_name=printed_name, signed_at=signed_at, what=what,
                   attestation=ATTESTATIONS[meaning], meaning=MEANING_WORDS[meaning])  # fmt: skip


def open_query_refusal(open_queries: int, what: str) -> str | None:
    """Why a signature over data with queries not closed waits for an explicit "sign despite" (None: none)."""
    if open_queries == 0:
        return None
    if open_queries == 1:
        template = (
            "{what} has 1 open query; confirm that you sign despite it (over_open_queries), or have it closed first"
        )
    else:
        template = (
            "{what} has {count} open queries; confirm that you sign despite them (over_open_queries), or have them "
            "closed first"
        )
    return Message(template, what=what, count=open_queries)
