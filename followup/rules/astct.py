"""ASTCT consensus grading of CRS and ICANS (Lee et al. 2019; pure: no ORM, no request, no clock).

The codes of each finding with the grade it implies alone, `crs_grade`, `icans_grade`, `astct_grade`,
which grades an adverse event from its fields, and `crs_fever_masked`, whether the medication log shows
tocilizumab or a corticosteroid given for the CRS (DOMAIN.md §6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from edc.rules import N_, Label, as_decimal

# Code → the CRS grade that finding alone implies (ASTCT consensus, Lee et al. 2019).
HYPOTENSION_GRADES = {
    "NONE": 0,
    "NO_VASOPRESSOR": 2,
    "ONE_VASOPRESSOR": 3,  # with or without vasopressin
    "MULTIPLE_VASOPRESSORS": 4,  # excluding vasopressin
}
HYPOXIA_GRADES = {
    "NONE": 0,
    "LOW_FLOW": 2,  # nasal cannula ≤ 6 L/min or blow-by
    "HIGH_FLOW": 3,  # high-flow nasal cannula > 6 L/min, face mask, non-rebreather, Venturi
    "POSITIVE_PRESSURE": 4,  # CPAP, BiPAP, intubation and mechanical ventilation
}
HYPOTENSION_CODES = tuple(HYPOTENSION_GRADES)
HYPOXIA_CODES = tuple(HYPOXIA_GRADES)
CRS_FEVER_C = Decimal("38")

# Adverse-event outcomes (DOMAIN.md §6); FATAL makes a CRS or ICANS grade 5.
AE_OUTCOMES = ("RECOVERED", "RECOVERING", "NOT_RECOVERED", "RECOVERED_WITH_SEQUELAE", "FATAL", "UNKNOWN")
FATAL = "FATAL"
FATAL_GRADE = 5
# Medication-log categories whose use for the CRS masks its fever: tocilizumab (and siltuximab), corticosteroids.
FEVER_MASKING_CATEGORIES = ("ANTI_IL6", "CORTICOSTEROID")

# Code → the ICANS grade that finding alone implies (ASTCT adult table).
CONSCIOUSNESS_GRADES = {
    "AWAKE": 0,
    "AWAKENS_SPONTANEOUSLY": 1,
    "AWAKENS_TO_VOICE": 2,
    "AWAKENS_TO_TOUCH": 3,
    "UNAROUSABLE": 4,  # or needs vigorous/repetitive tactile stimuli; stupor or coma
}
SEIZURE_GRADES = {
    "NONE": 0,
    "FOCAL_OR_GENERALISED_RESOLVING": 3,  # any clinical seizure resolving rapidly, or non-convulsive on EEG
    "PROLONGED": 4,  # > 5 min, or repetitive without return to baseline
}
MOTOR_FINDINGS_GRADES = {
    "NONE": 0,
    "DEEP_FOCAL_WEAKNESS": 4,  # hemiparesis or paraparesis
}
CEREBRAL_OEDEMA_GRADES = {
    "NONE": 0,
    "FOCAL_LOCAL": 3,  # focal/local oedema on neuroimaging
    "DIFFUSE": 4,  # diffuse oedema, posturing, CN VI palsy, papilloedema or Cushing's triad
}
CONSCIOUSNESS_CODES = tuple(CONSCIOUSNESS_GRADES)
SEIZURE_CODES = tuple(SEIZURE_GRADES)
MOTOR_FINDINGS_CODES = tuple(MOTOR_FINDINGS_GRADES)
CEREBRAL_OEDEMA_CODES = tuple(CEREBRAL_OEDEMA_GRADES)
ICE_SCORE_MAX = 10

# What the pages call each finding's and outcome's code (translated where shown; the code is what is stored).
FINDING_LABELS: dict[str, Label] = {
    "NONE": N_("none"), "NO_VASOPRESSOR": N_("no vasopressor"), "ONE_VASOPRESSOR": N_("one vasopressor"),
    "MULTIPLE_VASOPRESSORS": N_("multiple vasopressors"), "LOW_FLOW": N_("low flow"), "HIGH_FLOW": N_("high flow"),
    "POSITIVE_PRESSURE": N_("positive pressure"), "AWAKE": N_("awake"),
    "AWAKENS_SPONTANEOUSLY": N_("awakens spontaneously"), "AWAKENS_TO_VOICE": N_("awakens to voice"),
    "AWAKENS_TO_TOUCH": N_("awakens to touch"), "UNAROUSABLE": N_("unarousable"),
    "FOCAL_OR_GENERALISED_RESOLVING": N_("focal or generalised resolving"), "PROLONGED": N_("prolonged"),
    "DEEP_FOCAL_WEAKNESS": N_("deep focal weakness"), "FOCAL_LOCAL": N_("focal local"), "DIFFUSE": N_("diffuse"),
}  # fmt: skip
AE_OUTCOME_LABELS: dict[str, Label] = {
    "RECOVERED": N_("recovered"), "RECOVERING": N_("recovering"), "NOT_RECOVERED": N_("not recovered"),
    "RECOVERED_WITH_SEQUELAE": N_("recovered with sequelae"), "FATAL": N_("fatal"), "UNKNOWN": N_("unknown"),
}  # fmt: skip


def _grade_of(field: str, code: str, grades: dict[str, int]) -> int:
    # An unknown code is a programming or data error: refuse it loudly rather than grade it 0.
    if code not in grades:
        raise ValueError(f"{field}: unknown code {code!r}; expected one of {', '.join(grades)}")
    return grades[code]


def crs_grade(
    max_temperature_c: Decimal | float | None,
    hypotension: str,
    hypoxia: str,
    *,
    fever_masked: bool = False,
    fatal: bool = False,
) -> int:
    """ASTCT CRS grade 0–5.

    Grade 5 when the event's outcome is fatal. Fever ≥ 38 °C: grade 1 alone, else the worse of the
    hypotension grade (NO_VASOPRESSOR 2, ONE_VASOPRESSOR 3, MULTIPLE_VASOPRESSORS 4) and the hypoxia grade
    (LOW_FLOW 2, HIGH_FLOW 3, POSITIVE_PRESSURE 4). Once tocilizumab or a corticosteroid has been given for
    the CRS (`fever_masked`, from the medication log: `crs_fever_masked`), fever is no longer required: the
    grade is then the worse of hypotension and hypoxia alone (0 when neither). Without fever and without such
    treatment the grade is 0 (the service opens a query).
    """
    hypotension_grade = _grade_of("hypotension", hypotension, HYPOTENSION_GRADES)
    hypoxia_grade = _grade_of("hypoxia", hypoxia, HYPOXIA_GRADES)
    if fatal:
        return FATAL_GRADE
    if max_temperature_c is not None and as_decimal(max_temperature_c) >= CRS_FEVER_C:
        return max(1, hypotension_grade, hypoxia_grade)
    if fever_masked:
        return max(hypotension_grade, hypoxia_grade)
    return 0


@dataclass(frozen=True)
class CrsTreatment:
    """One medication-log entry as the CRS grading reads it."""

    category: str
    indication: str
    start_date: dt.date


def crs_fever_masked(medications: Iterable[CrsTreatment], onset: dt.date, resolution: dt.date | None) -> bool:
    """Whether tocilizumab (`ANTI_IL6`) or a corticosteroid was given for this CRS (indication `CRS`): started
    on or after its onset and, once it has resolved, on or before its resolution date (DOMAIN.md §6).

    Decision: the log does not name the event a medication treats, so the CRS it is for is the one whose
    onset–resolution span holds its start.
    """
    return any(
        m.indication == "CRS"
        and m.category in FEVER_MASKING_CATEGORIES
        and onset <= m.start_date
        and (resolution is None or m.start_date <= resolution)
        for m in medications
    )


def _ice_grade(ice_score: int | None) -> int:
    """ICE 10 → 0, 7–9 → 1, 3–6 → 2, 0–2 → 3 (0 because unarousable is grade 4 via consciousness)."""
    if ice_score is None:
        # Not assessable (typically the subject cannot be woken): the other domains carry the grade.
        return 0
    if not 0 <= ice_score <= ICE_SCORE_MAX:
        raise ValueError(f"ice_score: must be 0–{ICE_SCORE_MAX}; got {ice_score}")
    if ice_score == ICE_SCORE_MAX:
        return 0
    if ice_score >= 7:
        return 1
    if ice_score >= 3:
        return 2
    return 3


def icans_grade(
    ice_score: int | None,
    consciousness: str,
    seizure: str,
    motor_findings: str,
    cerebral_oedema: str,
    *,
    fatal: bool = False,
) -> int:
    """ASTCT ICANS grade 0–5 (adults): 5 when the outcome is fatal, else the most severe of the five domains.

    ICE 7–9 → 1, 3–6 → 2, 0–2 → 3; depressed consciousness 1–4 as coded; a rapidly resolving seizure
    → 3, a prolonged/repetitive one → 4; deep focal motor weakness → 4; focal oedema → 3, diffuse → 4.
    An ICE score of 0 in an unarousable subject is grade 4 through `UNAROUSABLE`. A missing ICE score
    (not assessable) adds nothing on its own. ICE 10 with every other domain normal → 0.
    """
    grade = max(
        _ice_grade(ice_score),
        _grade_of("consciousness", consciousness, CONSCIOUSNESS_GRADES),
        _grade_of("seizure", seizure, SEIZURE_GRADES),
        _grade_of("motor_findings", motor_findings, MOTOR_FINDINGS_GRADES),
        _grade_of("cerebral_oedema", cerebral_oedema, CEREBRAL_OEDEMA_GRADES),
    )
    return FATAL_GRADE if fatal else grade


# The text of the query a CRS without fever opens (followup.hooks registers it with edc.i18n; stored in English).
CRS_WITHOUT_FEVER = N_(
    "CRS needs fever ≥ 38 °C under ASTCT; was it masked by antipyretics or tocilizumab? please confirm"
    " (tocilizumab or a corticosteroid for the CRS goes in the medication log, indication CRS)"
)


def astct_grade(category: str, *, fever_masked: bool = False, **fields) -> int | None:
    """The ASTCT grade of an adverse event of category CRS or ICANS; None for any other category.

    `fields` are the AdverseEvent's fields by name; those of the other syndrome are ignored (so a model
    can pass all of them) and a missing code counts as NONE/AWAKE (a missing ICE score as not assessed).
    `outcome` FATAL makes it 5; `fever_masked` (a CRS treated with tocilizumab or a corticosteroid, from the
    medication log) lets a CRS be graded without fever.
    """
    fatal = fields.get("outcome") == FATAL
    if category == "CRS":
        return crs_grade(
            fields.get("max_temperature_c"),
            fields.get("hypotension", "NONE"),
            fields.get("hypoxia", "NONE"),
            fever_masked=fever_masked,
            fatal=fatal,
        )
    if category == "ICANS":
        return icans_grade(
            fields.get("ice_score"),
            fields.get("consciousness", "AWAKE"),
            fields.get("seizure", "NONE"),
            fields.get("motor_findings", "NONE"),
            fields.get("cerebral_oedema", "NONE"),
            fatal=fatal,
        )
    return None
