"""The lupus outcomes in headless Chromium: the investigator's swimmer plot with its legend, and the visit CRF's
computed block after site staff save a SELENA-SLEDAI assessment."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from edc import roles
from edc import services as edc_services
from edc.models import Visit
from followup.models import PrednisoneDose
from screening.models import SledaiAssessment
from tests import factories
from tests.browser.test_site_flow import Admin

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(make_user, site):
    users = {}
    for role, name in ((roles.SITE_STAFF, "Staff"), (roles.INVESTIGATOR, "Investigator")):
        user = make_user(role, site, username=role)
        user.first_name = name
        user.save(update_fields=["first_name"])
        users[role] = user
    return users


@pytest.fixture
def in_remission(site, people):
    """Infused 100 days ago; SLEDAI 10 at baseline, 0 with PGA 0.2 on 5 mg prednisone at M3."""
    staff = people[roles.SITE_STAFF]
    subject = factories.make_subject(site, staff)
    infused_at = timezone.now() - dt.timedelta(days=100)
    edc_services.save_crf(
        Visit(subject=subject, code="D0", visit_datetime=infused_at, status=Visit.Status.DONE), user=staff
    )
    day0 = edc_services.site_time(infused_at, site).date()
    edc_services.schedule_follow_up(subject, day0, user=staff)
    edc_services.save_crf(
        SledaiAssessment(subject=subject, assessment_date=day0 - dt.timedelta(days=5),
                         descriptors=["ARTHRITIS", "RASH", "LOW_COMPLEMENT", "DNA_BINDING"], pga=Decimal("1.5")),
        user=staff,
    )  # fmt: skip
    m3 = Visit.objects.get(subject=subject, code="M3")
    m3.visit_datetime, m3.status = infused_at + dt.timedelta(days=90), Visit.Status.DONE
    edc_services.save_crf(m3, user=staff, reason="visit performed")
    edc_services.save_crf(
        SledaiAssessment(subject=subject, visit=m3, assessment_date=day0 + dt.timedelta(days=90), descriptors=[],
                         pga=Decimal("0.2")),
        user=staff,
    )  # fmt: skip
    edc_services.save_crf(PrednisoneDose(subject=subject, visit=m3, prednisone_mg_per_day=Decimal("5")), user=staff)
    return m3


def test_swimmer_plot_and_visit_crf_outcomes(browser, live_server, screenshots, people, in_remission):
    admin = Admin(browser, live_server.url, screenshots)
    admin.log_in(people[roles.SITE_STAFF])
    admin.open(f"/admin/edc/visit/{in_remission.pk}/crf/", ".crf-outcomes")
    block = admin.text(".crf-outcomes")
    assert "PGA 0.2 < 0.5" in block and "prednisone dose 5 mg/day ≤ 5" in block and "-10 points" in block
    admin.screenshot("visit-crf-outcomes")
    admin.log_out()

    admin.log_in(people[roles.INVESTIGATOR])
    admin.open("/admin/followup/exportlog/investigator/", ".swimmer-plot svg")
    legend = browser.find_element(By.CSS_SELECTOR, ".swimmer-plot svg").get_attribute("innerHTML")
    for entry in ("treatment-free DORIS", "B-cell aplasia", "CRS grade 1", "severe flare", "PCR negativity confirmed"):
        assert entry in legend
    admin.screenshot("investigator-swimmer-plot")
