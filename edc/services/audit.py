"""The audit trail: who changed what (old → new), when and why, read back from the history tables."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils.translation import gettext_noop

from edc import roles, rules
from edc.models import (
    AuditedModel,
    Lock,
    Site,
    Subject,
    Visit,
)
from edc.services.crf import BOOKKEEPING_FIELDS


@dataclass(frozen=True)
class AuditEvent:
    when: dt.datetime
    user: str  # the username (the CSV's column)
    model: str
    object_id: int
    action: str
    field: str
    old: str
    new: str
    reason: str
    user_name: str = ""  # the user's full name, else the username (the page's column)
    # The values as stored (a foreign key's id, a choice's code, a Decimal): the page shows them readable.
    old_value: object = field(default=None, compare=False, repr=False)
    new_value: object = field(default=None, compare=False, repr=False)


# English in the trail and its CSV; the page says them in the reader's language (marked for the catalog here).
_ACTIONS = {"+": gettext_noop("created"), "~": gettext_noop("changed"), "-": gettext_noop("deleted")}


def audited_models_of_subject() -> list[tuple[type[models.Model], str]]:
    """Every audited model that belongs to a subject, with its path to the subject (from its
    `site_lookup`: a product lot belongs to its apheresis' subject), Subject itself first."""
    found = [(Subject, "id")]
    for model in apps.get_models():
        path = getattr(model, "site_lookup", "").removesuffix("__site")
        if model is not Subject and issubclass(model, AuditedModel) and path.endswith("subject"):
            found.append((model, path))
    return found


@dataclass(frozen=True)
class DataVersion:
    """Where a subject's data stand: `key` changes with any write to any of its rows; `rows` counts them by model."""

    key: str
    rows: dict[type[models.Model], int]


def data_version(subject: Subject) -> DataVersion:
    """How many rows each audited model holds for the subject and when one last changed, in one query (two
    correlated subqueries per model, each on the model's subject index). Every write goes through `save_crf` or the
    bulk import, which set `modified` (no queryset `update()` on these tables), and rows are voided, never
    deleted: any write gives another key."""
    owned = audited_models_of_subject()
    sql = _data_version_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [subject.pk])
        facts = cursor.fetchone()
    counts, changed = facts[0::2], facts[1::2]
    key = "|".join(f"{model._meta.label}:{n}:{at}" for (model, _), n, at in zip(owned, counts, changed, strict=True))
    return DataVersion(key, {model: n or 0 for (model, _), n in zip(owned, counts, strict=True)})


@functools.cache
def _data_version_sql(vendor: str) -> str:
    """The query of `data_version`, compiled once per process: building its forty subqueries costs the ORM ~20 ms
    a page, running them ~3 ms. Its one parameter is the subject's pk."""
    facts = {}
    for index, (model, path) in enumerate(audited_models_of_subject()):
        rows = model._default_manager.filter(**{path: OuterRef("pk")}).order_by().values(path)
        facts[f"rows_{index}"] = Subquery(rows.annotate(n=Count("pk")).values("n"))
        facts[f"changed_{index}"] = Subquery(rows.annotate(at=Max("modified")).values("at"))
    placeholder = -1
    sql, params = Subject.objects.filter(pk=placeholder).annotate(**facts).values(*facts).query.sql_with_params()
    if params != (placeholder,):
        raise RuntimeError(f"the data version query has parameters {params!r}, not only the subject's pk")
    return sql


def audit_trail(subject: Subject, *, model: str = "") -> list[AuditEvent]:
    """Who changed what (old → new per field), when and why, for one subject, oldest first; of one model
    (`app_label.modelname`) only when `model` is given (the other history tables are not read)."""
    events: list[AuditEvent] = []
    for audited, path in audited_models_of_subject():
        if model and audited._meta.label_lower != model:
            continue
        records = audited.history.filter(**{path: subject.pk}).select_related("history_user")
        events.extend(_events_of(audited, records.order_by("id", "history_id")))
    events.sort(key=lambda e: (e.when, e.model, e.object_id))
    return events


@dataclass(frozen=True)
class AuditFilter:
    """What the audit-trail page narrows the trail to; every criterion is optional. Dates are site dates."""

    model: str = ""  # app_label.modelname
    field: str = ""  # part of a field's name or label, any case
    user: str = ""  # part of a username or full name, any case
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def matches(self, event: AuditEvent, zone: ZoneInfo) -> bool:
        day = event.when.astimezone(zone).date()
        return (
            (not self.field or self.field.lower() in f"{event.field} {field_label(event)}".lower())
            and (not self.user or self.user.lower() in f"{event.user} {event.user_name}".lower())
            and (self.date_from is None or day >= self.date_from)
            and (self.date_to is None or day <= self.date_to)
        )


def filtered_audit_trail(subject: Subject, criteria: AuditFilter) -> list[AuditEvent]:
    """The subject's trail narrowed to `criteria`, oldest first. Every change is diffed against the record's
    previous version, so only the model filter can skip history rows; the others apply to the events."""
    zone = ZoneInfo(subject.site.timezone)
    return [e for e in audit_trail(subject, model=criteria.model) if criteria.matches(e, zone)]


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
        who = record.history_user
        for f in fields:
            new = getattr(record, f.attname)
            old = getattr(previous, f.attname) if previous is not None else None
            if previous is not None and old == new:
                continue
            if previous is None and new in (None, ""):
                continue
            yield AuditEvent(
                when=record.history_date,
                user=who.username if who else "",
                model=model._meta.label_lower,
                object_id=record.id,
                action=_ACTIONS[record.history_type],
                field=f.name,
                old="" if old is None else str(old),
                new="" if new is None else str(new),
                reason=record.history_change_reason or "",
                user_name=(who.get_full_name() or who.username) if who else "",
                old_value=old,
                new_value=new,
            )
        previous = record


# --- The trail as staff read it -------------------------------------------------------------------


@dataclass(frozen=True)
class ReadableEvent:
    """One event as the audit-trail page shows it: the record and field by their names, values as typed."""

    event: AuditEvent
    when_site: dt.datetime
    user: str
    record: str
    field: str
    old: str
    new: str


def model_field(event: AuditEvent) -> models.Field:
    return apps.get_model(event.model)._meta.get_field(event.field)


def field_label(event: AuditEvent) -> str:
    return str(model_field(event).verbose_name)


def readable(events: Iterable[AuditEvent], site_timezone: str) -> list[ReadableEvent]:
    """Events with a foreign key's value shown as the related row's label (a site's code, a user's name, a
    visit's name), a choice by its label, a number as typed and a time in site time; each record named with its
    visit and what it is (`_NAMING_FIELDS`). A page's worth of events costs one query per kind of record and per
    kind of related row among them, however many events there are."""
    events = list(events)
    zone = ZoneInfo(site_timezone)
    records = _records({(event.model, event.object_id) for event in events})
    targets = _targets(events)
    records.update(_records(set(targets.values())))
    labels = _related_labels(events, (visit for visit, _ in records.values() if visit is not None))

    def model_name(label: str) -> str:
        return str(apps.get_model(label)._meta.verbose_name)

    def record_words(label: str, pk: int) -> str:
        visit, name = records.get((label, pk), (None, ""))
        words = [model_name(label), labels.get((Visit, visit), "") if visit else "", name]
        return " · ".join(w for w in words if w)

    shown = []
    for event in events:
        f = model_field(event)
        old, new = _value(f, event.old_value, labels, zone), _value(f, event.new_value, labels, zone)
        target = targets.get((event.model, event.object_id))
        if target and f.name in GENERIC_LINK_FIELDS and new:
            # What a query, signature or verification is about, named as the trail names that record, not by id.
            new = model_name(target[0]) if f.name == "target_model" else record_words(*target)
        who = event.user_name or event.user
        record = record_words(event.model, event.object_id)
        shown.append(ReadableEvent(event, event.when.astimezone(zone), who, record, str(f.verbose_name), old, new))
    return shown


# The fields by which a query, a signature or a source verification points at the row it is about.
GENERIC_LINK_FIELDS = ("target_model", "target_id")


def _targets(events: list[AuditEvent]) -> dict[tuple[str, int], tuple[str, int]]:
    """(model label, record id) → (target model label, target id) of the records among the events that point at
    another row; one query per such model."""
    ids: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.field in GENERIC_LINK_FIELDS:
            ids[event.model].add(event.object_id)
    found = {}
    for label, pks in ids.items():
        rows = apps.get_model(label)._base_manager.filter(pk__in=pks).values_list("pk", *GENERIC_LINK_FIELDS)
        found.update({(label, pk): (target_model, target_id) for pk, target_model, target_id in rows})
    return found


# A record is named by its CRF, its visit and, where the CRF has one, the field that says which of the visit's rows
# it is (a lab result's analyte, a medication's drug, an adverse event's term).
_NAMING_FIELDS = ("analyte", "drug", "term")


def _records(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int | None, str]]:
    """(model label, record id) → (the record's visit id, its naming field's value) as the record is now (a
    visit: itself, no name); one query per model among the keys that has either."""
    ids: dict[str, set[int]] = defaultdict(set)
    for label, pk in keys:
        ids[label].add(pk)
    found = {}
    for label, pks in ids.items():
        model = apps.get_model(label)
        if model is Visit:
            found.update({(label, pk): (pk, "") for pk in pks})
            continue
        names = {f.name for f in model._meta.concrete_fields}
        has_visit = "visit" in names
        naming = next((name for name in _NAMING_FIELDS if name in names), None)
        if has_visit or naming:
            rows = model._base_manager.filter(pk__in=pks).values_list(
                "pk", "visit_id" if has_visit else "pk", naming or "pk"
            )
            shown = dict(model._meta.get_field(naming).flatchoices) if naming else {}
            found.update({(label, pk): (visit if has_visit else None, str(shown.get(name, name)) if naming else "")
                          for pk, visit, name in rows})  # fmt: skip
    return found


def _related_labels(events: list[AuditEvent], visits: Iterable[int]) -> dict[tuple[type[models.Model], object], str]:
    """(related model, pk) → label, for every foreign-key value among the events and the records' visits."""
    wanted: dict[type[models.Model], set] = defaultdict(set)
    wanted[Visit].update(visits)
    for event in events:
        f = model_field(event)
        if f.many_to_one:
            wanted[f.related_model].update(v for v in (event.old_value, event.new_value) if v is not None)
    labels = {}
    for model, pks in wanted.items():
        if not pks:
            continue
        rows = model._base_manager.filter(pk__in=pks)
        if model not in _LABELS:  # their own __str__, without a query per row for its foreign keys
            rows = rows.select_related()
        labels.update({(model, row.pk): _LABELS.get(model, str)(row) for row in rows})
    return labels


def _user_label(user) -> str:
    return user.get_full_name() or user.username


_LABELS = {
    Site: lambda site: site.code,
    Subject: lambda subject: subject.subject_id,
    Visit: lambda visit: rules.visit_name(visit.code),
    get_user_model(): _user_label,
}


def _value(f: models.Field, value, labels: dict, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return ""
    if f.many_to_one:
        return labels.get((f.related_model, value), "(no longer recorded)")
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | float):
        return rules.as_typed(value)
    if isinstance(value, dt.datetime):
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
