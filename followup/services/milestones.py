"""The milestone scan that jobs and operators run (DOMAIN.md §7), and the subject page's milestone status."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from edc import roles
from edc import rules as edc_rules
from edc.models import LabResult, Subject, Visit
from edc.rules import N_, Message
from edc.services import system_user
from followup import rules
from followup.models import Milestone
from followup.rules import outcomes as outcome_rules
from followup.services.outcomes import subject_outcomes

logger = logging.getLogger(__name__)


# --- Milestones ---------------------------------------------------------------------------------

# One scan at a time: concurrent workers wait, then find the rows already there (idempotent).
SCAN_LOCK_KEY = 1019_0001


@dataclass(frozen=True)
class ScanResult:
    subjects: int
    raised: list[Milestone]
    updated: int
    revoked: int


def scan_milestones(today: dt.date, subject_ids: list[int] | None = None) -> ScanResult:
    """Compute every treated subject's milestones and upsert them, with set-based queries only.

    A fixed number of queries reads all treated subjects, their qPCR results, visits and SELENA-SLEDAI outcomes,
    and the stored milestones; the differences are written in bulk with history. Newly raised milestones are
    mailed to the site staff once.
    """
    with transaction.atomic():
        _serialise_scans()
        treated = _treated_subjects(subject_ids)
        pcr = _pcr_results_by_subject(treated)
        visits = _visits_by_subject(treated, today)
        stored = _stored_milestones(treated)
        computed = {
            subject_id: rules.subject_milestones(
                infusion_start=info["infusion_start"],
                tz_name=info["timezone"],
                sex=info["sex"],
                childbearing_potential=info["childbearing_potential"],
                pcr_results=pcr.get(subject_id, []),
                visits=[state for state, _ in visits.get(subject_id, {}).values()],
                today=today,
            )
            for subject_id, info in treated.items()
        }
        _add_outcome_milestones(computed, treated, visits)
        result = _upsert(computed, stored, visits)
        _notify_new(result.raised)
    return result


def _add_outcome_milestones(computed: dict, treated: dict, visits: dict) -> None:
    """The lupus outcome milestones (first DORIS remission, first LLDAS, each severe flare) of the treated subjects,
    two queries for all; a severe flare's visit joins `visits` so that its milestone is stored against it."""
    subjects = Subject.objects.filter(**_subject_filter(treated, "pk"))
    for subject in subject_outcomes(subjects):
        if subject.subject_pk not in treated:
            continue
        facts = outcome_rules.outcome_milestones(subject.outcomes)
        computed[subject.subject_pk] = sorted(
            [*computed[subject.subject_pk], *facts], key=lambda f: (f.date, rules.MILESTONE_KINDS.index(f.kind))
        )
        flare_visits = {f.visit_code for f in facts if f.visit_code}
        for o in subject.outcomes:
            if o.facts.visit in flare_visits:
                state = rules.VisitState(o.facts.visit, None, done=True)
                visits.setdefault(subject.subject_pk, {}).setdefault(o.facts.visit, (state, o.facts.visit_id))


def _serialise_scans() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCAN_LOCK_KEY])
    # SQLite runs write transactions one at a time already (transaction_mode IMMEDIATE).


def _treated_subjects(subject_ids) -> dict[int, dict]:
    """Subjects with a recorded infusion (the DONE D0 visit the infusion writes)."""
    d0 = Visit.objects.filter(code="D0", voided=False, visit_datetime__isnull=False, subject__voided=False)
    if subject_ids is not None:
        d0 = d0.filter(subject_id__in=subject_ids)
    rows = d0.values_list(
        "subject_id", "visit_datetime", "subject__sex", "subject__childbearing_potential", "subject__site__timezone"
    )
    return {
        subject_id: {"infusion_start": start, "sex": sex, "childbearing_potential": cbp, "timezone": tz}
        for subject_id, start, sex, cbp, tz in rows.iterator(chunk_size=5000)
    }


def _subject_filter(treated: dict, field: str = "subject_id") -> dict:
    return {} if len(treated) > 1000 else {f"{field}__in": list(treated)}


def _pcr_results_by_subject(treated) -> dict[int, list[rules.PcrResult]]:
    results = LabResult.objects.filter(analyte="CARPCR", voided=False, **_subject_filter(treated))
    grouped = defaultdict(list)
    # Ordered like the (subject, analyte, sample time) index: a server-side cursor's plan otherwise
    # favours a slow fast-start scan.
    rows = results.order_by("subject_id", "sample_datetime").values_list(
        "subject_id", "sample_datetime", "value", "lloq", "not_detected"
    )
    for subject_id, sample, value, lloq, not_detected in rows.iterator(chunk_size=10000):
        if subject_id in treated:
            grouped[subject_id].append(rules.PcrResult(sample, value, lloq, not_detected))
    return grouped


def _visits_by_subject(treated, today: dt.date) -> dict[int, dict[str, tuple[rules.VisitState, int]]]:
    """Follow-up visits still scheduled after their window closed: code → (state, visit id).

    Only these can be overdue; a visit done since is left out, so its stored milestone is revoked.
    """
    follow_up_codes = [v.code for v in edc_rules.FOLLOW_UP]
    visits = Visit.objects.filter(
        code__in=follow_up_codes, voided=False, status=Visit.Status.SCHEDULED, window_end__lt=today,
        **_subject_filter(treated),
    )  # fmt: skip
    grouped = defaultdict(dict)
    rows = visits.order_by("subject_id").values_list("subject_id", "pk", "code", "window_end")
    for subject_id, pk, code, window_end in rows.iterator(chunk_size=10000):
        if subject_id in treated:
            grouped[subject_id][code] = (rules.VisitState(code, window_end, done=False), pk)
    return grouped


def _stored_milestones(treated) -> dict[tuple, Milestone]:
    stored = Milestone.objects.select_related("visit").filter(**_subject_filter(treated))
    return {
        (m.subject_id, m.kind, m.visit.code if m.visit else ""): m
        for m in stored.iterator(chunk_size=5000)
        if m.subject_id in treated
    }


def _upsert(computed, stored, visits) -> ScanResult:
    now = timezone.now()
    to_create, to_update, seen = [], [], set()
    for subject_id, facts in computed.items():
        for fact in facts:
            key = (subject_id, fact.kind, fact.visit_code)
            seen.add(key)
            revoked_at = _revocation_time(fact.revoked_on)
            existing = stored.get(key)
            if existing is None:
                visit_pk = visits.get(subject_id, {}).get(fact.visit_code, (None, None))[1]
                to_create.append(
                    Milestone(
                        subject_id=subject_id,
                        kind=fact.kind,
                        date=fact.date,
                        visit_id=visit_pk,
                        raised_at=now,
                        revoked_at=revoked_at,
                        detail=fact.detail,
                    )  # fmt: skip
                )
            elif (existing.date, existing.detail, existing.revoked_at is not None) != (
                fact.date, fact.detail, revoked_at is not None,
            ):  # fmt: skip
                existing.date, existing.detail = fact.date, fact.detail
                existing.revoked_at = existing.revoked_at or revoked_at if revoked_at else None
                to_update.append(existing)
    # A stored milestone the data no longer supports (e.g. an overdue visit since recorded) is revoked.
    to_revoke = [m for key, m in stored.items() if key not in seen and m.revoked_at is None]
    for milestone in to_revoke:
        milestone.revoked_at = now
    user = system_user()
    created = bulk_create_with_history(to_create, Milestone, batch_size=2000, default_user=user)
    changed = to_update + to_revoke
    if changed:
        for milestone in changed:
            milestone.version += 1
        bulk_update_with_history(
            changed, Milestone, ["date", "detail", "revoked_at", "version", "modified"], batch_size=2000,
            default_user=user, default_change_reason="recomputed by the milestone scan",
        )  # fmt: skip
    return ScanResult(subjects=len(computed), raised=created, updated=len(to_update), revoked=len(to_revoke))


def _revocation_time(revoked_on: dt.date | None) -> dt.datetime | None:
    if revoked_on is None:
        return None
    return timezone.make_aware(dt.datetime.combine(revoked_on, dt.time.min))


def _notify_new(raised: list[Milestone]) -> None:
    """One e-mail per site and language listing its newly raised milestones, sent after the scan commits: each
    recipient reads it in their own language (`edc.UserPreference`, else the site's default, English)."""
    if not raised:
        return
    by_site = defaultdict(list)
    subjects = Subject.objects.select_related("site").in_bulk({m.subject_id for m in raised})
    for milestone in raised:
        by_site[subjects[milestone.subject_id].site].append((subjects[milestone.subject_id], milestone))
    for site, items in by_site.items():
        for language, recipients in _recipients_by_language(site).items():
            with translation.override(language):
                subject_line, body = _milestone_mail(site, items)
            transaction.on_commit(
                lambda subject_line=subject_line, body=body, recipients=recipients: send_mail(
                    subject_line, body, settings.DEFAULT_FROM_EMAIL, recipients
                ),
                robust=True,
            )


def _recipients_by_language(site) -> dict[str, list[str]]:
    """The site staff's e-mail addresses grouped by the language each chose (one query)."""
    staff = (
        site.users.filter(groups__name__in=roles.DATA_ENTRY, is_active=True)
        .exclude(email="")
        .values_list("email", "edc_preference__language")
        .distinct()
    )
    grouped = defaultdict(list)
    for email, language in staff:
        if email not in grouped[language or settings.LANGUAGE_CODE]:
            grouped[language or settings.LANGUAGE_CODE].append(email)
    return dict(grouped)


def _milestone_mail(site, items) -> tuple[str, str]:
    """(subject, body) in the active language. The milestone's code stays in each line (a stored code, what the API
    and exports call it), and so does its detail (stored English)."""
    subject_line = gettext("[Meta10-19 EDC] {count} new milestone(s) at site {site}").format(
        count=len(items), site=site.code
    )
    line = gettext("{subject}: {kind} on {date} {detail}")
    lines = [
        line.format(subject=subject.subject_id, kind=m.kind, date=m.date, detail=m.detail).rstrip()
        for subject, m in items
    ]
    return subject_line, "\n".join(lines)


def subject_status(subject: Subject, today: dt.date) -> dict:
    """What the subject page shows: milestones, contraception and PCR negativity status."""
    milestones = list(subject.milestones.select_related("visit").order_by("date", "kind"))
    d0 = Visit.objects.filter(subject=subject, code="D0", voided=False, visit_datetime__isnull=False).first()
    if d0 is None:
        return {"milestones": milestones, "contraception": None, "pcr": N_("no infusion recorded")}
    confirmed = next(
        (m for m in milestones if m.kind == Milestone.Kind.PCR_NEGATIVE_CONFIRMED and m.revoked_at is None), None
    )
    month_12 = rules.month_12_date(edc_rules.site_date(d0.visit_datetime, subject.site.timezone))
    requirement = rules.contraception_required_until(
        month_12, confirmed.date if confirmed else None, subject.sex, subject.childbearing_potential, today
    )
    pcr = (Message("confirmed negative on {date}", date=confirmed.date) if confirmed
           else N_("not yet confirmed negative"))  # fmt: skip
    return {"milestones": milestones, "contraception": requirement.text, "pcr": pcr}
