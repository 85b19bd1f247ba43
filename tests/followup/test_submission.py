"""The submission package as a reviewer reads it: every XPT read back (pyreadstat, pandas) against the CSV export of
the same dataset cell by cell, define.xml against the Define-XML 2.1 schema and against the XPTs, the README's
counts and checksums; the XPT route, the v5 limits (ASCII, 200 bytes), roles and the export log."""

import csv
import datetime as dt
import hashlib
import io
import math
import zipfile
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from django.core.management import call_command
from django.urls import reverse
from lxml import etree

from edc import roles
from edc import services as edc_services
from edc.models import Deviation
from followup import exports
from followup.exports import sdtm_metadata, xpt
from followup.exports.params import export_request
from followup.models import AdverseEvent, ExportLog
from infusion.models import Infusion
from tests.casebook import treated_casebook
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
CHINESE_TERM = "细胞因子释放综合征 (CRS) 38.9°C"
LONG_DESCRIPTION = ("Screening CD19 count sent to the wrong lab – re-drawn at ≥ 2 h. " * 6).strip()  # > 200 bytes


def define_schema() -> etree.XMLSchema:
    """The official CDISC Define-XML 2.1 schema, as the defineutils package ships it (with the ODM 1.3.2 it
    extends and the W3C schemas they import, all local: no download)."""
    import defineutils.validate

    path = Path(defineutils.validate.__file__).parent / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture
def casebook(site, staff, subject):
    """A treated casebook with CAR transgene results (PC, PP), a Chinese adverse event term and a deviation
    described in over 200 bytes."""
    treated_casebook(subject, staff)
    start = Infusion.objects.get(subject=subject).infusion_start
    cohort.import_results([
        cohort.result(subject, cohort.visit_of(subject, code, None, staff), "CARPCR", start + dt.timedelta(days=day),
                      value, lloq=10)
        for code, day, value in (("D7", 7, 2000), ("D14", 14, "812.5"))
    ], staff)  # fmt: skip
    event = AdverseEvent(subject=subject, term=CHINESE_TERM, category="CRS", relatedness="POSSIBLE",
                         onset_date=dt.date.today() - dt.timedelta(days=15))  # fmt: skip
    edc_services.save_crf(event, user=staff)
    infection = AdverseEvent(subject=subject, term="CMV viraemia", category="INFECTION", relatedness="POSSIBLE",
                             onset_date=dt.date.today() - dt.timedelta(days=12), ctcae_grade=2,
                             pathogen_class="VIRAL", organism="Cytomegalovirus", infection_site="BLOODSTREAM",
                             viral_reactivation=True)  # fmt: skip
    edc_services.save_crf(infection, user=staff)
    deviation = Deviation(subject=subject, category="PROCEDURE", severity="MINOR", description=LONG_DESCRIPTION,
                          deviation_date=dt.date.today() - dt.timedelta(days=10))  # fmt: skip
    edc_services.record_deviation(deviation, user=staff)
    return subject


def csv_rows(dataset_name: str, user=None) -> list[list[str]]:
    """The CSV export of a dataset, as the routes write it, without its header."""
    request = export_request(exports.dataset_named(dataset_name), user)
    text = b"".join(exports.write("csv", request.columns, exports.rows_of(request))).decode()
    return list(csv.reader(io.StringIO(text)))[1:]


def same_cell(kind: str, text: str, cell) -> bool:
    if kind != "str":
        return (text == "" and math.isnan(cell)) or float(text) == cell
    return xpt.to_ascii(text)[0].rstrip() == cell  # SAS pads text with blanks: a trailing one is not kept


@pytest.fixture
def package(casebook, tmp_path) -> Path:
    call_command("export_submission", output=str(tmp_path / "package.zip"), stderr=io.StringIO())
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        archive.extractall(tmp_path / "package")
    return tmp_path / "package"


def test_every_xpt_reads_back_as_its_csv_export_cell_by_cell(package):
    supp_dv, _ = pyreadstat.read_xport(str(package / "suppdv.xpt"))
    for dataset in sdtm_metadata.sdtm_datasets():
        domain = sdtm_metadata.domain_of(dataset)
        frame, meta = pyreadstat.read_xport(str(package / f"{domain.lower()}.xpt"))
        assert (meta.table_name, meta.file_label) == (domain, sdtm_metadata.dataset_label(domain))
        assert meta.column_names == [c.name for c in dataset.columns]
        assert meta.column_labels == [sdtm_metadata.variable_label(domain, c.name) for c in dataset.columns]
        expected = csv_rows(dataset.name)
        assert len(frame) == len(expected) > 0, domain
        for row, cells in zip(expected, frame.itertuples(index=False), strict=True):
            for column, text, cell in zip(dataset.columns, row, cells, strict=True):
                if domain == "DV" and column.name == "DVTERM" and text == LONG_DESCRIPTION:
                    continue  # split: below
                assert same_cell(column.kind, text, cell), (domain, column.name, text, cell)
    dv, _ = pyreadstat.read_xport(str(package / "dv.xpt"))
    first = dv.loc[dv.DVTERM.str.startswith("Screening CD19"), ["USUBJID", "DVSEQ", "DVTERM"]].iloc[0]
    rest = supp_dv[(supp_dv.USUBJID == first.USUBJID) & (supp_dv.IDVARVAL.astype(int) == first.DVSEQ)]
    assert list(rest.QNAM) == [f"DVTERM{n}" for n in range(1, len(rest) + 1)]
    assert list(rest.IDVAR.unique()) == ["DVSEQ"] and list(rest.RDOMAIN.unique()) == ["DV"]
    assert first.DVTERM + "".join(rest.QVAL) == xpt.to_ascii(LONG_DESCRIPTION)[0]
    assert max(len(v) for v in (first.DVTERM, *rest.QVAL)) <= 200


def test_every_xpt_is_ascii_within_the_v5_limits(package):
    for path in package.glob("*.xpt"):
        frame, meta = pyreadstat.read_xport(str(path))
        assert len(meta.table_name) <= 8 and len(meta.file_label) <= 40
        assert all(len(name) <= 8 for name in meta.column_names)
        assert all(len(label) <= 40 for label in meta.column_labels)
        assert all(width <= 200 for width in meta.variable_storage_width.values())
        text = [name for name, kind in meta.readstat_variable_types.items() if kind == "string"]
        assert all(value.isascii() for name in text for value in frame[name]), path.name
    ae = pd.read_sas(package / "ae.xpt", format="xport", encoding="ascii")  # pandas' own reader agrees
    assert "????????? (CRS) 38.9degC" in set(ae.AETERM)


def test_define_xml_is_valid_and_names_exactly_what_the_xpts_hold(package):
    document = etree.parse(str(package / "define.xml"))
    define_schema().assertValid(document)
    groups = document.findall(".//odm:ItemGroupDef", NS)
    assert {g.get("Name") for g in groups} == {p.stem.upper() for p in package.glob("*.xpt")}
    items = {i.get("OID"): i for i in document.findall(".//odm:ItemDef", NS)}
    code_lists = {c.get("OID") for c in document.findall(".//odm:CodeList", NS)}
    for group in groups:
        leaf = group.find("def:leaf", NS).get("{http://www.w3.org/1999/xlink}href")
        frame, meta = pyreadstat.read_xport(str(package / leaf))
        assert group.find("odm:Description/odm:TranslatedText", NS).text == meta.file_label
        refs = [items[ref.get("ItemOID")] for ref in group.findall("odm:ItemRef", NS)]
        assert [i.get("Name") for i in refs] == meta.column_names
        assert [i.find("odm:Description/odm:TranslatedText", NS).text for i in refs] == meta.column_labels
        for item in refs:
            name = item.get("Name")
            numeric = meta.readstat_variable_types[name] == "double"
            assert item.get("DataType") in (("integer", "float") if numeric else ("text", "date", "datetime"))
            if item.get("DataType") == "text":
                assert int(item.get("Length")) >= max([1, *frame[name].str.len()])
            if (ref := item.find("odm:CodeListRef", NS)) is not None:
                assert ref.get("CodeListOID") in code_lists
                values = set(frame[name]) - {""}
                code_list = document.find(f".//odm:CodeList[@OID='{ref.get('CodeListOID')}']", NS)
                coded = {i.get("CodedValue") for i in code_list if i.get("CodedValue")}
                assert values <= coded, (name, values - coded)
        keys = [ref for ref in group.findall("odm:ItemRef", NS) if ref.get("KeySequence")]
        assert keys and group.find("def:Class", NS).get("Name")
    assert len(items) == sum(len(g.findall("odm:ItemRef", NS)) for g in groups)


def test_the_readme_gives_each_files_rows_and_checksum_and_the_log_has_the_package(package):
    readme = (package / "README.txt").read_text(encoding="ascii")
    listed = {}
    for line in readme.splitlines():
        parts = line.split()
        if parts and (package / parts[0]).is_file() and parts[0] != "README.txt":
            listed[parts[0]] = parts
    assert set(listed) == {p.name for p in package.iterdir()} - {"README.txt"}
    for name, parts in listed.items():
        digest = hashlib.sha256((package / name).read_bytes()).hexdigest()
        assert digest in parts, name
        if name.endswith(".xpt"):
            frame, _ = pyreadstat.read_xport(str(package / name))
            assert parts[1] == str(len(frame)), name
    assert "AETERM: 9 characters without an ASCII form written as '?' (U+7EC6 x1" in readme
    assert "DV: 1 pieces of values over 200 bytes are in SUPPDV (QNAM DVTERM1)" in readme
    log = ExportLog.objects.get(dataset="submission")
    assert (log.format, log.channel, log.user) == ("zip", "command", None)
    assert log.finished_at and log.filters["non_ascii_replaced"] == {"AE.AETERM": 9}
    assert ExportLog.objects.filter(format="xpt", channel="command").count() == len(sdtm_metadata.sdtm_datasets())


def test_the_command_writes_a_directory_too(casebook, tmp_path):
    call_command("export_submission", output=str(tmp_path / "out"), stderr=io.StringIO())
    assert {"define.xml", "README.txt", "dm.xpt", "ae.xpt", "suppae.xpt", "suppdv.xpt"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }
    assert ExportLog.objects.get(dataset="submission").format == "dir"


def read_xpt_response(response, tmp_path) -> pd.DataFrame:
    assert response.status_code == 200, getattr(response, "content", b"")
    path = tmp_path / "download.xpt"
    path.write_bytes(b"".join(response.streaming_content))
    return pyreadstat.read_xport(str(path))[0]


def test_the_xpt_route_for_each_role_pseudonymised_for_the_sponsor(casebook, client_for, data_manager, make_user,
                                                                    site, tmp_path):  # fmt: skip
    frame = read_xpt_response(client_for(data_manager).get("/api/v1/exports/sdtm/ae/?format=xpt"), tmp_path)
    assert len(frame) == len(csv_rows("sdtm/ae")) and set(frame.AESTDTC) != {""}
    sponsor = make_user(roles.SPONSOR_VIEWER, site, username="sponsor")
    response = client_for(sponsor).get("/api/v1/exports/sdtm/cm/?format=xpt")
    assert response["Content-Disposition"] == 'attachment; filename="cm.xpt"'
    assert set(read_xpt_response(response, tmp_path).CMSTDTC) == {""}  # no dates for the sponsor
    assert client_for(make_user(roles.MONITOR, site)).get("/api/v1/exports/sdtm/ae/?format=xpt").status_code == 403
    log = ExportLog.objects.filter(format="xpt", channel="api").order_by("started_at")
    assert [(e.dataset, e.pseudonymised, e.row_count) for e in log] == [
        ("sdtm/ae", False, len(frame)), ("sdtm/cm", True, len(csv_rows("sdtm/cm")))]  # fmt: skip
    assert log[0].filters["non_ascii_replaced"] == {"AETERM": 9}


def test_the_xpt_route_refuses_what_xpt_cannot_hold(casebook, client_for, data_manager):
    api = client_for(data_manager)
    response = api.get("/api/v1/exports/pkpd/?format=xpt")
    assert response.status_code == 400 and "sdtm/* datasets only" in response.json()["format"][0]
    response = api.get("/api/v1/exports/sdtm/dv/?format=xpt")  # the long description: only the package splits it
    assert response.status_code == 400
    message = response.json()["format"][0]
    assert "DV.DVTERM" in message and "at most 200" in message and "submission package" in message
    assert "refused" in ExportLog.objects.get(dataset="sdtm/dv").filters


def test_ascii_transliteration_and_splitting():
    assert xpt.to_ascii("5 µg/L – ≥ 38.5 °C, naïve × 2") == ("5 ug/L - >= 38.5 degC, naive x 2", [])
    assert xpt.to_ascii("发热 3 天") == ("?? 3 ?", ["发", "热", "天"])
    text = "word " * 90 + "x" * 250
    pieces = xpt.split_text(text)
    assert "".join(pieces) == text and all(len(p) <= 200 for p in pieces)
    assert pieces[1].startswith(" ")  # cut before a space: no trailing blank for SAS to lose
    assert xpt.supplemental_name("CMDOSFRQ", "Dosing Frequency per Interval", 12) == (
        "CMDOSF12", "Dosing Frequency per Interval 12")  # fmt: skip


def test_every_sdtm_dataset_has_its_labels_within_the_v5_limits():
    for dataset in sdtm_metadata.sdtm_datasets():
        domain = sdtm_metadata.domain_of(dataset)
        variables = xpt.variables_of(domain, dataset.columns, sdtm_metadata.variable_label)
        xpt.check_names(domain, sdtm_metadata.dataset_label(domain), variables)  # raises over a limit
        assert sdtm_metadata.dataset_class(domain) and sdtm_metadata.dataset_structure(domain)
    with pytest.raises(ValueError, match="LONGNAME9"):
        xpt.check_names("AE", "Adverse Events", [xpt.Variable("LONGNAME9", "x", "str")])


def test_the_admin_page_downloads_the_package_for_data_managers(casebook, client, data_manager, make_user, site):
    client.force_login(data_manager)
    url = reverse("admin:followup_submission")
    page = client.get(url)
    assert page.status_code == 200 and b"define.xml" in page.content and b"ae.xpt" in page.content
    response = client.get(url, {"download": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"define.xml", "README.txt", "dm.xpt"} <= set(archive.namelist())
    assert ExportLog.objects.get(dataset="submission").channel == "admin"
    client.force_login(make_user(roles.INVESTIGATOR, site))
    assert client.get(url, {"download": "1"}).status_code == 403
