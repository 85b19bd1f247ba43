import datetime as dt
from decimal import Decimal

import pytest

from edc import rules


def lab(analyte, value=None, unit="", lln=None, uln=None, result_text="", not_detected=False):
    return rules.check_lab_result(
        analyte=analyte,
        value=None if value is None else Decimal(str(value)),
        result_text=result_text,
        unit=unit,
        lln=None if lln is None else Decimal(str(lln)),
        uln=None if uln is None else Decimal(str(uln)),
        not_detected=not_detected,
    )


@pytest.mark.parametrize(
    "given, expected, same",
    [
        ("µmol/L", "µmol/L", True),
        ("μmol/L", "µmol/L", True),  # Greek mu
        ("umol/L", "µmol/L", True),
        ("mg/dL", "µmol/L", False),
        ("copies/ug", "copies/µg", True),
        ("u/l", "U/L", True),
        ("g/dL", "g/L", False),
    ],
)
def test_units_treat_the_three_micro_letters_alike(given, expected, same):
    assert rules.units_equal(given, expected) is same


@pytest.mark.parametrize(
    "analyte, value, refused",
    [
        ("HGB", 19.99, True),
        ("HGB", 20, False),
        ("HGB", 250, False),
        ("HGB", 250.01, True),
        ("PLAT", 0, False),
        ("PLAT", 2000, False),
        ("PLAT", 2000.5, True),
        ("CREAT", 9.9, True),
        ("CREAT", 10, False),
        ("CREAT", 3000, False),
        ("CREAT", 3001, True),
        ("C3", 10, False),
        ("C3", 10.01, True),
        ("C4", 5, False),
        ("C4", 5.01, True),
        ("CD19", 5000, False),
        ("CD19", 5001, True),
        ("CARPCR", 100_000_000, False),
        ("CARPCR", 100_000_001, True),
        ("ALT", -0.01, True),
        ("ALT", 0, False),
        ("ANC", -0.01, True),
        ("ANC", 0, False),
        ("ANC", 100, False),
        ("ANC", 100.01, True),
        ("IGG", -0.01, True),
        ("IGG", 0, False),
        ("IGG", 100, False),
        ("IGG", 100.01, True),
    ],
)
def test_hard_limits_per_analyte(analyte, value, refused):
    errors, _ = lab(analyte, value)
    assert ("value" in errors) is refused


@pytest.mark.parametrize(
    "analyte, value, queried",
    [
        ("HGB", 60, False),
        ("HGB", 59.9, True),
        ("HGB", 200, False),
        ("HGB", 200.1, True),
        ("PLAT", 1000, False),
        ("PLAT", 1001, True),
        ("CREAT", 500, False),
        ("CREAT", 501, True),
        ("CD19", 1500, False),
        ("CD19", 1501, True),
        ("CARPCR", 1_000_000, False),
        ("CARPCR", 1_000_001, True),
        ("ANC", 0.49, True),
        ("ANC", 0.5, False),
        ("ANC", 30, False),
        ("ANC", 30.01, True),
        ("IGG", 3.99, True),  # severe hypogammaglobulinaemia (DOMAIN.md §9) opens a query
        ("IGG", 4, False),
        ("IGG", 30, False),
        ("IGG", 30.01, True),
    ],
)
def test_soft_limits_per_analyte(analyte, value, queried):
    errors, warnings = lab(analyte, value)
    assert not errors
    assert ("value" in warnings) is queried


@pytest.mark.parametrize(
    "value, queried",
    [(0.09, False), (0.0899, True), (350, False), (350.1, True)],
)
def test_soft_limit_outside_tenth_of_lln_to_ten_times_uln(value, queried):
    _, warnings = lab("ALT", value, lln=0.9, uln=35)
    assert ("value" in warnings) is queried


@pytest.mark.parametrize(
    "analyte, unit, refused",
    [
        ("ANC", "10^9/L", False),
        ("ANC", "cells/µL", True),  # stored as the lab reports it in 10^9/L (DOMAIN.md §2); no conversion here
        ("IGG", "g/L", False),
        ("IGG", "mg/dL", True),
    ],
)
def test_anc_and_igg_units(analyte, unit, refused):
    errors, _ = lab(analyte, 1, unit=unit)
    assert ("unit" in errors) is refused


def test_wrong_unit_and_unknown_analyte_are_named():
    assert "unit" in lab("CREAT", 80, unit="mg/dL")[0]
    assert "analyte" in lab("XYZ", 1)[0]
    assert lab("CREAT", 80, unit="umol/L")[0] == {}


def test_text_results_and_not_detected():
    assert lab("ANA", result_text="1:160")[0] == {}
    assert "result_text" in lab("ANA", result_text="lots")[0]
    assert "result_text" in lab("SM", result_text="MAYBE")[0]
    assert "result_text" in lab("CREAT", result_text="POSITIVE")[0]
    assert lab("CARPCR", not_detected=True)[0] == {}
    assert "not_detected" in lab("CARPCR", 50, not_detected=True)[0]
    assert "value" in lab("CREAT")[0]


def test_follow_up_schedule_days_and_windows():
    plan = {p.code: p for p in rules.follow_up_plan(dt.date(2026, 1, 10))}
    assert len(plan) == 5 + 2 + 2 + 3 + 4 + 13
    assert (plan["D1"].planned_date, plan["D1"].window_start, plan["D1"].window_end) == (
        dt.date(2026, 1, 11), dt.date(2026, 1, 10), dt.date(2026, 1, 12),
    )  # fmt: skip
    assert plan["D28"].window_end - plan["D28"].planned_date == dt.timedelta(days=2)
    assert plan["M3"].planned_date == dt.date(2026, 1, 10) + dt.timedelta(days=90)
    assert plan["M12"].window_start == dt.date(2026, 1, 10) + dt.timedelta(days=365 - 14)
    assert plan["M24"].planned_date == dt.date(2026, 1, 10) + dt.timedelta(days=730)
    assert plan["Y15"].planned_date == dt.date(2026, 1, 10) + dt.timedelta(days=365 * 15)
    assert plan["Y3"].window_end == dt.date(2026, 1, 10) + dt.timedelta(days=365 * 3 + 30)


def test_subject_id_and_age():
    assert rules.format_subject_id("01", 7) == "M1019-01-007"
    assert rules.age_in_years(dt.date(2000, 3, 10), dt.date(2018, 3, 9)) == 17
    assert rules.age_in_years(dt.date(2000, 3, 10), dt.date(2018, 3, 10)) == 18


@pytest.mark.parametrize(
    "limit, value, error",
    [
        (rules.Limit(rules.D(25), rules.D(300)), 25, False),
        (rules.Limit(rules.D(25), rules.D(300)), 24.9, True),
        (rules.Limit(rules.D(0), rules.D(10), hard_min_exclusive=True), 0, True),
        (rules.Limit(rules.D(0), rules.D(10), hard_min_exclusive=True), 0.001, False),
    ],
)
def test_limit_boundaries(limit, value, error):
    assert (limit.hard_error(rules.D(value)) is not None) is error


def test_not_in_future():
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert rules.not_in_future("d", dt.date(2026, 1, 1), now) == {}
    assert "d" in rules.not_in_future("d", dt.date(2026, 1, 2), now)
    assert "t" in rules.not_in_future("t", now + dt.timedelta(seconds=1), now)


@pytest.mark.parametrize(
    ("value", "lln", "uln", "flag"),
    [
        ("0.89", "0.9", "1.8", "LOW"), ("0.9", "0.9", "1.8", "NORMAL"), ("1.8", "0.9", "1.8", "NORMAL"),
        ("1.81", "0.9", "1.8", "HIGH"), ("150", None, "100", "HIGH"), ("100", None, "100", "NORMAL"),
        ("0.1", "0.2", None, "LOW"), ("1", None, None, None), (None, "0.9", "1.8", None),
    ],
)  # fmt: skip
def test_reference_flag_against_the_results_own_range(value, lln, uln, flag):
    as_decimal = lambda text: None if text is None else Decimal(text)  # noqa: E731
    assert rules.reference_flag(as_decimal(value), as_decimal(lln), as_decimal(uln)) == flag
