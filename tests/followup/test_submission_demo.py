"""The submission package built from the demo cohort (issue #17's done-when), checked as a reviewer would: every
XPT read back and compared with the CSV export cell by cell, define.xml valid and naming exactly what the XPTs
hold, the ODM casebook valid against its schema and imported back into an emptied database value for value."""

import io
import zipfile

import pyreadstat
import pytest
from django.core.management import call_command
from lxml import etree

from edc import services as edc_services
from edc.models import Subject
from followup.exports import sdtm_metadata
from followup.odm.importer import import_casebook
from tests.followup.test_odm import XSD, _delete_clinical_data, _snapshot
from tests.followup.test_submission import csv_rows, define_schema, same_cell

pytestmark = pytest.mark.django_db

XPT_TEXT_LIMIT = 200  # bytes: a longer value is split into its SUPP-- file (tested in test_submission.py)
DEFINE = "{http://www.cdisc.org/ns/odm/v1.3}"


@pytest.fixture
def demo_package(tmp_path):
    call_command("seed_demo", "--subjects", "12", "--seed", "1019", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("export_submission", output=str(tmp_path / "package.zip"), stderr=io.StringIO())
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        archive.extractall(tmp_path / "package")
    return tmp_path / "package"


def test_the_demo_package_reads_back_as_its_exports_and_its_casebook_imports_back(demo_package):
    # Every XPT, cell by cell against the CSV export of the same dataset.
    for dataset in sdtm_metadata.sdtm_datasets():
        domain = sdtm_metadata.domain_of(dataset)
        frame, _ = pyreadstat.read_xport(str(demo_package / f"{domain.lower()}.xpt"))
        expected = csv_rows(dataset.name)
        assert len(frame) == len(expected), domain
        for row, cells in zip(expected, frame.itertuples(index=False), strict=True):
            for column, text, cell in zip(dataset.columns, row, cells, strict=True):
                if len(text.encode()) > XPT_TEXT_LIMIT:
                    continue
                assert same_cell(column.kind, text, cell), (domain, column.name, text, cell)
    # define.xml: valid, and its datasets are the package's XPT files.
    define = etree.parse(str(demo_package / "define.xml"))
    define_schema().assertValid(define)
    described = {group.get("Name") for group in define.iter(f"{DEFINE}ItemGroupDef")}
    assert described == {path.stem.upper() for path in demo_package.glob("*.xpt")}
    # The ODM casebook: valid, and imported into an emptied database it gives back every clinical value.
    casebook = demo_package / "casebook.odm.xml"
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(etree.parse(str(casebook)))
    before = _snapshot()
    _delete_clinical_data()
    assert not Subject.objects.exists()
    import_casebook(str(casebook), user=edc_services.system_user())
    after = _snapshot()
    assert after.keys() == before.keys()
    for key, values in before.items():
        assert after[key] == values, key
