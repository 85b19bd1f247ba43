"""The subject page of a treated subject within its budget (issue #14): as many queries and as many bytes after two
years of follow-up as after two weeks, for each role that reads it; a read-only visit grid linked to each visit's
CRF page, the lab results on their own paged list, panels and plot kept until the subject's data change."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import formats, timezone

from edc import roles, services
from edc.admin import visit_page_url
from edc.models import LabResult, Visit
from followup import plots
from tests import casebook, factories
from tests.followup import export_cohort

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 20  # a view of the page whose panels are cached (no data changed since the last view)
COLD_QUERY_BUDGET = 50  # the first view after a change: each of the ten panels reads its data again
SIZE_BUDGET = 150_000  # bytes of HTML
TWO_WEEKS, TWO_YEARS = 14, 745  # days since the infusion: D1…D14 done, or D1…M24 done


def page_url(subject) -> str:
    return reverse("admin:edc_subject_change", args=[subject.pk])


def view(client, count_queries, subject):
    queries, response = count_queries(lambda: client.get(page_url(subject)))
    assert response.status_code == 200
    return queries, len(response.content)


@pytest.fixture
def followed(site, staff):
    """Two treated subjects of the same site: two weeks and two years of follow-up, a result of six analytes at
    every visit done."""
    return {days: casebook.followed_casebook(factories.make_subject(site, staff), staff, days)
            for days in (TWO_WEEKS, TWO_YEARS)}  # fmt: skip


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.INVESTIGATOR, roles.MONITOR])
def test_two_years_of_follow_up_cost_what_two_weeks_do(client, count_queries, make_user, site, followed, role):
    client.force_login(make_user(role, site))
    view(client, count_queries, followed[TWO_WEEKS])  # what a process loads once (content types)
    budgets = {}
    for days, subject in followed.items():
        cache.clear()
        cold = view(client, count_queries, subject)
        warm = view(client, count_queries, subject)
        budgets[days] = (cold, warm)
        assert warm[0] <= QUERY_BUDGET, f"{days} days: {warm[0]} queries with the panels cached"
        assert cold[0] <= COLD_QUERY_BUDGET, f"{days} days: {cold[0]} queries on the first view"
        assert cold[1] <= SIZE_BUDGET and warm[1] <= SIZE_BUDGET, f"{days} days: {cold[1]} bytes"
    (cold_weeks, warm_weeks), (cold_years, warm_years) = budgets[TWO_WEEKS], budgets[TWO_YEARS]
    assert (cold_years[0], warm_years[0]) == (cold_weeks[0], warm_weeks[0])
    assert abs(warm_years[1] - warm_weeks[1]) < 5_000  # dates and marks of the visits done, no form or row more


def visit_grid(html: str) -> str:
    return html[html.index('class="visit-grid"') : html.index("</table>", html.index('class="visit-grid"'))]


def test_the_visit_grid_is_read_only_and_links_each_visit_to_its_crf_page(client, staff, followed):
    subject = followed[TWO_YEARS]
    client.force_login(staff)
    html = client.get(page_url(subject)).content.decode()
    grid = visit_grid(html)
    visits = Visit.objects.filter(subject=subject, voided=False)
    assert grid.count("<tr>") == visits.count() + 1  # the header
    for visit in visits:
        assert f'href="{visit_page_url(visit.pk)}"' in grid
    assert "<input" not in grid and "<select" not in grid
    assert 'name="visit_set-' not in html and 'name="labresult_set-' not in html  # no inline forms any more
    m24 = visits.get(code="M24")
    row = grid[grid.index(f'href="{visit_page_url(m24.pk)}"') :].split("</tr>")[0]
    # Planned, window, done at 09:00 site time (01:00 UTC), its status and state by their labels.
    assert str(m24.planned_date) in row and f"{m24.window_start} – {m24.window_end}" in row
    assert f"{m24.planned_date} 09:00" in row and "Done" in row and "done" in row and "in window" in row
    assert "D0 infusion" in grid and ">D0<" not in grid  # names, not codes


def test_lab_results_are_a_link_to_their_own_paged_list(client, staff, followed):
    subject = followed[TWO_YEARS]
    client.force_login(staff)
    html = client.get(page_url(subject)).content.decode()
    count = LabResult.objects.filter(subject=subject).count()
    match = re.search(r'<a href="([^"]+)">lab results \((\d+)\)</a>', html)
    assert match and int(match.group(2)) == count
    listing = client.get(match.group(1).replace("&amp;", "&"))
    assert listing.status_code == 200
    changelist = listing.context["cl"]
    assert changelist.result_count == count and changelist.list_per_page == 100  # Django's pages
    assert {row.subject_id for row in changelist.result_list} == {subject.pk}
    assert ".000000" not in listing.content.decode()  # results as typed


def test_panels_show_a_change_at_the_next_view(client, staff, followed):
    subject = followed[TWO_WEEKS]
    client.force_login(staff)
    assert "4321" not in client.get(page_url(subject)).content.decode()
    d7 = Visit.objects.get(subject=subject, code="D7")
    result = LabResult.objects.get(visit=d7, analyte="C3")
    result.value = Decimal("4.321")
    services.save_crf(result, user=staff, reason="transcription error")
    assert "4.321" in client.get(page_url(subject)).content.decode()  # the follow-up grid, drawn again


def test_the_plot_is_drawn_once_until_its_data_change(client, staff, followed, monkeypatch):
    subject = followed[TWO_WEEKS]
    drawn = []
    draw = plots.subject_svg
    monkeypatch.setattr(plots, "subject_svg", lambda profile: drawn.append(profile) or draw(profile))
    client.force_login(staff)
    url = reverse("admin:edc_subject_pkpd_plot", args=[subject.pk])
    assert f'src="{url}"' in client.get(page_url(subject)).content.decode()  # an image, not 80 KB inline

    first = client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "image/svg+xml"
    assert first.content.startswith(b"<svg") and len(drawn) == 1
    assert client.get(url).content == first.content and len(drawn) == 1  # from the cache
    assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304

    d7 = Visit.objects.get(subject=subject, code="D7")
    taken = timezone.localtime(d7.visit_datetime) + dt.timedelta(hours=2)
    export_cohort.import_results([export_cohort.result(subject, d7, "CARPCR", taken, 900)], staff)
    again = client.get(url, headers={"if-none-match": first["ETag"]})
    assert again.status_code == 200 and again["ETag"] != first["ETag"] and len(drawn) == 2


def test_planned_and_window_dates_are_read_only_on_the_visit_form(client, staff, followed):
    visit = Visit.objects.get(subject=followed[TWO_WEEKS], code="M3")
    client.force_login(staff)
    page = client.get(reverse("admin:edc_visit_change", args=[visit.pk]))
    assert not {"planned_date", "window_start", "window_end"} & set(page.context["adminform"].form.fields)
    assert formats.date_format(visit.planned_date) in page.content.decode()  # shown, computed by the schedule


def test_the_data_version_counts_each_model_and_changes_with_any_write(staff, followed):
    subject = followed[TWO_WEEKS]
    version = services.data_version(subject)
    for model, path in services.audited_models_of_subject():
        assert version.rows[model] == model.objects.filter(**{path: subject.pk}).count(), model
    assert version.rows[LabResult] > 0 and version.rows[Visit] > 0
    result = LabResult.objects.filter(subject=subject).first()
    services.void_crf(result, user=staff, reason="wrong subject")
    voided = services.data_version(subject)
    assert voided.key != version.key and voided.rows == version.rows  # a void changes `modified`, not the counts
    assert services.data_version(followed[TWO_YEARS]).key != voided.key


def test_a_locked_subjects_screening_rows_are_read_only(client, staff, data_manager, followed):
    subject = followed[TWO_WEEKS]
    client.force_login(staff)
    assert 'name="consent_set-0-consent_date"' in client.get(page_url(subject)).content.decode()
    services.lock("SUBJECT", subject=subject, reason="database lock", user=data_manager)
    html = client.get(page_url(subject)).content.decode()
    assert 'name="consent_set-0-consent_date"' not in html and "__prefix__" not in html  # no blank form to add
