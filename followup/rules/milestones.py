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

from edc.rules import site_date

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
