"""Follow-up rules: pure functions over plain values (no ORM, no clock: `today` is passed in).

Visit windows (DOMAIN.md §6), SELENA-SLEDAI over time and remission measures (§4), ASTCT grading of
CRS and ICANS (§6), milestones (§7) and the PK/PD derivations of the exports (§8).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple, TypeVar

from edc.rules import site_date

T = TypeVar("T")


def _dec(value: Decimal | float | int) -> Decimal:
    # Through str so that a float such as 0.49 compares as the 0.49 the user typed, not its binary neighbour.
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --- Change from baseline (DOMAIN.md §8) ------------------------------------------------------

# The analytes whose percent change from baseline is a PD derivation; CD19 and the CAR transgene are followed by
# their own measures (nadir, aplasia, reconstitution; NCA), not against a baseline.
PERCENT_CHANGE_ANALYTES = frozenset({"DSDNA", "C3", "C4", "SLEDAI"})


def change_from(baseline: Decimal | float | int | None) -> Callable[[Decimal | float | int | None], float | None]:
    """(value − baseline) ÷ baseline × 100 for a series of values from one baseline (worked out once); None when
    either is missing or the baseline is 0."""
    if baseline is None or baseline == 0:
        return lambda value: None
    base_numerator, base_denominator = _dec(baseline).as_integer_ratio()

    def change(value: Decimal | float | int | None) -> float | None:
        if value is None:
            return None
        numerator, denominator = _dec(value).as_integer_ratio()
        # Exact fractions, rounded once (int / int is correctly rounded): 0.9 → 1.2 gives the double nearest
        # 33.33…, with no float artefact on the way.
        return (numerator * base_denominator - base_numerator * denominator) * 100 / (base_numerator * denominator)

    return change


def is_blq(value: Decimal | None, lloq: Decimal | None, not_detected: bool) -> bool:
    """Below the limit of quantification: not detected, or a value under the LLOQ (a value at it is quantified)."""
    return not_detected or (value is not None and lloq is not None and value < lloq)


def with_baselines(points: Iterable[tuple[float | None, Decimal | None, T]]) -> Iterator[tuple[T, Decimal | None]]:
    """Each (actual day, value, item) of one subject × analyte, in time order, with the baseline its change is
    measured from: the last value on or before the infusion (day ≤ 0). Items without a day (no infusion) get none.

    Only the pre-infusion items wait until the baseline is known (a handful per subject); the rest stream.
    """
    waiting: list[T] = []
    baseline = None
    for day, value, item in points:
        if day is not None and day <= 0:
            waiting.append(item)
            if value is not None:
                baseline = value
            continue
        if waiting:
            yield from ((early, baseline) for early in waiting)
            waiting.clear()
        yield item, baseline if day is not None else None
    yield from ((early, baseline) for early in waiting)


# --- SELENA-SLEDAI over time --------------------------------------------------------------------

# Weight-8 descriptors (CNS and vasculitis) plus the renal ones: "major-organ activity" of LLDAS.
WEIGHT_8_DESCRIPTORS = frozenset(
    {"SEIZURE", "PSYCHOSIS", "ORGANIC_BRAIN", "VISUAL", "CRANIAL_NERVE", "LUPUS_HEADACHE", "CVA", "VASCULITIS"}
)
RENAL_DESCRIPTORS = frozenset({"URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA"})
MAJOR_ORGAN_DESCRIPTORS = WEIGHT_8_DESCRIPTORS | RENAL_DESCRIPTORS

FLARE_RISE = 3  # a rise of MORE than this many points flags a possible flare
DORIS_PGA_BELOW = Decimal("0.5")
DORIS_PREDNISONE_MAX = Decimal("5")
LLDAS_SLEDAI_MAX = 4
LLDAS_PGA_MAX = Decimal("1")
LLDAS_PREDNISONE_MAX = Decimal("7.5")


def is_flare(previous_total: int | None, current_total: int) -> bool:
    """Possible flare: the total rose by more than 3 points since the previous assessment (3 is not, 4 is).

    The first assessment (no previous total) cannot be a flare.
    """
    return previous_total is not None and current_total - previous_total > FLARE_RISE


def doris_remission(clinical_sledai: int, pga: Decimal | float, prednisone_mg_per_day: Decimal | float) -> bool:
    """DORIS remission: clinical SELENA-SLEDAI 0, PGA < 0.5 and prednisone-equivalent ≤ 5 mg/day."""
    return clinical_sledai == 0 and _dec(pga) < DORIS_PGA_BELOW and _dec(prednisone_mg_per_day) <= DORIS_PREDNISONE_MAX


def lldas(
    total_sledai: int, descriptors: set[str], pga: Decimal | float, prednisone_mg_per_day: Decimal | float
) -> bool:
    """LLDAS: total ≤ 4, no weight-8 or renal descriptor, PGA ≤ 1 and prednisone-equivalent ≤ 7.5 mg/day."""
    return (
        total_sledai <= LLDAS_SLEDAI_MAX
        # A renal descriptor (weight 4) fits in a total of 4, so the total alone does not exclude it.
        and not (set(descriptors) & MAJOR_ORGAN_DESCRIPTORS)
        and _dec(pga) <= LLDAS_PGA_MAX
        and _dec(prednisone_mg_per_day) <= LLDAS_PREDNISONE_MAX
    )


# --- ASTCT grading of CRS and ICANS -------------------------------------------------------------

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


def _grade_of(field: str, code: str, grades: dict[str, int]) -> int:
    # An unknown code is a programming or data error: refuse it loudly rather than grade it 0.
    if code not in grades:
        raise ValueError(f"{field}: unknown code {code!r}; expected one of {', '.join(grades)}")
    return grades[code]


def crs_grade(max_temperature_c: Decimal | float | None, hypotension: str, hypoxia: str) -> int:
    """ASTCT CRS grade 0–4.

    Fever ≥ 38 °C is required: without it the grade is 0 whatever the hypotension or hypoxia. (The
    consensus notes that fever may be masked by antipyretics or anti-cytokine therapy such as
    tocilizumab and that the grade is then driven by hypotension/hypoxia; the CRF records the maximum
    temperature only, so that caveat is deliberately not modelled here: the investigator records the
    pre-treatment fever.) With fever: grade 1 alone, else the worse of the hypotension grade
    (NO_VASOPRESSOR 2, ONE_VASOPRESSOR 3, MULTIPLE_VASOPRESSORS 4) and the hypoxia grade (LOW_FLOW 2,
    HIGH_FLOW 3, POSITIVE_PRESSURE 4).
    """
    hypotension_grade = _grade_of("hypotension", hypotension, HYPOTENSION_GRADES)
    hypoxia_grade = _grade_of("hypoxia", hypoxia, HYPOXIA_GRADES)
    if max_temperature_c is None or _dec(max_temperature_c) < CRS_FEVER_C:
        return 0
    return max(1, hypotension_grade, hypoxia_grade)


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
    ice_score: int | None, consciousness: str, seizure: str, motor_findings: str, cerebral_oedema: str
) -> int:
    """ASTCT ICANS grade 0–4 (adults): the most severe of the five domains.

    ICE 7–9 → 1, 3–6 → 2, 0–2 → 3; depressed consciousness 1–4 as coded; a rapidly resolving seizure
    → 3, a prolonged/repetitive one → 4; deep focal motor weakness → 4; focal oedema → 3, diffuse → 4.
    An ICE score of 0 in an unarousable subject is grade 4 through `UNAROUSABLE`. A missing ICE score
    (not assessable) adds nothing on its own. ICE 10 with every other domain normal → 0.
    """
    return max(
        _ice_grade(ice_score),
        _grade_of("consciousness", consciousness, CONSCIOUSNESS_GRADES),
        _grade_of("seizure", seizure, SEIZURE_GRADES),
        _grade_of("motor_findings", motor_findings, MOTOR_FINDINGS_GRADES),
        _grade_of("cerebral_oedema", cerebral_oedema, CEREBRAL_OEDEMA_GRADES),
    )


def astct_grade(category: str, **fields) -> int | None:
    """The ASTCT grade of an adverse event of category CRS or ICANS; None for any other category.

    `fields` are the AdverseEvent's fields by name; those of the other syndrome are ignored (so a model
    can pass all of them) and a missing code counts as NONE/AWAKE (a missing ICE score as not assessed).
    """
    if category == "CRS":
        return crs_grade(
            fields.get("max_temperature_c"), fields.get("hypotension", "NONE"), fields.get("hypoxia", "NONE")
        )
    if category == "ICANS":
        return icans_grade(
            fields.get("ice_score"),
            fields.get("consciousness", "AWAKE"),
            fields.get("seizure", "NONE"),
            fields.get("motor_findings", "NONE"),
            fields.get("cerebral_oedema", "NONE"),
        )
    return None


# --- Milestones ---------------------------------------------------------------------------------

PCR_NEGATIVE_CONFIRMED = "PCR_NEGATIVE_CONFIRMED"
PCR_REEMERGENCE = "PCR_REEMERGENCE"
MONTH_12 = "MONTH_12"
CONTRACEPTION_END = "CONTRACEPTION_END"
VISIT_OVERDUE = "VISIT_OVERDUE"
MILESTONE_KINDS = (PCR_NEGATIVE_CONFIRMED, PCR_REEMERGENCE, MONTH_12, CONTRACEPTION_END, VISIT_OVERDUE)
SEX_CODES = ("F", "M")


@dataclass(frozen=True)
class PcrResult:
    sample_datetime: dt.datetime  # aware
    value: Decimal | None
    lloq: Decimal | None
    not_detected: bool


@dataclass(frozen=True)
class VisitState:
    code: str
    window_end: dt.date | None
    done: bool


@dataclass(frozen=True)
class MilestoneFact:
    kind: str
    date: dt.date
    visit_code: str = ""
    detail: str = ""
    revoked_on: dt.date | None = None


def is_pcr_negative(r: PcrResult) -> bool:
    """Negative when not detected, or quantified strictly below the LLOQ.

    A value equal to the LLOQ is quantifiable, hence positive. A result with neither a value nor
    "not detected" is not negative (nothing shows the transgene is gone); without an LLOQ no value
    can be below it.
    """
    if r.not_detected:
        return True
    return r.value is not None and r.lloq is not None and r.value < r.lloq


def _is_pcr_positive(r: PcrResult) -> bool:
    # Only a reported value at or above the LLOQ revokes negativity; an empty (pending) result does not.
    return r.value is not None and not is_pcr_negative(r)


def month_12_date(infusion_date: dt.date) -> dt.date:
    """Infusion date + 12 calendar months; 29 February becomes 28 February of the next year."""
    try:
        return infusion_date.replace(year=infusion_date.year + 1)
    except ValueError:  # 29 February in a leap year: the next year has no such day
        return infusion_date.replace(year=infusion_date.year + 1, day=28)


@dataclass(frozen=True)
class NegativityEpisode:
    """One period of confirmed qPCR negativity: confirmed on a date, revoked by a later positive or not."""

    confirmed_on: dt.date
    revoked_on: dt.date | None
    revoking_value: Decimal | None = None


def pcr_negativity_episodes(
    infusion_start: dt.datetime, results: list[PcrResult], tz_name: str
) -> list[NegativityEpisode]:
    """The successive episodes of confirmed negativity, oldest first; only the last can be unrevoked.

    Only results sampled after the infusion start count, in sample-time order. Negativity is confirmed
    at the site date of the second of the first two adjacent negative results; the first positive after
    that revokes it on its own site date. A new pair of adjacent negatives after that confirms again.
    """
    episodes: list[NegativityEpisode] = []
    active: NegativityEpisode | None = None
    previous_negative = False
    post_infusion = sorted((r for r in results if r.sample_datetime > infusion_start), key=lambda r: r.sample_datetime)
    for result in post_infusion:
        negative = is_pcr_negative(result)
        if negative and previous_negative and active is None:
            active = NegativityEpisode(site_date(result.sample_datetime, tz_name), None)
            episodes.append(active)
        elif active is not None and _is_pcr_positive(result):
            episodes[-1] = replace(
                active, revoked_on=site_date(result.sample_datetime, tz_name), revoking_value=result.value
            )
            active = None
        previous_negative = negative
    return episodes


def pcr_milestones(infusion_start: dt.datetime, results: list[PcrResult], tz_name: str) -> list[MilestoneFact]:
    """PCR_NEGATIVE_CONFIRMED and PCR_REEMERGENCE facts (at most one of each: stored once per subject).

    PCR_NEGATIVE_CONFIRMED is dated the sample (site) date of the second of two adjacent negative
    post-infusion results — the first such pair. A later positive result gives PCR_REEMERGENCE on its
    date and the confirmation carries `revoked_on` = that date.

    Decision: a new pair of adjacent negatives after a re-emergence confirms negativity again. As each
    kind is stored once per subject, the confirmation fact then holds the LATEST confirmation date with
    `revoked_on` back to None, and PCR_REEMERGENCE keeps the date of the latest re-emergence (it did
    happen; the detail says it was followed by a new confirmation). Re-emergence after a second
    confirmation moves PCR_REEMERGENCE to that later date and revokes the confirmation again.
    """
    return _pcr_facts(pcr_negativity_episodes(infusion_start, results, tz_name))


def _pcr_facts(episodes: list[NegativityEpisode]) -> list[MilestoneFact]:
    if not episodes:
        return []
    latest = episodes[-1]
    confirmation = MilestoneFact(
        PCR_NEGATIVE_CONFIRMED,
        latest.confirmed_on,
        detail="second of two consecutive negative CAR transgene qPCR results"
        + (f" (confirmation no. {len(episodes)})" if len(episodes) > 1 else ""),
        revoked_on=latest.revoked_on,
    )
    revoked = [e for e in episodes if e.revoked_on is not None]
    if not revoked:
        return [confirmation]
    last_revoked = revoked[-1]
    detail = (
        f"positive qPCR {last_revoked.revoking_value} copies/µg after negativity confirmed on "
        f"{last_revoked.confirmed_on.isoformat()}"
    )
    if last_revoked is not latest:
        detail += f"; negativity confirmed again on {latest.confirmed_on.isoformat()}"
    return [confirmation, MilestoneFact(PCR_REEMERGENCE, last_revoked.revoked_on, detail=detail)]


def _contraception_applies(sex: str, childbearing_potential: bool) -> bool:
    if sex not in SEX_CODES:
        raise ValueError(f"sex: unknown code {sex!r}; expected one of {', '.join(SEX_CODES)}")
    # All men; women only when of childbearing potential.
    return sex == "M" or childbearing_potential


def contraception_end(
    month_12: dt.date, pcr_confirmed: dt.date | None, sex: str, childbearing_potential: bool
) -> dt.date | None:
    """The day contraception may stop: the later of MONTH_12 and PCR_NEGATIVE_CONFIRMED.

    None in two different cases (use `contraception_required_until` to tell them apart): contraception
    does not apply (a woman not of childbearing potential), or PCR negativity is not (or no longer)
    confirmed, so contraception is still required with no end date yet. `pcr_confirmed` must be an
    unrevoked confirmation.
    """
    if not _contraception_applies(sex, childbearing_potential) or pcr_confirmed is None:
        return None
    return max(month_12, pcr_confirmed)


class ContraceptionRequirement(NamedTuple):
    """For the subject page: (until, status); `text` is the sentence to show."""

    until: dt.date | None
    status: str

    @property
    def text(self) -> str:
        return CONTRACEPTION_TEXTS[self.status].format(until=self.until.isoformat() if self.until else "")


CONTRACEPTION_TEXTS = {
    "NOT_APPLICABLE": "Contraception not applicable (woman not of childbearing potential)",
    "REQUIRED_AT_LEAST_UNTIL": "Contraception required until at least {until} and until qPCR negativity is confirmed",
    "REQUIRED_UNTIL_PCR_NEGATIVE": "Contraception required until qPCR negativity is confirmed",
    "REQUIRED_UNTIL": "Contraception required until {until}",
    "ENDED": "Contraception no longer required since {until}",
}


def contraception_required_until(
    month_12: dt.date, pcr_confirmed: dt.date | None, sex: str, childbearing_potential: bool, today: dt.date
) -> ContraceptionRequirement:
    """Whether and until when contraception is required on `today`.

    NOT_APPLICABLE (until None); REQUIRED_AT_LEAST_UNTIL month 12 while PCR negativity is unconfirmed
    and month 12 is ahead; REQUIRED_UNTIL_PCR_NEGATIVE (until None) once month 12 has passed without
    confirmed negativity; REQUIRED_UNTIL the end date while it is ahead; ENDED from the end date on
    (contraception may stop ON that day).
    """
    if not _contraception_applies(sex, childbearing_potential):
        return ContraceptionRequirement(None, "NOT_APPLICABLE")
    end = contraception_end(month_12, pcr_confirmed, sex, childbearing_potential)
    if end is None:
        if today < month_12:
            return ContraceptionRequirement(month_12, "REQUIRED_AT_LEAST_UNTIL")
        return ContraceptionRequirement(None, "REQUIRED_UNTIL_PCR_NEGATIVE")
    if today < end:
        return ContraceptionRequirement(end, "REQUIRED_UNTIL")
    return ContraceptionRequirement(end, "ENDED")


def overdue_visits(visits: list[VisitState], today: dt.date) -> list[MilestoneFact]:
    """VISIT_OVERDUE for each visit not done whose window closed before today, dated the day after it closed.

    A visit whose window ends today is not yet overdue (it may still happen today).
    """
    return [
        MilestoneFact(
            VISIT_OVERDUE,
            v.window_end + dt.timedelta(days=1),
            visit_code=v.code,
            detail=f"window closed on {v.window_end.isoformat()} with no visit recorded",
        )
        for v in visits
        if v.window_end is not None and v.window_end < today and not v.done
    ]


def _contraception_end_fact(
    month_12: dt.date, episodes: list[NegativityEpisode], sex: str, childbearing_potential: bool, today: dt.date
) -> MilestoneFact | None:
    if not _contraception_applies(sex, childbearing_potential):
        return None
    # The latest end actually reached: an end reached during an episode that a positive result later
    # revoked is reported revoked on that date (contraception is required again). An end falling on the
    # very day of the revoking sample was never reached.
    for episode in reversed(episodes):
        end = max(month_12, episode.confirmed_on)
        if end <= today and (episode.revoked_on is None or end < episode.revoked_on):
            return MilestoneFact(
                CONTRACEPTION_END,
                end,
                detail="later of month 12 and confirmed qPCR negativity",
                revoked_on=episode.revoked_on,
            )
    return None


def subject_milestones(
    infusion_start: dt.datetime,
    tz_name: str,
    sex: str,
    childbearing_potential: bool,
    pcr_results: list[PcrResult],
    visits: list[VisitState],
    today: dt.date,
) -> list[MilestoneFact]:
    """Every milestone that has happened by `today`, in date order.

    Decision: a milestone is something that HAS happened, so MONTH_12 is raised only once today ≥ its
    date and CONTRACEPTION_END only once today ≥ the later of month 12 and confirmed negativity (the
    future dates are shown by `contraception_required_until`). Dates are site calendar dates. Each kind
    appears at most once (once per visit for VISIT_OVERDUE), matching the store's uniqueness; a job
    should upsert date, detail and revoked_on. A CONTRACEPTION_END reached before a re-emergence is
    reported revoked on the re-emergence date; after a new confirmation, the new end replaces it once
    reached.
    """
    month_12 = month_12_date(site_date(infusion_start, tz_name))
    episodes = pcr_negativity_episodes(infusion_start, pcr_results, tz_name)
    facts = _pcr_facts(episodes)
    if today >= month_12:
        facts.append(MilestoneFact(MONTH_12, month_12, detail="12 calendar months after the infusion"))
    contraception = _contraception_end_fact(month_12, episodes, sex, childbearing_potential, today)
    if contraception is not None:
        facts.append(contraception)
    facts += overdue_visits(visits, today)
    return sorted(facts, key=lambda f: (f.date, MILESTONE_KINDS.index(f.kind), f.visit_code))


# --- PK: non-compartmental analysis (DOMAIN.md §8) ----------------------------------------------

AUC_END_DAY = 28.0


@dataclass(frozen=True)
class Concentration:
    day: float  # actual day from infusion start
    value: float | None
    blq: bool  # below the LLOQ or not detected


@dataclass(frozen=True)
class NcaResult:
    cmax: float | None
    tmax: float | None
    auc0_28: float
    clast: float | None
    tlast: float | None
    n_quantifiable: int


def _profile(points: list[Concentration]) -> list[tuple[float, float, bool]]:
    """(day, value, quantifiable) from (0, 0): BLQ as 0 before the first quantifiable, left out after it.

    A point that is neither BLQ nor valued (no result) is left out: it says nothing about the level.
    """
    profile = [(0.0, 0.0, False)]
    seen_quantifiable = False
    for point in sorted((p for p in points if p.day > 0), key=lambda p: p.day):
        if point.blq:
            if not seen_quantifiable:
                profile.append((point.day, 0.0, False))
        elif point.value is not None:
            seen_quantifiable = True
            profile.append((point.day, float(point.value), True))
    return profile


def _is_log_segment(c1: float, c2: float) -> bool:
    # Linear-up/log-down: log only when strictly falling between two positive values. Adjacent floats
    # whose ratio rounds to 1 have no usable log; both methods give c1 × Δt there, so linear is exact.
    return c2 > 0 and c1 > c2 and c1 / c2 > 1.0


def _segment_area(t1: float, c1: float, t2: float, c2: float) -> float:
    if _is_log_segment(c1, c2):
        return (c1 - c2) / math.log(c1 / c2) * (t2 - t1)
    return (c1 + c2) / 2 * (t2 - t1)


def _value_at(t: float, t1: float, c1: float, t2: float, c2: float) -> float:
    fraction = (t - t1) / (t2 - t1)
    if _is_log_segment(c1, c2):
        return c1 * (c2 / c1) ** fraction
    return c1 + (c2 - c1) * fraction


def _auc_to(profile: list[tuple[float, float, bool]], end_day: float) -> float:
    auc = 0.0
    for (t1, c1, _), (t2, c2, _) in pairwise(profile):
        if t1 >= end_day:
            break
        if t2 <= end_day:
            auc += _segment_area(t1, c1, t2, c2)
            continue
        # The end day falls inside this segment: integrate that segment's own curve (linear or log) up
        # to it. Deciding the method on the full segment matters when it falls to 0: that segment is
        # linear, so its part up to day 28 is too, although both of that part's ends are positive.
        c_end = _value_at(end_day, t1, c1, t2, c2)
        if _is_log_segment(c1, c2):
            # ∫ c1·e^(−k(t−t1)) dt from t1 to 28 = (c1 − c28) ÷ k with k = ln(c1 ÷ c2) ÷ Δt: the same value
            # as the formula on (c1, c28), without dividing by ln(c1 ÷ c28), which is 0 when 28 ≈ t1.
            auc += (c1 - c_end) / math.log(c1 / c2) * (t2 - t1)
        else:
            auc += (c1 + c_end) / 2 * (end_day - t1)
        break
    return auc


def nca(points: list[Concentration]) -> NcaResult:
    """CMAX, TMAX, AUC0_28, CLAST, TLAST and n_quantifiable exactly as DOMAIN.md §8.

    Points: post-infusion (day > 0) in time order plus (0, 0); BLQ is 0 before the first quantifiable
    value and left out after it. CMAX is the largest value, TMAX the day of its first occurrence;
    CLAST/TLAST the last quantifiable value and day. AUC0_28 is linear-up/log-down over [0, 28],
    interpolating day 28 the same way, and stops at the last point when none lies after day 28. With
    nothing quantifiable, CMAX/TMAX/CLAST/TLAST are None and AUC0_28 is 0.
    """
    profile = _profile(points)
    quantifiable = [(t, c) for t, c, q in profile if q]
    if not quantifiable:
        return NcaResult(None, None, 0.0, None, None, 0)
    cmax = max(c for _, c in quantifiable)
    tmax = next(t for t, c in quantifiable if c == cmax)
    tlast, clast = quantifiable[-1]
    return NcaResult(cmax, tmax, _auc_to(profile, AUC_END_DAY), clast, tlast, len(quantifiable))


# --- PD -----------------------------------------------------------------------------------------

B_CELL_APLASIA_BELOW = 1.0  # cells/µL


@dataclass(frozen=True)
class CD19Summary:
    nadir: float | None
    nadir_day: float | None
    aplasia_onset_day: float | None
    aplasia_duration_days: float | None  # None while aplasia is ongoing (or never began)
    reconstitution_day: float | None


def cd19_pd(points: list[tuple[float, float]], aplasia_threshold: float = B_CELL_APLASIA_BELOW) -> CD19Summary:
    """CD19+ B-cell nadir and aplasia from (actual day, cells/µL) points after the infusion (day > 0).

    Nadir: the lowest value and the day of its first occurrence. Aplasia onset: first day below the
    threshold. Reconstitution: first day at or above the threshold after the onset. Duration:
    reconstitution − onset, None while aplasia is ongoing.
    """
    post_infusion = sorted((p for p in points if p[0] > 0), key=lambda p: p[0])
    if not post_infusion:
        return CD19Summary(None, None, None, None, None)
    nadir = min(value for _, value in post_infusion)
    nadir_day = next(day for day, value in post_infusion if value == nadir)
    onset = next((day for day, value in post_infusion if value < aplasia_threshold), None)
    reconstitution = None
    if onset is not None:
        reconstitution = next((day for day, value in post_infusion if day > onset and value >= aplasia_threshold), None)
    duration = reconstitution - onset if reconstitution is not None else None
    return CD19Summary(nadir, nadir_day, onset, duration, reconstitution)


def complement_normalised(value: Decimal | float | None, lln: Decimal | float | None) -> bool:
    """C3/C4 normalised: value ≥ the lab's LLN. False when either is missing (nothing shows it)."""
    if value is None or lln is None:
        return False
    return _dec(value) >= _dec(lln)


def study_day(on: dt.date, infusion_date: dt.date) -> int:
    """SDTM --DY: the day of infusion is day 1, the day before it day −1 (there is no day 0)."""
    delta = (on - infusion_date).days
    return delta + 1 if delta >= 0 else delta
