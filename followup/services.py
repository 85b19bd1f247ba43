"""Follow-up use cases: adverse event grading, the milestone scan that jobs and operators run, the visit CRF, the
follow-up grid and the CAR-T safety summaries (DOMAIN.md §9) that the subject page and the safety export read."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from edc import roles
from edc import rules as edc_rules
from edc.models import LabResult, Subject, Visit
from edc.services import save_crf, system_user
from followup import rules
from followup.models import AdverseEvent, Milestone, PrednisoneDose
from followup.visit_crf import CRF_LINES
from screening.models import Medication

logger = logging.getLogger(__name__)


def validate_adverse_event(event: AdverseEvent, now: dt.datetime):
    errors = {
        **edc_rules.not_in_future("onset_date", event.onset_date, now),
        **edc_rules.not_in_future("resolution_date", event.resolution_date, now),
    }
    warnings = {}
    if event.resolution_date and event.onset_date and event.resolution_date < event.onset_date:
        errors["resolution_date"] = f"{event.resolution_date} is before the onset on {event.onset_date}"
    if event.category in (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS):
        # The grade is computed from the findings, never typed.
        masked = fever_masked(event)
        event.astct_grade = rules.astct_grade(event.category, fever_masked=masked, **_astct_fields(event))
        if event.category == AdverseEvent.Category.CRS and event.astct_grade == 0 and not masked:
            warnings["max_temperature_c"] = (
                "CRS needs fever ≥ 38 °C under ASTCT; was it masked by antipyretics or tocilizumab? please confirm"
                " (tocilizumab or a corticosteroid for the CRS goes in the medication log, indication CRS)"
            )
    else:
        event.astct_grade = None
        if event.ctcae_grade is None:
            errors["ctcae_grade"] = f"a CTCAE grade (1–5) is required for a {event.category} event"
    return errors, warnings


def validate_prednisone_dose(dose: PrednisoneDose, now: dt.datetime):
    if dose.visit_id and dose.visit.subject_id != dose.subject_id:
        return {"visit": f"visit {dose.visit} belongs to another subject than {dose.subject}"}, {}
    return {}, {}


def _astct_fields(event: AdverseEvent) -> dict:
    names = ("max_temperature_c", "hypotension", "hypoxia", "ice_score", "consciousness", "seizure",
             "motor_findings", "cerebral_oedema", "outcome")  # fmt: skip
    return {name: getattr(event, name) for name in names}


def fever_masked(event: AdverseEvent) -> bool:
    """Whether the subject's medication log shows tocilizumab or a corticosteroid given for this CRS."""
    if event.category != AdverseEvent.Category.CRS or not event.subject_id or event.onset_date is None:
        return False
    log = Medication.objects.filter(subject_id=event.subject_id, voided=False, indication="CRS")
    treatments = [rules.CrsTreatment(*row) for row in log.values_list("category", "indication", "start_date")]
    return rules.crs_fever_masked(treatments, event.onset_date, event.resolution_date)


def regrade_crs_after_medication(rows) -> None:
    """A save listener: a medication-log entry re-grades the subject's CRS events, so that a grade does not
    depend on whether the event or its treatment was keyed first."""
    subject_ids = {row.subject_id for row in rows if isinstance(row, Medication)}
    if not subject_ids:
        return
    events = AdverseEvent.objects.filter(subject_id__in=subject_ids, category=AdverseEvent.Category.CRS, voided=False)
    for event in events.select_related("subject"):
        grade = rules.astct_grade(event.category, fever_masked=fever_masked(event), **_astct_fields(event))
        if grade != event.astct_grade:
            event.astct_grade = grade  # the validator computes the same; set here so that the save sees a change
            save_crf(event, user=system_user(), reason="ASTCT grade recomputed: the medication log changed")


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

    A fixed number of queries reads all treated subjects, their qPCR results and visits, and the
    stored milestones; the differences are written in bulk with history. Newly raised milestones are
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
        result = _upsert(computed, stored, visits)
        _notify_new(result.raised)
    return result


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
    """One e-mail per site listing its newly raised milestones, sent after the scan commits."""
    if not raised:
        return
    by_site = defaultdict(list)
    subjects = Subject.objects.select_related("site").in_bulk({m.subject_id for m in raised})
    for milestone in raised:
        by_site[subjects[milestone.subject_id].site].append((subjects[milestone.subject_id], milestone))
    for site, items in by_site.items():
        recipients = list(
            site.users.filter(groups__name__in=roles.DATA_ENTRY, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
            .distinct()
        )
        if not recipients:
            continue
        lines = [f"{subject.subject_id}: {m.kind} on {m.date} {m.detail}".rstrip() for subject, m in items]
        transaction.on_commit(
            lambda site=site, lines=lines, recipients=recipients: send_mail(
                f"[Meta10-19 EDC] {len(lines)} new milestone(s) at site {site.code}",
                "\n".join(lines),
                settings.DEFAULT_FROM_EMAIL,
                recipients,
            ),
            robust=True,
        )


def subject_status(subject: Subject, today: dt.date) -> dict:
    """What the subject page shows: milestones, contraception and PCR negativity status."""
    milestones = list(subject.milestones.select_related("visit").order_by("date", "kind"))
    d0 = Visit.objects.filter(subject=subject, code="D0", voided=False, visit_datetime__isnull=False).first()
    if d0 is None:
        return {"milestones": milestones, "contraception": None, "pcr": "no infusion recorded"}
    confirmed = next(
        (m for m in milestones if m.kind == Milestone.Kind.PCR_NEGATIVE_CONFIRMED and m.revoked_at is None), None
    )
    month_12 = rules.month_12_date(edc_rules.site_date(d0.visit_datetime, subject.site.timezone))
    requirement = rules.contraception_required_until(
        month_12, confirmed.date if confirmed else None, subject.sex, subject.childbearing_potential, today
    )
    pcr = f"confirmed negative on {confirmed.date}" if confirmed else "not yet confirmed negative"
    return {"milestones": milestones, "contraception": requirement.text, "pcr": pcr}


# --- The follow-up visit CRF ----------------------------------------------------------------------


def visit_crf_rows(visit: Visit) -> tuple[dict[str, LabResult], dict[str, LabResult]]:
    """The visit's own results, and each analyte's latest earlier result (whose reference range and
    LLOQ the form proposes), in one query."""
    analytes = [line.analyte for line in CRF_LINES]
    own, previous = {}, {}
    results = LabResult.objects.filter(subject_id=visit.subject_id, voided=False, analyte__in=analytes)
    for result in results.order_by("sample_datetime", "id"):
        if result.visit_id == visit.pk:
            own[result.analyte] = result
        elif visit.visit_datetime is None or result.sample_datetime <= visit.visit_datetime:
            previous[result.analyte] = result
    return own, previous


def record_visit_crf(visit: Visit, entries: dict, *, user, reason: str = "") -> None:
    """Save a whole visit page at once, all or nothing: the visit, its results, SELENA-SLEDAI and
    prednisone. Errors come back keyed by the form's field names (`C3__value`, `pga`, …)."""
    from screening.models import SledaiAssessment

    errors: dict[str, list[str]] = {}

    # Keying a scheduled visit for the first time is its first entry, not a change needing a reason.
    first_entry = visit.status == Visit.Status.SCHEDULED and visit.visit_datetime is None

    def attempt(prefix: str, row, reason=reason):
        try:
            return save_crf(row, user=user, reason=reason)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                key = field if field in ("change_reason", "__all__") else f"{prefix}{field}"
                errors.setdefault(key, []).extend(messages)
            return row

    with transaction.atomic():
        visit.visit_datetime, visit.status = entries["visit_datetime"], entries["status"]
        visit = attempt("", visit, reason=reason or ("visit recorded" if first_entry else ""))
        own, _ = visit_crf_rows(visit)
        for line in CRF_LINES:
            values = {field: entries.get(f"{line.analyte}__{field}") for field in line.fields}
            stored = own.get(line.analyte)
            if stored is None and not any(values[field] not in (None, "", False) for field in line.result_fields):
                continue  # a test left empty is no result, whatever range the form proposed beside it
            if visit.visit_datetime is None:
                errors.setdefault("visit_datetime", ["a visit with results needs its date and time"])
                continue
            result = stored or LabResult(
                subject_id=visit.subject_id, visit=visit, analyte=line.analyte, sample_datetime=visit.visit_datetime
            )
            for field, value in values.items():
                setattr(result, field, value)
            attempt(f"{line.analyte}__", result)
        if entries.get("descriptors") or entries.get("pga") is not None:
            assessment = SledaiAssessment.objects.filter(visit=visit, voided=False).first() or SledaiAssessment(
                subject_id=visit.subject_id, visit=visit
            )
            assessment.descriptors, assessment.pga = entries.get("descriptors") or [], entries.get("pga")
            site_tz = ZoneInfo(visit.subject.site.timezone)
            assessment.assessment_date = assessment.assessment_date or visit.visit_datetime.astimezone(site_tz).date()
            attempt("", assessment)
        if entries.get("prednisone_mg_per_day") is not None:
            dose = PrednisoneDose.objects.filter(visit=visit, voided=False).first() or PrednisoneDose(
                subject_id=visit.subject_id, visit=visit
            )
            dose.prednisone_mg_per_day = entries["prednisone_mg_per_day"]
            attempt("", dose)
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationError(errors)


# --- Follow-up grid ------------------------------------------------------------------------------

GRID_ANALYTES = ("CD19", "CARPCR", "CARFLOW", "DSDNA", "C3", "C4")


@dataclass(frozen=True)
class GridRow:
    visit: Visit
    window: edc_rules.WindowStatus | None
    values: list  # one LabResult or None per GRID_ANALYTES
    sledai: int | None


def follow_up_grid(subject: Subject) -> list[GridRow]:
    """Visits × key analytes for the subject page, in three queries whatever the follow-up length."""
    from screening.models import SledaiAssessment

    codes = ["BL", *(v.code for v in edc_rules.FOLLOW_UP)]
    visits = list(
        Visit.objects.filter(subject=subject, code__in=codes, voided=False)
        .select_related("subject__site")
        .order_by("planned_date", "visit_datetime")
    )
    labs = LabResult.objects.filter(subject=subject, voided=False, analyte__in=GRID_ANALYTES, visit__isnull=False)
    results = {(result.visit_id, result.analyte): result for result in labs}
    assessments = SledaiAssessment.objects.filter(subject=subject, voided=False, visit__isnull=False)
    sledai = dict(assessments.values_list("visit", "total"))
    return [
        GridRow(visit, visit.window, [results.get((visit.pk, a)) for a in GRID_ANALYTES], sledai.get(visit.pk))
        for visit in visits
    ]


# --- CAR-T safety (DOMAIN.md §9) ------------------------------------------------------------------

SAFETY_ANALYTES = ("ANC", "IGG")
SAFETY_AE_CATEGORIES = (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS, AdverseEvent.Category.INFECTION)
SAFETY_CHUNK = 5000


class SafetyRow(NamedTuple):
    """A treated subject and its safety summary."""

    subject_pk: int
    subject_id: str
    site_code: str
    number: int
    infusion_start: dt.datetime
    summary: rules.SafetySummary


class _BySubject:
    """Rows of one stream ordered by subject pk (their first column), taken one subject at a time: the streams of
    `safety_rows` advance together, so memory holds one subject's rows whatever the size of the trial."""

    def __init__(self, rows):
        self._rows = iter(rows)
        self._pending = next(self._rows, None)

    def take(self, subject_pk: int) -> list[tuple]:
        while self._pending is not None and self._pending[0] < subject_pk:
            self._pending = next(self._rows, None)  # a subject the main stream does not list (not treated)
        taken = []
        while self._pending is not None and self._pending[0] == subject_pk:
            taken.append(self._pending)
            self._pending = next(self._rows, None)
        return taken


def safety_rows(subjects) -> Iterator[SafetyRow]:
    """The safety summary of each treated subject among `subjects` (a Subject queryset), by subject pk: six
    queries whatever the number of subjects, read from server-side cursors in step."""
    infusions = (
        Visit.objects.filter(
            code="D0", status=Visit.Status.DONE, voided=False, visit_datetime__isnull=False, subject__in=subjects,
            subject__voided=False,
        )
        .order_by("subject_id")
        .values_list("subject_id", "subject__subject_id", "subject__site__code", "subject__number",
                     "subject__site__timezone", "visit_datetime")
    )  # fmt: skip
    labs = (
        LabResult.objects.filter(analyte__in=SAFETY_ANALYTES, voided=False, value__isnull=False, subject__in=subjects)
        .order_by("subject_id", "sample_datetime", "id")
        .values_list("subject_id", "analyte", "sample_datetime", "value")
    )
    events = (
        AdverseEvent.objects.filter(category__in=SAFETY_AE_CATEGORIES, voided=False, subject__in=subjects)
        .order_by("subject_id", "onset_date", "id")
        .values_list("subject_id", "category", "astct_grade", "ctcae_grade", "onset_date")
    )
    ivig = (
        Medication.objects.filter(category=Medication.Category.IVIG, voided=False, subject__in=subjects)
        .order_by("subject_id", "start_date", "id")
        .values_list("subject_id", "start_date", "stop_date")
    )
    negativity = (
        Milestone.objects.filter(
            kind=Milestone.Kind.PCR_NEGATIVE_CONFIRMED, revoked_at__isnull=True, voided=False, subject__in=subjects
        )
        .order_by("subject_id", "date")
        .values_list("subject_id", "date")
    )
    streams = [_BySubject(q.iterator(chunk_size=SAFETY_CHUNK)) for q in (labs, events, ivig, negativity)]
    for subject_pk, subject_id, site_code, number, tz, start in infusions.iterator(chunk_size=SAFETY_CHUNK):
        lab_rows, event_rows, ivig_rows, negative_rows = (stream.take(subject_pk) for stream in streams)
        summary = _safety_summary(start, tz, lab_rows, event_rows, ivig_rows, negative_rows)
        yield SafetyRow(subject_pk, subject_id, site_code, number, start, summary)


def _safety_summary(start, tz, lab_rows, event_rows, ivig_rows, negative_rows) -> rules.SafetySummary:
    zone = ZoneInfo(tz)
    infusion_date = start.astimezone(zone).date()

    def day_of(moment: dt.datetime) -> int:
        return (moment.astimezone(zone).date() - infusion_date).days

    points = {analyte: [] for analyte in SAFETY_ANALYTES}
    for _, analyte, taken, value in lab_rows:
        points[analyte].append(rules.LabPoint(day_of(taken), value, taken > start))
    graded = {category: [] for category in SAFETY_AE_CATEGORIES}
    for _, category, astct, ctcae, onset in event_rows:
        grade = astct if category != AdverseEvent.Category.INFECTION else ctcae
        graded[category].append(rules.GradedEvent(grade, (onset - infusion_date).days))
    return rules.safety_summary(
        infusion_date=infusion_date,
        anc=points["ANC"],
        igg=points["IGG"],
        crs=graded[AdverseEvent.Category.CRS],
        icans=graded[AdverseEvent.Category.ICANS],
        infections=graded[AdverseEvent.Category.INFECTION],
        ivig_courses=[(start_date, stop) for _, start_date, stop in ivig_rows],
        pcr_negative_date=negative_rows[0][1] if negative_rows else None,
    )


def subject_safety(subject: Subject) -> rules.SafetySummary | None:
    """One subject's safety summary (the subject page's panel); None before the infusion."""
    row = next(safety_rows(Subject.objects.filter(pk=subject.pk)), None)
    return row.summary if row else None
