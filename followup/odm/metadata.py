"""The casebook's study metadata: every CRF as a FormDef with one ItemGroupDef and its ItemDefs, the visits as
StudyEventDefs, code lists for choice fields, measurement units; and the OIDs the clinical data and the importer
name them by.

A CRF is every clinical audited model that belongs to a subject (`edc.services.audit.audited_models_of_subject`,
`is_clinical_data`), Subject itself first: a later app's CRF is in the casebook without a change here. Its items
are its concrete fields but the bookkeeping ones (id, version, created, modified: the audit records carry them)
and the subject it belongs to (the SubjectData it sits in). A foreign key to another row holds that row's
ItemGroupRepeatKey (its id), one to a user the user's login name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, cached_property
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import models
from lxml import etree

from edc import rules as edc_rules
from edc.models import Signature, Site, Subject, Visit
from edc.services.audit import audited_models_of_subject
from edc.services.crf import BOOKKEEPING_FIELDS

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STUDY_OID = "NCT06711146"
METADATA_OID = "MDV.1"
SUBJECT_EVENT = "SE.SUBJECT"  # the subject-level event: the rows of no visit (consent, medications, events…)
SITE_GROUP = "IG.EDC.SITE"  # the sites, as reference data (their time zone has no place in AdminData)
SITE_ITEMS = (("code", "IT.EDC.SITE.CODE", 8), ("name", "IT.EDC.SITE.NAME", 200), ("timezone", "IT.EDC.SITE.TZ", 64))

# Units of fields named by their unit, where the field's limit names none.
UNIT_SUFFIXES = {"_kg": "kg", "_cm": "cm", "_l": "L", "_pct": "%", "_m2": "m2", "_mg": "mg", "_mg_per_m2": "mg/m2",
                 "_cells_per_kg": "cells/kg", "_mg_per_day": "mg/day", "_c": "°C"}  # fmt: skip


def tag(name: str) -> str:
    return f"{{{NS}}}{name}"


def element(name: str, parent: etree._Element | None = None, **attributes) -> etree._Element:
    """An ODM element (None attributes left out); a top-level one declares the namespace itself."""
    attrib = {key: str(value) for key, value in attributes.items() if value is not None}
    if parent is None:
        return etree.Element(tag(name), attrib, nsmap={None: NS})
    return etree.SubElement(parent, tag(name), attrib)


def translated(parent: etree._Element, name: str, text: str) -> etree._Element:
    holder = element(name, parent)
    element("TranslatedText", holder).text = text
    holder[0].set(XML_LANG, "en")
    return holder


def user_oid(username: str | None) -> str:
    return f"USR.{_oid_part(username or 'unknown')}"


def location_oid(site_code: str) -> str:
    return f"LOC.{_oid_part(site_code)}"


def event_oid(visit_code: str) -> str:
    return f"SE.{visit_code}"


def _oid_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


@dataclass(frozen=True)
class Item:
    field: models.Field
    oid: str

    @cached_property  # read for every value of every history record written
    def is_user(self) -> bool:
        return self.field.is_relation and self.field.related_model is get_user_model()

    @property
    def data_type(self) -> str:
        field = self.field
        if field.is_relation:
            return "text" if self.is_user else "integer"
        if isinstance(field, models.BooleanField):
            return "boolean"
        if isinstance(field, models.DateTimeField):
            return "datetime"
        if isinstance(field, models.DateField):
            return "date"
        if isinstance(field, models.DecimalField):
            return "float"
        if isinstance(field, models.IntegerField):
            return "integer"
        return "text"  # CharField, TextField, JSONField (as JSON)

    @property
    def length(self) -> int | None:
        if isinstance(self.field, models.DecimalField):
            return self.field.max_digits
        if self.is_user:
            return get_user_model()._meta.get_field("username").max_length
        return self.field.max_length if isinstance(self.field, models.CharField) else None

    @property
    def code_list_oid(self) -> str | None:
        return f"CL.{self.oid.removeprefix('IT.')}" if self.field.choices else None

    def text(self, value, zone: ZoneInfo, usernames: dict[int, str]) -> str | None:
        """The stored value (a history record's: a foreign key's id) as ItemData's Value; None for no value."""
        if value is None or value == "":
            return None
        if self.is_user:
            return usernames.get(value, "unknown")
        if isinstance(self.field, models.JSONField):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal):
            return f"{value:f}"
        if isinstance(value, dt.datetime):
            return value.astimezone(zone).isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)

    def value(self, text: str | None):
        """ItemData's Value back as the field stores it (a user as the login name, a row as its id); no value:
        NULL where the field takes it, else empty text."""
        field = self.field
        if text is None:
            return None if field.null else ""
        if self.is_user:
            return text
        if field.is_relation or isinstance(field, models.IntegerField):
            return int(text)
        if isinstance(field, models.JSONField):
            return json.loads(text)
        if isinstance(field, models.BooleanField):
            return text in ("true", "1")
        if isinstance(field, models.DecimalField):
            return Decimal(text)
        if isinstance(field, models.DateTimeField):
            return dt.datetime.fromisoformat(text)
        if isinstance(field, models.DateField):
            return dt.date.fromisoformat(text)
        return text


@dataclass(frozen=True)
class Form:
    """One CRF: its model, its path to the subject, its OIDs and items."""

    model: type[models.Model]
    subject_path: str
    items: tuple[Item, ...]

    @property
    def key(self) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}".upper()

    @property
    def oid(self) -> str:
        return f"F.{self.key}"

    @property
    def group_oid(self) -> str:
        return f"IG.{self.key}"

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def name(self) -> str:
        return str(self.model._meta.verbose_name).capitalize()

    @property
    def has_visit(self) -> bool:
        """Rows of this CRF sit in their visit's event (a visit in its own)."""
        return self.model is Visit or any(item.field.name == "visit" for item in self.items)


# Subject's own identity is the SubjectData element: its key and its site.
_NOT_ITEMS = BOOKKEEPING_FIELDS | {"subject_id", "site_id"}


def _form(model: type[models.Model], subject_path: str) -> Form:
    key = f"{model._meta.app_label}.{model._meta.model_name}".upper()
    fields = [f for f in model._meta.concrete_fields if f.attname not in _NOT_ITEMS]
    if model is not Subject:
        fields = [f for f in fields if f.name != "subject"]
    return Form(model, subject_path, tuple(Item(f, f"IT.{key}.{f.name.upper()}") for f in fields))


@cache
def forms() -> tuple[Form, ...]:
    """Every CRF, Subject first, then the visits, then the others in the order of the apps."""
    found = [_form(model, path) for model, path in audited_models_of_subject() if model.is_clinical_data]
    return tuple(sorted(found, key=lambda form: (form.model is not Subject, form.model is not Visit)))


def form_of_group(group_oid: str) -> Form | None:
    return next((form for form in forms() if form.group_oid == group_oid), None)


def unit_of(model: type[models.Model], field: models.Field) -> str:
    limits = model.field_limits if isinstance(model.__dict__.get("field_limits"), dict) else {}
    limit = limits.get(field.name)
    if limit is not None and limit.unit:
        return limit.unit
    if not isinstance(field, models.DecimalField | models.IntegerField) or field.is_relation:
        return ""
    suffix = max((s for s in UNIT_SUFFIXES if field.name.endswith(s)), key=len, default="")
    return UNIT_SUFFIXES.get(suffix, "")


def unit_oid(unit: str) -> str:
    return f"MU.{_oid_part(unit.replace('%', 'PCT').replace('/', '_PER_').replace('°', 'DEG'))}"


def event_defs() -> list[tuple[str, str, str]]:
    """(OID, name, type) of every study event: the subject-level one, then the visits in schedule order."""
    events = [(SUBJECT_EVENT, "Subject (rows of no visit)", "Common")]
    for code in edc_rules.SCHEDULE:
        events.append((event_oid(code), f"Visit {code}", "Unscheduled" if code == "UNS" else "Scheduled"))
    return events


def study_element() -> etree._Element:
    """The Study with its units and the MetaDataVersion: events, forms, item groups, items, code lists."""
    study = element("Study", OID=STUDY_OID)
    variables = element("GlobalVariables", study)
    element("StudyName", variables).text = STUDY_OID
    element("StudyDescription", variables).text = "CD19 CAR-T cell therapy for systemic lupus erythematosus"
    element("ProtocolName", variables).text = STUDY_OID
    units = sorted({unit for form in forms() for item in form.items if (unit := unit_of(form.model, item.field))})
    if units:
        basics = element("BasicDefinitions", study)
        for unit in units:
            translated(element("MeasurementUnit", basics, OID=unit_oid(unit), Name=unit), "Symbol", unit)
    version = element("MetaDataVersion", study, OID=METADATA_OID, Name="EDC casebook")
    _protocol(version)
    _event_defs(version)
    for form in forms():
        form_def = element("FormDef", version, OID=form.oid, Name=form.name, Repeating="No")
        element("ItemGroupRef", form_def, ItemGroupOID=form.group_oid, Mandatory="No")
    _site_group_def(version)
    for form in forms():
        _group_def(version, form)
    for form in forms():
        for item in form.items:
            _item_def(version, form, item)
    for attname, oid, length in SITE_ITEMS:
        site_item = element("ItemDef", version, OID=oid, Name=attname, DataType="text", Length=length)
        translated(site_item, "Question", str(Site._meta.get_field(attname).verbose_name))
    for form in forms():
        for item in form.items:
            if item.code_list_oid:
                _code_list(version, item)
    return study


def _protocol(version: etree._Element) -> None:
    protocol = element("Protocol", version)
    for order, (oid, _, _) in enumerate(event_defs(), 1):
        element("StudyEventRef", protocol, StudyEventOID=oid, OrderNumber=order, Mandatory="No")


def _event_defs(version: etree._Element) -> None:
    visit_forms = [form for form in forms() if form.has_visit]
    for oid, name, kind in event_defs():
        repeating = "Yes" if oid == event_oid("UNS") else "No"
        event = element("StudyEventDef", version, OID=oid, Name=name, Repeating=repeating, Type=kind)
        # Every CRF may be entered without a visit; the visit CRFs may be entered at any visit.
        for form in forms() if oid == SUBJECT_EVENT else visit_forms:
            if oid == SUBJECT_EVENT and form.model is Visit:
                continue
            element("FormRef", event, FormOID=form.oid, Mandatory="No")


def _site_group_def(version: etree._Element) -> None:
    group = element("ItemGroupDef", version, OID=SITE_GROUP, Name="Sites", Repeating="Yes", IsReferenceData="Yes")
    for order, (_, oid, _) in enumerate(SITE_ITEMS, 1):
        key = 1 if order == 1 else None  # the site code
        element("ItemRef", group, ItemOID=oid, OrderNumber=order, Mandatory="Yes", KeySequence=key)


def _group_def(version: etree._Element, form: Form) -> None:
    group = element("ItemGroupDef", version, OID=form.group_oid, Name=form.name, Repeating="Yes")
    for order, item in enumerate(form.items, 1):
        mandatory = "No" if item.field.null or item.field.blank or item.field.has_default() else "Yes"
        element("ItemRef", group, ItemOID=item.oid, OrderNumber=order, Mandatory=mandatory)


def _item_def(version: etree._Element, form: Form, item: Item) -> None:
    field = item.field
    significant = field.decimal_places if isinstance(field, models.DecimalField) else None
    item_def = element("ItemDef", version, OID=item.oid, Name=field.name, DataType=item.data_type, Length=item.length,
                       SignificantDigits=significant)  # fmt: skip
    if field.help_text:
        translated(item_def, "Description", str(field.help_text))
    translated(item_def, "Question", str(field.verbose_name))
    if unit := unit_of(form.model, field):
        element("MeasurementUnitRef", item_def, MeasurementUnitOID=unit_oid(unit))
    if item.code_list_oid:
        element("CodeListRef", item_def, CodeListOID=item.code_list_oid)


def _code_list(version: etree._Element, item: Item) -> None:
    data_type = "integer" if isinstance(item.field, models.IntegerField) else "text"
    code_list = element("CodeList", version, OID=item.code_list_oid, Name=item.field.name, DataType=data_type)
    for code, label in item.field.flatchoices:
        translated(element("CodeListItem", code_list, CodedValue=code), "Decode", str(label))


def admin_data_element(sites, users, effective_date: str) -> etree._Element:
    """The users (every account: an audit record may name anyone who ever wrote), the sites as locations and the
    meanings of signatures."""
    admin = element("AdminData", StudyOID=STUDY_OID)
    for user in [None, *users]:
        entry = element("User", admin, OID=user_oid(user.username if user else None))
        element("LoginName", entry).text = user.username if user else "unknown"
        element("DisplayName", entry).text = (user.get_full_name() or user.username) if user else "unknown user"
    for site in sites:
        location = element("Location", admin, OID=location_oid(site.code), Name=site.name, LocationType="Site")
        element("MetaDataVersionRef", location, StudyOID=STUDY_OID, MetaDataVersionOID=METADATA_OID,
                EffectiveDate=effective_date)  # fmt: skip
    for meaning, label in Signature.Meaning.choices:
        signature_def = element("SignatureDef", admin, OID=signature_def_oid(meaning), Methodology="Electronic")
        element("Meaning", signature_def).text = str(label).replace("_", " ").lower()
        element("LegalReason", signature_def).text = LEGAL_REASON
    return admin


LEGAL_REASON = ("Electronic signature under 21 CFR Part 11: the signer, with their password, attests the signed "
                "records as they stood when signed")  # fmt: skip


def signature_def_oid(meaning: str) -> str:
    return f"SD.{meaning}"


def reference_data_element(sites) -> etree._Element:
    reference = element("ReferenceData", StudyOID=STUDY_OID, MetaDataVersionOID=METADATA_OID)
    for site in sites:
        group = element("ItemGroupData", reference, ItemGroupOID=SITE_GROUP, ItemGroupRepeatKey=site.code)
        for attname, oid, _ in SITE_ITEMS:
            element("ItemData", group, ItemOID=oid, Value=getattr(site, attname))
    return reference
