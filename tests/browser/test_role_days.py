"""Each role's day in the real admin, in headless Chromium (issue #14): what each user opens first, clicks and sees.

The data of each day is built through the services (tests/factories.py, screening's builders), not the demo seed.
"""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By

from edc import roles, services
from edc import rules as edc_rules
from edc.models import DataQuery, Deviation, LabResult, Lock, Signature, SourceVerification, Subject, Visit
from followup.models import ExportLog
from followup.services import record_visit_crf
from screening.models import EligibilityDecision
from tests import factories
from tests.browser.admin_driver import Admin, site_clock, work_list
from tests.screening.factories import store_screening

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVE_VISIT = "input[type=submit][value='Save visit']"
SUCCESS = ".messagelist .success"


def treated(site, staff, days_ago: int, **subject_values) -> Subject:
    """A subject infused `days_ago` days ago: what the infusion service records for the kernel (a DONE D0 visit,
    the follow-up schedule, the status)."""
    subject = factories.make_subject(site, staff, **subject_values)
    infused_at = timezone.now() - dt.timedelta(days=days_ago)
    services.save_crf(Visit(subject=subject, code="D0", visit_datetime=infused_at, status=Visit.Status.DONE),
                      user=staff)  # fmt: skip
    services.schedule_follow_up(subject, services.site_time(infused_at, site).date(), user=staff)
    subject.status = Subject.Status.TREATED
    return services.save_crf(subject, user=staff, reason="infused")


def keyed_d7(subject, staff, hgb="128") -> Visit:
    """The subject's D7 keyed on its CRF page's service: done on its planned day, C3 and haemoglobin."""
    visit = Visit.objects.get(subject=subject, code="D7")
    done_at = timezone.now() - dt.timedelta(days=(timezone.localdate() - visit.planned_date).days)
    entries = {
        "visit_datetime": done_at, "status": Visit.Status.DONE,
        "C3__value": Decimal("0.95"), "C3__lln": Decimal("0.9"), "C3__uln": Decimal("1.8"),
        "HGB__value": Decimal(hgb), "HGB__lln": Decimal("115"), "HGB__uln": Decimal("150"),
    }  # fmt: skip
    record_visit_crf(visit, entries, user=staff)
    visit.refresh_from_db()
    return visit


def auto_query_on(visit) -> DataQuery:
    hgb = LabResult.objects.get(visit=visit, analyte="HGB")
    return DataQuery.objects.get(target_model="edc.labresult", target_id=hgb.pk, target_field="value", auto=True)


def crf_path(visit) -> str:
    return reverse("admin:edc_visit_crf", args=[visit.pk])


def test_site_staff_from_the_work_list_to_the_crf_an_empty_test_saves_a_corrected_value_closes_its_query(
    browser, live_server, screenshots, people, site
):
    staff = people[roles.SITE_STAFF]
    subject = treated(site, staff, days_ago=7)  # D7 is planned today: its window is open this week
    baseline = Visit.objects.get(subject=subject, code="D0").visit_datetime - dt.timedelta(days=2)
    for analyte, value, lln, uln in (("PROT24", "1.2", None, "0.15"), ("HGB", "121", "115", "150")):
        services.save_crf(LabResult(subject=subject, analyte=analyte, value=Decimal(value), sample_datetime=baseline,
                                    lln=lln and Decimal(lln), uln=Decimal(uln)), user=staff)  # fmt: skip
    d7 = Visit.objects.get(subject=subject, code="D7")
    admin = Admin(browser, live_server.url, screenshots)

    admin.log_in(staff)
    due = admin.words(work_list("Visits due this week"))
    assert f"{subject.subject_id} D7 window" in due
    admin.screenshot("home-work-lists")
    admin.follow("D7", "#id_HGB__value", within=work_list("Visits due this week"))
    assert browser.current_url.endswith(crf_path(d7))
    # The lab's last reference ranges are proposed beside each test; the 24 h urine protein is left empty.
    assert admin.visible("#id_PROT24__uln").get_attribute("value") == "0.15"
    assert admin.visible("#id_PROT24__value").get_attribute("value") == ""
    visit_day, visit_time = site_clock(timezone.now() - dt.timedelta(minutes=30), site)
    admin.type("#id_visit_datetime_0", visit_day)
    admin.type("#id_visit_datetime_1", visit_time)
    admin.choose_value("#id_status", Visit.Status.DONE)
    admin.type("#id_HGB__value", "55")
    admin.screenshot("crf-keyed-hgb-55-prot24-empty")
    assert f"{d7} saved." in admin.submit(SAVE_VISIT, SUCCESS).text
    badge = admin.text("tr:has(#id_HGB__value) .query-badge")
    assert "query open" in badge and "below the expected 60" in badge
    admin.screenshot("crf-saved-query-badge")
    assert not LabResult.objects.filter(visit=d7, analyte="PROT24").exists()
    query = auto_query_on(d7)
    assert query.status == DataQuery.Status.OPEN

    # The lab report says 125: corrected on the same page, with its reason; the query closes itself.
    admin.type("#id_HGB__value", "125")
    admin.type("#id_change_reason", "transcription error: 125 g/L on the lab report")
    admin.screenshot("crf-corrects-hgb")
    assert f"{d7} saved." in admin.submit(SAVE_VISIT, SUCCESS).text
    assert not browser.find_elements(By.CSS_SELECTOR, ".query-badge")
    assert admin.visible("#id_HGB__value").get_attribute("value") == "125"
    admin.screenshot("crf-query-closed")
    admin.log_out()

    query.refresh_from_db()
    assert (query.status, query.closed_by) == (DataQuery.Status.CLOSED, staff)
    assert LabResult.objects.get(visit=d7, analyte="HGB").value == Decimal("125")
    assert not LabResult.objects.filter(visit=d7, analyte="PROT24").exists()


def test_investigator_confirms_eligibility_then_signs_a_visit_from_its_crf_page(
    browser, live_server, screenshots, people, site
):
    staff, investigator = people[roles.SITE_STAFF], people[roles.INVESTIGATOR]
    candidate = factories.make_subject(site, staff)
    store_screening(candidate, staff)
    subject = treated(site, staff, days_ago=10)
    d7 = keyed_d7(subject, staff, hgb="55")  # its haemoglobin query is still open
    admin = Admin(browser, live_server.url, screenshots)

    admin.log_in(investigator)
    assert candidate.subject_id in admin.words(work_list("Eligibility to confirm"))
    assert f"{subject.subject_id} D7" in admin.words(work_list("Visits to sign"))
    admin.screenshot("home-work-lists")
    admin.follow("eligibility", "#id_password", within=work_list("Eligibility to confirm"))
    assert f"Confirm the eligibility of {candidate}" in admin.text("#content")
    assert f"I, {investigator.get_full_name()}, on " in admin.text(".attestation")
    admin.type("#id_password", factories.PASSWORD)
    admin.screenshot("confirm-eligibility")
    confirmed = admin.submit("input[type=submit][value='Confirm eligibility']", SUCCESS)
    candidate.refresh_from_db()
    assert confirmed.text == f"Eligibility of {candidate} confirmed: {candidate.get_status_display()}."
    admin.screenshot("eligibility-confirmed")
    decision = EligibilityDecision.objects.get(subject=candidate)
    assert (decision.decided_by, decision.signature.meaning) == (investigator, Signature.Meaning.ELIGIBILITY_CONFIRMED)

    admin.open("/admin/", "#work-lists")
    admin.follow("D7", "#content", within=work_list("Visits to sign"))
    assert browser.current_url.endswith(crf_path(d7))
    assert "not signed" in admin.text(".crf-status")
    admin.screenshot("crf-before-signing")
    admin.follow("Sign this visit", "#id_meaning", within=".crf-status")
    assert f"Sign {d7}" in admin.text("#content")
    admin.choose_value("#id_meaning", Signature.Meaning.REVIEWED)
    admin.type("#id_password", factories.PASSWORD)
    admin.tick("#id_over_open_queries")  # "Sign despite 1 open query": the HGB query is listed above it
    assert "Sign despite 1 open query" in admin.text("label[for=id_over_open_queries]")
    admin.screenshot("sign-page")
    assert admin.submit("input[type=submit][value=Submit]", SUCCESS).text == f"{d7} signed."
    admin.open(crf_path(d7), ".crf-status")
    assert f"Reviewed by {investigator.get_full_name()}" in admin.text(".crf-status")
    admin.screenshot("crf-signed")
    admin.log_out()

    signature = Signature.objects.get(target_model="edc.visit", target_id=d7.pk)
    assert (signature.meaning, signature.signed_by) == (Signature.Meaning.REVIEWED, investigator)


def test_monitor_verifies_a_visit_from_the_dashboard_and_closes_an_answered_query(
    browser, live_server, screenshots, people, site
):
    staff, monitor = people[roles.SITE_STAFF], people[roles.MONITOR]
    subject = treated(site, staff, days_ago=10)
    d7 = keyed_d7(subject, staff, hgb="55")
    query = services.answer_query(auto_query_on(d7), "55 g/L confirmed on the lab report; repeat drawn", user=staff)
    admin = Admin(browser, live_server.url, screenshots)

    admin.log_in(monitor)
    assert f"{subject.subject_id} D7" in admin.words(work_list("Visits to verify (SDV)"))
    admin.screenshot("home-work-lists")
    admin.follow("Study status dashboard", "table.status-grid", within="#content-main")
    cell = f"table.status-grid a[title^='{subject.subject_id} D7:']"
    assert admin.text(cell) == "query"
    admin.screenshot("dashboard")
    admin.submit(cell, ".crf-status")
    assert browser.current_url.endswith(crf_path(d7))
    assert "0 of 3 record(s)" in admin.text(".crf-status")
    admin.screenshot("crf-to-verify")
    verified = admin.submit(".crf-verify input[type=submit]", SUCCESS)
    assert verified.text == f"{d7} verified against source: the visit and its results, 3 record(s)."
    assert "✔ all 3" in admin.text(".crf-status")
    assert not browser.find_elements(By.CSS_SELECTOR, ".crf-verify")
    admin.screenshot("crf-verified")

    admin.open("/admin/", "#work-lists")
    answered = admin.words(work_list("Answered queries to close"))
    assert subject.subject_id in answered and "below the expected 60" in answered
    query_link = (By.XPATH, f"{work_list('Answered queries to close')[1]}//td/a")
    admin.submit(query_link, "input[name=_close]")
    assert "55 g/L confirmed on the lab report" in admin.text(".field-answer")
    admin.screenshot("query-answered")
    assert admin.submit("input[name=_close]", SUCCESS).text == "Query closed."
    assert admin.text(".field-status .readonly") == DataQuery.Status.CLOSED.label
    admin.screenshot("query-closed")
    admin.log_out()

    query.refresh_from_db()
    assert (query.status, query.closed_by) == (DataQuery.Status.CLOSED, monitor)
    rows = SourceVerification.objects.filter(subject=subject, voided=False)
    assert rows.count() == 3 and {row.verified_by for row in rows} == {monitor}


def test_data_manager_locks_a_visit_ready_to_lock_and_logs_a_deviation(browser, live_server, screenshots, people,
                                                                         site):  # fmt: skip
    staff, data_manager = people[roles.SITE_STAFF], people[roles.DATA_MANAGER]
    subject = treated(site, staff, days_ago=10)
    d7 = keyed_d7(subject, staff)
    services.verify_visit(d7, user=people[roles.MONITOR])
    services.sign(d7, Signature.Meaning.REVIEWED, user=people[roles.INVESTIGATOR], password=factories.PASSWORD)
    d4 = Visit.objects.get(subject=subject, code="D4")  # its window closed days ago, never done
    admin = Admin(browser, live_server.url, screenshots)

    admin.log_in(data_manager)
    assert f"{subject.subject_id} D7" in admin.words(work_list("Visits ready to lock"))
    admin.screenshot("home-work-lists")
    admin.submit("#content-main a.addlink[href='/admin/edc/lock/add/']", "#id_level")
    admin.choose_value("#id_level", Lock.Level.VISIT)
    admin.search_choose("id_subject", subject.subject_id[-3:], subject.subject_id)
    admin.submit("button[name=_choose_subject]", "#id_visit")
    done_on = services.site_time(d7.visit_datetime, site).date()
    admin.choose("#id_visit", f"D7, done {done_on:%Y-%m-%d}")
    admin.type("#id_reason", "D7 verified and signed: clean")
    admin.screenshot("lock-form")
    locked = admin.submit("input[name=_save][value=Lock]", SUCCESS)
    assert "was added successfully" in locked.text
    assert f"{subject} · visit D7, done {done_on:%Y-%m-%d}" in admin.text("#result_list")
    admin.screenshot("lock-list")
    admin.open("/admin/", "#work-lists")
    assert "Nothing to do." in admin.words(work_list("Visits ready to lock"))

    # The D4 visit was never done within its window: a minor visit-window deviation, reported to the EC.
    admin.submit("#content-main a.addlink[href='/admin/edc/deviation/add/']", "#id_category")
    admin.choose("#id_subject", subject.subject_id)
    admin.choose("#id_visit", f"{subject} · D4")
    admin.choose("#id_category", Deviation.Category.VISIT_WINDOW.label)
    admin.choose("#id_severity", Deviation.Severity.MINOR.label)
    today = timezone.localdate()
    admin.type("#id_deviation_date", f"{d4.window_end:%Y-%m-%d}")
    admin.type("#id_description", "D4 visit not done in its window: the subject could not travel")
    admin.type("#id_corrective_action", "Transport arranged for the next visits")
    admin.tick("#id_reported_to_ec")
    admin.type("#id_reported_to_ec_date", f"{today:%Y-%m-%d}")
    admin.screenshot("deviation-form")
    recorded = admin.submit("input[name=_save]", SUCCESS)
    assert "was added successfully" in recorded.text
    listed = admin.text("#result_list")
    assert "visit window" in listed and "minor" in listed and f"yes, {today:%Y-%m-%d}" in listed
    admin.screenshot("deviation-list")
    admin.log_out()

    lock = Lock.objects.get(active=True)
    assert (lock.level, lock.visit, lock.locked_by) == (Lock.Level.VISIT, d7, data_manager)
    deviation = Deviation.objects.get(subject=subject)
    assert (deviation.visit, deviation.status, deviation.category) == (d4, Deviation.Status.CONFIRMED, "VISIT_WINDOW")
    assert deviation.history.get().history_user == data_manager


def identified_pages(subject, visit, staff) -> list[str]:
    """Every page that shows a subject's identified data, or the clinical data around it."""
    result = LabResult.objects.filter(subject=subject).first()
    deviation = services.record_deviation(
        Deviation(subject=subject, category="CONSENT", severity="MINOR", deviation_date=timezone.localdate(),
                  description="ICF page 4 initialled by the witness only"), user=staff,
    )  # fmt: skip
    return [
        reverse("admin:edc_subject_changelist"),
        reverse("admin:edc_subject_change", args=[subject.pk]),
        reverse("admin:edc_subject_history", args=[subject.pk]),
        reverse("admin:edc_subject_audit_trail", args=[subject.pk]),
        reverse("admin:edc_visit_dashboard"),
        reverse("admin:edc_visit_changelist"),
        reverse("admin:edc_visit_change", args=[visit.pk]),
        crf_path(visit),
        reverse("admin:edc_labresult_changelist"),
        reverse("admin:edc_labresult_change", args=[result.pk]),
        reverse("admin:edc_deviation_changelist"),
        reverse("admin:edc_deviation_change", args=[deviation.pk]),
        reverse("admin:edc_dataquery_changelist"),
        reverse("admin:followup_adverseevent_changelist"),
    ]


def download_pseudonymised_dm(admin, downloads) -> list[dict]:
    """The sponsor's download of the SDTM DM domain as CSV from the admin's exports page (home → Exports)."""
    admin.open("/admin/", "#content-main")
    admin.follow("Exports", "#id_dataset", within="#content-main")
    assert "Your exports are pseudonymised" in admin.text(".export-note")
    admin.choose_value("#id_dataset", "sdtm/dm")
    admin.choose_value("#id_format", "csv")
    admin.screenshot("exports-form")
    saved = admin.download("input[type=submit][value=Download]", downloads)
    assert saved.name == "sdtm-dm.csv"
    return list(csv.DictReader(io.StringIO(saved.read_text())))


def test_sponsor_viewer_is_refused_every_identified_page_and_downloads_a_pseudonymised_export(
    browser, live_server, screenshots, people, site, downloads
):
    staff, sponsor = people[roles.SITE_STAFF], people[roles.SPONSOR_VIEWER]
    subject = treated(site, staff, days_ago=10, initials="QZ", date_of_birth=dt.date(1987, 4, 9))
    d7 = keyed_d7(subject, staff)
    pages = identified_pages(subject, d7, staff)
    admin = Admin(browser, live_server.url, screenshots)

    admin.log_in(sponsor)
    assert not browser.find_elements(By.CSS_SELECTOR, "#work-lists")  # no work to do, only exports
    assert [link.text for link in browser.find_elements(By.CSS_SELECTOR, ".home-link a")] == [
        "Cohort PK overlay", "Exports"
    ]  # fmt: skip
    admin.screenshot("home-app-list-only")
    refused = [path for path in pages if admin.refused(path)]
    assert refused == pages
    admin.open(reverse("admin:edc_subject_change", args=[subject.pk]), "#content")
    assert "QZ" not in admin.text("body") and "1987" not in admin.text("body")
    admin.screenshot("subject-page-refused")

    rows = download_pseudonymised_dm(admin, downloads)
    admin.log_out()

    log = ExportLog.objects.get()
    assert (log.user, log.dataset, log.channel, log.pseudonymised) == (sponsor, "sdtm/dm", "admin", True)
    assert [row["USUBJID"] for row in rows] == [f"NCT06711146-{site.code}-{subject.number:03d}"]
    assert re.fullmatch(r"NCT06711146-\d{2}-\d{3}", rows[0]["USUBJID"])
    (row,) = rows
    assert (row["BRTHDTC"], row["RFSTDTC"]) == ("", "")  # the dates that identify are left out; the age stays
    infusion_day = services.site_time(Visit.objects.get(subject=subject, code="D0").visit_datetime, site).date()
    assert row["AGE"] == str(edc_rules.age_in_years(dt.date(1987, 4, 9), infusion_day))
    cells = set(row.values())
    assert "QZ" not in cells and not any("1987" in cell for cell in cells)
