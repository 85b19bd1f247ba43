"""SELENA-SLEDAI over time (DOMAIN.md §4): the SELENA Flare Index, DORIS remission (and treatment-free), LLDAS,
change from baseline and the prednisone-equivalent dose on a date, at every boundary §4 names."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from screening.rules import sledai
from screening.rules.sledai import Assessment


def assessment(descriptors=(), pga="0", prednisone="0") -> Assessment:
    score = sledai.sledai_score(descriptors)
    return Assessment(
        total=score.total,
        clinical=score.clinical,
        descriptors=frozenset(descriptors),
        pga=None if pga is None else Decimal(pga),
        prednisone=None if prednisone is None else Decimal(prednisone),
    )


def with_total(total: int, pga="0") -> Assessment:
    """An assessment whose total is `total` (clinical descriptors: weight 8s, then 4, 2, 1)."""
    descriptors, left = [], total
    for code, weight in sorted(sledai.SLEDAI_WEIGHTS.items(), key=lambda item: -item[1]):
        if code not in sledai.SEROLOGICAL_DESCRIPTORS and weight <= left:
            descriptors.append(code)
            left -= weight
    assert left == 0
    return assessment(descriptors, pga)


# --- SELENA Flare Index ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "previous, current, previous_pga, current_pga, flare",
    [
        (4, 6, "1", "1", "NONE"),  # +2
        (4, 7, "1", "1", "MILD_MODERATE"),  # +3 points exactly is a flare
        (0, 3, "0", "0", "MILD_MODERATE"),
        (10, 12, "1", "1", "NONE"),  # to 12: not above 12, +2
        (10, 13, "1", "1", "SEVERE"),  # to 13: above 12
        (11, 12, "1", "1", "NONE"),
        (12, 13, "1", "1", "SEVERE"),  # from 12 (not above) to 13
        (13, 14, "1", "1", "NONE"),  # already above 12: +1 is no flare
        (13, 16, "1", "1", "MILD_MODERATE"),  # already above 12: +3 is mild/moderate, not a new severe flare
        (4, 4, "1.0", "2.0", "MILD_MODERATE"),  # PGA +1.0 exactly
        (4, 4, "1.0", "1.9", "NONE"),  # PGA +0.9
        (4, 4, "1.5", "2.5", "MILD_MODERATE"),  # PGA to 2.5: not above 2.5
        (4, 4, "2.0", "2.6", "SEVERE"),  # PGA to 2.6: above 2.5
        (4, 4, "2.5", "2.6", "SEVERE"),  # from 2.5 (not above)
        (4, 4, "2.6", "3.0", "NONE"),  # already above 2.5, +0.4
        (10, 2, "2", "0", "NONE"),  # improvement
    ],
)
def test_selena_flare_index_boundaries(previous, current, previous_pga, current_pga, flare):
    outcome = sledai.selena_flare(with_total(previous, previous_pga), with_total(current, current_pga))
    assert (outcome.value, outcome.missing) == (flare, ())
    assert outcome.reasons


def test_no_flare_is_judged_on_the_first_assessment():
    outcome = sledai.selena_flare(None, with_total(20, "3"))
    assert (outcome.value, outcome.missing) == (None, ("previous assessment",))


def test_a_missing_pga_leaves_the_flare_empty_unless_the_total_decides():
    assert sledai.selena_flare(with_total(4, None), with_total(4, "1")).missing == ("previous PGA",)
    assert sledai.selena_flare(with_total(4, "1"), with_total(8, None)).value is None  # mild, or severe by PGA?
    assert sledai.selena_flare(with_total(4, "1"), with_total(8, None)).missing == ("PGA",)
    assert sledai.selena_flare(with_total(4, None), with_total(13, None)).value == "SEVERE"


# --- DORIS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "descriptors, pga, prednisone, remission",
    [
        ((), "0", "0", True),
        ((), "0.4", "5", True),  # both bounds admitted
        ((), "0.5", "5", False),  # PGA < 0.5 refuses 0.5
        ((), "0.4", "5.01", False),  # prednisone ≤ 5 refuses 5.01
        (("RASH",), "0", "0", False),  # clinical SLEDAI must be 0
        (("LOW_COMPLEMENT", "DNA_BINDING"), "0", "0", True),  # serology alone does not count
        ((), None, "0", None),
        ((), "0", None, None),
        (("RASH",), None, None, False),  # known to fail whatever is missing
    ],
)
def test_doris_remission_bounds(descriptors, pga, prednisone, remission):
    assert sledai.doris_remission(assessment(descriptors, pga, prednisone)).value is remission


def test_doris_names_what_is_missing_and_why_it_fails():
    assert sledai.doris_remission(assessment((), None, None)).missing == ("PGA", "prednisone dose")
    reasons = sledai.doris_remission(assessment((), "0.5", "7")).reasons
    assert reasons == ("PGA 0.5 ≥ 0.5", "prednisone dose 7 mg/day > 5")


@pytest.mark.parametrize(
    "doris, categories, treatment_free",
    [
        (True, [], True),
        (True, ["IMMUNOMODULATOR", "ANTI_INFECTIVE"], True),  # an antimalarial may continue
        (True, ["CORTICOSTEROID"], False),
        (True, ["IMMUNOSUPPRESSANT"], False),
        (True, ["BIOLOGIC"], False),
        (False, [], False),
        (None, [], None),
        (None, ["BIOLOGIC"], False),
    ],
)
def test_treatment_free_doris(doris, categories, treatment_free):
    outcome = sledai.treatment_free_doris(sledai.Outcome(doris), categories)
    assert outcome.value is treatment_free


# --- LLDAS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "descriptors, pga, prednisone, low_activity",
    [
        (("ARTHRITIS",), "1", "7.5", True),  # every bound admitted: total 4, PGA 1, prednisone 7.5
        (("ARTHRITIS", "THROMBOCYTOPENIA"), "1", "7.5", False),  # total 5
        (("ARTHRITIS",), "1.1", "7.5", False),  # PGA > 1
        (("ARTHRITIS",), "1", "7.51", False),  # prednisone > 7.5
        ((), "0", "0", True),
        (("LOW_COMPLEMENT", "DNA_BINDING"), "0.5", "5", True),  # serology only
        (("MYOSITIS",), "0", "0", True),  # weight 4 but not major-organ
        (("ARTHRITIS",), None, "0", None),
        (("ARTHRITIS",), "0", None, None),
    ],
)
def test_lldas_bounds(descriptors, pga, prednisone, low_activity):
    current = assessment(descriptors, pga, prednisone)
    assert sledai.lldas(current, current).value is low_activity  # nothing new: the same descriptors as before


EXCLUDED = sorted(
    sledai.WEIGHT_8_DESCRIPTORS
    | {"URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA", "PLEURISY", "PERICARDITIS", "FEVER"}
)


@pytest.mark.parametrize("descriptor", EXCLUDED)
def test_lldas_refuses_each_major_organ_descriptor(descriptor):
    # Present before and now (not new), whatever the total: major-organ activity alone refuses LLDAS.
    current = assessment((descriptor,))
    outcome = sledai.lldas(current, current)
    assert outcome.value is False
    assert any(reason.startswith("major-organ activity") for reason in outcome.reasons)


def test_lldas_refuses_a_new_descriptor():
    previous, current = assessment(("LOW_COMPLEMENT",)), assessment(("LOW_COMPLEMENT", "ALOPECIA"))
    outcome = sledai.lldas(previous, current)
    assert (outcome.value, outcome.reasons) == (False, ("new activity: alopecia",))
    assert sledai.lldas(current, previous).value is True  # one gone is not new


def test_lldas_on_the_first_assessment_misses_the_previous_one():
    assert sledai.lldas(None, assessment()).missing == ("previous assessment",)
    assert sledai.lldas(None, assessment(("SEIZURE",))).value is False


def test_major_organ_descriptors_are_weight_8_renal_cardiopulmonary_and_fever():
    assert set(EXCLUDED) == sledai.MAJOR_ORGAN_DESCRIPTORS
    assert len(sledai.MAJOR_ORGAN_DESCRIPTORS) == 15


# --- Change from baseline and the prednisone dose on a date ---------------------------------------


def test_change_from_baseline():
    assert sledai.change_from_baseline(4, 16).value == -12
    assert sledai.change_from_baseline(4, 0).value == 4
    assert sledai.change_from_baseline(4, None).missing == ("baseline assessment",)


DAY = dt.date(2026, 3, 10)


@pytest.mark.parametrize(
    "courses, dose, missing",
    [
        ([], Fraction(0), ()),
        ([("prednisone", Decimal("10"), DAY, None)], Fraction(10), ()),
        ([("prednisone", Decimal("10"), DAY, DAY)], Fraction(10), ()),  # the stop day counts
        ([("prednisone", Decimal("10"), DAY + dt.timedelta(days=1), None)], Fraction(0), ()),  # not yet
        ([("prednisone", Decimal("10"), DAY - dt.timedelta(days=9), DAY - dt.timedelta(days=1))], Fraction(0), ()),
        (
            [("methylprednisolone", Decimal("4"), DAY, None), ("prednisone", Decimal("2.5"), DAY, None)],
            Fraction(15, 2),  # 4 mg methylprednisolone is 5 mg prednisone
            (),
        ),
        ([("prednisone", None, DAY, None)], None, ("corticosteroid dose",)),
    ],
)
def test_prednisone_on_a_date(courses, dose, missing):
    outcome = sledai.prednisone_on(courses, DAY)
    assert (outcome.value, outcome.missing) == (dose, missing)
