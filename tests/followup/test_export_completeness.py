"""A stream that ends early is visible as such: the export log says INCOMPLETE with the rows sent, a CSV asked with
`?trailer=1` ends with its row count and SHA-256, a JSON cut short does not parse, and a server worker that stops
mid-export marks its streams INCOMPLETE (config/gunicorn.conf.py's hooks call `mark_unfinished_incomplete`)."""

import datetime as dt
import hashlib
import json
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from edc import roles
from edc.models import LabResult
from followup import exports
from followup.exports import writers
from followup.models import ExportLog
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db
ROWS = 2_000  # four CSV and JSON blocks of 500


@pytest.fixture
def results(site, staff):
    subject, start = cohort.treat(site, staff, cohort.day0_of_cohort())
    LabResult.objects.bulk_create(
        LabResult(subject=subject, analyte="CD19", value=Decimal(i % 300) + Decimal("0.5"), unit="cells/µL",
                  sample_datetime=start + dt.timedelta(hours=i + 1))
        for i in range(ROWS)
    )  # fmt: skip


@pytest.fixture(autouse=True)
def role_groups():
    # A transactional test's flush removes the role groups that a data migration created.
    for role in roles.ALL_ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def api(client_for, make_user, site):
    return client_for(make_user(roles.DATA_MANAGER, site))


def test_a_whole_export_is_logged_complete_with_its_rows(api, results):
    response = api.get("/api/v1/exports/pkpd/")
    b"".join(response.streaming_content)
    log = ExportLog.objects.get()
    assert (log.status, log.row_count) == (ExportLog.Status.COMPLETE, ROWS)
    assert log.finished_at is not None


# Committed, not in a test transaction: on PostgreSQL the COPY cut short closes the connection, and the log is
# written on a new one, as after a real client leaves.
@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_export_leaves_it_logged_incomplete(api, results):
    response = api.get("/api/v1/exports/pkpd/")
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)  # the header, then 500 rows
    assert elsewhere(lambda: ExportLog.objects.get().status) == ExportLog.Status.STARTED  # not complete mid-stream
    response.close()  # what the WSGI server does when the client goes away
    log = ExportLog.objects.get()
    assert log.status == ExportLog.Status.INCOMPLETE
    assert 500 <= log.row_count < ROWS


def test_an_error_mid_export_leaves_it_logged_incomplete(data_manager, results, monkeypatch):
    def failing(request):
        yield ("a",) * len(request.columns)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(exports, "rows_of", failing)
    request = exports.export_request(exports.DATASETS["pkpd"], data_manager)
    export = exports.start_export(request)
    with pytest.raises(RuntimeError):
        list(export.rows)
    log = ExportLog.objects.get()
    assert (log.status, log.row_count) == (ExportLog.Status.INCOMPLETE, 1)


def elsewhere(work):
    """`work()` on another thread and its own connection, as gunicorn's hooks run beside a request's thread: on
    PostgreSQL the request's connection is busy with its COPY while the rows stream."""
    answers = []

    def run():
        try:
            answers.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return answers[0]


@pytest.mark.django_db(transaction=True)  # committed: the other thread's connection sees the log
def test_a_worker_that_stops_marks_its_unfinished_streams_incomplete(api, results):
    """What gunicorn's worker_abort/worker_exit hooks do when a worker ends with streams in flight."""
    response = api.get("/api/v1/exports/pkpd/")
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks), next(chunks)
    assert elsewhere(exports.mark_unfinished_incomplete) == 1
    log = elsewhere(ExportLog.objects.get)
    assert log.status == ExportLog.Status.INCOMPLETE and log.row_count >= 500
    response.close()  # the stream's own end does not turn it back into anything else
    assert ExportLog.objects.get().status == ExportLog.Status.INCOMPLETE
    assert exports.mark_unfinished_incomplete() == 0


def csv_trailer(body: bytes) -> tuple[bytes, dict]:
    """The content before the trailer line and the trailer's `rows` and `sha256`."""
    content, _, last = body.removesuffix(b"\r\n").rpartition(b"\r\n")
    assert last.startswith(b"# "), last[:80]
    return content + b"\r\n", dict(item.split("=") for item in last.decode()[2:].split(" "))


def test_a_csv_asked_with_a_trailer_ends_with_its_row_count_and_checksum(api, results):
    body = b"".join(api.get("/api/v1/exports/pkpd/?trailer=1").streaming_content)
    content, trailer = csv_trailer(body)
    assert trailer == {"rows": str(ROWS), "sha256": hashlib.sha256(content).hexdigest()}
    assert content.count(b"\r\n") == ROWS + 1  # the header and every row
    plain = b"".join(api.get("/api/v1/exports/pkpd/").streaming_content)
    assert plain == content  # without `trailer`, the CSV as before


def test_a_csv_cut_short_has_no_trailer(api, results):
    response = api.get("/api/v1/exports/pkpd/?trailer=true")
    chunks = iter(response.streaming_content)
    received = next(chunks) + next(chunks)
    response.close()
    assert not received.rstrip().splitlines()[-1].startswith(b"#")


def test_a_quoted_cell_still_counts_as_one_row_in_the_trailer():
    columns = exports.DATASETS["sdtm/dm"].columns
    rows = [tuple(["a,b", 'say "x"', "line\nbreak"] + [""] * (len(columns) - 3))]
    *_, trailer = writers.csv_chunks(columns, rows, trailer=True)
    assert trailer.startswith(b"# rows=1 sha256=")


@pytest.mark.django_db(transaction=True)  # the cut COPY closes PostgreSQL's connection: the next request opens one
def test_json_cut_short_does_not_parse_and_whole_json_does(api, results):
    response = api.get("/api/v1/exports/pkpd/?format=json")
    chunks = iter(response.streaming_content)
    received = next(chunks) + next(chunks) + next(chunks)  # `[`, then two blocks of 500 objects
    response.close()
    with pytest.raises(json.JSONDecodeError):
        json.loads(received)
    assert len(json.loads(b"".join(api.get("/api/v1/exports/pkpd/?format=json").streaming_content))) == ROWS


@pytest.mark.parametrize("export_format", ["json", "parquet"])
def test_a_trailer_is_refused_for_json_and_parquet(api, results, export_format):
    response = api.get(f"/api/v1/exports/pkpd/?format={export_format}&trailer=1")
    assert response.status_code == 400
    assert list(response.json()) == ["trailer"] and "csv only" in response.json()["trailer"][0]
    assert not ExportLog.objects.exists()


def test_a_trailer_that_is_not_a_boolean_is_refused(api, results):
    response = api.get("/api/v1/exports/pkpd/?trailer=maybe")
    assert response.status_code == 400 and list(response.json()) == ["trailer"]
