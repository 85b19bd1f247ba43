"""The ODM 1.3.2 casebook (issue #17): valid against the official XSD, every OID it names defined and every
definition used, audit records and signatures from the history in site time, constant queries per batch of
subjects, the import round trip, the roles of the route and of the commands."""

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import defineutils.validate
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from lxml import etree

from edc import roles
from edc import services as edc_services
from edc.models import DataQuery, LabResult, Lock, Signature, Site, SourceVerification, Subject, Visit
from followup import odm
from followup.models import AdverseEvent, ExportLog, Milestone
from followup.odm import clinical, metadata
from followup.odm.importer import ImportRefused, import_casebook
from screening.models import Medication
from tests import factories
from tests.casebook import treated_casebook

XSD = Path(defineutils.validate.__file__).parent / "schema" / "cdisc-odm-1.3.2" / "ODM1-3-2.xsd"
NS = {"o": metadata.NS}


@pytest.fixture(scope="module")
def odm_schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def casebook_of(user=None, subject_id="") -> etree._ElementTree:
    chunks = odm.start_odm_export(odm.odm_request(user, subject_id), channel="command").chunks
    return etree.parse(io.BytesIO(b"".join(chunks)))


def xpath(tree, path: str, **variables):
    return tree.xpath(path, namespaces=NS, **variables)


@pytest.fixture
def cohort(site, other_site, staff, investigator, make_user):
    """Two treated subjects at the Shanghai site, one at a Berlin site; an adverse event changed with a reason and
    a visit signed."""
    other_site.timezone = "Europe/Berlin"
    other_site.save()
    berlin_staff = make_user(roles.SITE_STAFF, other_site, username="berlin-staff")
    subjects = [factories.make_subject(site, staff) for _ in range(2)] + [
        factories.make_subject(other_site, berlin_staff)
    ]
    for subject in subjects:
        treated_casebook(subject, berlin_staff if subject.site == other_site else staff)
    event = AdverseEvent.objects.filter(subject=subjects[0]).first()
    event.max_temperature_c = Decimal("39.2")
    edc_services.save_crf(event, user=staff, reason="corrected from the nursing chart")
    # A value given then cleared (an update with IsNull), and a voided row.
    medication = Medication.objects.filter(subject=subjects[0], drug="dexamethasone").get()
    medication.stop_date = medication.start_date + dt.timedelta(days=3)
    medication = edc_services.save_crf(medication, user=staff, reason="stopped")
    medication.stop_date = None
    medication = edc_services.save_crf(medication, user=staff, reason="entered on the wrong line")
    edc_services.void_crf(LabResult.objects.filter(subject=subjects[1]).first(), user=staff, reason="duplicate")
    d7 = Visit.objects.get(subject=subjects[0], code="D7")
    signature = edc_services.sign(d7, "REVIEWED", user=investigator, password=factories.PASSWORD,
                                  over_open_queries=True)  # fmt: skip
    return {"subjects": subjects, "event": event, "visit": d7, "signature": signature, "medication": medication}


def test_the_casebook_is_valid_against_the_official_odm_132_schema(cohort, odm_schema):
    tree = casebook_of()
    assert odm_schema.validate(tree), odm_schema.error_log
    root = tree.getroot()
    assert (root.get("ODMVersion"), root.get("FileType"), root.get("Granularity")) == ("1.3.2", "Transactional", "All")
    assert [s.get("SubjectKey") for s in xpath(tree, "//o:SubjectData")] == sorted(
        s.subject_id for s in cohort["subjects"]
    )


def test_one_subjects_casebook_is_valid_and_holds_that_subject_only(cohort, odm_schema):
    subject = cohort["subjects"][1]
    tree = casebook_of(subject_id=subject.subject_id)
    assert odm_schema.validate(tree), odm_schema.error_log
    assert [s.get("SubjectKey") for s in xpath(tree, "//o:SubjectData")] == [subject.subject_id]
    assert tree.getroot().get("Granularity") == "SingleSubject"


def _oids(tree, element: str) -> set[str]:
    return set(xpath(tree, f"//o:{element}/@OID"))


def test_every_oid_named_is_defined_and_every_definition_is_used(cohort):
    tree = casebook_of()
    references = {
        "StudyEventDef": "//o:StudyEventRef/@StudyEventOID",
        "FormDef": "//o:FormRef/@FormOID",
        "ItemDef": "//o:ItemRef/@ItemOID",
        "CodeList": "//o:CodeListRef/@CodeListOID",
        "MeasurementUnit": "//o:MeasurementUnitRef/@MeasurementUnitOID",
    }
    for definition, reference in references.items():
        assert set(xpath(tree, reference)) == _oids(tree, definition), definition
    # The sites' item group is reference data, not on any form.
    used_groups = set(xpath(tree, "//o:ItemGroupRef/@ItemGroupOID")) | {metadata.SITE_GROUP}
    assert used_groups == _oids(tree, "ItemGroupDef")
    # Every CRF has its form, with a question for each item.
    assert {f.oid for f in metadata.forms()} == _oids(tree, "FormDef")
    assert not xpath(tree, "//o:ItemDef[not(o:Question)]/@OID")
    # The clinical data names only what the metadata and the admin data define.
    assert set(xpath(tree, "//o:StudyEventData/@StudyEventOID")) <= _oids(tree, "StudyEventDef")
    assert set(xpath(tree, "//o:FormData/@FormOID")) <= _oids(tree, "FormDef")
    assert set(xpath(tree, "//o:ItemGroupData/@ItemGroupOID")) <= _oids(tree, "ItemGroupDef")
    assert set(xpath(tree, "//o:ItemData/@ItemOID")) <= _oids(tree, "ItemDef")
    assert set(xpath(tree, "//o:UserRef/@UserOID")) <= _oids(tree, "User")
    assert set(xpath(tree, "//o:LocationRef/@LocationOID | //o:SiteRef/@LocationOID")) == _oids(tree, "Location")
    assert set(xpath(tree, "//o:SignatureRef/@SignatureOID")) <= _oids(tree, "SignatureDef")
    # Each item of a group's data is one of that group's items.
    for group in xpath(tree, "//o:ItemGroupData[o:ItemData]"):
        defined = set(xpath(tree, "//o:ItemGroupDef[@OID=$g]/o:ItemRef/@ItemOID", g=group.get("ItemGroupOID")))
        assert set(xpath(group, "o:ItemData/@ItemOID")) <= defined


def test_items_carry_type_length_digits_question_code_list_and_unit(cohort):
    tree = casebook_of()
    temperature = xpath(tree, "//o:ItemDef[@OID='IT.FOLLOWUP.ADVERSEEVENT.MAX_TEMPERATURE_C']")[0]
    assert (temperature.get("DataType"), temperature.get("Length"), temperature.get("SignificantDigits")) == (
        "float", "4", "1")  # fmt: skip
    assert xpath(temperature, "o:Question/o:TranslatedText/text()") == ["max temperature c"]
    unit = temperature.find("o:MeasurementUnitRef", NS).get("MeasurementUnitOID")
    assert xpath(tree, "//o:MeasurementUnit[@OID=$u]/o:Symbol/o:TranslatedText/text()", u=unit) == ["°C"]
    category = xpath(tree, "//o:ItemDef[@OID='IT.EDC.DEVIATION.CATEGORY']")[0]
    assert (category.get("DataType"), category.get("Length")) == ("text", "16")
    codes = xpath(tree, "//o:CodeList[@OID='CL.EDC.DEVIATION.CATEGORY']/o:CodeListItem")
    assert {c.get("CodedValue"): xpath(c, "o:Decode/o:TranslatedText/text()")[0] for c in codes}["CONSENT"] == (
        "informed consent"
    )
    day = xpath(tree, "//o:CodeList[@OID='CL.INFUSION.LYMPHODEPLETIONDOSE.DAY']")[0]
    assert day.get("DataType") == "integer"


def _without_file_time(casebook: bytes) -> bytes:
    return re.sub(rb'(FileOID|CreationDateTime)="[^"]*"', b"", casebook)


def test_the_study_metadata_written_once_per_language_is_written_again_as_built(cohort, monkeypatch):
    """The Study element is serialized on a language's first export and reused: every export reads as if built."""
    monkeypatch.setattr(odm, "_STUDY_XML", {})
    casebooks = {}
    for language in ("en", "zh-hans", "en", "zh-hans"):
        with translation.override(language):
            casebook = _without_file_time(b"".join(odm.odm_chunks(clinical.Scope())))
        assert casebooks.setdefault(language, casebook) == casebook
    assert set(odm._STUDY_XML) == {"en", "zh-hans"}
    assert casebooks["en"] != casebooks["zh-hans"]  # the labels are the language's
    monkeypatch.setattr(odm, "_STUDY_XML", {})
    assert _without_file_time(b"".join(odm.odm_chunks(clinical.Scope()))) == casebooks["en"]


def _row_groups(tree, group_oid: str, pk: int):
    return xpath(tree, "//o:ItemGroupData[@ItemGroupOID=$g and @ItemGroupRepeatKey=$k]", g=group_oid, k=str(pk))


def test_a_changed_row_has_an_audit_record_per_change_with_the_reason_in_site_time(cohort):
    tree = casebook_of()
    event = cohort["event"]
    insert, update = _row_groups(tree, "IG.FOLLOWUP.ADVERSEEVENT", event.pk)
    assert (insert.get("TransactionType"), update.get("TransactionType")) == ("Insert", "Update")
    assert xpath(insert, "o:ItemData[@ItemOID='IT.FOLLOWUP.ADVERSEEVENT.MAX_TEMPERATURE_C']/@Value") == ["38.5"]
    # The update holds the changed value only, with who, where, when (Shanghai time) and why.
    assert [(i.get("ItemOID"), i.get("Value")) for i in xpath(update, "o:ItemData")] == [
        ("IT.FOLLOWUP.ADVERSEEVENT.MAX_TEMPERATURE_C", "39.2")
    ]
    audit = update.find("o:AuditRecord", NS)
    assert audit.find("o:UserRef", NS).get("UserOID") == "USR.staff"
    assert audit.find("o:LocationRef", NS).get("LocationOID") == "LOC.01"
    assert audit.findtext("o:ReasonForChange", namespaces=NS) == "corrected from the nursing chart"
    stamp = dt.datetime.fromisoformat(audit.findtext("o:DateTimeStamp", namespaces=NS))
    assert stamp.utcoffset() == dt.timedelta(hours=8)
    last = AdverseEvent.history.filter(id=event.pk).latest("history_id")
    assert stamp == last.history_date
    assert audit.findtext("o:SourceID", namespaces=NS) == f"{last._meta.db_table}:{last.history_id}"
    # Audit records sit on rows only, one per transaction.
    assert len(xpath(tree, "//o:AuditRecord")) == len(xpath(tree, "//o:ItemGroupData[@TransactionType!='Context']"))


def test_a_cleared_value_is_an_update_with_isnull(cohort):
    tree = casebook_of()
    medication = cohort["medication"]
    groups = _row_groups(tree, "IG.SCREENING.MEDICATION", medication.pk)
    assert [g.get("TransactionType") for g in groups] == ["Insert", "Update", "Update"]
    stop = "IT.SCREENING.MEDICATION.STOP_DATE"
    assert xpath(groups[1], "o:ItemData[@ItemOID=$i]/@Value", i=stop) == [
        (medication.start_date + dt.timedelta(days=3)).isoformat()
    ]
    assert xpath(groups[2], "o:ItemData/@IsNull", i=stop) == ["Yes"]
    assert not xpath(groups[0], "o:ItemData[@ItemOID=$i]", i=stop)


def test_a_signed_visit_has_its_signature_with_meaning_signer_and_time(cohort):
    tree = casebook_of()
    visit, signature = cohort["visit"], cohort["signature"]
    event = xpath(tree, "//o:StudyEventData[@StudyEventOID='SE.D7'][.//o:ItemGroupData[@ItemGroupRepeatKey=$k]]",
                  k=str(visit.pk))  # fmt: skip
    assert len(event) == 1
    signed = xpath(event[0], ".//o:ItemGroupData[@TransactionType='Context']/o:Signature")
    assert len(signed) == 1 and signed[0].get("ID") == f"SG.{signature.pk}"
    assert signed[0].find("o:UserRef", NS).get("UserOID") == "USR.investigator"
    assert signed[0].find("o:SignatureRef", NS).get("SignatureOID") == "SD.REVIEWED"
    assert dt.datetime.fromisoformat(signed[0].findtext("o:DateTimeStamp", namespaces=NS)) == signature.signed_at
    definition = xpath(tree, "//o:SignatureDef[@OID='SD.REVIEWED']")[0]
    assert definition.findtext("o:Meaning", namespaces=NS) == "reviewed"
    assert "21 CFR Part 11" in definition.findtext("o:LegalReason", namespaces=NS)


def test_times_are_in_each_sites_time_with_its_offset(cohort):
    tree = casebook_of()
    berlin = cohort["subjects"][2].subject_id
    subject_data = xpath(tree, "//o:SubjectData[@SubjectKey=$s]", s=berlin)[0]
    assert subject_data.find("o:SiteRef", NS).get("LocationOID") == "LOC.02"
    stamps = xpath(subject_data, ".//o:DateTimeStamp/text()")
    infusion_starts = xpath(subject_data, ".//o:ItemData[@ItemOID='IT.INFUSION.INFUSION.INFUSION_START']/@Value")
    for text in [*stamps, *infusion_starts]:
        moment = dt.datetime.fromisoformat(text)
        assert moment.utcoffset() == moment.astimezone(metadata.ZoneInfo("Europe/Berlin")).utcoffset()
    assert infusion_starts
    timezones = xpath(tree, "//o:ReferenceData/o:ItemGroupData/o:ItemData[@ItemOID='IT.EDC.SITE.TZ']/@Value")
    assert sorted(timezones) == ["Asia/Shanghai", "Europe/Berlin"]


def test_queries_are_constant_per_batch_of_subjects(site, staff, count_queries):
    def queries_of_casebook():
        return count_queries(lambda: b"".join(odm.odm_chunks(clinical.Scope())))[0]

    subjects = [factories.make_subject(site, staff)]
    treated_casebook(subjects[0], staff)
    one = queries_of_casebook()
    for _ in range(3):
        subjects.append(factories.make_subject(site, staff))
        treated_casebook(subjects[-1], staff)
    assert queries_of_casebook() == one
    # The users and the sites; per batch the subjects, one history table per CRF, the signatures; an empty page.
    assert one == 2 + (1 + len(metadata.forms()) + 1) + 1


def test_more_subjects_than_a_batch_take_one_batch_of_queries_more(site, staff, count_queries, monkeypatch):
    monkeypatch.setattr(clinical, "SUBJECTS_PER_BATCH", 2)
    for _ in range(2):
        treated_casebook(factories.make_subject(site, staff), staff)
    two, _ = count_queries(lambda: b"".join(odm.odm_chunks(clinical.Scope())))
    for _ in range(2):
        treated_casebook(factories.make_subject(site, staff), staff)
    four, _ = count_queries(lambda: b"".join(odm.odm_chunks(clinical.Scope())))
    assert four - two == 1 + len(metadata.forms()) + 1


# --- the round trip -------------------------------------------------------------------------------------------

_NOT_COMPARED = {"id", "version", "created", "modified"}


def _snapshot() -> dict:
    """Every clinical row and every signature, by model and id: each field as stored (a user by login name)."""
    rows = {}
    for model in [*(form.model for form in metadata.forms()), Signature]:
        fields = [f for f in model._meta.concrete_fields if f.attname not in _NOT_COMPARED]
        for row in model.objects.all():
            rows[(model._meta.label_lower, row.pk)] = {f.name: _comparable(row, f) for f in fields}
    return rows


def _comparable(row, field):
    if field.is_relation:
        target = getattr(row, field.name)
        if target is None:
            return None
        return (
            target.username if hasattr(target, "username") else (target.code if isinstance(target, Site) else target.pk)
        )
    return getattr(row, field.attname)


def _delete_clinical_data() -> None:
    """The test database emptied of every subject and what hangs off them (the sites and users stay)."""
    doomed = [DataQuery, SourceVerification, Lock, Milestone]
    for model in [*doomed, *reversed([form.model for form in metadata.forms()])]:
        if model is not Subject:
            model.objects.all().delete()
    Signature.objects.all().delete()
    Subject.objects.all().delete()


def test_an_import_into_an_empty_database_reproduces_every_clinical_value(cohort, staff, tmp_path):
    before = _snapshot()
    assert len(before) > 100
    path = tmp_path / "casebook.xml"
    with path.open("wb") as output:
        odm.write_odm(output, odm.odm_request(None))
    _delete_clinical_data()
    assert not Subject.objects.exists()
    result = import_casebook(str(path), user=edc_services.system_user())
    after = _snapshot()
    assert after.keys() == before.keys()
    for key, values in before.items():
        assert after[key] == values, key
    assert result.signatures == Signature.objects.count()
    # An imported row's history says so; a new row takes an id past the imported ones.
    imported = AdverseEvent.history.filter(id=cohort["event"].pk).latest("history_id")
    assert imported.history_change_reason.startswith("imported from ODM file EDC.")
    fresh = edc_services.save_crf(Visit(subject=Subject.objects.first(), code="UNS"), user=staff)
    assert fresh.pk > max(pk for (label, pk) in before if label == "edc.visit")


def test_the_import_refuses_a_database_that_holds_subjects(cohort, tmp_path):
    path = tmp_path / "casebook.xml"
    call_command("export_odm", "--output", str(path))
    with pytest.raises(ImportRefused, match="empty database"):
        import_casebook(str(path), user=None)
    with pytest.raises(CommandError, match="empty database"):
        call_command("import_odm", str(path))


def test_the_import_refuses_a_file_that_is_not_odm(db, tmp_path):
    path = tmp_path / "not.xml"
    path.write_text("<casebook/>")
    with pytest.raises(CommandError, match="not a CDISC ODM 1.3.2 file"):
        call_command("import_odm", str(path))


# --- the route and the command --------------------------------------------------------------------------------

ROUTE = "/api/v1/exports/odm/"


def _streamed(response) -> etree._ElementTree:
    return etree.parse(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.parametrize("role", [roles.INVESTIGATOR, roles.DATA_MANAGER])
def test_investigators_and_data_managers_get_their_sites_casebook_logged(cohort, role, make_user, site, client_for):
    user = make_user(role, site)
    response = client_for(user).get(ROUTE)
    assert response.status_code == 200
    assert response["Content-Type"] == odm.CONTENT_TYPE
    assert 'filename="casebook.xml"' in response["Content-Disposition"]
    tree = _streamed(response)
    assert sorted(xpath(tree, "//o:SubjectData/@SubjectKey")) == sorted(
        s.subject_id for s in cohort["subjects"] if s.site == site
    )
    log = ExportLog.objects.get(user=user)
    assert (log.dataset, log.format, log.row_count, log.channel) == ("odm", "xml", 2, "api")
    assert log.finished_at is not None


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR, roles.SPONSOR_VIEWER])
def test_other_roles_get_no_casebook(cohort, role, make_user, site, client_for):
    response = client_for(make_user(role, site)).get(ROUTE)
    assert response.status_code == 403
    assert not ExportLog.objects.exists()


def test_one_subject_by_query_parameter(cohort, investigator, client_for):
    subject = cohort["subjects"][0]
    response = client_for(investigator).get(ROUTE, {"subject": subject.subject_id})
    assert response.status_code == 200
    assert xpath(_streamed(response), "//o:SubjectData/@SubjectKey") == [subject.subject_id]
    assert ExportLog.objects.get().filters == {"subject": [subject.subject_id]}


@pytest.mark.parametrize(
    "query, message",
    [
        ("subject=", "expected a subject_id, got an empty value"),
        ("subject=M1019-01-001,M1019-01-002", "takes one subject_id"),
        ("subject=M1019-01-001&subject=M1019-01-002", "takes one subject_id"),
        (f"subject={'M' * 21}", "at most 20 characters"),
        ("site=01", "unknown query parameter"),
    ],
)
def test_a_bad_subject_parameter_is_a_400_naming_it(cohort, investigator, client_for, query, message):
    response = client_for(investigator).get(f"{ROUTE}?{query}")
    assert response.status_code == 400
    field = query.split("=")[0]
    assert message in response.json()[field][0]
    assert not ExportLog.objects.exists()


def test_a_subject_of_another_site_does_not_exist_for_the_user(cohort, investigator, client_for):
    berlin = cohort["subjects"][2]
    response = client_for(investigator).get(ROUTE, {"subject": berlin.subject_id})
    assert response.status_code == 404
    assert "at your sites" in response.json()["subject"][0]


def test_the_command_writes_the_whole_study_or_one_subject(cohort, tmp_path, odm_schema):
    path = tmp_path / "casebook.xml"
    call_command("export_odm", "--output", str(path))
    tree = etree.parse(str(path))
    assert odm_schema.validate(tree)
    assert len(xpath(tree, "//o:SubjectData")) == 3
    subject = cohort["subjects"][2].subject_id
    call_command("export_odm", "--output", str(path), "--subject", subject)
    assert xpath(etree.parse(str(path)), "//o:SubjectData/@SubjectKey") == [subject]
    assert list(ExportLog.objects.values_list("channel", "row_count")) == [("command", 1), ("command", 3)]
    with pytest.raises(CommandError, match="--subject: no subject M1019-09-999"):
        call_command("export_odm", "--output", str(path), "--subject", "M1019-09-999")
