"""The large lists read by keyset (`?cursor=`): every row once however the list grows during the walk, the same
queries on every page and none of them a COUNT, and a cursor that cannot be read refused as bad input."""

import datetime as dt
import io
from base64 import b64encode
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from edc import roles, services
from edc.models import LabResult
from tests import factories

pytestmark = pytest.mark.django_db

LARGE_LISTS = ("lab-results", "visits", "queries")


def add_results(subject, user, n: int, **overrides) -> list[int]:
    """`n` results of the subject, the first `n // 2` sampled at one instant (a panel) so sample times tie."""
    sampled = timezone.now() - dt.timedelta(days=3)
    ids = []
    for i in range(n):
        values = {"analyte": "C3", "value": Decimal("1.2"), "unit": "g/L", "lln": Decimal("0.9"), "uln": Decimal("1.8")}
        values.update(overrides)
        when = sampled if i < n // 2 else sampled + dt.timedelta(minutes=i)
        result = LabResult(subject=subject, sample_datetime=when, lab_name="FAH", **values)
        ids.append(services.save_crf(result, user=user).pk)
    return ids


def walk(api, url: str, on_each_page=lambda page: None) -> tuple[list[int], list[list[str]]]:
    """Every id the cursor walk returns, and the SQL of each page."""
    ids, sql_per_page = [], []
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = api.get(url)
        assert response.status_code == 200, response.content
        assert "count" not in response.data
        ids += [row["id"] for row in response.data["results"]]
        sql_per_page.append([q["sql"] for q in captured])
        on_each_page(response)
        url = response.data["next"]
    return ids, sql_per_page


def test_a_cursor_walk_reads_every_row_once_while_rows_are_added(staff_api, staff, subject):
    before = add_results(subject, staff, 23)
    added = []

    def insert_during_the_walk(page):
        if not added:
            added.extend(add_results(subject, staff, 1))  # a result entered while the client is still reading

    ids, pages = walk(staff_api, "/api/v1/lab-results/?cursor=&page_size=5", insert_during_the_walk)
    assert ids == sorted(before + added)
    assert len(pages) == 5


@pytest.mark.parametrize("route", LARGE_LISTS)
def test_every_cursor_page_costs_the_same_queries_and_counts_nothing(route, staff_api, staff, site, make_user):
    monitor = make_user(roles.MONITOR, site)
    for _ in range(4):
        subject = factories.make_subject(site, staff)
        for result in LabResult.objects.filter(pk__in=add_results(subject, staff, 3)):
            services.open_query(result, "value", "please confirm against the lab report", user=monitor)
        staff_api.post("/api/v1/visits/", {"subject": subject.subject_id, "code": "SCR"}, format="json")

    ids, pages = walk(staff_api, f"/api/v1/{route}/?cursor=&page_size=2")
    assert len(ids) == len(set(ids)) >= 4 and len(pages) >= 2
    assert len({len(sql) for sql in pages}) == 1, [len(sql) for sql in pages]
    assert not [sql for page in pages for sql in page if "COUNT(" in sql.upper()]


def test_page_numbers_still_count_and_are_the_default(staff_api, staff, subject):
    add_results(subject, staff, 3)
    listed = staff_api.get("/api/v1/lab-results/?page=1&page_size=2").data
    assert listed["count"] == 3 and listed["next"].endswith("page=2&page_size=2")
    assert staff_api.get("/api/v1/lab-results/").data["count"] == 3


def test_the_cursor_walk_keeps_the_filters_and_ignores_a_client_ordering(staff_api, staff, site, subject):
    mine = add_results(subject, staff, 4)
    add_results(factories.make_subject(site, staff), staff, 3)
    url = f"/api/v1/lab-results/?cursor=&page_size=3&subject={subject.subject_id}&ordering=-sample_datetime"
    assert walk(staff_api, url)[0] == mine


def test_the_walk_sees_only_the_users_sites(client_for, make_user, staff, site, other_site, subject):
    add_results(subject, staff, 2)
    outsider = client_for(make_user(roles.SITE_STAFF, other_site))
    assert walk(outsider, "/api/v1/lab-results/?cursor=")[0] == []


def encoded(text: str) -> str:
    return b64encode(text.encode()).decode()


@pytest.mark.parametrize("cursor", ["not-base64!", encoded("p=abc"), encoded("o=-1"), "%C3%A9", encoded("p=1;drop")])
def test_a_cursor_that_cannot_be_read_is_a_400_naming_it(cursor, staff_api, staff, subject):
    add_results(subject, staff, 1)
    response = staff_api.get(f"/api/v1/lab-results/?cursor={cursor}")
    assert response.status_code == 400, response.content
    assert list(response.data) == ["cursor"]


def test_page_and_cursor_together_are_refused(staff_api):
    response = staff_api.get("/api/v1/visits/?cursor=&page=2")
    assert response.status_code == 400 and list(response.data) == ["page"]


def test_small_lists_take_no_cursor(staff_api):
    response = staff_api.get("/api/v1/sites/?cursor=")
    assert response.status_code == 400 and list(response.data) == ["cursor"]


def test_seed_demo_leaves_the_planner_statistics_current():
    with CaptureQueriesContext(connection) as captured:
        call_command("seed_demo", "--subjects", "2", stdout=io.StringIO())
    assert captured.captured_queries[-1]["sql"] == "ANALYZE"
