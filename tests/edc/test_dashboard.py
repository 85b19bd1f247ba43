"""The study status dashboard and the home page's work lists: who opens them (README's role table), what they
show, where they link, and that they cost the same SQL queries for 1 subject as for 10."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from edc import roles, services
from edc.models import DataQuery, Lock, Subject, Visit
from tests import factories
from tests.screening import factories as screening

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/edc/visit/dashboard/"
HOME = "/admin/"


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone())


def followed_subject(site, people) -> Subject:
    """Infused 20 days ago: D1 done and locked, D4 done, verified and signed (ready to lock), D7 done (to verify
    and sign), D10 done with an open query, D14 overdue with an answered query, D21 due today, D28 due this week
    (its window opens in 6 days), M2 and later scheduled."""
    staff, monitor, investigator, data_manager = people
    subject = factories.make_subject(site, staff)
    day0 = timezone.localdate() - dt.timedelta(days=20)
    services.save_crf(Visit(subject=subject, code="D0", visit_datetime=at_noon(day0), status="DONE"), user=staff)
    services.schedule_follow_up(subject, day0, user=staff)
    visits = {v.code: v for v in Visit.objects.filter(subject=subject)}
    for code in ("D1", "D4", "D7", "D10"):
        visit = visits[code]
        visit.status, visit.visit_datetime = "DONE", at_noon(visit.planned_date)
        services.save_crf(visit, user=staff, reason="visit done")
    services.lock(Lock.Level.VISIT, visit=visits["D1"], reason="clean", user=data_manager)
    services.verify_source(visits["D4"], user=monitor)
    services.sign(visits["D4"], "REVIEWED", user=investigator, password=factories.PASSWORD)
    services.open_query(visits["D10"], "visit_datetime", "please confirm the time", user=monitor)
    answered = services.open_query(visits["D14"], "status", "was this visit done?", user=monitor)
    services.answer_query(answered, "patient rescheduled", user=staff)
    Subject.objects.filter(pk=subject.pk).update(status=Subject.Status.TREATED)  # as the infusion would
    return subject


@pytest.fixture
def people(staff, monitor, investigator, data_manager):
    return staff, monitor, investigator, data_manager


@pytest.fixture
def browser_for():
    def make(user):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        return client

    return make


def cells(body: str) -> dict[tuple[str, str], str]:
    """(subject, visit code) → state, from the cells' titles and classes."""
    found = re.findall(r'class="state-(\w+)" href="[^"]+" title="([^ ]+) (\w+): [^"]+"', body)
    return {(subject, code): state for state, subject, code in found}


def test_the_dashboard_is_for_clinical_readers_only(site, make_user, people, browser_for):
    followed_subject(site, people)
    for role in roles.ALL_ROLES:
        response = browser_for(make_user(role, site)).get(DASHBOARD)
        assert response.status_code == (200 if role in roles.CLINICAL_READERS else 403), role


def test_each_cell_is_the_visits_state_linked_to_its_crf_page(site, people, browser_for):
    subject = followed_subject(site, people)
    body = browser_for(people[0]).get(DASHBOARD).content.decode()
    states = {code: state for (who, code), state in cells(body).items() if who == subject.subject_id}
    assert states == {
        "D0": "DONE", "D1": "LOCKED", "D4": "SIGNED", "D7": "DONE", "D10": "QUERIES", "D14": "QUERIES",
        "D21": "DUE", "D28": "SCHEDULED", **{code: "SCHEDULED" for code in states if code[0] in "MY"},
    }  # fmt: skip
    codes = re.findall(r'<th scope="col" class="code">([^<]+)</th>', body)
    assert codes[:3] == ["D0 infusion", "D1", "D4"] and codes[-1] == "Y15"  # SCHEDULE order, codes some subject has
    d7 = Visit.objects.get(subject=subject, code="D7")
    assert f'href="{reverse("admin:edc_visit_crf", args=[d7.pk])}" title="{subject.subject_id} D7: done"' in body
    for label in ("scheduled", "due", "overdue", "done", "open queries", "SDV done", "signed", "locked"):
        assert f"</span> {label} (" in body  # the legend, with the count of each state
    text = strip_tags(body)
    assert (
        "edc." not in text
        and "object (" not in text
        and not re.search(r"\bNone\b(?! available)", text)
        and "SCREEN_FAILED" not in text
    )


def test_an_overdue_visit_and_sdv_done_show_as_such(site, people, browser_for):
    staff, monitor, *_ = people
    subject = followed_subject(site, people)
    DataQuery.objects.filter(subject=subject).update(status="CLOSED")
    services.verify_source(Visit.objects.get(subject=subject, code="D7"), user=monitor)
    states = cells(browser_for(staff).get(DASHBOARD).content.decode())
    assert states[(subject.subject_id, "D14")] == "OVERDUE"
    assert states[(subject.subject_id, "D7")] == "VERIFIED"
    assert states[(subject.subject_id, "D10")] == "DONE"


def test_the_dashboard_filters_by_site_and_subject_status(site, other_site, people, make_user, browser_for):
    staff = people[0]
    followed = followed_subject(site, people)
    screened = factories.make_subject(site, staff)
    elsewhere = factories.make_subject(other_site, make_user(roles.SITE_STAFF, other_site))
    both = make_user(roles.MONITOR, site, other_site)
    client = browser_for(both)
    body = client.get(DASHBOARD).content.decode()
    assert followed.subject_id in body and screened.subject_id in body and elsewhere.subject_id in body
    body = client.get(DASHBOARD, {"site": other_site.pk}).content.decode()
    assert followed.subject_id not in body and elsewhere.subject_id in body
    assert "02 Another hospital" in body  # sites by name in the filter
    body = client.get(DASHBOARD, {"status": "SCREENING"}).content.decode()
    assert followed.subject_id not in body and screened.subject_id in body
    assert elsewhere.subject_id not in browser_for(staff).get(DASHBOARD).content.decode()  # own sites only
    assert browser_for(staff).get(DASHBOARD, {"site": other_site.pk}).status_code == 200  # not theirs: refused filter
    assert "Select a valid choice" in browser_for(staff).get(DASHBOARD, {"site": other_site.pk}).content.decode()


def test_the_dashboard_costs_the_same_queries_for_1_and_10_subjects(site, people, browser_for, count_queries):
    client = browser_for(people[1])
    followed_subject(site, people)
    one, response = count_queries(lambda: client.get(DASHBOARD))
    assert response.status_code == 200 and len(cells(response.content.decode())) == 30  # D0 and 29 follow-up visits
    for _ in range(9):
        followed_subject(site, people)
    ten, response = count_queries(lambda: client.get(DASHBOARD))
    assert len(cells(response.content.decode())) == 300
    assert one == ten, (one, ten)


# --- Home page -----------------------------------------------------------------------------------


def work_list(body: str, title: str) -> str:
    """The HTML of one work list of the home page."""
    match = re.search(rf"<h2>{re.escape(title)} \((\d+)\).*?</div>", body, re.S)
    assert match, f"no work list {title!r}"
    return match.group(0)


def test_staff_see_visits_due_and_overdue_and_queries_to_answer(site, people, browser_for):
    subject = followed_subject(site, people)
    body = browser_for(people[0]).get(HOME).content.decode()
    due = work_list(body, "Visits due this week")
    d21, d28 = (Visit.objects.get(subject=subject, code=c) for c in ("D21", "D28"))
    assert "(2)" in due and f'href="{reverse("admin:edc_visit_crf", args=[d21.pk])}">D21<' in due and ">D28<" in due
    assert subject.subject_id in due
    overdue = work_list(body, "Overdue visits")
    assert ">D14<" in overdue and "(1)" in overdue
    to_answer = work_list(body, "Queries to answer")
    query = DataQuery.objects.get(status="OPEN")
    assert "(1)" in to_answer and f'href="{reverse("admin:edc_dataquery_change", args=[query.pk])}">D10 · ' in to_answer
    assert "please confirm the time" in to_answer and "was this visit done" not in to_answer
    assert 'href="/admin/edc/visit/dashboard/"' in body and 'id="content-main"' in body
    assert 'class="app-edc module' in body and body.index("work-list") < body.index('class="app-edc module')
    for other in ("Visits to sign", "Visits to verify (SDV)", "Visits ready to lock"):
        assert other not in body


def test_investigators_see_eligibility_to_confirm_and_visits_to_sign(site, people, browser_for):
    staff = people[0]
    subject = followed_subject(site, people)
    ready = factories.make_subject(site, staff)
    screening.store_screening(ready, staff)
    factories.make_subject(site, staff)  # screening, nothing recorded yet
    body = browser_for(people[2]).get(HOME).content.decode()
    to_sign = work_list(body, "Visits to sign")
    assert "(3)" in to_sign  # D0, D7, D10 done and not signed; D1 is locked, D4 signed
    assert ">D0 infusion<" in to_sign  # by name, not code
    assert ">D7<" in to_sign and ">D10<" in to_sign and ">D4<" not in to_sign and ">D1<" not in to_sign
    eligibility = work_list(body, "Eligibility to confirm")
    assert "(1)" in eligibility and ready.subject_id in eligibility and subject.subject_id not in eligibility
    assert reverse("admin:edc_subject_eligibility", args=[ready.pk]) in eligibility  # the confirmation page
    assert "Queries to answer" not in body


def test_monitors_see_visits_to_verify_and_answered_queries_to_close(site, people, browser_for):
    followed_subject(site, people)
    body = browser_for(people[1]).get(HOME).content.decode()
    to_verify = work_list(body, "Visits to verify (SDV)")
    assert ">D7<" in to_verify and ">D10<" in to_verify and ">D4<" not in to_verify and ">D1<" not in to_verify
    assert "0 of 1 rows verified" in to_verify
    to_close = work_list(body, "Answered queries to close")
    assert "(1)" in to_close and "D14 · " in to_close and "was this visit done?" in to_close


def test_data_managers_see_query_ageing_and_visits_ready_to_lock(site, people, browser_for):
    subject = followed_subject(site, people)
    old = DataQuery.objects.get(status="ANSWERED")
    DataQuery.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=31))
    body = browser_for(people[3]).get(HOME).content.decode()
    ageing = work_list(body, "Query ageing (not closed)")
    assert "0–7 days: 1 · 8–30 days: 0 · over 30 days: 1" in ageing
    assert ageing.index("D14") < ageing.index("D10")  # oldest first
    ready = work_list(body, "Visits ready to lock")
    d4 = Visit.objects.get(subject=subject, code="D4")
    assert "(1)" in ready and f'{reverse("admin:edc_visit_crf", args=[d4.pk])}">D4<' in ready


def test_a_sponsor_viewer_has_no_work_lists_and_no_dashboard_link(site, people, make_user, browser_for):
    followed_subject(site, people)
    body = browser_for(make_user(roles.SPONSOR_VIEWER, site)).get(HOME).content.decode()
    assert 'class="module work-list"' not in body and DASHBOARD not in body
    assert 'class="app-edc module' in body


@pytest.mark.parametrize("who", [0, 1, 2, 3], ids=["staff", "monitor", "investigator", "data_manager"])
def test_the_home_page_costs_the_same_queries_for_1_and_10_subjects(who, site, people, browser_for, count_queries):
    client = browser_for(people[who])
    followed_subject(site, people)
    screening.store_screening(factories.make_subject(site, people[0]), people[0])
    one, response = count_queries(lambda: client.get(HOME))
    assert response.status_code == 200
    for _ in range(9):
        followed_subject(site, people)
        screening.store_screening(factories.make_subject(site, people[0]), people[0])
    ten, response = count_queries(lambda: client.get(HOME))
    assert one == ten, (one, ten)
    text = strip_tags(response.content.decode())
    assert "edc." not in text and "object (" not in text and not re.search(r"\bNone\b(?! available)", text)
