"""SDV of a whole visit (the visit and its results, `services.verify_visit`) from the visit page, the visit list
and the API, the visit list's SDV column; the lock form that chooses a subject, then one of its visits; the
read-only lock page."""

import datetime as dt
import html
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from edc import roles, services
from edc.models import LabResult, Lock, Site, SourceVerification, Visit
from tests import factories

pytestmark = pytest.mark.django_db

VISITS = reverse("admin:edc_visit_changelist")
LOCKS = reverse("admin:edc_lock_changelist")
ADD_LOCK = reverse("admin:edc_lock_add")
BERLIN = ZoneInfo("Europe/Berlin")


def done_visit(subject, user, code="SCR", results=4) -> Visit:
    """A done visit of `subject` with `results` lab results: 1 + results rows to verify."""
    when = timezone.now() - dt.timedelta(days=2)
    visit = services.save_crf(Visit(subject=subject, code=code, status="DONE", visit_datetime=when), user=user)
    for n in range(results):
        sample = when + dt.timedelta(minutes=n)
        result = LabResult(subject=subject, visit=visit, analyte="C3", value=Decimal("1.2"), unit="g/L",
                           lln=Decimal("0.9"), uln=Decimal("1.8"), sample_datetime=sample)  # fmt: skip
        services.save_crf(result, user=user)
    return visit


def browser(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def sdv_column(body: str) -> dict[str, str]:
    """Visit name → its SDV cell, from the visit list."""
    rows = re.findall(r"<tr>.*?</tr>", body, re.S)
    found = {}
    for row in rows:
        code = re.search(r'<td class="field-code">([^<]*)</td>', row)
        cell = re.search(r'<td class="field-sdv_mark">(.*?)</td>', row, re.S)
        if code and cell:
            found[code.group(1)] = strip_tags(cell.group(1)).strip()
    return found


@pytest.fixture
def visit(subject, staff):
    return done_visit(subject, staff)


# --- verify_visit ---------------------------------------------------------------------------------


def test_verifying_a_visit_covers_the_visit_and_every_result_and_again_changes_nothing(visit, monitor, staff):
    voided = LabResult.objects.filter(visit=visit).last()
    services.void_crf(voided, user=staff, reason="entered twice")
    verified = services.verify_visit(visit, user=monitor)
    results = LabResult.objects.filter(visit=visit, voided=False)
    assert {(v.target_model, v.target_id) for v in verified} == {("edc.visit", visit.pk)} | {
        ("edc.labresult", r.pk) for r in results
    }
    assert all(v.verified_by == monitor and v.verified_version == 1 for v in verified)
    attestation = services.visit_attestation(visit)
    assert (attestation.verified, attestation.rows) == (4, 4)  # the voided result is not a row of the visit
    assert attestation.last_verification.verified_by == monitor
    history = SourceVerification.history.count()
    again = services.verify_visit(visit, user=monitor)
    assert [v.pk for v in again] == [v.pk for v in verified]
    assert SourceVerification.objects.count() == 4 and SourceVerification.history.count() == history


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.INVESTIGATOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER])
def test_only_monitors_verify_a_visit(visit, make_user, site, role):
    with pytest.raises(PermissionDenied):
        services.verify_visit(visit, user=make_user(role, site))
    assert SourceVerification.objects.count() == 0


def test_a_later_change_to_a_result_withdraws_its_verification_and_the_visit_shows_4_of_5(visit, monitor, staff):
    services.verify_visit(visit, user=monitor)
    assert sdv_column(browser(monitor).get(VISITS).content.decode()) == {"screening": "✔ all 5"}
    result = LabResult.objects.filter(visit=visit).first()
    result.value = Decimal("1.3")
    services.save_crf(result, user=staff, reason="transcription error")
    assert sdv_column(browser(monitor).get(VISITS).content.decode()) == {"screening": "4 of 5"}
    assert services.visit_attestation(visit).verified == 4


# --- The visit page, the visit list, the API ------------------------------------------------------


def test_a_monitor_verifies_the_visit_from_its_page(visit, monitor):
    client = browser(monitor)
    change = reverse("admin:edc_visit_change", args=[visit.pk])
    page = client.get(change).content.decode()
    verify = reverse("admin:edc_visit_verify", args=[visit.pk])
    assert f'action="{verify}"' in page and "Verify this visit (SDV)" in page
    response = client.post(verify, {"next": change})
    assert response.status_code == 302 and response["Location"] == change
    assert SourceVerification.objects.filter(voided=False).count() == 5
    assert "verified against source" in client.get(change).content.decode()


def test_the_verify_page_says_what_it_covers_and_ignores_a_next_address_elsewhere(visit, monitor):
    client = browser(monitor)
    verify = reverse("admin:edc_visit_verify", args=[visit.pk])
    page = client.get(verify).content.decode()
    assert "5 record(s), 0 of them verified already" in page
    response = client.post(verify, {"next": "https://elsewhere.example/"})
    assert response["Location"] == reverse("admin:edc_visit_crf", args=[visit.pk])  # the visit's own page


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.INVESTIGATOR, roles.DATA_MANAGER])
def test_other_roles_cannot_verify_a_visit_in_the_admin_or_the_api(visit, make_user, site, client_for, role):
    user = make_user(role, site)
    page = browser(user).get(reverse("admin:edc_visit_change", args=[visit.pk])).content.decode()
    assert "Verify this visit" not in page
    assert browser(user).post(reverse("admin:edc_visit_verify", args=[visit.pk])).status_code == 403
    assert client_for(user).post(f"/api/v1/visits/{visit.pk}/verify/").status_code == 403
    assert SourceVerification.objects.count() == 0


def test_the_api_verifies_a_visit_with_its_results(visit, monitor, client_for, make_user, other_site):
    response = client_for(monitor).post(f"/api/v1/visits/{visit.pk}/verify/")
    assert response.status_code == 200, response.content
    assert response.data["visit"] == visit.pk and len(response.data["verifications"]) == 5
    assert response.data["verifications"][0]["target_model"] == "edc.visit"
    again = client_for(monitor).post(f"/api/v1/visits/{visit.pk}/verify/")
    assert [v["id"] for v in again.data["verifications"]] == [v["id"] for v in response.data["verifications"]]
    with_a_body = client_for(monitor).post(f"/api/v1/visits/{visit.pk}/verify/", {"all": True}, format="json")
    assert with_a_body.status_code == 400 and "body" in with_a_body.data
    elsewhere = make_user(roles.MONITOR, other_site)
    assert client_for(elsewhere).post(f"/api/v1/visits/{visit.pk}/verify/").status_code == 404


def test_the_visit_list_action_verifies_each_visit_with_its_results(subject, staff, monitor):
    visits = [done_visit(subject, staff, "SCR", results=2), done_visit(subject, staff, "BL", results=3)]
    response = browser(monitor).post(
        VISITS, {"action": "mark_source_verified", "_selected_action": [v.pk for v in visits]}, follow=True
    )
    assert "2 visit(s) verified with their results (7 record(s))" in response.content.decode()
    assert sdv_column(response.content.decode()) == {"screening": "✔ all 3", "baseline": "✔ all 4"}


def test_the_visit_list_shows_sdv_in_the_same_queries_for_1_and_10_visits(site, staff, monitor, count_queries):
    client = browser(monitor)
    subject = factories.make_subject(site, staff)
    partly = done_visit(subject, staff, "SCR")
    services.verify_source(partly, user=monitor)
    services.verify_source(LabResult.objects.filter(visit=partly).first(), user=monitor)
    one, response = count_queries(lambda: client.get(VISITS))
    assert sdv_column(response.content.decode()) == {"screening": "2 of 5"}
    for _ in range(9):
        services.verify_visit(done_visit(factories.make_subject(site, staff), staff, "BL"), user=monitor)
    ten, response = count_queries(lambda: client.get(VISITS))
    column = sdv_column(response.content.decode())
    assert len(re.findall(r'class="field-sdv_mark"', response.content.decode())) == 10
    assert column["screening"] == "2 of 5" and column["baseline"] == "✔ all 5"
    assert one == ten, (one, ten)


def test_a_visit_nobody_verified_shows_a_dash(visit, staff):
    assert sdv_column(browser(staff).get(VISITS).content.decode()) == {"screening": "—"}


# --- The lock form ----------------------------------------------------------------------------------


def visit_options(body: str) -> list[str]:
    select = re.search(r'<select name="visit".*?</select>', body, re.S).group(0)
    return [strip_tags(o) for o in re.findall(r'<option value="\d+".*?</option>', select, re.S)]


def test_the_lock_form_offers_the_visits_of_the_chosen_subject_only(site, other_site, staff, data_manager):
    subject, neighbour = factories.make_subject(site, staff), factories.make_subject(site, staff)
    done_visit(subject, staff, "SCR", results=0)
    done_visit(subject, staff, "BL", results=0)
    done_visit(neighbour, staff, "SCR", results=0)
    far = factories.make_subject(other_site, staff)
    client = browser(data_manager)
    blank = client.get(ADD_LOCK).content.decode()
    assert visit_options(blank) == [] and "choose the subject first" in blank and "Show the subject" in blank
    chosen = client.post(ADD_LOCK, {"level": "VISIT", "subject": subject.pk, "_choose_subject": "1"})
    assert chosen.status_code == 302 and Lock.objects.count() == 0
    page = client.get(chosen["Location"]).content.decode()
    options = visit_options(page)
    assert len(options) == 2 and options[0].startswith("screening, done ") and options[1].startswith("baseline")
    assert f'<option value="{subject.pk}" selected>{subject.subject_id}</option>' in page
    assert neighbour.subject_id not in page
    # A subject of another site in the address is no choice: dropped, no visits offered.
    elsewhere = client.get(ADD_LOCK, {"level": "VISIT", "subject": far.pk})
    assert elsewhere.status_code == 200 and visit_options(elsewhere.content.decode()) == []
    assert far.subject_id not in elsewhere.content.decode()
    assert client.get(ADD_LOCK, {"subject": "not-a-number"}).status_code == 200


def test_the_subject_is_searched_by_its_id_among_the_users_sites(site, other_site, staff, data_manager):
    mine = factories.make_subject(site, staff)
    far = factories.make_subject(other_site, staff)
    search = {"app_label": "edc", "model_name": "lock", "field_name": "subject"}
    client = browser(data_manager)
    found = client.get(reverse("admin:autocomplete"), {**search, "term": mine.subject_id}).json()["results"]
    assert [r["text"] for r in found] == [mine.subject_id]
    assert client.get(reverse("admin:autocomplete"), {**search, "term": far.subject_id}).json()["results"] == []


def test_a_visit_of_another_subject_or_no_reason_is_refused_on_the_form(site, staff, data_manager):
    subject, neighbour = factories.make_subject(site, staff), factories.make_subject(site, staff)
    theirs = done_visit(neighbour, staff, results=0)
    client = browser(data_manager)
    wrong = client.post(ADD_LOCK, {"level": "VISIT", "subject": subject.pk, "visit": theirs.pk, "reason": "clean"})
    assert wrong.status_code == 200 and wrong.context["adminform"].form.errors["visit"] == [
        f"choose one of {subject}'s visits"
    ]
    no_reason = client.post(ADD_LOCK, {"level": "VISIT", "subject": neighbour.pk, "visit": theirs.pk, "reason": " "})
    assert "reason" in no_reason.context["adminform"].form.errors
    no_visit = client.post(ADD_LOCK, {"level": "VISIT", "subject": subject.pk, "reason": "clean"})
    assert no_visit.context["adminform"].form.errors["visit"] == ["a visit lock names the visit"]
    assert Lock.objects.count() == 0


def test_a_data_manager_locks_a_visit_from_the_form(site, staff, data_manager):
    subject = factories.make_subject(site, staff)
    visit = done_visit(subject, staff, results=0)
    form = {"level": "VISIT", "subject": subject.pk, "visit": visit.pk, "reason": "monitored and signed"}
    response = browser(data_manager).post(ADD_LOCK, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    lock = Lock.objects.get()
    assert (lock.visit, lock.subject, lock.locked_by, lock.active) == (visit, subject, data_manager, True)


def test_the_api_refuses_a_visit_lock_naming_another_subject(site, staff, data_manager, client_for):
    subject, neighbour = factories.make_subject(site, staff), factories.make_subject(site, staff)
    theirs = done_visit(neighbour, staff, results=0)
    body = {"level": "VISIT", "subject": subject.subject_id, "visit": theirs.pk, "reason": "clean"}
    response = client_for(data_manager).post("/api/v1/locks/", body, format="json")
    assert response.status_code == 400 and "visit" in response.data and Lock.objects.count() == 0


# --- The read-only lock page ------------------------------------------------------------------------


@pytest.fixture
def visit_lock(site, subject, staff, data_manager):
    Site.objects.filter(pk=site.pk).update(timezone="Europe/Berlin")
    visit = done_visit(subject, staff, results=1)
    lock = services.lock(Lock.Level.VISIT, visit=visit, reason="SDV and signature done", user=data_manager)
    Lock.objects.filter(pk=lock.pk).update(locked_at=dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC))
    return Lock.objects.get(pk=lock.pk)


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.INVESTIGATOR, roles.MONITOR])
def test_the_lock_page_says_what_is_locked_by_whom_when_and_why_read_only(visit_lock, make_user, site, role):
    page = browser(make_user(role, site)).get(reverse("admin:edc_lock_change", args=[visit_lock.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    done = visit_lock.visit.visit_datetime.astimezone(BERLIN)
    assert (
        f"{visit_lock.subject.subject_id} · visit screening, done {done:%Y-%m-%d} (the visit and its results)" in body
    )
    assert "Why the data is locked" not in body  # the add form's help, not the page's
    assert visit_lock.locked_by.get_full_name() in body
    assert "2026-11-02 07:00" in body  # 06:00 UTC in Berlin, the site's time
    assert "SDV and signature done" in body
    assert 'name="unlock_reason"' not in body and 'value="Unlock"' not in body and 'name="_save"' not in body


def test_a_data_manager_unlocks_with_a_reason_then_the_page_is_read_only(visit_lock, data_manager):
    client = browser(data_manager)
    url = reverse("admin:edc_lock_change", args=[visit_lock.pk])
    page = client.get(url).content.decode()
    assert 'name="unlock_reason"' in page and 'value="Unlock"' in page and "_continue" not in page
    refused = client.post(url, {"unlock_reason": ""})
    assert refused.status_code == 200 and "unlock_reason" in refused.context["adminform"].form.errors
    assert Lock.objects.get().active
    assert client.post(url, {"unlock_reason": "a query reopened"}).status_code == 302
    assert not Lock.objects.get().active
    page = client.get(url).content.decode()
    assert f"unlocked by {data_manager.get_full_name()}" in page and "a query reopened" in page
    assert 'name="unlock_reason"' not in page and 'name="_save"' not in page


def test_the_lock_list_names_each_lock_in_words(visit_lock, data_manager, subject):
    services.lock(Lock.Level.SUBJECT, subject=subject, reason="casebook frozen", user=data_manager)
    services.lock(Lock.Level.STUDY, reason="database lock", user=data_manager)
    body = browser(data_manager).get(LOCKS).content.decode()
    cells = [
        html.unescape(strip_tags(c)).strip()
        for c in re.findall(r'<t[hd] class="field-locked_what">(.*?)</t[hd]>', body, re.S)
    ]
    assert cells == [
        "the whole study (every subject at every site)",
        f"{subject.subject_id}'s casebook (every visit and record)",
        f"{subject.subject_id} · visit screening, done {visit_lock.visit.visit_datetime.astimezone(BERLIN):%Y-%m-%d}"
        " (the visit and its results)",
    ]
    assert body.count(data_manager.get_full_name()) >= 3 and "2026-11-02 07:00" in body
