"""The CRF write path: every write of a clinical row goes through `save_crf` (or `void_crf`).

One transaction each: optimistic version check, mandatory reason after first entry, hard limits
(refuse), soft limits (store and open a query), history with user and reason, no history row when
nothing changed; and what a write does to the data management around it (a lock refuses it, it
withdraws the signatures and the verification of what it changed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from edc import i18n, roles, rules
from edc.models import (
    AuditedModel,
    DataQuery,
    Lock,
    Signature,
    SourceVerification,
)

# Fields the kernel maintains itself; a change to only these is no change.
BOOKKEEPING_FIELDS = {"id", "version", "created", "modified"}
REASON_REQUIRED = gettext_lazy("a reason for change is required for every update after first entry")


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
_save_listeners: list[SaveListener] = []


def notify_saved(rows: list[AuditedModel]) -> None:
    for listener in _save_listeners:
        listener(rows)


# A validator reads one unsaved row and returns (hard errors, soft warnings) keyed by field name.
# It may canonicalise values on the row (for instance the spelling of a unit) before they are saved.
Validator = Callable[[AuditedModel, dt.datetime], tuple[dict[str, str], dict[str, str]]]
_validators: dict[type[models.Model], list[Validator]] = {}


def register_validator(model: type[models.Model], validator: Validator) -> None:
    """A validator that every write of `model` runs, from the admin and the API alike (apps call this from
    their `hooks` module)."""
    _validators.setdefault(model, []).append(validator)


def register_save_listener(listener: SaveListener) -> None:
    _save_listeners.append(listener)


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
        errors["void_reason"] = gettext("a reason is required to void a record")
    _refuse(errors)
    # Stored as the queries' texts in English, plain strings (the screens translate them: i18n.translated_query_text).
    return {field: str(text) for field, text in warnings.items()}


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        # In the reader's language (the request's, LocaleMiddleware), the rules' English translated here.
        raise ValidationError({field: [i18n.translated(message)] for field, message in errors.items()})


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
            message = gettext("this {record} breaks the rule '{rule}': another was stored at the same time").format(
                record=meta.verbose_name, rule=rule
            )
            return {(fields or ("non_field_errors",))[-1]: [message]}
    conflict = gettext("this {record} conflicts with one stored at the same time; reload it")
    return {"non_field_errors": [conflict.format(record=meta.verbose_name)]}


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
            changed = changed_fields(stored, instance)
            if not changed:
                return stored
            if not reason:
                raise ValidationError({"change_reason": [REASON_REQUIRED]})
            instance.version = stored.version + 1
        warnings = validate_crf(instance)
        instance._history_user = user
        instance._change_reason = reason or None
        instance.save()
        del instance._history_user, instance._change_reason
        if not is_new and instance.is_clinical_data:
            settle_queries(stored, instance, changed, warnings, user=user, reason=reason)
        open_auto_queries(instance, warnings)
        if instance.is_clinical_data:
            withdraw_attestations([instance], user=user, new=is_new)
            notify_saved([instance])
    return instance


def void_crf(instance: AuditedModel, *, user, reason: str, expected_version: int | None = None):
    """Clinical rows are never deleted: voiding keeps the row and records why in its history."""
    if not (reason or "").strip():
        raise ValidationError({"change_reason": [gettext("a reason is required to void a record")]})
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


# --- Automatic data queries ---------------------------------------------------------------------


def label_of(instance: models.Model) -> str:
    return instance._meta.label_lower


def settle_queries(
    stored: AuditedModel, edited: AuditedModel, changed: list[str], warnings: dict[str, str], *, user, reason: str
) -> None:
    """A change of the value a query is about settles it: an automatic query whose check no longer fires (the
    checks have just run on the new value) is closed as resolved by the change; a query a person raised is
    answered by the change, for them to close. Either way the query says who changed what, when, and why."""
    fields = {name: edited._meta.get_field(name) for name in changed}
    by_name = {**fields, **{field.name: field for field in fields.values()}}
    queries = DataQuery.objects.filter(
        target_model=label_of(edited), target_id=edited.pk, target_field__in=by_name
    ).exclude(status=DataQuery.Status.CLOSED)
    now = timezone.now()
    for query in queries:
        attname = by_name[query.target_field].attname
        if query.auto and warnings.get(attname) == query.text:
            continue  # the new value breaks the same limit: the query stands
        old, new = getattr(stored, attname), getattr(edited, attname)
        query.answer = f"corrected by {user}: {query.target_field} {_shown(old)} → {_shown(new)} ({reason})"
        query.answered_by, query.answered_at, query.status = user, now, DataQuery.Status.ANSWERED
        if query.auto:
            query.closed_by, query.closed_at, query.status = user, now, DataQuery.Status.CLOSED
        save_crf(query, user=user, reason="resolved by a change of the queried value")


def recheck_auto_queries(instance: AuditedModel, field: str, warning: str | None, *, user, cause: str) -> None:
    """A row's check re-run because other data changed (a later lab result, say), the row itself unchanged: an open
    automatic query on `field` whose check no longer fires is closed as resolved by that change, and a check that
    now fires opens its query (once)."""
    queries = DataQuery.objects.filter(
        target_model=label_of(instance), target_id=instance.pk, target_field=field, auto=True
    ).exclude(status=DataQuery.Status.CLOSED)
    now = timezone.now()
    for query in queries:
        if query.text == warning:
            continue  # the check still fires as before: the query stands
        query.answer = f"no longer applies: {cause}"
        query.answered_by, query.answered_at = user, now
        query.closed_by, query.closed_at, query.status = user, now, DataQuery.Status.CLOSED
        save_crf(query, user=user, reason=f"resolved by a change of other data ({cause})")
    if warning:
        open_auto_queries(instance, {field: warning})


def _shown(value) -> str:
    if value in (None, ""):
        return "(empty)"
    return rules.as_typed(value) if isinstance(value, Decimal) else str(value)


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
