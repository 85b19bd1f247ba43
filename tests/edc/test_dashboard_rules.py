"""The dashboard's rules at every boundary: a visit's state (window start, window end, today; precedence of
locks, queries, signatures and SDV) and the age bands of queries."""

import datetime as dt

import pytest

from edc import rules

START, END = dt.date(2026, 12, 10), dt.date(2026, 12, 14)
DAY = dt.timedelta(days=1)


def state(status="SCHEDULED", today=START, start=START, end=END, **facts):
    return rules.visit_state(status=status, window_start=start, window_end=end, today=today, **facts)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (START - DAY, "SCHEDULED"),  # the day before the window opens
        (START, "DUE"),  # its first day
        (START + DAY, "DUE"),
        (END, "DUE"),  # its last day
        (END + DAY, "OVERDUE"),  # the day after it closed
        (END + 400 * DAY, "OVERDUE"),
    ],
)
def test_a_scheduled_visit_by_today_against_its_window(today, expected):
    assert state(today=today) == expected


def test_a_one_day_window_is_due_on_that_day_only():
    assert [state(today=END + d * DAY, start=END) for d in (-1, 0, 1)] == ["SCHEDULED", "DUE", "OVERDUE"]


@pytest.mark.parametrize("today", [START - 30 * DAY, START, END + 30 * DAY])
def test_a_visit_without_a_window_is_scheduled_whatever_the_day(today):
    # Pre-infusion visits are anchored on lymphodepletion and the infusion, not on a window.
    assert state(today=today, start=None, end=None) == "SCHEDULED"


def test_a_window_without_its_start_is_overdue_after_its_end_and_never_due():
    assert state(today=END, start=None) == "SCHEDULED"
    assert state(today=END + DAY, start=None) == "OVERDUE"


@pytest.mark.parametrize("today", [START - DAY, END, END + 30 * DAY])
def test_a_done_visit_is_done_whatever_its_window(today):
    assert state("DONE", today=today) == "DONE"


def test_a_missed_visit_is_missed_not_overdue():
    assert state("MISSED", today=END + DAY) == "MISSED"


@pytest.mark.parametrize(
    ("verified", "rows", "expected"),
    [(0, 3, "DONE"), (2, 3, "DONE"), (3, 3, "VERIFIED"), (1, 1, "VERIFIED"), (0, 1, "DONE")],
)
def test_sdv_is_done_when_every_row_of_the_visit_is_verified(verified, rows, expected):
    assert state("DONE", verified=verified, rows=rows) == expected


@pytest.mark.parametrize(
    ("status", "facts", "expected"),
    [
        ("DONE", {"signatures": 1}, "SIGNED"),
        ("DONE", {"signatures": 1, "verified": 3, "rows": 3}, "SIGNED"),  # signed over SDV done
        ("DONE", {"signatures": 2, "open_queries": 1}, "QUERIES"),  # an open query over a signature
        ("DONE", {"open_queries": 1, "verified": 1, "rows": 1}, "QUERIES"),
        ("SCHEDULED", {"open_queries": 1}, "QUERIES"),  # over due
        ("MISSED", {"open_queries": 1}, "QUERIES"),
        ("DONE", {"locked": True, "open_queries": 3, "signatures": 1}, "LOCKED"),  # a lock over everything
        ("SCHEDULED", {"locked": True}, "LOCKED"),
        ("DONE", {"open_queries": 0, "signatures": 0, "verified": 0, "rows": 2}, "DONE"),
    ],
)
def test_precedence_locked_then_queries_then_signed_then_sdv(status, facts, expected):
    assert state(status, **facts) == expected


def test_every_state_has_a_label_in_legend_order():
    assert [s for s, _, _ in rules.VISIT_STATES] == [
        "SCHEDULED", "DUE", "OVERDUE", "MISSED", "DONE", "QUERIES", "VERIFIED", "SIGNED", "LOCKED",
    ]  # fmt: skip
    assert rules.VISIT_STATE_LABELS["VERIFIED"] == "SDV done"


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0–7 days"),
        (7, "0–7 days"),
        (8, "8–30 days"),
        (30, "8–30 days"),
        (31, "over 30 days"),
        (900, "over 30 days"),
    ],
)
def test_query_age_bands_at_their_boundaries(age, band):
    assert rules.query_age_band(age) == band


def test_a_query_cannot_be_raised_in_the_future():
    with pytest.raises(ValueError, match="-1 days"):
        rules.query_age_band(-1)


@pytest.mark.parametrize(
    ("code", "name"), [("LD_M5", "LD day −5"), ("D0_PRE", "D0 pre-infusion"), ("BL", "baseline"), ("M3", "M3")]
)
def test_visits_are_named_not_coded(code, name):
    assert rules.visit_name(code) == name
