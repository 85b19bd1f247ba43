"""Subjects, their visit schedule and lab results: registration, the follow-up plan, the kernel CRFs'
validators and the bulk import of lab results."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext
from simple_history.utils import bulk_create_with_history

from edc import i18n, roles, rules
from edc.models import (
    DataQuery,
    LabResult,
    Lock,
    Site,
    Subject,
    Visit,
)
from edc.services.crf import (
    covering_locks,
    label_of,
    notify_saved,
    save_crf,
    system_user,
    validate_crf,
    withdraw_attestations,
)


def register_subject(subject: Subject, *, user) -> Subject:
    """Assign the next `M1019-<site>-<nnn>` of the subject's site and save."""
    if not roles.has_any_role(user, roles.DATA_ENTRY):
        raise PermissionDenied(gettext("only site staff and investigators register subjects"))
    with transaction.atomic():
        Site.objects.select_for_update().get(pk=subject.site_id)  # serialises numbering per site
        last = Subject.objects.filter(site_id=subject.site_id).aggregate(n=Max("number"))["n"] or 0
        subject.number = last + 1
        subject.subject_id = rules.format_subject_id(subject.site.code, subject.number)
        return save_crf(subject, user=user)


def take_off_study(subject: Subject, *, on: dt.date, reason: str, user) -> Subject:
    """The investigator's decision that a subject leaves the study, dated (site calendar) and explained; the
    status, the date and the reason go to the history together."""
    if not roles.has_any_role(user, roles.SIGNERS):
        raise PermissionDenied(gettext("only investigators take a subject off study"))
    today = site_time(timezone.now(), subject.site).date()
    if errors := rules.off_study_errors(subject.status, on, reason, today):
        raise ValidationError({field: [message] for field, message in i18n.translated_errors(errors).items()})
    subject.status, subject.off_study_date, subject.off_study_reason = Subject.Status.OFF_STUDY, on, reason.strip()
    return save_crf(subject, user=user, reason=f"taken off study: {reason.strip()}")


def schedule_follow_up(subject: Subject, infusion_date: dt.date, *, user) -> list[Visit]:
    """Create the scheduled follow-up visits with their windows (idempotent per visit code)."""
    existing = set(Visit.objects.filter(subject=subject, voided=False).values_list("code", flat=True))
    created = []
    for planned in rules.follow_up_plan(infusion_date):
        if planned.code in existing:
            continue
        visit = Visit(
            subject=subject,
            code=planned.code,
            planned_date=planned.planned_date,
            window_start=planned.window_start,
            window_end=planned.window_end,
        )
        created.append(save_crf(visit, user=user))
    return created


def site_time(moment: dt.datetime, site: Site) -> dt.datetime:
    return moment.astimezone(ZoneInfo(site.timezone))


def validate_subject(subject: Subject, now: dt.datetime):
    errors = rules.not_in_future("date_of_birth", subject.date_of_birth, now)
    return errors, {}


def validate_visit(visit: Visit, now: dt.datetime):
    errors = rules.not_in_future("visit_datetime", visit.visit_datetime, now)
    if visit.code not in rules.SCHEDULE:
        errors["code"] = f"{visit.code!r} is not a visit of the schedule"
    warnings = {}
    window = None if errors else visit.window
    if window and window.status != "IN_WINDOW":
        warnings["visit_datetime"] = rules.Message(
            rules.VISIT_OUT_OF_WINDOW, code=visit.code, days=window.days_outside,
            early_or_late=window.status.lower(), start=visit.window_start, end=visit.window_end,
        )  # fmt: skip
    return errors, warnings


def validate_lab_result(result: LabResult, now: dt.datetime):
    errors, warnings = rules.check_lab_result(
        analyte=result.analyte,
        value=result.value,
        result_text=result.result_text,
        unit=result.unit,
        lln=result.lln,
        uln=result.uln,
        not_detected=result.not_detected,
        lloq=result.lloq,
    )
    errors.update(rules.not_in_future("sample_datetime", result.sample_datetime, now))
    if result.visit_id and result.visit.subject_id != result.subject_id:
        errors["visit"] = gettext("visit {visit} belongs to another subject than {subject}").format(
            visit=result.visit, subject=result.subject
        )
    elif result.visit_id and rules.SCHEDULE[result.visit.code].follow_up:
        error = rules.follow_up_sample_error(result.sample_datetime, _infusion_start_of(result.visit))
        if error:
            errors["sample_datetime"] = error
    if "unit" not in errors and rules.ANALYTE_UNITS.get(result.analyte):
        result.unit = rules.ANALYTE_UNITS[result.analyte]  # one spelling of each unit is stored
    return errors, warnings


class BulkRejected(Exception):
    """A bulk import refused whole: one entry per refused row and field."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


BULK_LIMIT = 5000


@dataclass(frozen=True)
class BulkImport:
    results: list[LabResult]
    queries: list[DataQuery]


def import_lab_results(results: list[LabResult | None], *, user, parse_errors: list[dict] = ()) -> BulkImport:
    """Store a batch of lab results all-or-nothing, with history for each and queries for soft limits.

    The rows arrive with `subject` and `visit` set as objects (resolved in one query each by the
    caller), so validating 5,000 rows costs no query per row. Rows that could not be read arrive
    as None with their `parse_errors`, so that one answer lists every problem of the file.
    """
    if len(results) > BULK_LIMIT:
        raise BulkRejected([{"index": None, "field": "results", "message": f"at most {BULK_LIMIT} rows per request"}])
    now = timezone.now()
    errors, warnings_by_row = list(parse_errors), []
    for index, result in enumerate(results):
        if result is None:
            continue
        try:
            warnings_by_row.append(validate_crf(result, now))
        except ValidationError as error:
            errors += [
                {"index": index, "field": field, "message": message}
                for field, messages in error.message_dict.items()
                for message in messages
            ]
    errors += _locked_rows(results)
    if errors:
        raise BulkRejected(sorted(errors, key=lambda e: (e["index"], e["field"])))
    with transaction.atomic():
        stored = bulk_create_with_history(results, LabResult, batch_size=1000, default_user=user)
        system = system_user()
        queries = [
            DataQuery(
                subject_id=result.subject_id,
                target_model=label_of(result),
                target_id=result.pk,
                target_field=field,
                text=text,
                auto=True,
                raised_by=system,
            )
            for result, warnings in zip(stored, warnings_by_row, strict=True)
            for field, text in warnings.items()
        ]
        bulk_create_with_history(queries, DataQuery, batch_size=1000, default_user=system)
        if stored:
            withdraw_attestations(stored, user=user, new=True)
            notify_saved(stored)
    return BulkImport(stored, queries)


def _locked_rows(results: list[LabResult | None]) -> list[dict]:
    rows = [(index, r) for index, r in enumerate(results) if r is not None]
    locks = list(covering_locks({r.subject_id for _, r in rows}, {r.visit_id for _, r in rows}))
    errors = []
    for index, result in rows:
        for lock in locks:
            if (
                lock.level == Lock.Level.STUDY
                or lock.subject_id == result.subject_id
                or lock.visit_id == result.visit_id
            ):
                errors.append({"index": index, "field": "subject", "message": f"{lock}: locked ({lock.reason})"})
                break
    return errors


def visits_with_infusion_start():
    """Visits annotated with their subject's infusion time, from the DONE `D0` visit the infusion records."""
    d0 = Visit.objects.filter(subject=OuterRef("subject"), code="D0", voided=False).values("visit_datetime")[:1]
    return Visit.objects.annotate(infusion_start=Subquery(d0))


def _infusion_start_of(visit: Visit) -> dt.datetime | None:
    if not hasattr(visit, "infusion_start"):  # not loaded through visits_with_infusion_start()
        visit.infusion_start = visits_with_infusion_start().get(pk=visit.pk).infusion_start
    return visit.infusion_start
