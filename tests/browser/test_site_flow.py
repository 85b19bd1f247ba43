"""A follow-up visit through the real admin in headless Chromium: staff key it, monitor closes, investigator signs."""

import datetime as dt

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from edc import roles, services
from edc.models import DataQuery, LabResult, Signature, Visit
from tests import factories
from tests.browser.admin_driver import Admin, site_clock

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def d7_visit(site, people):
    """A subject infused 10 days ago (DONE D0) whose scheduled D7 visit is due today − 3 days."""
    staff = people[roles.SITE_STAFF]
    subject = factories.make_subject(site, staff)
    infused_at = timezone.now() - dt.timedelta(days=10)
    services.save_crf(
        Visit(subject=subject, code="D0", visit_datetime=infused_at, status=Visit.Status.DONE), user=staff
    )
    services.schedule_follow_up(subject, services.site_time(infused_at, site).date(), user=staff)
    return Visit.objects.get(subject=subject, code="D7")


def test_staff_key_a_follow_up_visit_monitor_closes_its_query_investigator_signs(
    browser, live_server, screenshots, people, site, d7_visit
):
    admin = Admin(browser, live_server.url, screenshots)
    subject_id = d7_visit.subject.subject_id
    visit_day, visit_time = site_clock(timezone.now() - dt.timedelta(days=3), site)

    # Site staff: the D7 visit took place (in its window), then its haemoglobin, below the soft range.
    admin.log_in(people[roles.SITE_STAFF])
    admin.screenshot("staff-logged-in")
    admin.open(f"/admin/edc/visit/{d7_visit.pk}/change/", "#id_status")
    admin.type("#id_visit_datetime_0", visit_day)
    admin.type("#id_visit_datetime_1", visit_time)
    admin.choose_value("#id_status", Visit.Status.DONE)
    admin.type("#id_change_reason", "D7 visit took place")
    admin.screenshot("staff-marks-d7-done")
    message = admin.submit("input[name=_save]", ".messagelist .success")
    assert "was changed successfully" in message.text
    assert "in window" in admin.text("#result_list")
    admin.screenshot("staff-visit-list")

    admin.open("/admin/edc/labresult/add/", "#id_subject")
    admin.choose("#id_subject", subject_id)
    admin.choose("#id_visit", f"{subject_id} D7")
    admin.choose_value("#id_analyte", "HGB")
    admin.type("#id_value", "55")
    admin.type("#id_unit", "g/L")
    admin.type("#id_lln", "115")
    admin.type("#id_uln", "150")
    admin.type("#id_sample_datetime_0", visit_day)
    admin.type("#id_sample_datetime_1", visit_time)
    admin.type("#id_lab_name", "FAH central lab")
    admin.screenshot("staff-keys-hgb")
    message = admin.submit("input[name=_continue]", ".messagelist .success")
    assert "was added successfully" in message.text
    badge = admin.visible(".field-value .query-badge")
    assert "query open" in badge.text
    assert "55 g/L is below the expected 60" in badge.text
    admin.screenshot("staff-sees-query-badge")
    admin.log_out()

    result = LabResult.objects.get(subject=d7_visit.subject, analyte="HGB")
    query = DataQuery.objects.get(target_model="edc.labresult", target_id=result.pk, target_field="value")
    assert (result.visit_id, query.status, query.auto) == (d7_visit.pk, DataQuery.Status.OPEN, True)

    # Monitor: from the admin index to the query list, closes the automatic query.
    admin.log_in(people[roles.MONITOR])
    admin.submit("#content-main a[href='/admin/edc/dataquery/']", "#result_list")
    row = admin.visible(f"#result_list input.action-select[value='{query.pk}']")
    assert admin.text("#result_list td.field-status") == DataQuery.Status.OPEN.label
    row.click()
    admin.choose("select[name=action]", "Close the selected queries")
    admin.screenshot("monitor-closes-query")
    message = admin.submit("button[name=index]", ".messagelist .success")
    assert message.text == "1 query(ies) closed."
    assert admin.text("#result_list td.field-status") == DataQuery.Status.CLOSED.label
    admin.screenshot("monitor-query-closed")
    admin.log_out()

    query.refresh_from_db()
    assert (query.status, query.closed_by) == (DataQuery.Status.CLOSED, people[roles.MONITOR])

    # Investigator: the badge is gone; signs the visit with the password asked again.
    admin.log_in(people[roles.INVESTIGATOR])
    admin.open(f"/admin/edc/labresult/{result.pk}/change/", "#id_value")
    assert not browser.find_elements(By.CSS_SELECTOR, ".query-badge")
    admin.open(f"/admin/edc/visit/{d7_visit.pk}/change/", ".object-tools")
    admin.submit(".object-tools a[href$='/sign/']", "#id_meaning")
    assert f"Sign {subject_id} D7" in admin.text("#content")
    admin.choose_value("#id_meaning", Signature.Meaning.REVIEWED)
    admin.type("#id_password", factories.PASSWORD)
    admin.screenshot("investigator-signs-d7")
    message = admin.submit("input[type=submit][value=Submit]", ".messagelist .success")
    assert f"{subject_id} D7 signed." in message.text
    admin.screenshot("investigator-signed")

    signature = Signature.objects.get(target_model="edc.visit", target_id=d7_visit.pk)
    assert (signature.meaning, signature.signed_by) == (Signature.Meaning.REVIEWED, people[roles.INVESTIGATOR])
    assert sorted(path.name for path in screenshots.glob("*.png")) == [
        f"{n:02d}-{name}.png"
        for n, name in enumerate(
            (
                "staff-logged-in",
                "staff-marks-d7-done",
                "staff-visit-list",
                "staff-keys-hgb",
                "staff-sees-query-badge",
                "monitor-closes-query",
                "monitor-query-closed",
                "investigator-signs-d7",
                "investigator-signed",
            ),
            start=1,
        )
    ]
