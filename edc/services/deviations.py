"""The protocol deviation log: deviations a person records, and the proposals the system raises for a cause it sees
in the data (a visit done outside its window; the infusion app's treatment order) for an investigator or a data
manager to confirm or dismiss.

One proposal per cause (its `source` key) and subject: saving the same data again raises none. A proposal whose
cause is gone (the visit date corrected back into its window) is dismissed by the system user, never a confirmed
one; should the cause come back, that same proposal is proposed again. A proposal a person dismissed stays
dismissed: their judgement of that cause stands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext

from edc import i18n, roles, rules
from edc.models import Deviation, Subject, Visit
from edc.services.crf import save_crf, system_user

# Site staff and investigators record what they see at the site, data managers what they find in review.
RECORDERS = roles.DATA_ENTRY | {roles.DATA_MANAGER}
# A proposal is judged by the investigator responsible or by data management.
DECIDERS = frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER})
WITHDRAWN = "withdrawn by the system: "


@dataclass(frozen=True)
class Proposal:
    """A deviation the data shows, as a proposer sees it."""

    category: str
    severity: str
    on: dt.date
    description: str
    visit: Visit | None = None


def record_deviation(deviation: Deviation, *, user, reason: str = "", expected_version: int | None = None):
    """A deviation entered by a person (confirmed as entered), or a change of one (a proposal's details too)."""
    if not roles.has_any_role(user, RECORDERS):
        raise PermissionDenied(gettext("only site staff, investigators and data managers record deviations"))
    if deviation.pk is None:
        deviation.status, deviation.auto, deviation.source = Deviation.Status.CONFIRMED, False, ""
    return save_crf(deviation, user=user, reason=reason, expected_version=expected_version)


def confirm_deviation(deviation: Deviation, *, user, expected_version: int | None = None) -> Deviation:
    _require_decider(user, deviation)
    deviation.status = Deviation.Status.CONFIRMED
    deviation.decided_by, deviation.decided_at = user, timezone.now()
    return save_crf(deviation, user=user, reason="proposed deviation confirmed", expected_version=expected_version)


def dismiss_deviation(deviation: Deviation, *, reason: str, user, expected_version: int | None = None) -> Deviation:
    _require_decider(user, deviation)
    if errors := rules.dismissal_errors(reason or ""):
        raise ValidationError({field: [message] for field, message in i18n.translated_errors(errors).items()})
    return _dismissed(deviation, reason.strip(), user, expected_version)


def _dismissed(deviation: Deviation, reason: str, user, expected_version: int | None = None) -> Deviation:
    deviation.status, deviation.dismiss_reason = Deviation.Status.DISMISSED, reason
    deviation.decided_by, deviation.decided_at = user, timezone.now()
    return save_crf(deviation, user=user, reason=f"proposed deviation dismissed: {reason}",
                    expected_version=expected_version)  # fmt: skip


def _require_decider(user, deviation: Deviation) -> None:
    if not roles.has_any_role(user, DECIDERS):
        raise PermissionDenied(gettext("only investigators and data managers confirm or dismiss a proposed deviation"))
    if deviation.status != Deviation.Status.PROPOSED:
        raise ValidationError(
            {
                "status": [
                    gettext("this deviation is {status}, not proposed").format(status=deviation.get_status_display())
                ]
            }
        )


def sync_proposal(subject: Subject, source: str, proposal: Proposal | None, *, gone: str = "") -> Deviation | None:
    """The one door of every proposer: the deviation `proposal` describes for `source`, or none (`gone` says why
    the cause no longer holds). Idempotent: the same data saved again changes nothing."""
    existing = Deviation.objects.filter(subject=subject, source=source, voided=False).first()
    if proposal is None:
        if existing is not None and existing.status == Deviation.Status.PROPOSED:
            return _dismissed(existing, WITHDRAWN + (gone or "its cause is no longer in the data"), system_user())
        return existing
    if existing is None:
        existing = Deviation(subject=subject, source=source, auto=True, status=Deviation.Status.PROPOSED)
    elif not _withdrawn(existing):
        return existing  # proposed, confirmed, or dismissed by a person: as it stands
    existing.category, existing.severity, existing.deviation_date = proposal.category, proposal.severity, proposal.on
    existing.description, existing.visit = proposal.description, proposal.visit
    existing.status, existing.dismiss_reason, existing.decided_by, existing.decided_at = (
        Deviation.Status.PROPOSED, "", None, None,
    )  # fmt: skip
    return save_crf(existing, user=system_user(), reason="raised again: the cause is back in the data")


def _withdrawn(deviation: Deviation) -> bool:
    return deviation.status == Deviation.Status.DISMISSED and deviation.dismiss_reason.startswith(WITHDRAWN)


# --- The kernel's own proposer: visits outside their window -------------------------------------


def propose_for_visits(rows) -> None:
    """A save listener: each saved visit done outside its window proposes a minor visit-window deviation."""
    if not rows or not isinstance(rows[0], Visit):
        return
    for visit in rows:
        if visit.version == 1 and visit.visit_datetime is None:
            continue  # just scheduled: it never had a date to be outside its window
        source = rules.VISIT_WINDOW_SOURCE.format(visit_pk=visit.pk)
        sync_proposal(visit.subject, source, _window_proposal(visit), gone=f"visit {visit} is no longer outside its "
                      "window (or no longer done)")  # fmt: skip


def _window_proposal(visit: Visit) -> Proposal | None:
    if visit.voided or visit.status != Visit.Status.DONE or visit.window is None:
        return None
    visit_date = rules.site_date(visit.visit_datetime, visit.subject.site.timezone)
    description = rules.visit_window_deviation(visit.code, visit_date, visit.window_start, visit.window_end)
    if description is None:
        return None
    return Proposal(Deviation.Category.VISIT_WINDOW, Deviation.Severity.MINOR, visit_date, description, visit)


def validate_deviation(deviation: Deviation, now: dt.datetime):
    site_today = rules.site_date(now, deviation.subject.site.timezone)
    errors = rules.deviation_errors(
        reported_to_ec=deviation.reported_to_ec,
        reported_to_ec_date=deviation.reported_to_ec_date,
        deviation_date=deviation.deviation_date,
    )
    for field in ("deviation_date", "reported_to_ec_date"):
        errors = {**rules.not_in_future(field, getattr(deviation, field), _end_of(site_today)), **errors}
    if deviation.visit_id and deviation.visit.subject_id != deviation.subject_id:
        errors["visit"] = gettext("visit {visit} belongs to another subject than {subject}").format(
            visit=deviation.visit, subject=deviation.subject
        )
    if deviation.status == Deviation.Status.DISMISSED:
        errors.update(rules.dismissal_errors(deviation.dismiss_reason))
    return errors, {}


def _end_of(day: dt.date) -> dt.datetime:
    """`not_in_future` compares a date with `now.date()`: the site's today, as a moment of that day."""
    return dt.datetime.combine(day, dt.time.max)
