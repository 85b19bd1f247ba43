import datetime as dt
from decimal import Decimal

import pytest

from edc import rules as edc_rules
from edc.rules import follow_up_plan
from followup import rules

START = dt.date(2026, 3, 10)
END = dt.date(2026, 3, 12)


@pytest.mark.parametrize(
    "visit_date, status, days_outside",
    [
        (dt.date(2026, 3, 8), "EARLY", 2),
        (dt.date(2026, 3, 9), "EARLY", 1),  # one day before the window opens
        (dt.date(2026, 3, 10), "IN_WINDOW", 0),  # first day of the window
        (dt.date(2026, 3, 11), "IN_WINDOW", 0),
        (dt.date(2026, 3, 12), "IN_WINDOW", 0),  # last day of the window
        (dt.date(2026, 3, 13), "LATE", 1),  # one day after it closed
        (dt.date(2026, 3, 20), "LATE", 8),
    ],
)
def test_window_status_at_each_edge(visit_date, status, days_outside):
    assert edc_rules.window_status(visit_date, START, END) == edc_rules.WindowStatus(status, days_outside)


def test_window_status_of_a_one_day_window():
    day = dt.date(2026, 1, 1)
    assert edc_rules.window_status(day, day, day).status == "IN_WINDOW"


@pytest.mark.parametrize(
    "code, in_window, early, late",
    [
        # D7 ± 1 day from an infusion on 1 Jan: window 7–9 Jan.
        ("D7", [dt.date(2026, 1, 7), dt.date(2026, 1, 9)], dt.date(2026, 1, 6), dt.date(2026, 1, 10)),
        # D28 ± 2 days: window 27 Jan – 31 Jan.
        ("D28", [dt.date(2026, 1, 27), dt.date(2026, 1, 31)], dt.date(2026, 1, 26), dt.date(2026, 2, 1)),
        # M12 = day 365 ± 14: 1 Jan 2027 ± 14 days.
        ("M12", [dt.date(2026, 12, 18), dt.date(2027, 1, 15)], dt.date(2026, 12, 17), dt.date(2027, 1, 16)),
    ],
)
def test_window_status_on_the_kernel_schedule(code, in_window, early, late):
    planned = {p.code: p for p in follow_up_plan(dt.date(2026, 1, 1))}[code]
    for day in in_window:
        assert edc_rules.window_status(day, planned.window_start, planned.window_end).status == "IN_WINDOW"
    window = planned.window_start, planned.window_end
    assert edc_rules.window_status(early, *window) == edc_rules.WindowStatus("EARLY", 1)
    assert edc_rules.window_status(late, *window) == edc_rules.WindowStatus("LATE", 1)


@pytest.mark.parametrize(
    "baseline, value, expected",
    [
        (Decimal("100"), Decimal("50"), -50.0),
        (Decimal("0.9"), Decimal("1.2"), 100 * 0.3 / 0.9),
        (200, 300, 50.0),
        (12.0, 0, -100.0),
        (Decimal("4"), Decimal("4"), 0.0),
        (Decimal("0.5"), 0.75, 50.0),  # Decimal and float mixed
        (None, Decimal("1"), None),
        (Decimal("0"), Decimal("1"), None),  # no change relative to nothing
        (0.0, 1.0, None),
        (Decimal("1"), None, None),
    ],
)
def test_percent_change(baseline, value, expected):
    result = rules.change_from(baseline)(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, rel=1e-12)
        assert isinstance(result, float)


@pytest.mark.parametrize(
    "value, lloq, not_detected, blq",
    [
        (Decimal("9.99"), Decimal("10"), False, True),  # just under the limit
        (Decimal("10"), Decimal("10"), False, False),  # at the limit: quantified
        (Decimal("10.01"), Decimal("10"), False, False),
        (None, Decimal("10"), True, True),  # not detected
        (Decimal("5"), None, False, False),  # no limit given: quantified
        (None, None, False, False),  # no result at all
    ],
)
def test_is_blq(value, lloq, not_detected, blq):
    assert rules.is_blq(value, lloq, not_detected) is blq


def baselines(points):
    return [(item, baseline) for item, baseline in rules.with_baselines((d, v, i) for i, (d, v) in enumerate(points))]


def test_the_baseline_is_the_last_value_on_or_before_day_0():
    points = [(-5.0, Decimal("200")), (0.0, Decimal("150")), (1e-9, Decimal("90")), (7.0, Decimal("40"))]
    # Day 0 itself is before the infusion's effect; a millisecond later is not.
    assert baselines(points) == [(0, Decimal("150")), (1, Decimal("150")), (2, Decimal("150")), (3, Decimal("150"))]


def test_a_missing_pre_infusion_value_does_not_replace_the_baseline():
    points = [(-5.0, Decimal("200")), (-0.1, None), (1.0, Decimal("90"))]
    assert baselines(points) == [(0, Decimal("200")), (1, Decimal("200")), (2, Decimal("200"))]


def test_no_pre_infusion_value_or_no_infusion_gives_no_baseline():
    assert baselines([(1.0, Decimal("5")), (2.0, Decimal("6"))]) == [(0, None), (1, None)]
    assert baselines([(None, Decimal("5"))]) == [(0, None)]  # not infused: no day, no baseline
    assert baselines([(-1.0, Decimal("5")), (None, Decimal("6"))]) == [(0, Decimal("5")), (1, None)]  # order kept
