"""Kernel use cases: every write of a clinical row goes through `save_crf` (or `void_crf`).

One transaction each: optimistic version check, mandatory reason after first entry, hard limits
(refuse), soft limits (store and open a query), history with user and reason, no history row when
nothing changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from edc import roles, rules
from edc.models import (
    AuditedModel,
    DataQuery,
    LabResult,
    Lock,
    Signature,
    Site,
    SourceVerification,
    Subject,
    Visit,
)

# Fields the kernel maintains itself; a change to only these is no change.
BOOKKEEPING_FIELDS = {"id", "version", "created", "modified"}
REASON_REQUIRED = "a reason for change is required for every update after first entry"


class StaleVersion(Exception):
    """The row changed since the client read it (HTTP 412)."""

    def __init__(self, current_version: int):
        super().__init__(f"the record is at version {current_version}; reload it and apply your change again")
        self.current_version = current_version


class Locked(Exception):
    """The row is under a data manager's lock (HTTP 423)."""

    def __init__(self, lock: Lock):
        super().__init__(
            f"{lock} since {lock.locked_at:%Y-%m-%d %H:%M} UTC by {lock.locked_by} ({lock.reason}); "
            "a data manager must unlock it with a reason before any change"
        )
        self.lock = lock


# Later apps react to saved clinical rows (followup recomputes milestones) without the kernel
# importing them: each listener gets the rows of one model, inside the saving transaction.
SaveListener = Callable[[list[AuditedModel]], None]
save_listeners: list[SaveListener] = []


def _notify_saved(rows: list[AuditedModel]) -> None:
    for listener in save_listeners:
        listener(rows)


# A validator reads one unsaved row and returns (hard errors, soft warnings) keyed by field name.
# It may canonicalise values on the row (for instance the spelling of a unit) before they are saved.
Validator = Callable[[AuditedModel, dt.datetime], tuple[dict[str, str], dict[str, str]]]
_validators: dict[type[models.Model], list[Validator]] = {}


def crf_validator(model: type[models.Model]):
    """Register a validator that every write of `model` runs, from the admin and the API alike."""

    def register(func: Validator) -> Validator:
        _validators.setdefault(model, []).append(func)
        return func

    return register


def validate_crf(instance: AuditedModel, now: dt.datetime | None = None) -> dict[str, str]:
    """Raise ValidationError naming each field over a hard limit; return the soft-limit warnings."""
    now = now or timezone.now()
    values = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    _refuse(_implausible_dates(instance, values))
    errors, warnings = rules.check_limits(values, instance.field_limits)
    # A record's validators read fields within their own limits (an ICE score of 11 has no ICANS grade).
    _refuse(errors)
    for validator in _validators.get(type(instance), []):
        more_errors, more_warnings = validator(instance, now)
        errors.update(more_errors)
        warnings.update(more_warnings)
    if instance.voided and not instance.void_reason.strip():
        errors["void_reason"] = "a reason is required to void a record"
    _refuse(errors)
    return warnings


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})


def _implausible_dates(instance: AuditedModel, values: dict) -> dict[str, str]:
    date_fields = (f.attname for f in instance._meta.concrete_fields if isinstance(f, models.DateField))
    return {name: error for name in date_fields if (error := rules.implausible_date(values[name]))}


def changed_fields(stored: models.Model, edited: models.Model) -> list[str]:
    return [
        f.attname
        for f in edited._meta.concrete_fields
        if f.attname not in BOOKKEEPING_FIELDS and getattr(stored, f.attname) != getattr(edited, f.attname)
    ]


def system_user():
    user, _ = get_user_model().objects.get_or_create(
        username=roles.SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "EDC", "last_name": "system"}
    )
    return user


def save_crf(instance: AuditedModel, *, user, reason: str = "", expected_version: int | None = None):
    """Create or update one clinical row; returns the stored row."""
    reason = (reason or "").strip()
    try:
        return _save_crf(instance, user=user, reason=reason, expected_version=expected_version)
    except IntegrityError as error:
        # Two writers passed the validators at once and the database kept the first: the second gets the answer
        # it would have had a moment later (its validators now see the stored row), or the rule broken.
        validate_crf(instance)
        raise ValidationError(_constraint_broken(instance, error)) from error


def _constraint_broken(instance: AuditedModel, error: IntegrityError) -> dict[str, list[str]]:
    """The unique constraint the database named (PostgreSQL names it; SQLite names its columns)."""
    meta, text = instance._meta, str(error)
    for constraint in meta.constraints:
        fields = getattr(constraint, "fields", ())
        columns = [f"{meta.db_table}.{meta.get_field(name).column}" for name in fields]
        if constraint.name in text or (columns and all(column in text for column in columns)):
            rule = constraint.name.replace("_", " ")
            message = f"this {meta.verbose_name} breaks the rule '{rule}': another was stored at the same time"
            return {(fields or ("non_field_errors",))[-1]: [message]}
    return {"non_field_errors": [f"this {meta.verbose_name} conflicts with one stored at the same time; reload it"]}


def _save_crf(instance: AuditedModel, *, user, reason: str, expected_version: int | None):
    is_new = instance.pk is None
    with transaction.atomic():
        if instance.is_clinical_data:
            refuse_if_locked(instance)
        if not is_new:
            stored = type(instance).objects.select_for_update().get(pk=instance.pk)
            expected = instance.version if expected_version is None else expected_version
            if stored.version != expected:
                raise StaleVersion(stored.version)
            if not changed_fields(stored, instance):
                return stored
            if not reason:
                raise ValidationError({"change_reason": [REASON_REQUIRED]})
            instance.version = stored.version + 1
        warnings = validate_crf(instance)
        instance._history_user = user
        instance._change_reason = reason or None
        instance.save()
        del instance._history_user, instance._change_reason
        open_auto_queries(instance, warnings)
        if instance.is_clinical_data:
            withdraw_attestations([instance], user=user, new=is_new)
            _notify_saved([instance])
    return instance


def void_crf(instance: AuditedModel, *, user, reason: str, expected_version: int | None = None):
    """Clinical rows are never deleted: voiding keeps the row and records why in its history."""
    if not (reason or "").strip():
        raise ValidationError({"change_reason": ["a reason is required to void a record"]})
    if instance.voided:
        return instance
    instance.voided = True
    instance.void_reason = reason.strip()
    return save_crf(instance, user=user, reason=reason, expected_version=expected_version)


# --- Locks, verifications and signatures that a change affects -----------------------------------


def covering_locks(subject_ids: set, visit_ids: set):
    """Active locks over any of these subjects or visits, or over the whole study."""
    return Lock.objects.filter(active=True, voided=False).filter(
        models.Q(level=Lock.Level.STUDY)
        | models.Q(level=Lock.Level.SUBJECT, subject_id__in=subject_ids - {None})
        | models.Q(level=Lock.Level.VISIT, visit_id__in=visit_ids - {None})
    )


def refuse_if_locked(instance: AuditedModel) -> None:
    lock = covering_locks({instance.subject_pk}, {instance.visit_pk}).select_related("locked_by", "visit").first()
    if lock is not None:
        raise Locked(lock)


# Signatures that attest data as it stood; an eligibility decision is a dated act and stays.
ATTESTING_MEANINGS = (Signature.Meaning.REVIEWED, Signature.Meaning.APPROVED)


def withdraw_attestations(rows: list[AuditedModel], *, user, new: bool = False) -> None:
    """A change voids the SDV of the rows and the signatures over them, their visits or casebooks.

    The rows are of one model (one save, or one bulk import); rows just created (`new`) can have
    no verification or signature of their own, only their visit's and casebook's.
    """
    label = label_of(rows[0])
    own_ids = set() if new else {row.pk for row in rows}
    visit_ids = {row.visit_pk for row in rows} - {None}
    subject_ids = {row.subject_pk for row in rows}
    over_rows = models.Q(target_model="edc.visit", target_id__in=visit_ids) | models.Q(
        target_model="edc.subject", target_id__in=subject_ids
    )
    if own_ids:
        over_rows |= models.Q(target_model=label, target_id__in=own_ids)
    signatures = Signature.objects.filter(over_rows, voided=False, meaning__in=ATTESTING_MEANINGS)
    what = f"{label}#{rows[0].pk}" + (f" and {len(rows) - 1} more" if len(rows) > 1 else "")
    for signature in signatures:
        void_crf(signature, user=user, reason=f"signed data changed ({what}); a new signature is needed")
    if not own_ids:
        return
    verifications = SourceVerification.objects.filter(voided=False, target_model=label, target_id__in=own_ids)
    for verification in verifications:
        void_crf(verification, user=user, reason=f"record changed after verification ({what})")


# --- Subjects and visits ------------------------------------------------------------------------


def register_subject(subject: Subject, *, user) -> Subject:
    """Assign the next `M1019-<site>-<nnn>` of the subject's site and save."""
    if not roles.has_any_role(user, roles.DATA_ENTRY):
        raise PermissionDenied("only site staff and investigators register subjects")
    with transaction.atomic():
        Site.objects.select_for_update().get(pk=subject.site_id)  # serialises numbering per site
        last = Subject.objects.filter(site_id=subject.site_id).aggregate(n=Max("number"))["n"] or 0
        subject.number = last + 1
        subject.subject_id = rules.format_subject_id(subject.site.code, subject.number)
        return save_crf(subject, user=user)


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


@crf_validator(Subject)
def _validate_subject(subject: Subject, now: dt.datetime):
    errors = rules.not_in_future("date_of_birth", subject.date_of_birth, now)
    return errors, {}


@crf_validator(Visit)
def _validate_visit(visit: Visit, now: dt.datetime):
    errors = rules.not_in_future("visit_datetime", visit.visit_datetime, now)
    if visit.code not in rules.SCHEDULE:
        errors["code"] = f"{visit.code!r} is not a visit of the schedule"
    warnings = {}
    window = None if errors else visit.window
    if window and window.status != "IN_WINDOW":
        warnings["visit_datetime"] = (
            f"visit {visit.code} is {window.days_outside} day(s) {window.status.lower()} "
            f"(window {visit.window_start} … {visit.window_end}); please confirm"
        )
    return errors, warnings


@crf_validator(LabResult)
def _validate_lab_result(result: LabResult, now: dt.datetime):
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
        errors["visit"] = f"visit {result.visit} belongs to another subject than {result.subject}"
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
            _notify_saved(stored)
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


# --- Data queries -------------------------------------------------------------------------------


def label_of(instance: models.Model) -> str:
    return instance._meta.label_lower


def resolve_target(target_model: str, target_id: int, user) -> AuditedModel:
    """The row a query or signature points at, within the user's sites; 404-like errors otherwise."""
    try:
        model = apps.get_model(target_model)
    except (LookupError, ValueError):
        raise ValidationError({"target_model": [f"unknown model {target_model!r}; use app_label.model"]}) from None
    if not issubclass(model, AuditedModel):
        raise ValidationError({"target_model": [f"{target_model} is not a clinical record"]})
    row = roles.scope(model.objects.all(), user).filter(pk=target_id).first()
    if row is None:
        raise ValidationError({"target_id": [f"no {target_model} with id {target_id} at your sites"]})
    return row


def open_auto_queries(instance: AuditedModel, warnings: dict[str, str]) -> list[DataQuery]:
    """One open query per field and message: re-saving the same unusual value opens none again."""
    opened = []
    for field, text in warnings.items():
        duplicate = DataQuery.objects.filter(
            target_model=label_of(instance),
            target_id=instance.pk,
            target_field=field,
            text=text,
            auto=True,
        ).exclude(status=DataQuery.Status.CLOSED)
        if duplicate.exists():
            continue
        query = DataQuery(
            subject_id=instance.subject_pk,
            target_model=label_of(instance),
            target_id=instance.pk,
            target_field=field,
            text=text,
            auto=True,
            raised_by=system_user(),
        )
        opened.append(save_crf(query, user=query.raised_by))
    return opened


def open_queries_of(row: AuditedModel):
    return DataQuery.objects.filter(target_model=label_of(row), target_id=row.pk).exclude(
        status=DataQuery.Status.CLOSED
    )


def open_query(target: AuditedModel, field: str, text: str, *, user) -> DataQuery:
    if not roles.has_any_role(user, roles.QUERY_RAISERS):
        raise PermissionDenied("only monitors and data managers raise queries")
    field_names = {f.name for f in target._meta.concrete_fields} | {f.attname for f in target._meta.concrete_fields}
    if field not in field_names:
        raise ValidationError({"target_field": [f"{label_of(target)} has no field {field!r}"]})
    if not text.strip():
        raise ValidationError({"text": ["a query needs a text"]})
    query = DataQuery(
        subject_id=target.subject_pk,
        target_model=label_of(target),
        target_id=target.pk,
        target_field=field,
        text=text.strip(),
        raised_by=user,
    )
    return save_crf(query, user=user)


def answer_query(query: DataQuery, answer: str, *, user) -> DataQuery:
    if not roles.has_any_role(user, roles.DATA_ENTRY):
        raise PermissionDenied("only site staff and investigators answer queries")
    if query.status == DataQuery.Status.CLOSED:
        raise ValidationError({"status": ["the query is closed"]})
    if not answer.strip():
        raise ValidationError({"answer": ["an answer is required"]})
    query.answer = answer.strip()
    query.answered_by = user
    query.answered_at = timezone.now()
    query.status = DataQuery.Status.ANSWERED
    return save_crf(query, user=user, reason="query answered")


def close_query(query: DataQuery, *, user, reason: str = "query closed") -> DataQuery:
    """Closed by whoever opened it; an automatic query by any monitor or data manager."""
    if not roles.has_any_role(user, roles.QUERY_RAISERS):
        raise PermissionDenied("only monitors and data managers close queries")
    if not query.auto and query.raised_by_id != user.pk and not user.is_superuser:
        raise PermissionDenied(f"only {query.raised_by} who opened this query may close it")
    if query.status == DataQuery.Status.CLOSED:
        return query
    query.status = DataQuery.Status.CLOSED
    query.closed_by = user
    query.closed_at = timezone.now()
    return save_crf(query, user=user, reason=reason)


# --- Signatures ---------------------------------------------------------------------------------


def sign(target: AuditedModel, meaning: str, *, user, password: str) -> Signature:
    """An investigator's electronic signature: the password is asked again at every signing."""
    if not roles.has_any_role(user, roles.SIGNERS):
        raise PermissionDenied("only investigators sign")
    if meaning not in Signature.Meaning.values:
        raise ValidationError({"meaning": [f"must be one of {', '.join(Signature.Meaning.values)}"]})
    if not password or not user.check_password(password):
        raise ValidationError({"password": ["the password does not match; nothing was signed"]})
    signature = Signature(
        subject_id=target.subject_pk,
        target_model=label_of(target),
        target_id=target.pk,
        meaning=meaning,
        signed_by=user,
        signed_at=timezone.now(),
    )
    return save_crf(signature, user=user)


# --- Source data verification and locks --------------------------------------------------------


def verify_source(target: AuditedModel, *, user) -> SourceVerification:
    """A monitor marks one clinical row verified against source, at its current version."""
    if not roles.has_any_role(user, {roles.MONITOR}):
        raise PermissionDenied("only monitors verify source data")
    if not target.is_clinical_data:
        raise ValidationError({"target_model": [f"{label_of(target)} is not clinical data"]})
    existing = SourceVerification.objects.filter(
        target_model=label_of(target), target_id=target.pk, verified_version=target.version, voided=False
    ).first()
    if existing:
        return existing
    verification = SourceVerification(
        subject_id=target.subject_pk,
        target_model=label_of(target),
        target_id=target.pk,
        verified_version=target.version,
        verified_by=user,
        verified_at=timezone.now(),
    )
    return save_crf(verification, user=user)


def lock(level: str, *, subject: Subject | None = None, visit: Visit | None = None, reason: str, user) -> Lock:
    if not roles.has_any_role(user, {roles.DATA_MANAGER}):
        raise PermissionDenied("only data managers lock data")
    if not (reason or "").strip():
        raise ValidationError({"reason": ["a reason is required to lock"]})
    target_needed = {Lock.Level.VISIT: ("visit", visit), Lock.Level.SUBJECT: ("subject", subject)}.get(level)
    if level not in Lock.Level.values:
        raise ValidationError({"level": [f"must be one of {', '.join(Lock.Level.values)}"]})
    if target_needed and target_needed[1] is None:
        raise ValidationError({target_needed[0]: [f"a {level.lower()} lock names the {target_needed[0]}"]})
    if visit is not None:
        subject = visit.subject
    new_lock = Lock(
        level=level,
        subject=subject if level != Lock.Level.STUDY else None,
        visit=visit if level == Lock.Level.VISIT else None,
        reason=reason.strip(),
        locked_by=user,
        locked_at=timezone.now(),
    )
    return save_crf(new_lock, user=user)


def unlock(existing: Lock, *, reason: str, user) -> Lock:
    if not roles.has_any_role(user, {roles.DATA_MANAGER}):
        raise PermissionDenied("only data managers unlock data")
    if not (reason or "").strip():
        raise ValidationError({"reason": ["a reason is required to unlock"]})
    if not existing.active:
        return existing
    existing.active = False
    existing.unlocked_by = user
    existing.unlocked_at = timezone.now()
    existing.unlock_reason = reason.strip()
    return save_crf(existing, user=user, reason=reason)


def is_locked(instance: AuditedModel) -> bool:
    return instance.is_clinical_data and covering_locks({instance.subject_pk}, {instance.visit_pk}).exists()


# --- Audit trail --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    when: dt.datetime
    user: str
    model: str
    object_id: int
    action: str
    field: str
    old: str
    new: str
    reason: str


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


def audited_models_of_subject() -> list[tuple[type[models.Model], str]]:
    """Every audited model that belongs to a subject, with its path to the subject (from its
    `site_lookup`: a product lot belongs to its apheresis' subject), Subject itself first."""
    found = [(Subject, "id")]
    for model in apps.get_models():
        path = getattr(model, "site_lookup", "").removesuffix("__site")
        if model is not Subject and issubclass(model, AuditedModel) and path.endswith("subject"):
            found.append((model, path))
    return found


def audit_trail(subject: Subject) -> list[AuditEvent]:
    """Who changed what (old → new per field), when and why, for one subject, oldest first."""
    events: list[AuditEvent] = []
    for model, path in audited_models_of_subject():
        records = model.history.filter(**{path: subject.pk}).select_related("history_user").order_by("id", "history_id")
        events.extend(_events_of(model, records))
    events.sort(key=lambda e: (e.when, e.model, e.object_id))
    return events


def study_audit_trail(user) -> Iterator[AuditEvent]:
    """Every audited change at the user's sites, streamed model by model and record by record.

    Ordered by model, then record, then time, so that each change is diffed against the record's
    previous version while reading one server-side cursor: memory stays flat however long the trial.
    """
    site_ids = None if user.is_superuser else roles.site_ids_of(user)
    for model, path in audited_models_of_subject():
        at_sites = models.Q()
        if site_ids is not None:
            at_sites = (
                models.Q(site_id__in=site_ids) if model is Subject else models.Q(**{f"{path}__site_id__in": site_ids})
            )
            if model is Lock:  # study-wide locks belong to every site
                at_sites |= models.Q(level=Lock.Level.STUDY)
        records = model.history.filter(at_sites).select_related("history_user").order_by("id", "history_id")
        yield from _events_of(model, records.iterator(chunk_size=2000))


def _events_of(model, records) -> Iterator[AuditEvent]:
    fields = [f for f in model._meta.concrete_fields if f.attname not in BOOKKEEPING_FIELDS]
    previous = None
    for record in records:
        if previous is not None and previous.id != record.id:
            previous = None
        for field in fields:
            new = getattr(record, field.attname)
            old = getattr(previous, field.attname) if previous is not None else None
            if previous is not None and old == new:
                continue
            if previous is None and new in (None, ""):
                continue
            yield AuditEvent(
                when=record.history_date,
                user=record.history_user.username if record.history_user else "",
                model=model._meta.label_lower,
                object_id=record.id,
                action=_ACTIONS[record.history_type],
                field=field.name,
                old="" if old is None else str(old),
                new="" if new is None else str(new),
                reason=record.history_change_reason or "",
            )
        previous = record
