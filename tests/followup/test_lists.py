"""Follow-up list endpoints and changelists run the same number of queries for 1 and 20 subjects."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from edc import services as edc_services
from edc.models import Visit
from followup import services
from followup.models import AdverseEvent, PrednisoneDose
from tests import factories
from tests.followup.conftest import SHANGHAI, infuse

pytestmark = pytest.mark.django_db
ROUTES = ["/api/v1/adverse-events/", "/api/v1/prednisone-doses/", "/api/v1/milestones/"]
CHANGELISTS = ["/admin/followup/adverseevent/", "/admin/followup/prednisonedose/", "/admin/followup/milestone/"]


def add_subjects(site, staff, n):
    for _ in range(n):
        subject = factories.make_subject(site, staff)
        start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=120), dt.time(10), tzinfo=SHANGHAI)
        infuse(subject, staff, start)
        d7 = Visit.objects.get(subject=subject, code="D7")
        edc_services.save_crf(PrednisoneDose(subject=subject, visit=d7, prednisone_mg_per_day=Decimal(10)), user=staff)
        edc_services.save_crf(
            AdverseEvent(subject=subject, term="CRS", category="CRS", onset_date=start.date() + dt.timedelta(days=2),
                         relatedness="PROBABLE", max_temperature_c=Decimal("38.5")),
            user=staff,
        )  # fmt: skip
    services.scan_milestones(dt.date.today())


def count(get, url):
    get(url)  # warm-up: roles, sites and content types are cached on first use
    with CaptureQueriesContext(connection) as captured:
        response = get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ROUTES)
def test_list_endpoints(url, site, staff, staff_api):
    add_subjects(site, staff, 1)
    one = count(lambda u: staff_api.get(u + "?page_size=500"), url)
    add_subjects(site, staff, 19)
    assert count(lambda u: staff_api.get(u + "?page_size=500"), url) == one


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelists(url, client, site, staff):
    client.force_login(staff)
    add_subjects(site, staff, 1)
    one = count(client.get, url)
    add_subjects(site, staff, 19)
    assert count(client.get, url) == one
