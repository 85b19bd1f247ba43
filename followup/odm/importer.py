"""An ODM casebook written by `followup.odm` back into an empty database (`manage.py import_odm`).

The sites come from the reference data, the users from the admin data (new accounts get no usable password and no
role: they are the authors the audit trail names, not logins), every row from its transactions replayed in order
(Insert, Update, Remove: a removed row is not created), each signature from the Signature of its row.

Rows are written with the ORM's `bulk_create` (with their ids, which other rows' foreign keys and the signatures
name), not through `save_crf`: the values of the file are the record, so derived fields (a BSA, an ASTCT grade, a
SELENA-SLEDAI total, a subject's status) are stored as exported rather than recomputed, and no validator or save
listener runs (no deviation proposal, query or milestone is raised by an import). Each row gets one history record,
"imported from ODM file …" by the importing user; the original trail stays in the file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, models, transaction
from lxml import etree
from simple_history.utils import bulk_create_with_history

from edc.models import Signature, Site, Subject
from followup.odm.metadata import SITE_GROUP, SITE_ITEMS, Form, form_of_group, forms, tag


class ImportRefused(Exception):
    """The file or the database is not one this importer takes."""


@dataclass
class ImportedRow:
    form: Form
    pk: int
    subject_pk: int | None
    values: dict[str, str | None] = field(default_factory=dict)  # by item OID, the last value of each
    removed: bool = False


@dataclass
class Casebook:
    file_oid: str = ""
    sites: list[dict] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # user OID → login name
    display_names: dict[str, str] = field(default_factory=dict)  # login name → display name
    subjects: dict[int, dict] = field(default_factory=dict)  # subject row pk → key and site code
    rows: dict[tuple[str, int], ImportedRow] = field(default_factory=dict)
    signatures: list[dict] = field(default_factory=list)


def read_casebook(source) -> Casebook:
    """The file as plain values (no entity is expanded, nothing fetched from the network)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.parse(source, parser).getroot()
    except etree.XMLSyntaxError as error:
        raise ImportRefused(f"not an XML file: {error}") from None
    if root.tag != tag("ODM") or root.get("ODMVersion") != "1.3.2":
        raise ImportRefused("not a CDISC ODM 1.3.2 file")
    casebook = Casebook(file_oid=root.get("FileOID", ""))
    for user in root.iterfind(f"{tag('AdminData')}/{tag('User')}"):
        login = user.findtext(tag("LoginName"))
        if user.get("OID") != "USR.unknown" and login:
            casebook.users[user.get("OID")] = login
            casebook.display_names[login] = user.findtext(tag("DisplayName")) or login
    for group in root.iterfind(f"{tag('ReferenceData')}/{tag('ItemGroupData')}[@ItemGroupOID='{SITE_GROUP}']"):
        values = {item.get("ItemOID"): item.get("Value") for item in group.iter(tag("ItemData"))}
        casebook.sites.append({attname: values.get(oid, "") for attname, oid, _ in SITE_ITEMS})
    for subject_data in root.iter(tag("SubjectData")):
        _read_subject(casebook, subject_data)
    return casebook


def _read_subject(casebook: Casebook, subject_data: etree._Element) -> None:
    site_ref = subject_data.find(tag("SiteRef"))
    site_code = site_ref.get("LocationOID", "").removeprefix("LOC.") if site_ref is not None else ""
    groups = list(subject_data.iter(tag("ItemGroupData")))
    subject_pk = next((int(g.get("ItemGroupRepeatKey")) for g in groups if g.get("ItemGroupOID") == "IG.EDC.SUBJECT"),
                      None)  # fmt: skip
    if subject_pk is None:
        raise ImportRefused(f"subject {subject_data.get('SubjectKey')} has no subject form")
    casebook.subjects[subject_pk] = {"subject_id": subject_data.get("SubjectKey"), "site": site_code}
    for group in groups:
        form = form_of_group(group.get("ItemGroupOID"))
        if form is None:
            raise ImportRefused(f"unknown item group {group.get('ItemGroupOID')}")
        pk = int(group.get("ItemGroupRepeatKey"))
        row = casebook.rows.setdefault((form.label, pk), ImportedRow(form, pk, subject_pk))
        kind = group.get("TransactionType")
        if kind == "Remove":
            row.removed = True
        elif kind == "Context":
            _read_signature(casebook, group, row)
        else:
            for item in group.iter(tag("ItemData")):
                row.values[item.get("ItemOID")] = None if item.get("IsNull") == "Yes" else item.get("Value")


def _read_signature(casebook: Casebook, group: etree._Element, row: ImportedRow) -> None:
    for signature in group.iter(tag("Signature")):
        casebook.signatures.append({
            "pk": int(signature.get("ID").removeprefix("SG.")),
            "subject_pk": row.subject_pk,
            "target_model": row.form.label,
            "target_id": row.pk,
            "meaning": signature.find(tag("SignatureRef")).get("SignatureOID").removeprefix("SD."),
            "user_oid": signature.find(tag("UserRef")).get("UserOID"),
            "signed_at": dt.datetime.fromisoformat(signature.findtext(tag("DateTimeStamp"))),
        })  # fmt: skip


@dataclass
class ImportResult:
    sites: int
    users: int
    rows: dict[str, int]  # by model label
    signatures: int


def import_casebook(source, *, user) -> ImportResult:
    """Read `source` (a path or a binary file) and write it into a database that has no subject yet."""
    casebook = read_casebook(source)
    with transaction.atomic():
        if Subject.objects.exists():
            raise ImportRefused("the database holds subjects already: the ODM import is for an empty database")
        return _write(casebook, user)


def _write(casebook: Casebook, user) -> ImportResult:
    reason = f"imported from ODM file {casebook.file_oid}"
    sites = {}
    for values in casebook.sites:
        sites[values["code"]], _ = Site.objects.update_or_create(code=values["code"], defaults=values)
    users, new_users = _users(casebook)
    counts: dict[str, int] = {}
    for model in _creation_order():
        objects = [_instance(casebook, row, sites, users) for row in casebook.rows.values()
                   if row.form.model is model and not row.removed]  # fmt: skip
        if objects:
            bulk_create_with_history(objects, model, default_user=user, default_change_reason=reason)
            counts[model._meta.label_lower] = len(objects)
        if model is Subject:
            signatures = [_signature(casebook, values, users) for values in casebook.signatures]
            bulk_create_with_history(signatures, Signature, default_user=user, default_change_reason=reason)
    _reset_sequences()
    return ImportResult(len(sites), new_users, counts, len(casebook.signatures))


def _users(casebook: Casebook) -> tuple[dict[str, object], int]:
    """Login name → account; accounts the database lacks are made without a password or role."""
    user_model = get_user_model()
    existing = {u.username: u for u in user_model.objects.filter(username__in=casebook.users.values())}
    created = []
    for login in set(casebook.users.values()) - set(existing):
        first, _, last = casebook.display_names[login].partition(" ")
        account = user_model(username=login, first_name=first[:150] if last else "", last_name=last[:150])
        account.set_unusable_password()
        created.append(account)
    user_model.objects.bulk_create(created)
    accounts = {u.username: u for u in user_model.objects.filter(username__in=casebook.users.values())}
    return accounts, len(created)


def _creation_order() -> list[type[models.Model]]:
    """The CRF models, each after the models its foreign keys point to (Subject first)."""
    pending = [form.model for form in forms()]
    ordered: list[type[models.Model]] = []
    while pending:
        for model in pending:
            targets = {f.related_model for f in model._meta.concrete_fields if f.is_relation} - {model}
            if not (targets & set(pending)):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise ImportRefused("the CRFs' foreign keys make a cycle")
    return ordered


def _instance(casebook: Casebook, row: ImportedRow, sites, users) -> models.Model:
    values = {"pk": row.pk}
    for item in row.form.items:
        value = item.value(row.values.get(item.oid))
        if item.is_user:
            values[item.field.attname] = _account(users, value, row).pk if value else None
        else:
            values[item.field.attname] = value
    if row.form.model is Subject:
        subject = casebook.subjects[row.pk]
        values.update(subject_id=subject["subject_id"], site=sites[subject["site"]])
    elif any(f.name == "subject" for f in row.form.model._meta.concrete_fields):
        values["subject_id"] = row.subject_pk
    return row.form.model(**values)


def _account(users, login: str, row: ImportedRow):
    if login not in users:
        raise ImportRefused(f"{row.form.group_oid} {row.pk} names the user {login!r}, who is not in the admin data")
    return users[login]


def _signature(casebook: Casebook, values: dict, users) -> Signature:
    login = casebook.users.get(values["user_oid"])
    if login is None:
        raise ImportRefused(f"signature SG.{values['pk']} names no user of the admin data")
    signer = users[login]
    return Signature(pk=values["pk"], subject_id=values["subject_pk"], target_model=values["target_model"],
                     target_id=values["target_id"], meaning=values["meaning"], signed_by=signer,
                     signed_at=values["signed_at"])  # fmt: skip


def _reset_sequences() -> None:
    """Rows were written with their ids: the next row a person enters must not take one of them."""
    statements = connection.ops.sequence_reset_sql(no_style(), [f.model for f in forms()] + [Signature])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
