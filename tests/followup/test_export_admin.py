"""The investigator's PK/PD pages and the export log in the admin."""

import datetime as dt

import pytest
from django.urls import reverse

from followup.models import ExportLog
from tests import factories
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def profiled(site, staff):
    """A treated subject with CAR transgene and CD19 results: aplasia from day 4 to day 28."""
    day0 = cohort.day0_of_cohort()
    subject, start = cohort.treat(site, staff, day0)
    rows = []
    for code, day, car, cd19 in [("D1", 1, 50, 80), ("D4", 4, 900, "0.5"), ("D14", 14, 300, "0.2"), ("D28", 28, 40, 9)]:
        visit = cohort.visit_of(subject, code, None, staff)
        taken = start + dt.timedelta(days=day)
        rows.append(cohort.result(subject, visit, "CARPCR", taken, car, lloq=10))
        rows.append(cohort.result(subject, visit, "CD19", taken, cd19))
    cohort.import_results(rows, staff)
    return subject


def browser_for(client, user):
    client.force_login(user)
    return client


def test_subject_page_shows_the_pkpd_plot_with_the_aplasia_period(client, investigator, profiled):
    page = browser_for(client, investigator).get(reverse("admin:edc_subject_change", args=[profiled.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "aplasia (&lt; 1 cell/µL): from day 4.0" in text and "reconstitution on day 28.0 (24.0 days)" in text
    plot_url = reverse("admin:edc_subject_pkpd_plot", args=[profiled.pk])
    assert f'<img src="{plot_url}"' in text  # the plot is an image of its own URL, drawn once per data version
    plot = client.get(plot_url).content.decode()
    assert plot.startswith("<svg") and "NCT06711146-01-001: PK/PD after infusion" in plot


def test_cohort_overlay_page(client, investigator, profiled):
    page = browser_for(client, investigator).get(reverse("admin:followup_investigator"))
    assert page.status_code == 200
    assert "<svg" in page.content.decode() and "1 subject(s)" in page.content.decode()


def test_cohort_overlay_is_refused_without_a_role(client, profiled):
    page = browser_for(client, factories.UserFactory()).get(reverse("admin:followup_investigator"))
    assert page.status_code == 403


def test_export_log_is_listed_for_data_managers_only(client, data_manager, investigator, site, profiled):
    ExportLog.objects.create(user=investigator, started_at=profiled.created, dataset="pkpd", format="csv", row_count=8)
    url = reverse("admin:followup_exportlog_changelist")
    assert browser_for(client, data_manager).get(url).content.decode().count("pkpd") >= 1
    client.logout()
    assert browser_for(client, investigator).get(url).status_code == 403
