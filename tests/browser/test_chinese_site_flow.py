"""A site coordinator's and an investigator's day in Chinese, in headless Chromium (issue #19): the language chosen on
the sign-in page, the work list, a visit keyed on its CRF page, the query it raises answered, the study dashboard,
and the visit signed with its attestation in Chinese. Screenshots in test-artifacts/browser/chinese_site_day/."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from edc import roles
from edc.models import DataQuery, LabResult, Signature, UserPreference, Visit
from tests import factories
from tests.browser.admin_driver import Admin, site_clock, work_list
from tests.browser.test_role_days import SAVE_VISIT, SUCCESS, auto_query_on, crf_path, treated

pytestmark = [pytest.mark.services, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CJK = re.compile(r"[\u3400-\u9fff]")


def log_in_in_chinese(admin, user):
    """The sign-in page's language switch set to 简体中文 (it reloads the page in Chinese), then the user signs in."""
    admin.open("/admin/login/", "#language-select")
    admin.choose_value("#language-select", "zh-hans")
    admin.wait(lambda driver: "用户名" in driver.find_element(By.TAG_NAME, "body").text)
    admin.type("#id_username", user.username)
    admin.type("#id_password", factories.PASSWORD)
    admin.submit("#login-form input[type=submit]", "#user-tools")


def log_out(admin):
    admin.open("/admin/", "#logout-form")
    admin.submit("#logout-form button[type=submit]", "#content")


def test_chinese_site_day(browser, live_server, screenshots, people, site):
    staff, investigator = people[roles.SITE_STAFF], people[roles.INVESTIGATOR]
    subject = treated(site, staff, days_ago=7)  # its D7 is due this week
    d7 = Visit.objects.get(subject=subject, code="D7")
    admin = Admin(browser, live_server.url, screenshots)

    # The coordinator chooses Chinese on the sign-in page; it becomes theirs.
    log_in_in_chinese(admin, staff)
    assert UserPreference.objects.get(user=staff).language == "zh-hans"
    assert f"{subject.subject_id} D7" in admin.words(work_list("本周到期的访视"))
    admin.screenshot("home-work-lists")

    # The D7 CRF page in Chinese: keyed with a low haemoglobin, saved, its query's badge.
    admin.follow("D7", "#id_HGB__value", within=work_list("本周到期的访视"))
    assert browser.current_url.endswith(crf_path(d7))
    assert admin.visible(SAVE_VISIT.replace("Save visit", "保存访视"))
    visit_day, visit_time = site_clock(timezone.now() - dt.timedelta(minutes=30), site)
    admin.type("#id_visit_datetime_0", visit_day)
    admin.type("#id_visit_datetime_1", visit_time)
    admin.choose_value("#id_status", Visit.Status.DONE)
    admin.type("#id_HGB__value", "55")
    admin.type("#id_HGB__lln", "115")
    admin.type("#id_HGB__uln", "150")
    assert "血红蛋白" in admin.text("tr:has(#id_HGB__value)")
    admin.screenshot("crf-keyed")
    assert "已保存" in admin.submit(SAVE_VISIT.replace("Save visit", "保存访视"), SUCCESS).text
    assert "质疑" in admin.text("tr:has(#id_HGB__value) .query-badge")
    admin.screenshot("crf-saved-query-badge")
    query = auto_query_on(d7)

    # The query answered on its answer-only form.
    admin.open(f"/admin/edc/dataquery/{query.pk}/change/", "#id_answer")
    assert "回复" in admin.text("#content")
    admin.type("#id_answer", "已与检验科核对：化验单为 55 g/L")
    admin.screenshot("query-answer")
    admin.submit("input[type=submit][value='保存回复']", SUCCESS)
    query.refresh_from_db()
    assert (query.status, query.answered_by) == (DataQuery.Status.ANSWERED, staff)

    # The study status dashboard.
    admin.open("/admin/edc/visit/dashboard/", "#content")
    assert "研究状态" in admin.text("h1")
    admin.screenshot("dashboard")
    log_out(admin)

    # The investigator, in the same browser (its language cookie), signs the visit from its CRF page.
    admin.log_in(investigator)
    admin.open(crf_path(d7), ".crf-status")
    assert "未签名" in admin.text(".crf-status")
    admin.follow("签署此访视", "#id_meaning", within=".crf-status")
    attestation = admin.text(".attestation")
    assert investigator.get_full_name() in attestation and CJK.search(attestation), attestation
    admin.choose_value("#id_meaning", Signature.Meaning.REVIEWED)
    admin.type("#id_password", factories.PASSWORD)
    admin.tick("#id_over_open_queries")  # the answered query is still open until a monitor closes it
    admin.screenshot("sign-page")
    assert "签" in admin.submit("input[type=submit][value='提交']", SUCCESS).text
    admin.open(crf_path(d7), ".crf-status")
    assert "已审阅" in admin.text(".crf-status")
    admin.screenshot("crf-signed")
    log_out(admin)

    signature = Signature.objects.get(target_model="edc.visit", target_id=d7.pk)
    assert (signature.meaning, signature.signed_by) == (Signature.Meaning.REVIEWED, investigator)
    assert LabResult.objects.get(visit=d7, analyte="HGB").value == Decimal("55")
    assert len(list(screenshots.glob("*.png"))) == 7
