from decimal import Decimal

import pytest

from followup import rules

FEVER = Decimal("38.0")


@pytest.mark.parametrize(
    "temperature, hypotension, hypoxia, grade",
    [
        # Fever is required: 37.9 °C is not fever, 38.0 °C is.
        (None, "NONE", "NONE", 0),
        (Decimal("37.9"), "NONE", "NONE", 0),
        (Decimal("38.0"), "NONE", "NONE", 1),
        (Decimal("40.5"), "NONE", "NONE", 1),
        (37.9, "NONE", "NONE", 0),  # float as typed
        (38.0, "NONE", "NONE", 1),
        # Without fever and without tocilizumab or a corticosteroid for the CRS, hypotension or hypoxia alone
        # is not graded (a query asks about it; DOMAIN.md §6).
        (Decimal("37.9"), "MULTIPLE_VASOPRESSORS", "POSITIVE_PRESSURE", 0),
        (None, "ONE_VASOPRESSOR", "NONE", 0),
        # Each hypotension code with fever.
        (FEVER, "NO_VASOPRESSOR", "NONE", 2),
        (FEVER, "ONE_VASOPRESSOR", "NONE", 3),
        (FEVER, "MULTIPLE_VASOPRESSORS", "NONE", 4),
        # Each hypoxia code with fever.
        (FEVER, "NONE", "LOW_FLOW", 2),
        (FEVER, "NONE", "HIGH_FLOW", 3),
        (FEVER, "NONE", "POSITIVE_PRESSURE", 4),
        # Both: the worse decides, whichever side it is on.
        (FEVER, "NO_VASOPRESSOR", "LOW_FLOW", 2),
        (FEVER, "NO_VASOPRESSOR", "HIGH_FLOW", 3),
        (FEVER, "ONE_VASOPRESSOR", "LOW_FLOW", 3),
        (FEVER, "ONE_VASOPRESSOR", "HIGH_FLOW", 3),
        (FEVER, "NO_VASOPRESSOR", "POSITIVE_PRESSURE", 4),
        (FEVER, "MULTIPLE_VASOPRESSORS", "LOW_FLOW", 4),
        (FEVER, "MULTIPLE_VASOPRESSORS", "POSITIVE_PRESSURE", 4),
    ],
)
def test_crs_grade(temperature, hypotension, hypoxia, grade):
    assert rules.crs_grade(temperature, hypotension, hypoxia) == grade


def test_crs_grade_covers_every_code_pair():
    # The grade is the max of the two per-code grades, floored at 1 with fever, for all 16 pairs.
    expected_by_code = {
        **{("hypotension", c): g for c, g in zip(rules.HYPOTENSION_CODES, (0, 2, 3, 4), strict=True)},
        **{("hypoxia", c): g for c, g in zip(rules.HYPOXIA_CODES, (0, 2, 3, 4), strict=True)},
    }
    for hypotension in rules.HYPOTENSION_CODES:
        for hypoxia in rules.HYPOXIA_CODES:
            worse = max(1, expected_by_code["hypotension", hypotension], expected_by_code["hypoxia", hypoxia])
            assert rules.crs_grade(FEVER, hypotension, hypoxia) == worse, (hypotension, hypoxia)


@pytest.mark.parametrize(
    "hypotension, hypoxia, field",
    [("VASOPRESSIN", "NONE", "hypotension"), ("NONE", "NASAL", "hypoxia"), ("", "NONE", "hypotension")],
)
def test_crs_grade_refuses_unknown_codes_naming_the_field(hypotension, hypoxia, field):
    with pytest.raises(ValueError, match=field):
        rules.crs_grade(FEVER, hypotension, hypoxia)


def icans(ice=10, consciousness="AWAKE", seizure="NONE", motor="NONE", oedema="NONE"):
    return rules.icans_grade(ice, consciousness, seizure, motor, oedema)


@pytest.mark.parametrize(
    "ice, grade",
    [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (0, 3), (None, 0)],
)
def test_icans_grade_by_ice_score_alone(ice, grade):
    assert icans(ice=ice) == grade


@pytest.mark.parametrize(
    "consciousness, grade",
    [
        ("AWAKE", 0),
        ("AWAKENS_SPONTANEOUSLY", 1),
        ("AWAKENS_TO_VOICE", 2),
        ("AWAKENS_TO_TOUCH", 3),
        ("UNAROUSABLE", 4),
    ],
)
def test_icans_grade_by_consciousness(consciousness, grade):
    assert icans(consciousness=consciousness) == grade


@pytest.mark.parametrize(
    "kwargs, grade",
    [
        ({"seizure": "FOCAL_OR_GENERALISED_RESOLVING"}, 3),
        ({"seizure": "PROLONGED"}, 4),
        ({"motor": "DEEP_FOCAL_WEAKNESS"}, 4),
        ({"oedema": "FOCAL_LOCAL"}, 3),
        ({"oedema": "DIFFUSE"}, 4),
    ],
)
def test_icans_grade_by_seizure_motor_and_oedema(kwargs, grade):
    assert icans(**kwargs) == grade


@pytest.mark.parametrize(
    "kwargs, grade",
    [
        # ICE 0 because unarousable is grade 4; ICE 0 while awake (global aphasia) is grade 3.
        ({"ice": 0, "consciousness": "UNAROUSABLE"}, 4),
        ({"ice": None, "consciousness": "UNAROUSABLE"}, 4),
        ({"ice": 0, "consciousness": "AWAKE"}, 3),
        # The most severe domain wins in either direction.
        ({"ice": 8, "consciousness": "AWAKENS_TO_VOICE"}, 2),
        ({"ice": 5, "consciousness": "AWAKENS_SPONTANEOUSLY"}, 2),
        ({"ice": 9, "seizure": "FOCAL_OR_GENERALISED_RESOLVING"}, 3),
        ({"ice": 2, "oedema": "DIFFUSE"}, 4),
        ({"ice": 10, "motor": "DEEP_FOCAL_WEAKNESS"}, 4),
        ({"ice": 6, "consciousness": "AWAKENS_TO_TOUCH", "oedema": "FOCAL_LOCAL"}, 3),
    ],
)
def test_icans_grade_takes_the_most_severe_finding(kwargs, grade):
    assert icans(**kwargs) == grade


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ice": 11}, "ice_score"),
        ({"ice": -1}, "ice_score"),
        ({"consciousness": "DROWSY"}, "consciousness"),
        ({"seizure": "YES"}, "seizure"),
        ({"motor": "WEAK"}, "motor_findings"),
        ({"oedema": "SEVERE"}, "cerebral_oedema"),
    ],
)
def test_icans_grade_refuses_out_of_range_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        icans(**kwargs)


def test_code_tuples_for_model_choices():
    assert rules.HYPOTENSION_CODES == ("NONE", "NO_VASOPRESSOR", "ONE_VASOPRESSOR", "MULTIPLE_VASOPRESSORS")
    assert rules.HYPOXIA_CODES == ("NONE", "LOW_FLOW", "HIGH_FLOW", "POSITIVE_PRESSURE")
    assert rules.CONSCIOUSNESS_CODES == (
        "AWAKE",
        "AWAKENS_SPONTANEOUSLY",
        "AWAKENS_TO_VOICE",
        "AWAKENS_TO_TOUCH",
        "UNAROUSABLE",
    )
    assert rules.SEIZURE_CODES == ("NONE", "FOCAL_OR_GENERALISED_RESOLVING", "PROLONGED")
    assert rules.MOTOR_FINDINGS_CODES == ("NONE", "DEEP_FOCAL_WEAKNESS")
    assert rules.CEREBRAL_OEDEMA_CODES == ("NONE", "FOCAL_LOCAL", "DIFFUSE")


ALL_FIELDS = {
    "max_temperature_c": Decimal("39.1"),
    "hypotension": "ONE_VASOPRESSOR",
    "hypoxia": "LOW_FLOW",
    "ice_score": 5,
    "consciousness": "AWAKENS_SPONTANEOUSLY",
    "seizure": "NONE",
    "motor_findings": "NONE",
    "cerebral_oedema": "NONE",
}


@pytest.mark.parametrize(
    "category, fields, grade",
    [
        ("CRS", ALL_FIELDS, 3),  # the ICANS fields are ignored
        ("ICANS", ALL_FIELDS, 2),  # the CRS fields are ignored
        ("CRS", {"max_temperature_c": Decimal("38.2")}, 1),  # missing codes count as NONE
        ("CRS", {}, 0),
        ("ICANS", {"ice_score": 10}, 0),
        ("ICANS", {"seizure": "PROLONGED"}, 4),
        ("INFECTION", ALL_FIELDS, None),
        ("CYTOPENIA", {}, None),
        ("OTHER", {}, None),
    ],
)
def test_astct_grade_dispatches_on_category(category, fields, grade):
    assert rules.astct_grade(category, **fields) == grade


# --- Issue 15: fever masked by treatment for the CRS, and grade 5 ------------------------------------

MASKED = Decimal("37.2")


@pytest.mark.parametrize(
    "temperature, hypotension, hypoxia, grade",
    [
        # the case of issue 15: 37.2 °C under tocilizumab/steroids, several vasopressors and BiPAP → 4
        (MASKED, "MULTIPLE_VASOPRESSORS", "POSITIVE_PRESSURE", 4),
        # then the worse of hypotension and hypoxia alone
        (MASKED, "NO_VASOPRESSOR", "NONE", 2),
        (MASKED, "ONE_VASOPRESSOR", "LOW_FLOW", 3),
        (MASKED, "NONE", "HIGH_FLOW", 3),
        (None, "NONE", "LOW_FLOW", 2),  # no temperature recorded: fever is not required
        # neither hypotension nor hypoxia: nothing to grade on (0, the query asks)
        (MASKED, "NONE", "NONE", 0),
        # fever still recorded: the usual grades, grade 1 on fever alone
        (Decimal("38.0"), "NONE", "NONE", 1),
        (Decimal("38.0"), "ONE_VASOPRESSOR", "NONE", 3),
    ],
)
def test_crs_grade_with_fever_masked_by_treatment(temperature, hypotension, hypoxia, grade):
    assert rules.crs_grade(temperature, hypotension, hypoxia, fever_masked=True) == grade


def test_the_issue_case_without_treatment_is_still_not_graded():
    assert rules.crs_grade(MASKED, "MULTIPLE_VASOPRESSORS", "POSITIVE_PRESSURE") == 0


@pytest.mark.parametrize(
    "category, fields, grade",
    [
        ("CRS", {"max_temperature_c": Decimal("38.5"), "hypotension": "NO_VASOPRESSOR", "outcome": "FATAL"}, 5),
        ("CRS", {"max_temperature_c": MASKED, "outcome": "FATAL"}, 5),  # fatal decides whatever the findings
        ("CRS", {"max_temperature_c": Decimal("38.5"), "hypotension": "MULTIPLE_VASOPRESSORS",
                 "outcome": "NOT_RECOVERED"}, 4),
        ("CRS", {"max_temperature_c": Decimal("38.5"), "outcome": "RECOVERED_WITH_SEQUELAE"}, 1),
        ("CRS", {"max_temperature_c": Decimal("38.5"), "outcome": "UNKNOWN"}, 1),
        ("CRS", {"max_temperature_c": Decimal("38.5"), "outcome": ""}, 1),
        ("ICANS", {"ice_score": 2, "outcome": "FATAL"}, 5),
        ("ICANS", {"ice_score": 2, "outcome": "RECOVERING"}, 3),
        ("ICANS", {"seizure": "PROLONGED", "outcome": "RECOVERED"}, 4),
        ("CRS", {"max_temperature_c": MASKED, "hypotension": "ONE_VASOPRESSOR", "fever_masked": True}, 3),
        ("INFECTION", {"outcome": "FATAL"}, None),
    ],
)  # fmt: skip
def test_grade_5_when_the_outcome_is_fatal(category, fields, grade):
    assert rules.astct_grade(category, **fields) == grade


@pytest.mark.parametrize(
    "medications, masked",
    [
        # tocilizumab (ANTI_IL6) or a corticosteroid given for the CRS, on or after its onset (2028-01-12)
        ([("ANTI_IL6", "CRS", "2028-01-12")], True),
        ([("CORTICOSTEROID", "CRS", "2028-01-14")], True),
        ([("ANTI_IL6", "CRS", "2028-01-11")], False),  # before this CRS began: not for it
        ([("ANTI_IL6", "CRS", "2028-01-16")], True),  # on the resolution day
        ([("ANTI_IL6", "CRS", "2028-01-17")], False),  # after it resolved
        ([("CORTICOSTEROID", "SLE", "2028-01-13")], False),  # the lupus steroid is not for the CRS
        ([("ANTI_IL6", "ICANS", "2028-01-13")], False),
        ([("ANAKINRA", "CRS", "2028-01-13")], False),  # neither tocilizumab nor a corticosteroid
        ([], False),
    ],
)
def test_fever_masked_by_treatment_for_the_crs(medications, masked):
    import datetime as dt

    log = [
        rules.CrsTreatment(category, indication, dt.date.fromisoformat(day))
        for category, indication, day in medications
    ]
    assert rules.crs_fever_masked(log, dt.date(2028, 1, 12), dt.date(2028, 1, 16)) is masked
    if masked:  # an unresolved CRS: any time from its onset
        assert rules.crs_fever_masked(log, dt.date(2028, 1, 12), None) is True
