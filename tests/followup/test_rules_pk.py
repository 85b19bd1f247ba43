import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup import rules
from followup.rules import Concentration, NcaResult

LN2 = math.log(2)
LN4 = math.log(4)


def q(day, value):
    return Concentration(day, value, blq=False)


def blq(day):
    return Concentration(day, None, blq=True)


@pytest.mark.parametrize(
    "points, expected",
    [
        pytest.param(
            [q(1, 100), q(7, 1000), q(14, 500), q(21, 250)],
            # (0,0)→(1,100) linear 100/2×1 = 50; (1,100)→(7,1000) linear 1100/2×6 = 3300;
            # (7,1000)→(14,500) log 500/ln2×7 = 3500/ln2; (14,500)→(21,250) log 250/ln2×7 = 1750/ln2;
            # no point after 28: stop at day 21.
            NcaResult(1000, 7, 3350 + 5250 / LN2, 250, 21, 4),
            id="rise-and-fall-no-point-after-28",
        ),
        pytest.param(
            [blq(0.5), blq(1), q(4, 200), q(7, 800)],
            # BLQ before the first quantifiable are 0: (0,0)→(0.5,0)→(1,0) add 0;
            # (1,0)→(4,200) linear 200/2×3 = 300; (4,200)→(7,800) linear 1000/2×3 = 1500.
            NcaResult(800, 7, 1800, 800, 7, 2),
            id="blq-before-first-quantifiable",
        ),
        pytest.param(
            [q(7, 1000), blq(14), q(21, 250)],
            # The BLQ at day 14 follows a quantifiable value: left out. (0,0)→(7,1000) linear 1000/2×7 = 3500;
            # (7,1000)→(21,250) log 750/ln4×14 = 10500/ln4.
            NcaResult(1000, 7, 3500 + 10500 / LN4, 250, 21, 2),
            id="blq-after-first-quantifiable-left-out",
        ),
        pytest.param(
            [q(7, 1000), q(14, 500), blq(35)],
            # A trailing BLQ is left out: TLAST 14, integration stops at day 14:
            # 1000/2×7 = 3500 + log 500/ln2×7 = 3500/ln2.
            NcaResult(1000, 7, 3500 + 3500 / LN2, 500, 14, 2),
            id="trailing-blq",
        ),
        pytest.param(
            [q(14, 800), q(35, 100)],
            # (0,0)→(14,800) linear 800/2×14 = 5600. Falling 14→35: log-linear at 28:
            # C28 = 800 × (100/800)^(14/21) = 800 × (1/8)^(2/3) = 800/4 = 200; area (800−200)/ln(800/200)×14 = 8400/ln4.
            NcaResult(800, 14, 5600 + 8400 / LN4, 100, 35, 2),
            id="day-28-interpolated-falling",
        ),
        pytest.param(
            [q(21, 100), q(35, 800)],
            # (0,0)→(21,100) linear 100/2×21 = 1050. Rising 21→35: C28 = 100 + 700 × 7/14 = 450;
            # area (100+450)/2×7 = 1925. Total 2975.
            NcaResult(800, 35, 2975, 800, 35, 2),
            id="day-28-interpolated-rising",
        ),
        pytest.param(
            [q(14, 800), q(28, 200), q(35, 100)],
            # A point exactly on day 28: 5600 + (800−200)/ln4×14 = 5600 + 8400/ln4; nothing after 28 counts.
            NcaResult(800, 14, 5600 + 8400 / LN4, 100, 35, 3),
            id="point-on-day-28",
        ),
        pytest.param(
            [q(14, 800), q(42, 0.0)],
            # Degenerate quantified 0: that segment is linear (either value 0), so C28 = 800 − 800×14/28 = 400
            # and its part to 28 is linear too: (800+400)/2×14 = 8400; plus 5600.
            NcaResult(800, 14, 14000, 0.0, 42, 2),
            id="falling-to-zero-linear-to-28",
        ),
        pytest.param(
            [q(7, 1000), q(14, 1000), q(21, 400)],
            # TMAX is the first occurrence of CMAX. 3500 + equal values linear 1000×7 = 7000
            # + log 600/ln(2.5)×7 = 4200/ln2.5.
            NcaResult(1000, 7, 10500 + 4200 / math.log(2.5), 400, 21, 3),
            id="tmax-first-occurrence",
        ),
        pytest.param(
            [q(-5, 300), q(0, 50), q(2, 10)],
            # Pre-infusion points (day ≤ 0) are ignored; the profile starts at (0,0): 10/2×2 = 10.
            NcaResult(10, 2, 10, 10, 2, 1),
            id="pre-infusion-ignored",
        ),
        pytest.param(
            [q(4, 200), Concentration(7, None, blq=False), q(1, 100)],
            # Unsorted input is sorted; a point with no value and not BLQ says nothing and is left out:
            # 100/2×1 = 50 + 300/2×3 = 450.
            NcaResult(200, 4, 500, 200, 4, 2),
            id="unsorted-and-missing",
        ),
        pytest.param([blq(1), blq(7), blq(28)], NcaResult(None, None, 0.0, None, None, 0), id="no-quantifiable"),
        pytest.param([], NcaResult(None, None, 0.0, None, None, 0), id="no-points"),
        pytest.param(
            [Concentration(7, 30.0, blq=True), q(14, 60)],
            # BLQ wins over a value below the LLOQ: 0 at day 7. 0 + 60/2×7 = 210.
            NcaResult(60, 14, 210, 60, 14, 1),
            id="blq-flag-with-value",
        ),
    ],
)
def test_nca_hand_computed(points, expected):
    result = rules.nca(points)
    assert result.auc0_28 == pytest.approx(expected.auc0_28, rel=1e-9, abs=1e-12)
    assert (result.cmax, result.tmax, result.clast, result.tlast, result.n_quantifiable) == (
        expected.cmax,
        expected.tmax,
        expected.clast,
        expected.tlast,
        expected.n_quantifiable,
    )


values = st.floats(min_value=0, max_value=1e8, allow_nan=False, allow_subnormal=False)
days = st.floats(min_value=0.01, max_value=60, allow_nan=False, allow_subnormal=False)


@given(st.lists(st.tuples(days, values, st.booleans()), max_size=15))
def test_auc_is_never_negative(raw):
    result = rules.nca([Concentration(day, value, blq) for day, value, blq in raw])
    assert result.auc0_28 >= 0
    assert math.isfinite(result.auc0_28)


def trapezoid_to_28(profile):
    """Plain trapezoids over (0,0) + points, cut at day 28 by linear interpolation."""
    area = 0.0
    for (t1, c1), (t2, c2) in zip(profile, profile[1:], strict=False):
        if t1 >= 28:
            break
        if t2 > 28:
            c2 = c1 + (c2 - c1) * (28 - t1) / (t2 - t1)
            t2 = 28
        area += (c1 + c2) / 2 * (t2 - t1)
    return area


@given(
    st.lists(days, min_size=1, max_size=12, unique=True),
    st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_subnormal=False), min_size=12, max_size=12),
    st.floats(min_value=0.001, max_value=1e5, allow_nan=False, allow_subnormal=False),
)
def test_auc_of_a_monotone_rising_profile_is_the_trapezoid_sum(day_list, increments, first):
    sorted_days = sorted(day_list)
    levels = [first]
    for increment in increments[: len(sorted_days) - 1]:
        levels.append(levels[-1] + increment)
    result = rules.nca([q(day, level) for day, level in zip(sorted_days, levels, strict=True)])
    expected = trapezoid_to_28([(0.0, 0.0), *zip(sorted_days, levels, strict=True)])
    assert result.auc0_28 == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert (result.cmax, result.clast, result.tlast) == (levels[-1], levels[-1], sorted_days[-1])
