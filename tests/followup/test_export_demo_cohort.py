"""Every export route, in every format, for both exporting roles, read to its last byte from the demo cohort on
PostgreSQL (`seed_demo --seed 1019`): the cohort whose pkpd export once hung mid-COPY. A hang fails on the timeout."""

import csv
import io
import json
import os

import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from edc.models import LabResult, Subject, Visit
from followup.exports import FORMATS
from followup.exports.datasets import LB_ANALYTES, PK_ANALYTES, PKPD_ANALYTES
from followup.models import AdverseEvent, AdverseEventTreatment, ExportLog
from followup.rules import INFECTION_FIELDS
from infusion.models import Infusion, LymphodepletionDose
from screening.models import Medication, SledaiAssessment

pytestmark = [pytest.mark.services, pytest.mark.django_db]

# A demo export takes well under a second. A query sent while a COPY holds psycopg's connection lock waits on that
# lock for ever, and a signal's exception meets the lock again on its way out (the cursor's close): the thread
# method ends the run instead, every stack printed.
EXPORT_TIMEOUT = pytest.mark.timeout(30, method="thread", func_only=True)
EXPORTERS = ("datamanager", "sponsor")  # seed_demo's data manager (full data) and sponsor viewer (pseudonymised)


@pytest.fixture(scope="module")
def demo_cohort(django_db_setup, django_db_blocker):
    """The demo cohort, seeded once for the module in a transaction that is rolled back after its last test."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        if os.environ.get("EDC_REQUIRE_SERVICES") == "1":
            pytest.fail("EDC_REQUIRE_SERVICES=1 but DATABASE_URL is not a PostgreSQL URL")
        pytest.skip("needs PostgreSQL (pkpd is read through COPY there): run `make test-services`")
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", seed=1019, stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


def _results(analytes) -> QuerySet:
    return LabResult.objects.filter(voided=False, analyte__in=analytes)


LAB_PKPD_ANALYTES = [a for a in PKPD_ANALYTES if a != "SLEDAI"]


def _pkpd_visits() -> int:
    """The wide shape's rows: one per visit with a pkpd result or a SELENA-SLEDAI total."""
    visits = set(_results(LAB_PKPD_ANALYTES).values_list("visit_id", flat=True))
    visits |= set(SledaiAssessment.objects.filter(voided=False).values_list("visit_id", flat=True))
    return len(visits - {None})


def _pk_profiles() -> int:
    """One NCA per infused subject × PK analyte with a result."""
    infused = Visit.objects.filter(code="D0", status=Visit.Status.DONE, voided=False, visit_datetime__isnull=False)
    profiles = _results(PK_ANALYTES).filter(subject__in=infused.values("subject"))
    return profiles.values("subject", "analyte").distinct().count()


# Each export route (a dataset, or a dataset and a shape) → its row count, from its source tables' non-voided rows
# rather than through the export's code.
SOURCE_ROWS = {
    "pkpd": lambda: _results(LAB_PKPD_ANALYTES).count() + SledaiAssessment.objects.filter(voided=False).count(),
    "pkpd wide": _pkpd_visits,
    "pk-parameters": _pk_profiles,
    "sdtm/dm": lambda: Subject.objects.filter(voided=False).count(),
    "sdtm/ex": lambda: (
        2 * LymphodepletionDose.objects.filter(voided=False).count() + Infusion.objects.filter(voided=False).count()
    ),  # fludarabine and cyclophosphamide per lymphodepletion day, then the infusion
    "sdtm/lb": lambda: _results(LB_ANALYTES).count(),
    "sdtm/pc": lambda: _results(PK_ANALYTES).count(),
    "sdtm/pp": lambda: 5 * _pk_profiles(),  # PP_TESTS per profile
    "sdtm/ae": lambda: AdverseEvent.objects.filter(voided=False).count(),
    "sdtm/suppae": lambda: sum(  # one row per infection field given
        sum(value not in (None, "") for value in row)
        for row in AdverseEvent.objects.filter(voided=False).values_list(*INFECTION_FIELDS)
    ),
    "sdtm/cm": lambda: Medication.objects.filter(voided=False).count(),
    "sdtm/suppcm": lambda: AdverseEventTreatment.objects.filter(
        voided=False, medication__voided=False, adverse_event__voided=False
    ).count(),  # CMAENO per medication given for an adverse event
    "safety": lambda: Visit.objects.filter(
        code="D0", status=Visit.Status.DONE, voided=False, visit_datetime__isnull=False, subject__voided=False
    ).count(),  # one row per treated subject
}


def _rows_read(export_format: str, content: bytes) -> int:
    if export_format == "csv":
        return len(list(csv.reader(io.StringIO(content.decode())))) - 1  # the header
    if export_format == "json":
        return len(json.loads(content))
    return pq.read_table(io.BytesIO(content)).num_rows


@EXPORT_TIMEOUT
@pytest.mark.parametrize("username", EXPORTERS)
# XPT is written whole, for SDTM only: the demo package test (test_submission_demo.py) reads it back.
@pytest.mark.parametrize("export_format", [f for f in FORMATS if f != "xpt"])
@pytest.mark.parametrize("route", SOURCE_ROWS)
def test_every_export_of_the_demo_cohort_streams_to_its_end(demo_cohort, client_for, route, export_format, username):
    dataset, _, shape = route.partition(" ")
    query = {"format": export_format, **({"shape": shape} if shape else {})}
    response = client_for(get_user_model().objects.get(username=username)).get(f"/api/v1/exports/{dataset}/", query)
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    rows = _rows_read(export_format, b"".join(response.streaming_content))
    log = ExportLog.objects.latest("pk")
    assert (log.user.username, log.pseudonymised) == (username, username == "sponsor") and log.finished_at
    expected = SOURCE_ROWS[route]()
    assert expected > 0 and rows == log.row_count == expected
