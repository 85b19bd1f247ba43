from decimal import Decimal

import pytest

from followup import rules
from followup.rules import CD19Summary


@pytest.mark.parametrize(
    "points, threshold, expected",
    [
        pytest.param(
            [(-5, 180.0), (1, 120.0), (4, 3.0), (7, 0.4), (14, 0.0), (28, 0.2), (90, 0.9), (120, 1.0), (180, 40.0)],
            1.0,
            # Nadir 0 on day 14; aplasia from day 7 (0.4 < 1); back at 1.0 (≥ 1) on day 120: 113 days.
            CD19Summary(0.0, 14, 7, 113, 120),
            id="aplasia-and-reconstitution",
        ),
        pytest.param(
            [(1, 120.0), (7, 0.5), (14, 0.3), (90, 0.2)],
            1.0,
            CD19Summary(0.2, 90, 7, None, None),
            id="ongoing-aplasia",
        ),
        pytest.param(
            [(1, 120.0), (7, 5.0), (14, 2.0), (28, 30.0)],
            1.0,
            CD19Summary(2.0, 14, None, None, None),
            id="never-aplastic",
        ),
        pytest.param(
            [(1, 120.0), (7, 0.99), (14, 1.0)],
            1.0,
            # 0.99 is below 1; exactly 1 is reconstituted.
            CD19Summary(0.99, 7, 7, 7, 14),
            id="threshold-bounds",
        ),
        pytest.param(
            [(1, 120.0), (7, 4.0), (14, 6.0)],
            5.0,
            CD19Summary(4.0, 7, 7, 7, 14),
            id="configurable-threshold",
        ),
        pytest.param(
            [(28, 0.1), (7, 0.1), (14, 3.0), (60, 2.0)],
            1.0,
            # Sorted by day; nadir's first occurrence is day 7. Reconstitution is the first day ≥ 1 after onset
            # (day 14), even though a later value is below 1 again.
            CD19Summary(0.1, 7, 7, 7, 14),
            id="unsorted-and-relapse",
        ),
        pytest.param([(-5, 150.0), (0, 140.0)], 1.0, CD19Summary(None, None, None, None, None), id="no-post-infusion"),
        pytest.param([], 1.0, CD19Summary(None, None, None, None, None), id="empty"),
    ],
)
def test_cd19_pd(points, threshold, expected):
    assert rules.cd19_pd(points, aplasia_threshold=threshold) == expected


def test_cd19_pd_default_threshold_is_one_cell_per_microlitre():
    assert rules.cd19_pd([(3, 1.0), (7, 0.99)]).aplasia_onset_day == 7


@pytest.mark.parametrize(
    "value, lln, normalised",
    [
        (Decimal("0.90"), Decimal("0.90"), True),  # ≥ LLN admits the LLN
        (Decimal("0.89"), Decimal("0.90"), False),
        (Decimal("1.2"), Decimal("0.9"), True),
        (0.1, 0.1, True),
        (None, Decimal("0.9"), False),
        (Decimal("0.9"), None, False),
    ],
)
def test_complement_normalised(value, lln, normalised):
    assert rules.complement_normalised(value, lln) is normalised
