"""CAR-T safety derivations (DOMAIN.md §9), table-tested at every boundary the section names."""

import datetime as dt
from decimal import Decimal

import pytest

from followup import rules
from followup.rules import GradedEvent, LabPoint


def anc(*day_values, after=True):
    return [LabPoint(day, Decimal(str(value)), after) for day, value in day_values]


def daily(first_day, values):
    """One result a day from `first_day`."""
    return anc(*((first_day + i, v) for i, v in enumerate(values)))


def low_days(n, value="0.4", recovered="2.0"):
    """ANC `value` on days 0 … n−1, then recovered (a daily result, so nothing is carried into the recovery)."""
    return daily(0, [value] * n + [recovered] * (31 - n))


# --- Early ICAHT: days summed, highest grade that holds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("days_le_0_5", "grade"),
    [(0, 0), (1, 1), (6, 1), (7, 2), (13, 2), (14, 3), (31, 3)],
)
def test_early_grade_by_days_at_or_below_0_5(days_le_0_5, grade):
    early = rules.early_icaht(low_days(days_le_0_5))
    assert (early.grade, early.days_le_0_5) == (grade, days_le_0_5)


@pytest.mark.parametrize(("days_le_0_1", "grade"), [(6, 1), (7, 4)])
def test_grade_4_needs_seven_days_at_or_below_0_1(days_le_0_1, grade):
    early = rules.early_icaht(low_days(days_le_0_1, value="0.1"))
    assert (early.grade, early.days_le_0_1) == (grade, days_le_0_1)


def test_six_profound_days_within_a_longer_severe_episode_are_grade_3():
    results = daily(0, ["0.05"] * 6 + ["0.3"] * 10 + ["2.0"] * 15)
    assert rules.early_icaht(results) == rules.EarlyIcaht(3, 16, 6)


@pytest.mark.parametrize(("value", "counted"), [("0.5", 1), ("0.51", 0)])
def test_the_threshold_is_inclusive(value, counted):
    assert rules.early_icaht(anc((3, value), (4, "3"))).days_le_0_5 == counted


def test_a_days_anc_is_its_lowest_result():
    days = rules.daily_anc(anc((3, "0.6"), (3, "0.4"), (4, "2")))
    assert (days[3], days[4]) == (Decimal("0.4"), Decimal("2"))


def test_a_recovery_and_a_second_fall_are_summed():
    results = anc((0, "0.2"), (5, "1.2"), (10, "0.3"), (15, "2.0"), (30, "2.5"))
    early = rules.early_icaht(results)
    assert (early.days_le_0_5, early.grade) == (10, 2)  # days 0–4 and 10–14


def test_a_gap_between_results_takes_the_earlier_one_up_to_the_next():
    assert rules.early_icaht(anc((0, "0.3"), (10, "1.0"))).days_le_0_5 == 10


@pytest.mark.parametrize(
    ("results", "days"),
    [
        (((10, "0.3"),), {10, 11, 12}),  # the window's last result carries for 2 days, no more
        (((10, "0.3"), (12, "0.3")), {10, 11, 12, 13, 14}),
        (((29, "0.3"),), {29, 30}),  # and never past day 30
        (((20, "0.3"), (35, "0.3")), {20, 21, 22}),  # a result after the window does not stretch it
    ],
)
def test_carry_forward_stops_two_days_after_the_windows_last_result(results, days):
    assert set(rules.daily_anc(anc(*results))) == days
    assert rules.early_icaht(anc(*results)).days_le_0_5 == len(days)


def test_a_result_before_day_0_is_not_carried_into_the_window():
    assert rules.daily_anc(anc((-2, "0.2"), (2, "0.3"))) == {2: Decimal("0.3"), 3: Decimal("0.3"), 4: Decimal("0.3")}


@pytest.mark.parametrize("results", [(), ((-1, "0.2"),), ((31, "0.2"), (40, "0.1"))])
def test_early_icaht_is_empty_without_an_anc_in_days_0_to_30(results):
    assert rules.early_icaht(anc(*results)) == rules.EarlyIcaht(None, None, None)


# --- Late ICAHT: two results after day 30 at or below the threshold ---------------------------------------------


@pytest.mark.parametrize(
    ("values", "grade"),
    [
        (("1.5", "1.5"), 1),
        (("1.5", "1.51"), 0),  # transient: one result only
        (("1.0", "1.0"), 2),
        (("1.0", "1.01"), 1),
        (("0.5", "0.5"), 3),
        (("0.1", "0.1"), 4),
        (("0.1", "0.11"), 3),
        (("0.05",), 0),
        (("0.1", "1.4", "3.0"), 1),  # the highest grade that holds
        (("0.4", "0.9", "0.3"), 3),
    ],
)
def test_late_grade(values, grade):
    assert rules.late_icaht(anc(*((31 + i * 7, v) for i, v in enumerate(values)))) == grade


def test_late_icaht_counts_only_results_after_day_30():
    assert rules.late_icaht(anc((30, "0.1"), (31, "0.1"))) == 0
    assert rules.late_icaht(anc((10, "0.1"), (30, "0.1"))) is None


# --- Hypogammaglobulinaemia -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "lln", "hypo", "severe"),
    [
        ("6.99", "7", True, False),
        ("7", "7", False, False),  # IgG < LLN of its own result
        ("5", "4.5", False, False),
        ("3.99", None, True, True),  # < 4 g/L is severe, whatever the range
        ("4", None, None, False),
        ("4", "7", True, False),
    ],
)
def test_hypogammaglobulinaemia(value, lln, hypo, severe):
    value = Decimal(value)
    assert rules.hypogammaglobulinaemia(value, None if lln is None else Decimal(lln)) is hypo
    assert rules.severe_hypogammaglobulinaemia(value) is severe


def test_igg_nadir_after_infusion_first_occurrence():
    results = [
        LabPoint(-5, Decimal("2.0"), True),
        LabPoint(0, Decimal("1.0"), False),  # day 0 before the infusion started: not after it
        LabPoint(28, Decimal("4.1")),
        LabPoint(90, Decimal("3.2")),
        LabPoint(180, Decimal("3.2")),
    ]
    assert rules.igg_nadir(results[1:]) == LabPoint(90, Decimal("3.2"))
    assert rules.igg_nadir([results[1]]) is None


@pytest.mark.parametrize(
    ("stop", "given"),
    [(dt.date(2026, 2, 28), False), (dt.date(2026, 3, 1), True), (None, True)],
)
def test_ivig_given_from_the_infusion_day_on(stop, given):
    assert rules.ivig_given([(dt.date(2026, 2, 1), stop)], dt.date(2026, 3, 1)) is given
    assert rules.ivig_given([], dt.date(2026, 3, 1)) is False


# --- Adverse events -----------------------------------------------------------------------------------------------


def test_worst_grade_and_first_onset():
    assert rules.worst_grade([]) == (0, None)
    assert rules.worst_grade([GradedEvent(0, 1)]) == (0, None)  # ASTCT 0: not CRS
    assert rules.worst_grade([GradedEvent(0, 1), GradedEvent(1, 3), GradedEvent(2, 6)]) == (2, 3)


def test_infections_all_and_grade_3_or_more():
    events = [GradedEvent(2, 40), GradedEvent(3, 60), GradedEvent(4, 90), GradedEvent(None, 100)]
    assert rules.infection_counts(events) == (4, 2)


def test_safety_summary_of_one_subject():
    summary = rules.safety_summary(
        infusion_date=dt.date(2026, 3, 1),
        anc=low_days(8) + anc((45, "1.2"), (60, "0.9")),
        igg=[LabPoint(60, Decimal("3.5")), LabPoint(90, Decimal("4.2"))],
        crs=[GradedEvent(1, 2)],
        icans=[],
        infections=[GradedEvent(3, 50)],
        ivig_courses=[(dt.date(2026, 5, 1), None)],
        pcr_negative_date=None,
    )
    assert summary == rules.SafetySummary(
        crs_max_grade=1, crs_onset_day=2, icans_max_grade=0, icans_onset_day=None, icaht_early_grade=2,
        icaht_late_grade=1, anc_le_0_5_days=8, igg_min=Decimal("3.5"), igg_min_day=60, ivig_given=True,
        infections=1, infections_grade3plus=1, pcr_negative_date=None,
    )  # fmt: skip
