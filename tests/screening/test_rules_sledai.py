"""SELENA-SLEDAI over time: the flare rule, DORIS remission, LLDAS and the major-organ descriptors (DOMAIN.md §4)."""

from decimal import Decimal

import pytest

from screening.rules import sledai


@pytest.mark.parametrize(
    "previous, current, flare",
    [
        (None, 20, False),  # first assessment: nothing to rise from
        (4, 7, False),  # +3 is not a flare
        (4, 8, True),  # +4 is
        (0, 3, False),
        (0, 4, True),
        (10, 2, False),
        (10, 10, False),
    ],
)
def test_possible_flare_needs_a_rise_of_more_than_three(previous, current, flare):
    assert sledai.possible_flare(previous, current) is flare


@pytest.mark.parametrize(
    "clinical, pga, prednisone, remission",
    [
        (0, Decimal("0"), Decimal("0"), True),
        (0, Decimal("0.49"), Decimal("5"), True),  # both bounds admitted
        (0, Decimal("0.5"), Decimal("5"), False),  # PGA < 0.5 refuses 0.5
        (0, Decimal("0.49"), Decimal("5.01"), False),  # prednisone ≤ 5 refuses 5.01
        (1, Decimal("0"), Decimal("0"), False),  # clinical SLEDAI must be 0
        (0, 0.49, 5.0, True),  # floats as typed
        (0, 0.5, 5.0, False),
    ],
)
def test_doris_remission_bounds(clinical, pga, prednisone, remission):
    assert sledai.doris_remission(clinical, pga, prednisone) is remission


@pytest.mark.parametrize(
    "total, descriptors, pga, prednisone, low_activity",
    [
        (4, {"ARTHRITIS"}, Decimal("1"), Decimal("7.5"), True),  # every bound admitted
        (5, {"ARTHRITIS", "FEVER"}, Decimal("1"), Decimal("7.5"), False),  # total ≤ 4 refuses 5
        (4, {"ARTHRITIS"}, Decimal("1.01"), Decimal("7.5"), False),  # PGA ≤ 1
        (4, {"ARTHRITIS"}, Decimal("1"), Decimal("7.51"), False),  # prednisone ≤ 7.5
        (0, set(), Decimal("0"), Decimal("0"), True),
        (4, {"LOW_COMPLEMENT", "DNA_BINDING"}, Decimal("0.5"), Decimal("5"), True),  # serology only
        (4, {"URINARY_CASTS"}, Decimal("0"), Decimal("0"), False),  # renal, weight 4
        (4, {"HEMATURIA"}, Decimal("0"), Decimal("0"), False),
        (4, {"PROTEINURIA"}, Decimal("0"), Decimal("0"), False),
        (4, {"PYURIA"}, Decimal("0"), Decimal("0"), False),
        (4, {"MYOSITIS"}, Decimal("0"), Decimal("0"), True),  # weight 4 but not major-organ
        (2, {"RASH"}, 1.0, 7.5, True),  # floats
        (2, {"RASH"}, 1.0, 7.51, False),
    ],
)
def test_lldas_bounds(total, descriptors, pga, prednisone, low_activity):
    assert sledai.lldas(total, descriptors, pga, prednisone) is low_activity


@pytest.mark.parametrize("descriptor", sorted(sledai.WEIGHT_8_DESCRIPTORS))
def test_lldas_refuses_any_weight_8_descriptor(descriptor):
    # Even with an inconsistent total, major-organ activity alone refuses LLDAS.
    assert sledai.lldas(4, {descriptor}, Decimal("0"), Decimal("0")) is False


def test_major_organ_descriptors_are_the_eight_weight_8_and_four_renal_codes():
    expected = {
        "SEIZURE",
        "PSYCHOSIS",
        "ORGANIC_BRAIN",
        "VISUAL",
        "CRANIAL_NERVE",
        "LUPUS_HEADACHE",
        "CVA",
        "VASCULITIS",
        "URINARY_CASTS",
        "HEMATURIA",
        "PROTEINURIA",
        "PYURIA",
    }
    assert expected == sledai.MAJOR_ORGAN_DESCRIPTORS
