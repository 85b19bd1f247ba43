import datetime as dt
from decimal import Decimal

import pytest

from edc.rules import D
from infusion import rules

DAY = dt.date(2025, 3, 10)


@pytest.mark.parametrize(
    "height, weight, bsa",
    [
        ("180", "80", "2.00"),
        ("170", "70", "1.82"),
        ("165", "60", "1.66"),
        ("100", "25", "0.83"),
        ("230", "300", "4.38"),
    ],
)
def test_body_surface_area_is_mosteller_to_two_decimals(height, weight, bsa):
    assert rules.body_surface_area(D(height), D(weight)) == D(bsa)


@pytest.mark.parametrize(
    "given, warned",
    [("54", False), ("53.99", True), ("66", False), ("66.01", True), ("60", False)],
)
def test_dose_more_than_ten_percent_off_the_expected_warns(given, warned):
    # 30 mg/m² × 2.00 m² = 60 mg; 10 % either side is still accepted without a query.
    warning = rules.expected_dose_warning(D(given), D(30), D("2.00"), "fludarabine")
    assert (warning is not None) == warned
    if warned:
        assert "expected 60 mg (30 mg/m² × BSA 2 m²)" in warning


@pytest.mark.parametrize("given, warned", [("0", False), ("1", True)])
def test_nothing_expected_warns_only_when_something_was_given(given, warned):
    assert (rules.expected_dose_warning(D(given), D(0), D("1.50"), "cyclophosphamide") is not None) == warned


def test_lymphodepletion_check_computes_bsa_and_names_the_mg_fields():
    errors, warnings, bsa = rules.check_lymphodepletion_dose(
        day=-5, height_cm=D(180), weight_kg=D(80), fludarabine_mg_per_m2=D(30), fludarabine_mg=D(70),
        cyclophosphamide_mg_per_m2=D(300), cyclophosphamide_mg=D(600),
    )  # fmt: skip
    assert (errors, set(warnings), bsa) == ({}, {"fludarabine_mg"}, D("2.00"))


@pytest.mark.parametrize("day, valid", [(-6, False), (-5, True), (-4, True), (-3, True), (-2, False), (0, False)])
def test_lymphodepletion_days(day, valid):
    errors, _, _ = rules.check_lymphodepletion_dose(
        day=day, height_cm=D(165), weight_kg=D(60), fludarabine_mg_per_m2=D(30), fludarabine_mg=D("49.8"),
        cyclophosphamide_mg_per_m2=D(300), cyclophosphamide_mg=D(498),
    )  # fmt: skip
    assert ("day" not in errors) == valid


def test_bsa_is_not_computed_from_impossible_height_or_weight():
    _, warnings, bsa = rules.check_lymphodepletion_dose(
        day=-5, height_cm=D(99), weight_kg=D(60), fludarabine_mg_per_m2=D(30), fludarabine_mg=D(1),
        cyclophosphamide_mg_per_m2=D(300), cyclophosphamide_mg=D(1),
    )  # fmt: skip
    assert (warnings, bsa) == ({}, None)


@pytest.mark.parametrize(
    "total, warned", [("300000", False), ("330000", False), ("330001", True), ("270000", False), ("269999", True)]
)
def test_total_car_cells_against_dose_times_weight(total, warned):
    warning = rules.total_car_cells_warning(D(5000), D(60), D(total))
    assert (warning is not None) == warned


@pytest.mark.parametrize(
    "limit, value, hard, soft",
    [
        (rules.WEIGHT_KG, "24.99", True, False),
        (rules.WEIGHT_KG, "25", False, True),
        (rules.WEIGHT_KG, "34.99", False, True),
        (rules.WEIGHT_KG, "35", False, False),
        (rules.WEIGHT_KG, "150", False, False),
        (rules.WEIGHT_KG, "150.01", False, True),
        (rules.WEIGHT_KG, "300", False, True),
        (rules.WEIGHT_KG, "300.01", True, False),
        (rules.HEIGHT_CM, "99.99", True, False),
        (rules.HEIGHT_CM, "100", False, False),
        (rules.HEIGHT_CM, "230", False, False),
        (rules.HEIGHT_CM, "230.01", True, False),
        (rules.DOSE_CAR_CELLS_PER_KG, "0", True, False),
        (rules.DOSE_CAR_CELLS_PER_KG, "0.01", False, True),
        (rules.DOSE_CAR_CELLS_PER_KG, "999", False, True),
        (rules.DOSE_CAR_CELLS_PER_KG, "1000", False, False),
        (rules.DOSE_CAR_CELLS_PER_KG, "100000", False, False),
        (rules.DOSE_CAR_CELLS_PER_KG, "100001", False, True),
        (rules.DOSE_CAR_CELLS_PER_KG, "100000000", False, True),
        (rules.DOSE_CAR_CELLS_PER_KG, "100000000.01", True, False),
        (rules.NON_NEGATIVE, "-0.01", True, False),
        (rules.NON_NEGATIVE, "0", False, False),
    ],
)
def test_limits_at_both_sides_of_each_boundary(limit, value, hard, soft):
    assert (limit.hard_error(D(value)) is not None) == hard
    if not hard:
        assert (limit.soft_warning(D(value)) is not None) == soft


@pytest.mark.parametrize(
    "day, date, others, field",
    [
        (-4, DAY + dt.timedelta(days=1), {-5: DAY}, None),
        (-4, DAY + dt.timedelta(days=2), {-5: DAY}, "date"),
        (-4, DAY, {-5: DAY}, "date"),
        (-3, DAY + dt.timedelta(days=2), {-5: DAY}, None),
        (-5, DAY - dt.timedelta(days=1), {-4: DAY}, None),
        (-5, DAY, {-4: DAY, -3: DAY + dt.timedelta(days=1)}, "date"),
        (-5, DAY, {-5: DAY}, "day"),
    ],
)
def test_lymphodepletion_days_are_consecutive(day, date, others, field):
    errors = rules.consecutive_day_errors(day, date, others)
    assert list(errors) == ([field] if field else [])


def test_consecutive_message_names_the_expected_date():
    errors = rules.consecutive_day_errors(-4, DAY + dt.timedelta(days=3), {-5: DAY})
    assert errors["date"] == "day -4 must fall on 2025-03-11, 1 day(s) after day -5 (2025-03-10); got 2025-03-13"


@pytest.mark.parametrize(
    "infusion_date, last_ld, refused",
    [(DAY, None, True), (DAY, DAY, True), (DAY, DAY - dt.timedelta(days=1), False), (DAY, DAY + dt.timedelta(1), True)],
)
def test_infusion_comes_after_the_last_lymphodepletion_day(infusion_date, last_ld, refused):
    assert bool(rules.infusion_timing_errors(infusion_date, last_ld, "M1019-01-001")) == refused


def test_chain_of_identity_names_both_identities():
    errors = rules.chain_of_identity_errors(
        lot_number="L-0007", product_id="AP-0003", lot_subject_id="M1019-01-003", subject_id="M1019-01-005",
        released=True,
    )  # fmt: skip
    assert errors == {"lot": "lot L-0007 was made from product AP-0003 of subject M1019-01-003, not of M1019-01-005"}


@pytest.mark.parametrize("released, refused", [(False, True), (True, False)])
def test_only_a_released_lot_of_the_subject_is_accepted(released, refused):
    errors = rules.chain_of_identity_errors(
        lot_number="L-1", product_id="AP-1", lot_subject_id="M1019-01-001", subject_id="M1019-01-001",
        released=released,
    )  # fmt: skip
    assert bool(errors) == refused
    if refused:
        assert "not released" in errors["lot"]


@pytest.mark.parametrize(
    "value, earliest, refused", [(DAY, DAY, False), (DAY, DAY + dt.timedelta(days=1), True), (None, DAY, False)]
)
def test_not_before(value, earliest, refused):
    assert bool(rules.not_before("date", value, earliest, "x")) == refused


# --- Fludarabine and kidney function (DOMAIN.md §9) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("crcl", "dose", "not_reduced", "avoided"),
    [
        ("69.9", "30", True, False),
        ("70", "30", False, False),
        ("69.9", "24", False, False),  # 80 % of 30 mg/m² is the reduction asked for
        ("69.9", "24.01", True, False),
        ("29.9", "20", False, True),
        ("30", "20", False, False),
        ("29.9", "30", True, True),  # both, in one query on the field
        ("29.9", "0", False, False),  # none given
    ],
)
def test_fludarabine_against_the_creatinine_clearance(crcl, dose, not_reduced, avoided):
    warning = rules.fludarabine_kidney_warning(Decimal(crcl), Decimal(dose)) or ""
    assert (f"not reduced for CrCl {crcl if '.' in crcl else crcl + '.0'} mL/min" in warning) is not_reduced
    assert ("fludarabine is normally avoided" in warning) is avoided


def test_the_clearance_shown_is_cut_not_rounded_up_to_the_limit():
    warning = rules.fludarabine_kidney_warning(Decimal("69.96"), Decimal("30"))
    assert "not reduced for CrCl 69.9 mL/min" in warning


@pytest.mark.parametrize(
    ("female", "creatinine_date", "crcl"),
    [
        (False, dt.date(2026, 5, 16), Decimal("7000") / 72),  # age 40 the day before the 41st birthday
        (False, dt.date(2026, 5, 17), Decimal("6930") / 72),  # 41 on the birthday
        (True, dt.date(2026, 5, 16), Decimal("7000") / 72 * Decimal("0.85")),
    ],
)
def test_lymphodepletion_clearance_is_cockcroft_gault_at_the_creatinine_date(female, creatinine_date, crcl):
    clearance = rules.lymphodepletion_clearance(
        date_of_birth=dt.date(1985, 5, 17), female=female, weight_kg=Decimal("70"),
        creatinine_umol_l=Decimal("88.4"), creatinine_date=creatinine_date,
    )  # fmt: skip
    assert round(clearance, 6) == round(crcl, 6)
