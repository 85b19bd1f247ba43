"""Treatment rules (DOMAIN.md §5): pure functions over plain values (no ORM, no clock).

Limits of CRF.md, body surface area (Mosteller), expected lymphodepletion doses, the expected total
of CAR+ cells, the order of the pathway's dates and the chain-of-identity messages.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from edc.rules import N_, D, Limit, Message, age_in_years, as_typed
from screening.rules import cockcroft_gault

WEIGHT_KG = Limit(D(25), D(300), D(35), D(150), "kg")
HEIGHT_CM = Limit(D(100), D(230), unit="cm")
DOSE_CAR_CELLS_PER_KG = Limit(D(0), D("1e8"), D("1e3"), D("1e5"), "CAR+ cells/kg", hard_min_exclusive=True)
TOTAL_CAR_CELLS = Limit(D(0), unit="CAR+ cells", hard_min_exclusive=True)
PERCENT = Limit(D(0), D(100), unit="%")
NON_NEGATIVE = Limit(hard_min=D(0))
# DOMAIN.md is silent on apheresis volumes; a leukapheresis processes a few blood volumes (< 50 L).
PROCESSED_VOLUME_L = Limit(D(0), D(50), unit="L", hard_min_exclusive=True)

LYMPHODEPLETION_DAYS = (-5, -4, -3)
LAST_LYMPHODEPLETION_DAY = -3
# Day 0 is the third calendar day after lymphodepletion day −3 (days −5, −4, −3, then 0).
INFUSION_DAYS_AFTER_LYMPHODEPLETION = 3
# A given dose or total more than 10 % off the expected one opens a query.
TOLERANCE = Decimal("0.10")
BSA_PLACES = Decimal("0.01")


def body_surface_area(height_cm: Decimal, weight_kg: Decimal) -> Decimal:
    """Mosteller: √(height cm × weight kg ÷ 3600), in m² to two decimals (as the pharmacy rounds it)."""
    return (D(height_cm) * D(weight_kg) / 3600).sqrt().quantize(BSA_PLACES, rounding=ROUND_HALF_UP)


def relative_gap(given: Decimal, expected: Decimal) -> Decimal | None:
    """|given − expected| ÷ expected; None when nothing was expected (expected 0)."""
    if expected == 0:
        return None
    return abs(D(given) - expected) / expected


def off_by_more_than_tolerance(given: Decimal, expected: Decimal) -> bool:
    gap = relative_gap(given, expected)
    return D(given) != 0 if gap is None else gap > TOLERANCE


# The texts of the queries these checks open, said in the reader's language on the screens (infusion.hooks
# registers them with edc.i18n; stored in English).
# xgettext:no-python-format ("% o" is no %-placeholder)
PERCENT_OFF = N_(" ({gap} % off)")
DOSE_OFF = N_(
    "{drug} {given} mg differs from the expected {expected} mg ({per_m2} mg/m² × BSA {bsa} m²){off} by more than 10 %;"
    " please confirm"
)
TOTAL_CELLS_OFF = N_(
    "total {total} CAR+ cells differs from dose × weight = {dose} × {weight} kg = {expected}{off} by more than 10 %;"
    " please confirm"
)


def _percent(gap: Decimal | None) -> str:
    return "" if gap is None else Message(PERCENT_OFF, gap=as_typed(round(gap * 100, 1)))


def expected_dose_warning(given_mg: Decimal, mg_per_m2: Decimal, bsa_m2: Decimal, drug: str) -> str | None:
    expected = D(mg_per_m2) * bsa_m2
    if not off_by_more_than_tolerance(given_mg, expected):
        return None
    off = _percent(relative_gap(given_mg, expected))
    return Message(DOSE_OFF, drug=drug, given=as_typed(given_mg), expected=as_typed(round(expected, 1)),
                   per_m2=as_typed(mg_per_m2), bsa=as_typed(bsa_m2), off=off)  # fmt: skip


def check_lymphodepletion_dose(
    *,
    day: int,
    height_cm: Decimal | None,
    weight_kg: Decimal | None,
    fludarabine_mg_per_m2: Decimal | None,
    fludarabine_mg: Decimal | None,
    cyclophosphamide_mg_per_m2: Decimal | None,
    cyclophosphamide_mg: Decimal | None,
) -> tuple[dict[str, str], dict[str, str], Decimal | None]:
    """Hard errors, soft warnings and the body surface area (None when height or weight is unusable)."""
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    if day not in LYMPHODEPLETION_DAYS:
        errors["day"] = Message("must be one of {days}; got {day}", days=", ".join(map(str, LYMPHODEPLETION_DAYS)),
                                day=day)  # fmt: skip
    usable = (
        height_cm is not None
        and weight_kg is not None
        and HEIGHT_CM.hard_error(D(height_cm)) is None
        and WEIGHT_KG.hard_error(D(weight_kg)) is None
    )
    if not usable:
        return errors, warnings, None
    bsa = body_surface_area(height_cm, weight_kg)
    doses = (
        ("fludarabine_mg", "fludarabine", fludarabine_mg_per_m2, fludarabine_mg),
        ("cyclophosphamide_mg", "cyclophosphamide", cyclophosphamide_mg_per_m2, cyclophosphamide_mg),
    )
    for field, drug, per_m2, given in doses:
        if per_m2 is None or given is None or per_m2 < 0 or given < 0:
            continue  # missing or negative values are the required/limit checks' business
        warning = expected_dose_warning(given, per_m2, bsa, drug)
        if warning:
            warnings[field] = warning
    return errors, warnings, bsa


# --- Fludarabine and kidney function (DOMAIN.md §9) ---------------------------------------------

FLUDARABINE_FULL_MG_PER_M2 = D(30)
# Below this clearance the dose is reduced to at most 80 % of 30 mg/m² (24 mg/m²).
CRCL_REDUCE_BELOW = D(70)
FLUDARABINE_REDUCED_MAX_MG_PER_M2 = FLUDARABINE_FULL_MG_PER_M2 * D("0.8")
# Below this clearance fludarabine is normally avoided.
CRCL_AVOID_BELOW = D(30)


def _clearance_shown(crcl: Decimal) -> str:
    """One decimal, cut rather than rounded, so that 69.96 mL/min never reads as the 70.0 it is below."""
    return as_typed(D(crcl).quantize(D("0.1"), rounding=ROUND_DOWN))


# The kidney-function query's texts (one finding, the other, or both; registered with edc.i18n as QUERY_TEXTS).
NOT_REDUCED = N_(
    # xgettext:no-python-format ("80 % of" is no %-placeholder)
    "fludarabine {dose} mg/m² not reduced for CrCl {crcl} mL/min (Cockcroft-Gault < {reduce_below}: at most {most}"
    " mg/m², 80 % of {full}); please confirm"
)
AVOIDED = N_("CrCl {crcl} mL/min is below {avoid_below} mL/min: fludarabine is normally avoided; please confirm")
NOT_REDUCED_AND_AVOIDED = N_(
    # xgettext:no-python-format ("80 % of" is no %-placeholder)
    "fludarabine {dose} mg/m² not reduced for CrCl {crcl} mL/min (Cockcroft-Gault < {reduce_below}: at most {most}"
    " mg/m², 80 % of {full}); CrCl {crcl} mL/min is below {avoid_below} mL/min: fludarabine is normally avoided;"
    " please confirm"
)


def fludarabine_kidney_warning(crcl_ml_min: Decimal, fludarabine_mg_per_m2: Decimal) -> str | None:
    """A query, never a refusal (the investigator decides): CrCl < 70 mL/min with fludarabine > 24 mg/m² (80 % of
    30 mg/m²) is "not reduced for CrCl N mL/min"; CrCl < 30 mL/min: fludarabine is normally avoided."""
    crcl, dose = D(crcl_ml_min), D(fludarabine_mg_per_m2)
    not_reduced = crcl < CRCL_REDUCE_BELOW and dose > FLUDARABINE_REDUCED_MAX_MG_PER_M2
    avoided = crcl < CRCL_AVOID_BELOW and dose > 0
    if not (not_reduced or avoided):
        return None
    template = NOT_REDUCED_AND_AVOIDED if not_reduced and avoided else NOT_REDUCED if not_reduced else AVOIDED
    return Message(template, dose=as_typed(dose), crcl=_clearance_shown(crcl), reduce_below=as_typed(CRCL_REDUCE_BELOW),
                   most=as_typed(FLUDARABINE_REDUCED_MAX_MG_PER_M2), full=as_typed(FLUDARABINE_FULL_MG_PER_M2),
                   avoid_below=as_typed(CRCL_AVOID_BELOW))  # fmt: skip


QUERY_TEXTS = (PERCENT_OFF, DOSE_OFF, TOTAL_CELLS_OFF, NOT_REDUCED, AVOIDED, NOT_REDUCED_AND_AVOIDED)


def lymphodepletion_clearance(
    *, date_of_birth: dt.date, female: bool, weight_kg: Decimal, creatinine_umol_l: Decimal, creatinine_date: dt.date
) -> Decimal:
    """Cockcroft-Gault (DOMAIN.md §3) with the age in whole years on the creatinine's sample date."""
    age = age_in_years(date_of_birth, creatinine_date)
    return cockcroft_gault(age, D(weight_kg), female, D(creatinine_umol_l))


def total_car_cells_warning(dose_per_kg: Decimal, weight_kg: Decimal, total: Decimal) -> str | None:
    expected = D(dose_per_kg) * D(weight_kg)
    if not off_by_more_than_tolerance(total, expected):
        return None
    return Message(TOTAL_CELLS_OFF, total=as_typed(total), dose=as_typed(dose_per_kg), weight=as_typed(weight_kg),
                   expected=as_typed(expected), off=_percent(relative_gap(total, expected)))  # fmt: skip


# --- Order of the pathway's dates ---------------------------------------------------------------


def consecutive_day_errors(day: int, date: dt.date, others: dict[int, dt.date]) -> dict[str, str]:
    """Lymphodepletion days are consecutive: day −4 is the calendar day after day −5, and so on."""
    if day in others:
        return {"day": Message("day {day} is already recorded ({date})", day=day, date=others[day].isoformat())}
    for other_day, other_date in sorted(others.items()):
        expected = other_date + dt.timedelta(days=day - other_day)
        if date != expected:
            after = N_("day {day} must fall on {expected}, {days} day(s) after day {other} ({other_date}); got {date}")
            before = N_(
                "day {day} must fall on {expected}, {days} day(s) before day {other} ({other_date}); got {date}"
            )
            template = after if day > other_day else before
            said = Message(template, day=day, expected=expected.isoformat(), days=abs(day - other_day),
                           other=other_day, other_date=other_date.isoformat(), date=date.isoformat())  # fmt: skip
            return {"date": said}
    return {}


def not_before(field: str, value: dt.date | dt.datetime | None, earliest, what: str) -> dict[str, str]:
    if value is None or earliest is None or value >= earliest:
        return {}
    return {field: Message("{value} is before {what} ({earliest})", value=_iso(value), what=what,
                           earliest=_iso(earliest))}  # fmt: skip


def strictly_after(field: str, value, earliest, what: str) -> dict[str, str]:
    if value is None or earliest is None or value > earliest:
        return {}
    return {field: Message("{value} must be after {what} ({earliest})", value=_iso(value), what=what,
                           earliest=_iso(earliest))}  # fmt: skip


def _iso(value) -> str:
    return value.isoformat()


def infusion_timing_errors(
    infusion_date: dt.date, last_lymphodepletion_date: dt.date | None, subject_id: str
) -> dict[str, str]:
    """Day 0 comes after the last lymphodepletion day (−3), which must be recorded first."""
    if last_lymphodepletion_date is None:
        return {"infusion_start": Message(
            "subject {subject} has no lymphodepletion day {day} recorded; record lymphodepletion before the infusion",
            subject=subject_id, day=LAST_LYMPHODEPLETION_DAY)}  # fmt: skip
    last_day = Message("lymphodepletion day {day}", day=LAST_LYMPHODEPLETION_DAY)
    return strictly_after("infusion_start", infusion_date, last_lymphodepletion_date, last_day)


def infusion_schedule_deviation(infusion_date: dt.date, last_lymphodepletion_date: dt.date | None) -> str | None:
    """Day 0 falls `INFUSION_DAYS_AFTER_LYMPHODEPLETION` days after lymphodepletion day −3: earlier or later (but
    after day −3, which `infusion_timing_errors` refuses) is a deviation to confirm, not an error."""
    if last_lymphodepletion_date is None:
        return None
    gap = (infusion_date - last_lymphodepletion_date).days
    if gap == INFUSION_DAYS_AFTER_LYMPHODEPLETION:
        return None
    expected = last_lymphodepletion_date + dt.timedelta(days=INFUSION_DAYS_AFTER_LYMPHODEPLETION)
    return (
        f"infusion on {infusion_date.isoformat()}, {gap} day(s) after lymphodepletion day {LAST_LYMPHODEPLETION_DAY} "
        f"({last_lymphodepletion_date.isoformat()}); the protocol gives it on day 0, {expected.isoformat()}"
    )


# --- Chain of identity --------------------------------------------------------------------------


def chain_of_identity_errors(
    *, lot_number: str, product_id: str, lot_subject_id: str, subject_id: str, released: bool
) -> dict[str, str]:
    """The lot infused must be made from this subject's apheresis product and be released."""
    if lot_subject_id != subject_id:
        said = Message("lot {lot} was made from product {product} of subject {owner}, not of {subject}",
                       lot=lot_number, product=product_id, owner=lot_subject_id, subject=subject_id)  # fmt: skip
        return {"lot": said}
    if not released:
        return {"lot": Message(
            "lot {lot} (product {product} of subject {owner}) is not released; only a released lot may be infused",
            lot=lot_number, product=product_id, owner=lot_subject_id)}  # fmt: skip
    return {}
