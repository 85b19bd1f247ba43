"""A 50,000-row export is streamed from the cursor: chunk by chunk, with bounded memory."""

import datetime as dt
import tracemalloc
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse

from edc import roles
from edc.models import LabResult
from followup.models import ExportLog
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db
ROWS = 50_000
SUBJECTS = 2
# One fetch of the cursor (5,000 rows) and one CSV block; a materialised export would hold all 50,000 rows,
# several times the size of the CSV itself (asserted above 3 MB).
MEMORY_BOUND = 16 * 1024 * 1024


@pytest.fixture
def many_results(site, staff):
    """50,000 CD19 results, written with bulk_create: this test measures the export, not data entry."""
    day0 = cohort.day0_of_cohort()
    for _ in range(SUBJECTS):
        subject, start = cohort.treat(site, staff, day0)
        LabResult.objects.bulk_create(
            (
                LabResult(
                    subject=subject,
                    analyte="CD19",
                    value=Decimal(i % 300) + Decimal("0.25"),
                    unit="cells/µL",
                    sample_datetime=start + dt.timedelta(minutes=10 * (i + 1)),
                )  # fmt: skip
                for i in range(ROWS // SUBJECTS)
            ),
            batch_size=5000,
        )


def test_a_large_export_streams_in_bounded_memory(client_for, make_user, site, many_results):
    api = client_for(make_user(roles.INVESTIGATOR, site))
    tracemalloc.start()
    try:
        response = api.get("/api/v1/exports/pkpd/")
        assert isinstance(response, StreamingHttpResponse)
        chunks = total = 0
        for chunk in response.streaming_content:  # consumed as a client would, never joined
            chunks += 1
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ExportLog.objects.get().row_count == ROWS
    assert chunks > 50 and total > 3_000_000
    assert peak < MEMORY_BOUND, f"peak {peak / 1e6:.1f} MB"
