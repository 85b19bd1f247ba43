import datetime as dt

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from edc import roles, services
from edc.models import LabResult, Subject, Visit
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(client, staff):
    client.force_login(staff)
    return client


def lab_form(subject, **overrides):
    sample = timezone.localtime(timezone.now() - dt.timedelta(days=1))
    return {
        "subject": subject.pk,
        "analyte": "C3",
        "value": "0.65",
        "unit": "g/L",
        "lln": "0.9",
        "uln": "1.8",
        "sample_datetime_0": sample.strftime("%Y-%m-%d"),
        "sample_datetime_1": sample.strftime("%H:%M:%S"),
        "lab_name": "FAH",
        **overrides,
    }


def test_admin_write_leaves_history_with_user(staff_browser, staff, subject):
    response = staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject))
    assert response.status_code == 302, response.context["adminform"].form.errors
    result = LabResult.objects.get()
    record = result.history.get()
    assert (record.history_user, record.history_type) == (staff, "+")


def test_admin_change_needs_a_reason_and_records_it(staff_browser, staff, subject):
    staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject))
    result = LabResult.objects.get()
    url = reverse("admin:edc_labresult_change", args=[result.pk])
    refused = staff_browser.post(url, lab_form(subject, value="0.7", opened_version="1"))
    assert refused.status_code == 200
    assert "change_reason" in refused.context["adminform"].form.errors
    result.refresh_from_db()
    assert (str(result.value), result.history.count()) == ("0.650000", 1)

    accepted = staff_browser.post(url, lab_form(subject, value="0.7", opened_version="1", change_reason="typo"))
    assert accepted.status_code == 302
    latest = result.history.order_by("-history_id").first()
    assert (latest.history_user, latest.history_change_reason, str(latest.value)) == (staff, "typo", "0.700000")


def test_admin_refuses_a_stale_form(staff_browser, subject):
    staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject))
    result = LabResult.objects.get()
    url = reverse("admin:edc_labresult_change", args=[result.pk])
    staff_browser.post(url, lab_form(subject, value="0.7", opened_version="1", change_reason="first"))
    stale = staff_browser.post(url, lab_form(subject, value="0.8", opened_version="1", change_reason="second"))
    assert stale.status_code == 200
    assert "changed by someone else" in str(stale.context["adminform"].form.non_field_errors())
    result.refresh_from_db()
    assert str(result.value) == "0.700000"


def test_admin_hard_limit_is_shown_on_the_field(staff_browser, subject):
    response = staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject, value="-2"))
    assert response.status_code == 200
    assert "hard limit" in str(response.context["adminform"].form.errors["value"])
    assert LabResult.objects.count() == 0


def test_admin_registers_a_subject_with_its_id(staff_browser, site):
    response = staff_browser.post(
        reverse("admin:edc_subject_add"),
        {
            "site": site.pk, "sex": "F", "date_of_birth": "1990-01-01", "initials": "AB", "status": "SCREENING",
            **{f"{prefix}-{k}": v for prefix in ("visit_set", "labresult_set")
               for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0, "MIN_NUM_FORMS": 0, "MAX_NUM_FORMS": 1000}.items()},
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Subject.objects.get().subject_id == "M1019-01-001"


def test_admin_is_scoped_to_the_users_sites(client, make_user, other_site, subject):
    from edc import roles

    client.force_login(make_user(roles.SITE_STAFF, other_site))
    assert client.get(reverse("admin:edc_subject_change", args=[subject.pk])).status_code == 404  # as in the API
    listing = client.get(reverse("admin:edc_subject_changelist"))
    assert subject.subject_id not in listing.content.decode()


def test_monitor_cannot_edit_in_admin(client, monitor, subject):
    client.force_login(monitor)
    response = client.post(reverse("admin:edc_subject_change", args=[subject.pk]), {"initials": "QQ"})
    assert response.status_code == 403


def test_audit_trail_page(staff_browser, staff, subject):
    staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject))
    response = staff_browser.get(reverse("admin:edc_subject_audit_trail", args=[subject.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "lab result" in content and staff.get_full_name() in content


def test_changelist_query_count_is_independent_of_rows(staff_browser, staff, site):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert staff_browser.get(reverse("admin:edc_labresult_changelist")).status_code == 200
        return len(captured)

    def add(n):
        for _ in range(n):
            subject = factories.make_subject(site, staff)
            assert staff_browser.post(reverse("admin:edc_labresult_add"), lab_form(subject)).status_code == 302

    add(1)
    one = count()
    add(49)
    assert count() == one


DATA_MANAGEMENT_PAGES = ("edc_dataquery", "edc_signature", "edc_sourceverification", "edc_lock")


@pytest.mark.parametrize("role", sorted(roles.CLINICAL_READERS))
def test_index_lists_the_data_management_pages_to_every_clinical_role(client, make_user, site, role):
    """Roles carry no Django model permissions: the admin's own check hid these from the index."""
    client.force_login(make_user(role, site))
    content = client.get(reverse("admin:index")).content.decode()
    for page in DATA_MANAGEMENT_PAGES:
        assert reverse(f"admin:{page}_changelist") in content, page


def test_index_hides_identified_data_from_the_sponsor_viewer(client, make_user, site):
    client.force_login(make_user(roles.SPONSOR_VIEWER, site))
    content = client.get(reverse("admin:index")).content.decode()
    for page in (*DATA_MANAGEMENT_PAGES, "edc_labresult", "edc_subject"):
        assert reverse(f"admin:{page}_changelist") not in content, page


@pytest.mark.filterwarnings("error::django.utils.deprecation.RemovedInDjango60Warning")
def test_visit_list_marks_a_visit_in_its_window(staff_browser, staff, subject):
    """format_html() without arguments is deprecated (an error from Django 6): the mark passes its text."""
    visit_day = timezone.localdate() - dt.timedelta(days=1)
    window = {"planned_date": visit_day, "window_start": visit_day, "window_end": visit_day}
    moment = timezone.now() - dt.timedelta(days=1)
    services.save_crf(Visit(subject=subject, code="D7", visit_datetime=moment, status="DONE", **window), user=staff)
    content = staff_browser.get(reverse("admin:edc_visit_changelist")).content.decode()
    assert '<span style="color:#2e7d32">✔ in window</span>' in content


@pytest.mark.parametrize(
    "before, after, shown",
    [(0, 0, "that day"), (1, 1, "±1 d"), (2, 7, "−2 / +7 d")],
)
def test_visit_list_says_the_window_in_days_around_the_planned_date(staff_browser, staff, subject, before, after,
                                                                    shown):  # fmt: skip
    planned = timezone.localdate() + dt.timedelta(days=10)
    window = {"planned_date": planned, "window_start": planned - dt.timedelta(days=before),
              "window_end": planned + dt.timedelta(days=after)}  # fmt: skip
    services.save_crf(Visit(subject=subject, code="D7", **window), user=staff)
    content = staff_browser.get(reverse("admin:edc_visit_changelist")).content.decode()
    dates = f"{formats.date_format(window['window_start'])} – {formats.date_format(window['window_end'])}"
    assert f'<span title="{dates}">{shown}</span>' in content


def subject_form(browser, subject, **overrides) -> dict:
    """The subject change form as the page sends it (no inline rows yet: each inline's management form only)."""
    page = browser.get(reverse("admin:edc_subject_change", args=[subject.pk]))
    data = {
        "site": subject.site_id, "sex": subject.sex, "date_of_birth": subject.date_of_birth.isoformat(),
        "childbearing_potential": "on", "initials": subject.initials, "opened_version": subject.version,
    }  # fmt: skip
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        assert not formset.initial_forms, f"{formset.prefix} has rows: the form below does not send them"
        data |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    return data | overrides


def test_subject_status_is_read_only_in_the_admin(staff_browser, staff, subject, staff_api):
    page = staff_browser.get(reverse("admin:edc_subject_change", args=[subject.pk]))
    assert "status" not in page.context["adminform"].form.fields
    assert "status" in page.context["adminform"].readonly_fields
    assert "status" not in staff_browser.get(reverse("admin:edc_subject_add")).context["adminform"].form.fields

    url = reverse("admin:edc_subject_change", args=[subject.pk])
    response = staff_browser.post(url, subject_form(staff_browser, subject, status="ENROLLED", change_reason="x"))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    subject.refresh_from_db()
    assert subject.status == Subject.Status.SCREENING  # every criterion still MISSING: nothing enrols it here

    from tests.infusion.factories import apheresis_values, payload

    refused = staff_api.post("/api/v1/apheresis/", payload(apheresis_values(subject, timezone.localdate())))
    assert refused.status_code == 400
    assert "only for an ENROLLED subject" in str(refused.json())
