"""The casebook's clinical data, read from the history tables: every row as the transactions that made it.

Each history record of a row is one ItemGroupData: the first an `Insert` with every value, each later one an
`Update` with the values it changed (a value cleared: `IsNull="Yes"`), a deletion a `Remove`, each with its
AuditRecord (who, the subject's site, when in site time with its offset, the reason for change, and the history
record as SourceID). Applied in order they give the row as it stands; a reader wanting the snapshot takes the
last value of each item. A signature of a row follows it, in an ItemGroupData of `TransactionType="Context"`
(ODM allows one Signature per element, a row may have several). Rows sit in their visit's StudyEventData, rows of
no visit (and the subject's own) in the subject-level event.

Subjects are read in batches: per batch one query for the subjects, one per CRF's history table and one for the
signatures, whatever the number of rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from django.db.models import F
from lxml import etree

from edc import rules as edc_rules
from edc.models import Signature, Subject, Visit
from followup.odm.metadata import (
    METADATA_OID,
    STUDY_OID,
    SUBJECT_EVENT,
    Form,
    element,
    event_oid,
    forms,
    location_oid,
    signature_def_oid,
    user_oid,
)

SUBJECTS_PER_BATCH = 50
TRANSACTIONS = {"+": "Insert", "~": "Update", "-": "Remove"}
_VISIT_ORDER = {code: order for order, code in enumerate(edc_rules.SCHEDULE)}


@dataclass(frozen=True)
class Scope:
    """Which subjects: of these sites (None: every site), or one subject."""

    site_ids: tuple[int, ...] | None = None
    subject_id: str = ""

    def subjects(self):
        subjects = Subject.objects.all()
        if self.site_ids is not None:
            subjects = subjects.filter(site_id__in=self.site_ids)
        if self.subject_id:
            subjects = subjects.filter(subject_id=self.subject_id)
        return subjects

    def sites(self):
        from edc.models import Site

        sites = Site.objects.order_by("code")
        return sites if self.site_ids is None else sites.filter(pk__in=self.site_ids)


def subject_batches(scope: Scope) -> Iterator[list[Subject]]:
    """The subjects in subject_id order, a batch at a time (keyset paging: no cursor held across batches)."""
    last = ""
    while True:
        batch = list(scope.subjects().filter(subject_id__gt=last).select_related("site").order_by("subject_id")[
            :SUBJECTS_PER_BATCH
        ])  # fmt: skip
        if not batch:
            return
        yield batch
        last = batch[-1].subject_id


@cache
def _history_manager(model):
    """The manager of the model's history table: `Model.history` builds a new manager class at each reading."""
    return model.history.model._default_manager


@dataclass
class Row:
    form: Form
    pk: int
    records: list  # its history records, oldest first

    @property
    def last(self):
        return self.records[-1]


class ClinicalWriter:
    """SubjectData elements, one subject at a time, from one batch's history."""

    def __init__(self, usernames: dict[int, str]):
        self.usernames = usernames

    def clinical_data_attributes(self) -> dict:
        return {"StudyOID": STUDY_OID, "MetaDataVersionOID": METADATA_OID}

    def subject_elements(self, batch: list[Subject]) -> Iterator[etree._Element]:
        rows_by_subject = self._rows(batch)
        signatures = self._signatures(batch)
        for subject in batch:
            yield self._subject_data(subject, rows_by_subject[subject.pk], signatures)

    def _rows(self, batch: list[Subject]) -> dict[int, list[Row]]:
        subject_pks = [s.pk for s in batch]
        rows: dict[int, list[Row]] = defaultdict(list)
        for form in forms():
            records = (
                _history_manager(form.model)
                .filter(**{f"{form.subject_path}__in": subject_pks})
                .annotate(odm_subject=F(form.subject_path))
                .order_by("id", "history_id")
            )
            current: Row | None = None
            for record in records:
                if current is None or current.pk != record.id:
                    current = Row(form, record.id, [])
                    rows[record.odm_subject].append(current)
                current.records.append(record)
        return rows

    def _signatures(self, batch: list[Subject]) -> dict[tuple[str, int], list[Signature]]:
        found = defaultdict(list)
        signed = Signature.objects.filter(subject__in=batch, voided=False).order_by("signed_at", "id")
        for signature in signed:
            found[(signature.target_model, signature.target_id)].append(signature)
        return found

    def _subject_data(self, subject: Subject, rows: list[Row], signatures) -> etree._Element:
        zone = ZoneInfo(subject.site.timezone)
        location = location_oid(subject.site.code)
        subject_data = element("SubjectData", SubjectKey=subject.subject_id, TransactionType="Upsert")
        element("SiteRef", subject_data, LocationOID=location)
        visits = {row.pk: row.last for row in rows if row.form.model is Visit}
        events: dict[tuple, list[Row]] = defaultdict(list)
        for row in rows:
            events[self._event_of(row, visits)].append(row)
        for (_, _, oid, repeat_key), event_rows in sorted(events.items()):
            event = element("StudyEventData", subject_data, StudyEventOID=oid, StudyEventRepeatKey=repeat_key,
                            TransactionType="Upsert")  # fmt: skip
            by_form: dict[str, list[Row]] = defaultdict(list)
            for row in event_rows:
                by_form[row.form.oid].append(row)
            for form in forms():
                if form.oid in by_form:
                    form_data = element("FormData", event, FormOID=form.oid, TransactionType="Upsert")
                    for row in by_form[form.oid]:
                        self._row_transactions(form_data, row, zone, location)
                        for signature in signatures.get((row.form.label, row.pk), ()):
                            self._signature(form_data, row, signature, zone, location)
        return subject_data

    def _event_of(self, row: Row, visits: dict) -> tuple:
        """(order, visit pk, event OID, repeat key): the subject-level event first, then visits in schedule order."""
        visit_pk = row.pk if row.form.model is Visit else getattr(row.last, "visit_id", None)
        visit = visits.get(visit_pk)
        if visit is None:
            return (-1, 0, SUBJECT_EVENT, None)
        repeat_key = str(visit_pk) if visit.code == "UNS" else None
        return (_VISIT_ORDER.get(visit.code, len(_VISIT_ORDER)), visit_pk, event_oid(visit.code), repeat_key)

    def _row_transactions(self, form_data, row: Row, zone: ZoneInfo, location: str) -> None:
        previous: dict[str, str | None] = {}
        for index, record in enumerate(row.records):
            values = {item.oid: item.text(getattr(record, item.field.attname), zone, self.usernames)
                      for item in row.form.items}  # fmt: skip
            kind = "Insert" if index == 0 else TRANSACTIONS[record.history_type]
            group = element("ItemGroupData", form_data, ItemGroupOID=row.form.group_oid, ItemGroupRepeatKey=row.pk,
                            TransactionType=kind)  # fmt: skip
            self._audit_record(group, record, zone, location)
            if kind != "Remove":
                for oid, text in values.items():
                    if kind == "Insert" and text is not None:
                        element("ItemData", group, ItemOID=oid, Value=text)
                    elif kind == "Update" and text != previous.get(oid):
                        attributes = {"Value": text} if text is not None else {"IsNull": "Yes"}
                        element("ItemData", group, ItemOID=oid, **attributes)
            previous = values

    def _audit_record(self, parent, record, zone: ZoneInfo, location: str) -> None:
        audit = element("AuditRecord", parent)
        element("UserRef", audit, UserOID=user_oid(self.usernames.get(record.history_user_id)))
        element("LocationRef", audit, LocationOID=location)
        element("DateTimeStamp", audit).text = record.history_date.astimezone(zone).isoformat()
        if record.history_change_reason:
            element("ReasonForChange", audit).text = record.history_change_reason
        element("SourceID", audit).text = f"{record._meta.db_table}:{record.history_id}"

    def _signature(self, form_data, row: Row, signature: Signature, zone: ZoneInfo, location: str) -> None:
        group = element("ItemGroupData", form_data, ItemGroupOID=row.form.group_oid, ItemGroupRepeatKey=row.pk,
                        TransactionType="Context")  # fmt: skip
        signed = element("Signature", group, ID=f"SG.{signature.pk}")
        element("UserRef", signed, UserOID=user_oid(self.usernames.get(signature.signed_by_id)))
        element("LocationRef", signed, LocationOID=location)
        element("SignatureRef", signed, SignatureOID=signature_def_oid(signature.meaning))
        element("DateTimeStamp", signed).text = signature.signed_at.astimezone(zone).isoformat()
