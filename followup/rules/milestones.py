"""Milestones, DOMAIN.md §7 (pure: no ORM, no request, no clock: `today` is passed in).

qPCR negativity (its episodes, confirmation and re-emergence), month 12, the end of contraception and
what the subject page says about it, overdue visits, and `subject_milestones`, everything that has
happened by a date. Dates are site calendar dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from edc.rules import N_, Message, site_date

PCR_NEGATIVE_CONFIRMED = "PCR_NEGATIVE_CONFIRMED"
PCR_REEMERGENCE = "PCR_REEMERGENCE"
MONTH_12 = "MONTH_12"
CONTRACEPTION_END = "CONTRACEPTION_END"
VISIT_OVERDUE = "VISIT_OVERDUE"
# Lupus outcomes (DOMAIN.md §10), computed by `followup.rules.outcomes`.
DORIS_REMISSION = "DORIS_REMISSION"
LLDAS = "LLDAS"
SEVERE_FLARE = "SEVERE_FLARE"
MILESTONE_KINDS = (PCR_NEGATIVE_CONFIRMED, PCR_REEMERGENCE, MONTH_12, CONTRACEPTION_END, VISIT_OVERDUE,
                   DORIS_REMISSION, LLDAS, SEVERE_FLARE)  # fmt: skip
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
    """Negative only when "not detected" (DOMAIN.md §7).

    A result detected below the LLOQ is not quantifiable (BLQ for PK) but shows CAR-T cells are still
    there: it is not negative. A result with neither a value nor "not detected" is not negative either.
    """
    return r.not_detected


def is_pcr_detected(r: PcrResult) -> bool:
    """Detected: a reported value, quantifiable or below the LLOQ; an empty (pending) result is not."""
    return not r.not_detected and r.value is not None


# Never detected so far: only negatives after this day (site calendar days from the infusion) count.
PCR_NEVER_DETECTED_AFTER_DAY = 28


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
    revoking_lloq: Decimal | None = None


def pcr_negativity_episodes(
    infusion_start: dt.datetime, results: list[PcrResult], tz_name: str
) -> list[NegativityEpisode]:
    """The successive episodes of confirmed negativity, oldest first; only the last can be unrevoked.

    Only results sampled after the infusion start count, in sample-time order (DOMAIN.md §7). A negative
    (not detected) result counts toward confirmation when it follows the first detected result, or, while
    nothing has been detected yet, when it is after day 28 (site calendar days); negatives before expansion
    confirm nothing. Negativity is confirmed at the site date of the second of two adjacent counting
    negatives; the first detected result after that (even below the LLOQ) revokes it on its own site date. A
    new pair of adjacent negatives after that confirms again.
    """
    episodes: list[NegativityEpisode] = []
    active: NegativityEpisode | None = None
    previous_counts = False
    detected_before = False
    infusion_day = site_date(infusion_start, tz_name)
    post_infusion = sorted((r for r in results if r.sample_datetime > infusion_start), key=lambda r: r.sample_datetime)
    for result in post_infusion:
        day = site_date(result.sample_datetime, tz_name)
        counts = is_pcr_negative(result) and (
            detected_before or (day - infusion_day).days > PCR_NEVER_DETECTED_AFTER_DAY
        )
        if counts and previous_counts and active is None:
            active = NegativityEpisode(day, None)
            episodes.append(active)
        elif active is not None and is_pcr_detected(result):
            episodes[-1] = replace(active, revoked_on=day, revoking_value=result.value, revoking_lloq=result.lloq)
            active = None
        detected_before = detected_before or is_pcr_detected(result)
        previous_counts = counts
    return episodes


def pcr_milestones(infusion_start: dt.datetime, results: list[PcrResult], tz_name: str) -> list[MilestoneFact]:
    """PCR_NEGATIVE_CONFIRMED and PCR_REEMERGENCE facts (at most one of each: stored once per subject).

    PCR_NEGATIVE_CONFIRMED is dated the sample (site) date of the second of two adjacent negative
    post-infusion results that count (`pcr_negativity_episodes`) — the first such pair. A later detected
    result gives PCR_REEMERGENCE on its date and the confirmation carries `revoked_on` = that date.

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
    value, lloq = last_revoked.revoking_value, last_revoked.revoking_lloq
    below = f" (detected below the LLOQ {lloq})" if value is not None and lloq is not None and value < lloq else ""
    detail = (
        f"positive qPCR {value} copies/µg{below} after negativity confirmed on {last_revoked.confirmed_on.isoformat()}"
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
        return Message(CONTRACEPTION_TEXTS[self.status], until=self.until.isoformat() if self.until else "")


CONTRACEPTION_TEXTS = {
    "NOT_APPLICABLE": N_("Contraception not applicable (woman not of childbearing potential)"),
    "REQUIRED_AT_LEAST_UNTIL": N_(
        "Contraception required until at least {until} and until qPCR negativity is confirmed"
    ),
    "REQUIRED_UNTIL_PCR_NEGATIVE": N_("Contraception required until qPCR negativity is confirmed"),
    "REQUIRED_UNTIL": N_("Contraception required until {until}"),
    "ENDED": N_("Contraception no longer required since {until}"),
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
