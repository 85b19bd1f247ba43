"""The subject's audit-trail page: filtered, paginated, values as staff read them, constant queries per page."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from edc import roles, services
from edc.admin.subjects import AUDIT_EVENTS_PER_PAGE
from edc.models import LabResult, Visit
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, staff):
    staff.first_name, staff.last_name = "Li", "Wei"
    staff.save()
    client.force_login(staff)
    return client


def lab_result(subject, user, value="0.65", **fields):
    row = LabResult(subject=subject, analyte="C3", value=Decimal(value), unit="g/L", lln=Decimal("0.9"),
                    uln=Decimal("1.8"), sample_datetime=timezone.now() - dt.timedelta(days=1), **fields)  # fmt: skip
    return services.save_crf(row, user=user)


def corrected(row, user, times: int):
    """`times` corrections of the value, each one event of the trail."""
    for n in range(times):
        row.value = Decimal("0.70") + Decimal(n) / 100
        row = services.save_crf(row, user=user, reason=f"correction {n + 1}")
    return row


def page(client, subject, **params):
    return client.get(reverse("admin:edc_subject_audit_trail", args=[subject.pk]), params)


def body(response) -> str:
    return response.content.decode()


def shown_rows(response) -> int:
    return len(response.context["rows"])


def test_the_page_shows_fifty_changes_a_page_with_links_to_the_others(browser, staff, subject):
    corrected(lab_result(subject, staff), staff, 120)
    total = len(services.audit_trail(subject))
    first, last = page(browser, subject), page(browser, subject, page=3)
    assert (first.status_code, shown_rows(first)) == (200, AUDIT_EVENTS_PER_PAGE)
    assert f"{total} changes · page 1 of 3" in body(first) and 'href="?page=2"' in body(first)
    assert shown_rows(last) == total - 2 * AUDIT_EVENTS_PER_PAGE
    assert first.context["rows"][0].event != last.context["rows"][0].event


def test_a_page_past_the_last_or_not_a_number_is_a_400_naming_it(browser, staff, subject):
    past = page(browser, subject, page=9)
    assert past.status_code == 400 and "page 9 is past the last page (1)" in body(past)
    assert page(browser, subject, page="abc").status_code == 400
    assert page(browser, subject, page=0).status_code == 400


def test_the_crf_filter_keeps_that_crfs_changes(browser, staff, subject):
    lab_result(subject, staff)
    response = page(browser, subject, model="edc.labresult")
    records = {row.record for row in response.context["rows"]}
    assert records == {"lab result · C3"}
    assert {row.event.model for row in page(browser, subject).context["rows"]} > {"edc.labresult"}


def test_the_field_filter_matches_a_fields_name_or_label(browser, staff, subject):
    corrected(lab_result(subject, staff), staff, 2)
    response = page(browser, subject, field="VALUE")
    assert {row.event.field for row in response.context["rows"]} == {"value"}
    assert shown_rows(response) == 3  # entered, then corrected twice
    assert {row.event.field for row in page(browser, subject, field="date of birth").context["rows"]} == {
        "date_of_birth"
    }


def test_the_user_filter_matches_a_username_or_full_name(browser, staff, subject, make_user, site):
    other = make_user(roles.SITE_STAFF, site, username="zhang")
    lab_result(subject, other)
    by_name = page(browser, subject, user="li wei")
    assert by_name.context["rows"] and {row.user for row in by_name.context["rows"]} == {"Li Wei"}
    assert {row.event.user for row in page(browser, subject, user="ZHA").context["rows"]} == {"zhang"}


def test_the_date_filter_is_in_site_days_both_ends_included(browser, staff, subject):
    row = lab_result(subject, staff)
    today = timezone.localdate()
    row.history.filter(history_type="+").update(history_date=timezone.now() - dt.timedelta(days=10))
    on_the_day = page(browser, subject, model="edc.labresult", date_from=today - dt.timedelta(days=10),
                      date_to=today - dt.timedelta(days=10))  # fmt: skip
    assert on_the_day.context["rows"] and {r.event.action for r in on_the_day.context["rows"]} == {"created"}
    assert not page(browser, subject, model="edc.labresult", date_from=today).context["rows"]
    assert "No history matches these filters" in body(page(browser, subject, date_to=today - dt.timedelta(days=400)))


def test_bad_filters_are_a_400_naming_the_field(browser, subject):
    backwards = page(browser, subject, date_from="2026-03-02", date_to="2026-03-01")
    assert backwards.status_code == 400 and "2026-03-01 is before the from date 2026-03-02" in body(backwards)
    assert page(browser, subject, date_from="2026-02-30").status_code == 400
    assert page(browser, subject, model="edc.nosuchcrf").status_code == 400
    too_long = page(browser, subject, field="x" * 61)
    assert too_long.status_code == 400 and "at most 60 characters" in body(too_long)


def test_values_are_readable_labels_not_ids_or_codes(browser, staff, subject):
    visit = services.save_crf(Visit(subject=subject, code="SCR", planned_date=timezone.localdate()), user=staff)
    row = lab_result(subject, staff, visit=visit, value="1.500")
    subject.sex = "M"
    services.save_crf(subject, user=staff, reason="sex entered wrongly")
    rows = page(browser, subject).context["rows"]
    shown = {(r.record, r.field): (r.old, r.new) for r in rows}
    assert shown[("subject", "site")] == ("", "01")  # the site's code, not its id
    assert shown[("subject", "sex")] == ("female", "male")  # the choices' labels
    assert shown[("lab result · screening · C3", "visit")] == ("", "screening")  # the visit's name
    assert shown[("lab result · screening · C3", "value")] == ("", "1.5")  # as typed, not 1.500000
    assert shown[("visit · screening", "code")] == ("", "screening")  # the visit's name, not its code
    assert shown[("visit · screening", "status")] == ("", "Scheduled")
    assert {r.user for r in rows} == {"Li Wei"}
    html = body(page(browser, subject, model="edc.labresult"))
    assert f"<td>{visit.pk}</td>" not in html and "1.500000" not in html and "edc.labresult #" not in html
    assert "sex entered wrongly" in body(page(browser, subject, field="sex"))  # the reason column
    assert row.pk not in {r.new for r in rows}


def test_what_a_query_is_about_is_named_not_numbered(browser, staff, subject, make_user, site):
    visit = services.save_crf(Visit(subject=subject, code="SCR", planned_date=timezone.localdate()), user=staff)
    row = lab_result(subject, staff, visit=visit)
    services.open_query(row, "value", "please confirm", user=make_user(roles.MONITOR, site))
    rows = page(browser, subject, model="edc.dataquery").context["rows"]
    shown = {r.field: r.new for r in rows}
    assert shown["target model"] == "lab result"
    assert shown["target id"] == "lab result · screening · C3"  # the record the query is about, not its id
    assert str(row.pk) not in {r.new for r in rows}


def test_times_are_in_site_time(browser, staff, subject):
    lab_result(subject, staff)
    row = page(browser, subject, model="edc.labresult", field="sample").context["rows"][0]
    sample = LabResult.objects.get().sample_datetime
    assert row.new == f"{timezone.localtime(sample):%Y-%m-%d %H:%M}"  # the site is in Asia/Shanghai


def test_queries_are_the_same_for_one_page_of_changes_as_for_three(browser, staff, subject):
    row = lab_result(subject, staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert page(browser, subject).status_code == 200
        return len(captured)

    one_page = queries()
    corrected(row, staff, 2 * AUDIT_EVENTS_PER_PAGE + 10)
    assert page(browser, subject, page=3).status_code == 200
    assert queries() == one_page


def test_the_sponsor_viewer_is_refused(client, make_user, site, subject):
    client.force_login(make_user(roles.SPONSOR_VIEWER, site))
    assert page(client, subject).status_code == 403


def test_the_csv_keeps_every_change_with_its_raw_values(staff_api, staff, subject):
    corrected(lab_result(subject, staff), staff, 60)
    csv = staff_api.get(f"/api/v1/subjects/{subject.subject_id}/audit-trail/")
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert len(lines) == 1 + len(services.audit_trail(subject)) and len(lines) > AUDIT_EVENTS_PER_PAGE
    assert any(re.search(r",value,0\.7\d*,0\.71", line) for line in lines)
    assert factories.PASSWORD
