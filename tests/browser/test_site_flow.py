"""A follow-up visit through the real admin in headless Chromium: staff key it, monitor closes, investigator signs."""

import datetime as dt

import pytest
from django.utils import timezone
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from edc import roles, services
from edc.models import DataQuery, LabResult, Signature, Visit
from tests import factories

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 15


@pytest.fixture
def people(make_user, site):
    """One user per role of the flow, with first names the admin greets them by (seen on the screenshots)."""
    users = {}
    for role, name in ((roles.SITE_STAFF, "Staff"), (roles.MONITOR, "Monitor"), (roles.INVESTIGATOR, "Investigator")):
        user = make_user(role, site, username=role)
        user.first_name = name
        user.save(update_fields=["first_name"])
        users[role] = user
    return users


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


class Admin:
    """The few gestures of a user in the Django admin, each waiting for the page it leads to."""

    def __init__(self, driver, base_url, screenshot_dir):
        self.driver = driver
        self.base_url = base_url
        self.screenshot_dir = screenshot_dir
        self.shots = 0

    def wait(self, condition):
        # While a page is being replaced, Chromium may answer about nodes of the old document ("Node with given id
        # does not belong to the document"): such answers are polled past, not failed on.
        waiting = WebDriverWait(self.driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,))
        return waiting.until(condition)

    def visible(self, css):
        return self.wait(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css) -> str:
        return self.visible(css).text

    def type(self, css, value):
        field = self.visible(css)
        field.clear()
        field.send_keys(value)

    def choose(self, css, visible_text):
        Select(self.visible(css)).select_by_visible_text(visible_text)

    def choose_value(self, css, value):
        Select(self.visible(css)).select_by_value(value)

    def submit(self, css, then_css):
        """Click and wait until the next page shows `then_css`: the page being left is marked first, so an
        element of it still on screen is never taken for the next page's."""
        self.driver.execute_script("document.documentElement.dataset.left = 'yes'")
        self.visible(css).click()
        self.wait(lambda driver: driver.execute_script(
            "return document.readyState === 'complete' && !document.documentElement.dataset.left"))  # fmt: skip
        return self.visible(then_css)

    def open(self, path, then_css):
        self.driver.get(f"{self.base_url}{path}")
        return self.visible(then_css)

    def screenshot(self, name):
        self.shots += 1
        self.driver.save_screenshot(str(self.screenshot_dir / f"{self.shots:02d}-{name}.png"))

    def log_in(self, user):
        self.open("/admin/login/", "#id_username")
        self.type("#id_username", user.username)
        self.type("#id_password", factories.PASSWORD)
        greeting = self.submit("#login-form input[type=submit]", "#user-tools")
        assert f"{user.first_name}".upper() in greeting.text.upper()

    def log_out(self):
        self.submit("#logout-form button[type=submit]", "#content")
        assert "Logged out" in self.text("#content")


def site_clock(moment, site) -> tuple[str, str]:
    """The admin's split date and time inputs, in the site's time (the admin's time zone)."""
    local = services.site_time(moment, site)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


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
    admin.choose("#id_analyte", "HGB")
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
