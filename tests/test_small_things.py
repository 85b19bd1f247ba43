"""The API docs served from the package, the admin header's links, and how a refusal is logged."""

import logging
import re

import pytest
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.urls import reverse

from edc import roles

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_load_their_scripts_from_this_server(client, url):
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html and "unpkg" not in html  # a hospital network may block a CDN
    scripts = re.findall(r'src="/static/(drf_spectacular_sidecar/[^"]+)"', html)
    assert scripts, html
    assert all(finders.find(path) for path in scripts), scripts


def test_admin_header_has_no_view_site_link(client, staff):
    assert admin.site.site_url is None
    client.force_login(staff)
    assert "View site" not in client.get(reverse("admin:index")).content.decode()


def refusals(caplog):
    return [r for r in caplog.records if r.name == "django.request" and r.status_code == 403]


def test_an_admin_refusal_is_one_warning_line(client, make_user, site, subject, caplog):
    client.force_login(make_user(roles.SPONSOR_VIEWER, site))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("admin:edc_subject_audit_trail", args=[subject.pk])).status_code == 403
    (record,) = refusals(caplog)
    assert (record.levelname, record.exc_info, record.exc_text) == ("WARNING", None, None)
    assert "Traceback" not in caplog.text
    assert record.getMessage() == f"Forbidden (Permission denied): /admin/edc/subject/{subject.pk}/audit-trail/"


def test_an_api_refusal_is_one_warning_line(client_for, make_user, site, caplog):
    api = client_for(make_user(roles.SPONSOR_VIEWER, site))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert api.get("/api/v1/subjects/").status_code == 403
    (record,) = refusals(caplog)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert "Traceback" not in caplog.text


def test_other_errors_keep_their_traceback():
    import sys

    from edc.log_filters import RefusalWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    assert RefusalWithoutTraceback().filter(record) and record.exc_info is not None


def test_a_refusal_is_a_page_in_the_admins_look(client, make_user, site, subject):
    client.force_login(make_user(roles.SPONSOR_VIEWER, site))
    page = client.get(reverse("admin:edc_subject_audit_trail", args=[subject.pk]))
    assert page.status_code == 403
    html = page.content.decode()
    assert "This page is not open to your role (403)" in html and "your role does not allow this page" in html
    assert "Traceback" not in html and subject.initials not in html
