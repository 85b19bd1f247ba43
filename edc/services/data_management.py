"""Data management around the clinical rows: data queries, signatures, source verification and locks."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from edc import i18n, roles, rules
from edc.models import (
    AuditedModel,
    DataQuery,
    LabResult,
    Lock,
    Signature,
    SourceVerification,
    Subject,
    Visit,
)
from edc.services.crf import BOOKKEEPING_FIELDS, covering_locks, label_of, save_crf


def resolve_target(target_model: str, target_id: int, user) -> AuditedModel:
    """The row a query or signature points at, within the user's sites; 404-like errors otherwise."""
    try:
        model = apps.get_model(target_model)
    except (LookupError, ValueError):
        raise ValidationError(
            {"target_model": [gettext("unknown model {model}; use app_label.model").format(model=repr(target_model))]}
        ) from None
    if not issubclass(model, AuditedModel):
        raise ValidationError(
            {"target_model": [gettext("{model} is not a clinical record").format(model=target_model)]}
        )
    row = roles.scope(model.objects.all(), user).filter(pk=target_id).first()
    if row is None:
        raise ValidationError(
            {"target_id": [gettext("no {model} with id {pk} at your sites").format(model=target_model, pk=target_id)]}
        )
    return row


# --- What a query, signature or verification is about ------------------------------------------


# What a field without a value shows (a summary leaves such fields out).
EMPTY = gettext_noop("(empty)")


@dataclass(frozen=True)
class Target:
    """A row named as site staff name it: the visit, the CRF or test, and for a field its label and value."""

    row: AuditedModel | None  # None when the row is gone from the user's sites
    visit: str
    record: str

    def field_label(self, name: str) -> str:
        return str(self.row._meta.get_field(name).verbose_name) if self.row is not None and name else ""

    def field_value(self, name: str) -> str:
        """The value as it is shown on the page: a choice by its label, a number as typed, a result with its unit."""
        if self.row is None or not name:
            return ""
        field = self.row._meta.get_field(name)
        value = getattr(self.row, field.attname)
        if value in (None, ""):
            return gettext(EMPTY)
        if field.choices:
            return str(getattr(self.row, f"get_{field.name}_display")())
        if isinstance(value, Decimal):
            value = rules.as_typed(value)
        elif isinstance(value, dt.datetime):
            value = f"{timezone.localtime(value):%Y-%m-%d %H:%M}"  # site time, as the form shows it
        elif isinstance(value, bool):
            value = gettext("yes") if value else gettext("no")
        unit = getattr(self.row, "unit", "") if field.name in ("value", "lln", "uln", "lloq") else ""
        return f"{value} {unit}".strip()


def describe_targets(items: Iterable) -> dict[tuple[str, int], Target]:
    """The rows that queries, signatures or verifications point at (`target_model`, `target_id`), one query per
    kind of row whatever the number of items, keyed by (target_model, target_id)."""
    ids_by_model: dict[str, set[int]] = defaultdict(set)
    for item in items:
        ids_by_model[item.target_model].add(item.target_id)
    described = {}
    for label, ids in ids_by_model.items():
        model = apps.get_model(label)
        rows = model.objects.filter(pk__in=ids)
        if any(f.name == "visit" for f in model._meta.concrete_fields):
            rows = rows.select_related("visit")
        found = {row.pk: row for row in rows}
        for pk in ids:
            row = found.get(pk)
            described[(label, pk)] = Target(row, _visit_of(row), _record_of(model, row))
    return described


def _visit_of(row) -> str:
    if row is None:
        return ""
    visit = row if isinstance(row, Visit) else getattr(row, "visit", None)
    return visit.get_code_display() if visit is not None else ""


def _record_of(model, row) -> str:
    if isinstance(row, Subject):
        return gettext("casebook")
    if isinstance(row, Visit):
        return ""  # the visit itself: its code says it
    if row is not None and getattr(row, "analyte", None):
        return gettext("{analyte} result").format(analyte=row.get_analyte_display())
    return str(model._meta.verbose_name)


# --- Data queries -------------------------------------------------------------------------------


def open_queries_of(row: AuditedModel):
    return DataQuery.objects.filter(target_model=label_of(row), target_id=row.pk).exclude(
        status=DataQuery.Status.CLOSED
    )


def open_query(target: AuditedModel, field: str, text: str, *, user) -> DataQuery:
    if not roles.has_any_role(user, roles.QUERY_RAISERS):
        raise PermissionDenied(gettext("only monitors and data managers raise queries"))
    field_names = {f.name for f in target._meta.concrete_fields} | {f.attname for f in target._meta.concrete_fields}
    if field not in field_names:
        raise ValidationError(
            {
                "target_field": [
                    gettext("{record} has no field {field}").format(record=label_of(target), field=repr(field))
                ]
            }
        )
    if not text.strip():
        raise ValidationError({"text": [gettext("a query needs a text")]})
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
        raise PermissionDenied(gettext("only site staff and investigators answer queries"))
    if query.status == DataQuery.Status.CLOSED:
        raise ValidationError({"status": [gettext("the query is closed")]})
    if not answer.strip():
        raise ValidationError({"answer": [gettext("an answer is required")]})
    query.answer = answer.strip()
    query.answered_by = user
    query.answered_at = timezone.now()
    query.status = DataQuery.Status.ANSWERED
    return save_crf(query, user=user, reason="query answered")


def close_query(query: DataQuery, *, user, reason: str = "query closed") -> DataQuery:
    """Closed by whoever opened it; an automatic query by any monitor or data manager."""
    if not roles.has_any_role(user, roles.QUERY_RAISERS):
        raise PermissionDenied(gettext("only monitors and data managers close queries"))
    if not query.auto and query.raised_by_id != user.pk and not user.is_superuser:
        raise PermissionDenied(gettext("only {user} who opened this query may close it").format(user=query.raised_by))
    if query.status == DataQuery.Status.CLOSED:
        return query
    query.status = DataQuery.Status.CLOSED
    query.closed_by = user
    query.closed_at = timezone.now()
    return save_crf(query, user=user, reason=reason)


def reopen_query(query: DataQuery, *, user, reason: str = "query re-opened") -> DataQuery:
    """A monitor or data manager sends an answered or closed query back to the site (history keeps who had closed
    it, and when)."""
    if not roles.has_any_role(user, roles.QUERY_RAISERS):
        raise PermissionDenied(gettext("only monitors and data managers re-open queries"))
    if query.status == DataQuery.Status.OPEN:
        return query
    query.status, query.closed_by, query.closed_at = DataQuery.Status.OPEN, None, None
    return save_crf(query, user=user, reason=reason)


# --- Signatures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitAttestation:
    """Where a visit stands for sign-off: the signatures over it, and how many of its rows (the visit and its
    results) a monitor has verified as they are now (a change voids a verification), with the latest of those
    standing verifications (who, when)."""

    signatures: list[Signature]
    verified: int
    rows: int
    last_verification: SourceVerification | None = None


def visit_attestation(visit: Visit) -> VisitAttestation:
    signatures = Signature.objects.filter(target_model="edc.visit", target_id=visit.pk, voided=False)
    result_ids = list(LabResult.objects.filter(visit=visit, voided=False).values_list("pk", flat=True))
    verified = SourceVerification.objects.filter(voided=False).filter(
        models.Q(target_model="edc.visit", target_id=visit.pk)
        | models.Q(target_model="edc.labresult", target_id__in=result_ids)
    )
    last = verified.select_related("verified_by").order_by("-verified_at", "-pk").first()
    return VisitAttestation(list(signatures.select_related("signed_by")), verified.count(), 1 + len(result_ids), last)


def queries_over(target: AuditedModel) -> models.QuerySet:
    """The queries not closed over what a signature of `target` attests: a casebook's are all its subject's, a
    visit's those on the visit or one of its results (as the dashboard counts them), another row's its own."""
    not_closed = DataQuery.objects.filter(voided=False).exclude(status=DataQuery.Status.CLOSED)
    if isinstance(target, Subject):
        return not_closed.filter(subject=target)
    if isinstance(target, Visit):
        results = LabResult.objects.filter(visit=target, voided=False).values("pk")
        return not_closed.filter(
            models.Q(target_model="edc.visit", target_id=target.pk)
            | models.Q(target_model="edc.labresult", target_id__in=results)
        )
    return not_closed.filter(target_model=label_of(target), target_id=target.pk)


def signatures_over(target: AuditedModel) -> models.QuerySet:
    return Signature.objects.filter(target_model=label_of(target), target_id=target.pk, voided=False)


def meanings_for(target: AuditedModel) -> tuple[str, ...]:
    """The meanings a new signature of `target` may carry (`rules.signature_meanings`)."""
    signed = signatures_over(target).values_list("meaning", flat=True)
    return rules.signature_meanings(label_of(target), signed)


def printed_name(user) -> str:
    """The signer's name as the signature's manifestation prints it: the full name, else the username."""
    return user.get_full_name() or user.get_username()


def sign(target: AuditedModel, meaning: str, *, user, password: str, over_open_queries: bool = False) -> Signature:
    """An investigator's electronic signature: the password is asked again at every signing, the meaning must fit
    what is signed (`rules.signature_meanings`), and signing over queries not closed is an explicit choice."""
    if not roles.has_any_role(user, roles.SIGNERS):
        raise PermissionDenied(gettext("only investigators sign"))
    if meaning not in Signature.Meaning.values:
        raise ValidationError(
            {"meaning": [gettext("must be one of {values}").format(values=", ".join(Signature.Meaning.values))]}
        )
    allowed = meanings_for(target)
    if meaning not in allowed:
        raise ValidationError({"meaning": [_meaning_refusal(target, meaning, allowed)]})
    refusal = rules.open_query_refusal(queries_over(target).count(), str(target))
    if refusal and not over_open_queries:
        raise ValidationError({"over_open_queries": [i18n.translated(refusal)]})
    if not password or not user.check_password(password):
        raise ValidationError({"password": [gettext("the password does not match; nothing was signed")]})
    signature = Signature(
        subject_id=target.subject_pk,
        target_model=label_of(target),
        target_id=target.pk,
        meaning=meaning,
        signed_by=user,
        signed_at=timezone.now(),
    )
    return save_crf(signature, user=user)


@dataclass(frozen=True)
class SignedLine:
    """One line of what a signature attests: a field or a result, as the page shows it."""

    label: str
    value: str
    flag: str = ""  # H or L: outside the result's reference range


@dataclass(frozen=True)
class SigningSummary:
    """What an investigator signs, shown beside the password: the row's data, the queries not closed over it, how
    many of its records a monitor has verified, the signatures it already carries and the meanings that fit it."""

    what: str
    lines: list[SignedLine]
    queries: list[tuple[str, str, str]]  # (record, field label, text)
    verified: int
    rows: int
    signatures: list[Signature]
    meanings: tuple[str, ...]


def signing_summary(target: AuditedModel) -> SigningSummary:
    """A fixed number of queries for a visit or any other row (a casebook: one more per kind of queried row)."""
    queries = list(queries_over(target).order_by("created"))
    described = describe_targets(queries)
    query_lines = []
    for query in queries:
        queried = described[(query.target_model, query.target_id)]
        field = capfirst(queried.field_label(query.target_field.removesuffix("_id")) or query.target_field)
        query_lines.append((_record_line(queried), field, i18n.translated_query_text(query.text)))
    verified, rows = _verification_of(target)
    return SigningSummary(
        what=signed_what(target),
        lines=_signed_lines(target),
        queries=query_lines,
        verified=verified,
        rows=rows,
        signatures=list(signatures_over(target).select_related("signed_by")),
        meanings=meanings_for(target),
    )


def signed_what(target: AuditedModel) -> str:
    """What a signature is over, in the attestation's words."""
    if isinstance(target, Visit):
        return gettext("visit {name} of {subject}").format(name=i18n.visit_name(target.code), subject=target.subject)
    if isinstance(target, Subject):
        return gettext("the casebook of {subject}").format(subject=target)
    return gettext("the {record} of {subject}").format(record=target._meta.verbose_name, subject=target.subject)


def _record_line(target: Target) -> str:
    visit = gettext("visit {name}").format(name=i18n.visit_name(target.visit)) if target.visit else ""
    return " ".join(part for part in (visit, target.record) if part) or gettext("the casebook")


# A casebook's summary names the subject by its study id only (no date of birth, no initials).
CASEBOOK_FIELDS = ("subject_id", "status")
FLAG_WORDS = {"LOW": gettext_lazy("low"), "HIGH": gettext_lazy("high")}


def _signed_lines(target: AuditedModel) -> list[SignedLine]:
    shown = Target(target, _visit_of(target), "")
    # A visit's code is in what is signed ("visit D7 of …"); empty fields (a pre-infusion visit's window) are left out.
    skipped = BOOKKEEPING_FIELDS | {"subject", "voided", "void_reason", "code"}
    names = [f.name for f in target._meta.concrete_fields if f.name not in skipped and not f.is_relation]
    if isinstance(target, Subject):
        names = CASEBOOK_FIELDS
    values = ((capfirst(shown.field_label(name)), shown.field_value(name)) for name in names)
    lines = [SignedLine(label, value) for label, value in values if value != gettext(EMPTY)]
    if isinstance(target, Visit):
        results = LabResult.objects.filter(visit=target, voided=False).order_by("sample_datetime", "id")
        lines += [_result_line(result) for result in results]
    elif isinstance(target, Subject):
        visits = Visit.objects.filter(subject=target, voided=False).exclude(status=Visit.Status.SCHEDULED)
        lines += [SignedLine(gettext("Visit {name}").format(name=i18n.visit_name(v.code)), v.get_status_display())
                  for v in visits]  # fmt: skip
    return lines


def _result_line(result: LabResult) -> SignedLine:
    shown = Target(result, "", "")
    if result.not_detected:
        value = gettext("not detected")
    else:
        value = shown.field_value("result_text" if result.result_text else "value")
    flag = FLAG_WORDS.get(rules.reference_flag(result.value, result.lln, result.uln), "")
    return SignedLine(str(result.get_analyte_display()), value, str(flag))


def _verification_of(target: AuditedModel) -> tuple[int, int]:
    """(verified, records) of what is signed: a visit's own and its results', a casebook's visits and results,
    another row itself."""
    standing = SourceVerification.objects.filter(voided=False)
    if isinstance(target, Visit):
        attestation = visit_attestation(target)
        return attestation.verified, attestation.rows
    if isinstance(target, Subject):
        kinds = ("edc.visit", "edc.labresult")
        rows = Visit.objects.filter(subject=target, voided=False).count()
        rows += LabResult.objects.filter(subject=target, voided=False).count()
        return standing.filter(subject=target, target_model__in=kinds).count(), rows
    return standing.filter(target_model=label_of(target), target_id=target.pk).count(), 1


def _meaning_refusal(target: AuditedModel, meaning: str, allowed: tuple[str, ...]) -> str:
    what = target._meta.verbose_name
    if not allowed:
        return gettext("this {what} is already signed {meaning}; nothing more is signed over it").format(
            what=what, meaning=meaning
        )
    use = gettext(" or ").join(allowed)
    if meaning == rules.ELIGIBILITY_CONFIRMED:
        return gettext(
            "{meaning} does not fit this {what} (use {use}); eligibility is confirmed through the subject's "
            "eligibility confirmation"
        ).format(meaning=meaning, what=what, use=use)
    return gettext("{meaning} does not fit this {what}; use {use}").format(meaning=meaning, what=what, use=use)


# --- Source data verification and locks --------------------------------------------------------


def verify_source(target: AuditedModel, *, user) -> SourceVerification:
    """A monitor marks one clinical row verified against source, at its current version."""
    if not roles.has_any_role(user, {roles.MONITOR}):
        raise PermissionDenied(gettext("only monitors verify source data"))
    if not target.is_clinical_data:
        raise ValidationError(
            {"target_model": [gettext("{record} is not clinical data").format(record=label_of(target))]}
        )
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


def verify_visit(visit: Visit, *, user) -> list[SourceVerification]:
    """A monitor verifies a whole visit against source: the visit row and each of its non-voided results, at their
    current versions, all or none. Rows already verified as they are keep their verification (idempotent)."""
    if not roles.has_any_role(user, {roles.MONITOR}):
        raise PermissionDenied(gettext("only monitors verify source data"))
    with transaction.atomic():
        results = LabResult.objects.filter(visit=visit, voided=False).order_by("pk")
        return [verify_source(row, user=user) for row in (visit, *results)]


def check_lock(level: str, *, subject: Subject | None = None, visit: Visit | None = None, reason: str) -> None:
    """What a lock needs, checked before anything is stored (the lock form asks the same before saving)."""
    if level not in Lock.Level.values:
        raise ValidationError(
            {"level": [gettext("must be one of {values}").format(values=", ".join(Lock.Level.values))]}
        )
    if not (reason or "").strip():
        raise ValidationError({"reason": [gettext("a reason is required to lock")]})
    target_needed = {Lock.Level.VISIT: ("visit", visit), Lock.Level.SUBJECT: ("subject", subject)}.get(level)
    if target_needed and target_needed[1] is None:
        raise ValidationError(
            {
                target_needed[0]: [
                    gettext("a {level} lock names the {target}").format(level=level.lower(), target=target_needed[0])
                ]
            }
        )
    if level == Lock.Level.VISIT and subject is not None and visit.subject_id != subject.pk:
        raise ValidationError(
            {
                "visit": [
                    gettext("visit {code} is a visit of {owner}, not of {subject}").format(
                        code=visit.code, owner=visit.subject, subject=subject
                    )
                ]
            }
        )


def lock(level: str, *, subject: Subject | None = None, visit: Visit | None = None, reason: str, user) -> Lock:
    if not roles.has_any_role(user, {roles.DATA_MANAGER}):
        raise PermissionDenied(gettext("only data managers lock data"))
    check_lock(level, subject=subject, visit=visit, reason=reason)
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
        raise PermissionDenied(gettext("only data managers unlock data"))
    if not (reason or "").strip():
        raise ValidationError({"reason": [gettext("a reason is required to unlock")]})
    if not existing.active:
        return existing
    existing.active = False
    existing.unlocked_by = user
    existing.unlocked_at = timezone.now()
    existing.unlock_reason = reason.strip()
    return save_crf(existing, user=user, reason=reason)


def is_locked(instance: AuditedModel) -> bool:
    return instance.is_clinical_data and covering_locks({instance.subject_pk}, {instance.visit_pk}).exists()
