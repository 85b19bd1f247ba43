"""Rows as text: the actual day the database computes, the two ways of reading rows, the writers' cells."""

import csv
import datetime as dt
import io
import json
import os
import random

import pyarrow.parquet as pq
import pytest

from edc import roles
from edc.models import LabResult
from followup import exports
from followup.exports import copy_reader, pkpd, text, writers
from followup.exports.datasets import Column
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


@pytest.mark.parametrize(
    "offset, expected",
    [
        (dt.timedelta(days=1, hours=12), 1.5),
        (dt.timedelta(hours=-6), -0.25),  # before the infusion
        (dt.timedelta(0), 0.0),  # at the infusion start
        (dt.timedelta(microseconds=1), 1 / 86_400_000_000),  # the resolution of a stored time
        (dt.timedelta(days=28, seconds=1), 28 + 1 / 86_400),
    ],
)
def test_the_database_gives_the_actual_day_in_decimal_days(client_for, make_user, site, staff, offset, expected):
    subject, start = cohort.treat(site, staff, cohort.day0_of_cohort())
    cohort.import_results([cohort.result(subject, None, "CD19", start + offset, 12)], staff)
    api = client_for(make_user(roles.DATA_MANAGER, site))
    response = api.get("/api/v1/exports/pkpd/?analyte=CD19")
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert float(row["actual_day"]) == pytest.approx(expected, rel=1e-12, abs=0)


COLUMNS = (Column("name", "str"), Column("day", "float"), Column("n", "int"), Column("blq", "bool"))


def test_csv_quotes_only_the_cells_that_need_it():
    rows = [("plain", "1.5", "2", "true"), ('say "hi", twice', "", "", "false"), ("two\nlines", "-3", "0", "")]
    text = b"".join(writers.csv_chunks(COLUMNS, rows)).decode()
    assert text.splitlines()[:2] == ["name,day,n,blq", "plain,1.5,2,true"]
    assert list(csv.reader(io.StringIO(text)))[1:] == [list(row) for row in rows]


def test_json_and_parquet_read_each_cell_by_its_kind():
    rows = [("a", "1.5", "2", "true"), ("", "", "", "")]
    as_json = json.loads(b"".join(writers.json_chunks(COLUMNS, rows)))
    assert as_json == [{"name": "a", "day": 1.5, "n": 2, "blq": True}, dict.fromkeys(("name", "day", "n", "blq"))]
    table = pq.read_table(io.BytesIO(b"".join(writers.parquet_chunks(COLUMNS, rows))))
    assert table.to_pylist() == as_json


def test_copy_escapes_are_undone():
    assert copy_reader.unescaped(r"a\tb\\c\nd") == "a\tb\\c\nd"


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY is PostgreSQL's: `make test-services` runs this")
def test_copy_and_the_cursor_read_the_same_text(site, staff):
    """The PostgreSQL reader (COPY) and the generic one (a cursor) agree cell for cell: NULLs, decimals without
    their padding, booleans, the actual day."""
    rng = random.Random(7)
    for index in range(3):
        subject, start = cohort.treat(site, staff, cohort.day0_of_cohort() - dt.timedelta(days=index))
        cohort.random_profile(rng, subject, start, staff)
    request = exports.ExportRequest(exports.DATASETS["pkpd"])
    source = pkpd.pkpd_source(request, ["CD19", "CARPCR", "C3"])
    copied = list(copy_reader.copied_rows(source))
    read = [list(row) for row in text.rows_as_text(source.iterator(), text.DATABASE_TEXT)]
    assert len(copied) > 50 and copied == read
    assert {row[9] for row in copied} == {"t", "f"} and any(row[6] == "" for row in copied)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="COPY is PostgreSQL's: `make test-services` runs this")
def test_an_export_left_mid_copy_leaves_the_connection_usable(make_user, site, staff):
    """A download abandoned while COPY is still sending (the server closes the response's chunks, then the rows
    go): the COPY is cancelled inside the export's transaction and the next query runs."""
    subject, start = cohort.treat(site, staff, cohort.day0_of_cohort())
    LabResult.objects.bulk_create(  # many more rows than one CSV block, written directly: not under test here
        LabResult(
            subject=subject,
            analyte="CD19",
            value=i % 300,
            unit="cells/µL",
            sample_datetime=start + dt.timedelta(hours=i),
        )
        for i in range(1, 3000)
    )
    request = exports.export_request(exports.DATASETS["pkpd"], make_user(roles.DATA_MANAGER, site))
    export = exports.start_export(request)
    chunks = exports.write("csv", request.columns, export.rows)
    assert next(chunks).startswith(b"usubjid,") and next(chunks)
    chunks.close()
    export.rows.close()
    assert LabResult.objects.filter(subject=subject).count() == 2999
