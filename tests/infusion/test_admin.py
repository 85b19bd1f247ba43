import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from edc.models import Subject, Visit
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot
from tests import factories as edc_factories
from tests.infusion import factories
from tests.infusion.factories import snapshot

pytestmark = pytest.mark.django_db

NULLABLE_BOOLEANS = {"sterility_pass", "endotoxin_pass"}


@pytest.fixture
def staff_browser(client, staff):
    client.force_login(staff)
    return client


def form(values: dict) -> dict:
    """Model values as the admin's form posts them (split date-times in site time, booleans as widgets)."""
    data = {}
    for name, value in values.items():
        if isinstance(value, models.Model):
            data[name] = value.pk
        elif isinstance(value, dt.datetime):
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
        elif name in NULLABLE_BOOLEANS:
            data[name] = {True: "true", False: "false", None: "unknown"}[value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    return data


def add(browser, model, values):
    return browser.post(reverse(f"admin:infusion_{model._meta.model_name}_add"), form(values))


def errors_of(response):
    return response.context["adminform"].form.errors


def test_walk_from_enrolment_to_infusion_in_the_admin(staff_browser, staff, subject, day0):
    factories.enrol(subject, staff)
    response = add(staff_browser, Apheresis, factories.apheresis_values(subject, day0))
    assert response.status_code == 302, errors_of(response)
    apheresis = Apheresis.objects.get()
    response = add(staff_browser, ProductLot, factories.lot_values(apheresis, day0))
    assert response.status_code == 302, errors_of(response)
    for day in factories.LD_DAYS:
        response = add(staff_browser, LymphodepletionDose, factories.dose_values(subject, day, day0))
        assert response.status_code == 302, errors_of(response)
    lot = ProductLot.objects.get()
    response = add(staff_browser, Infusion, factories.infusion_values(subject, lot, day0))
    assert response.status_code == 302, errors_of(response)

    subject.refresh_from_db()
    assert subject.status == Subject.Status.TREATED
    assert Visit.objects.get(subject=subject, code="D0").visit_datetime == factories.at(day0, 10)
    assert Infusion.history.get().history_user == staff
    assert set(LymphodepletionDose.objects.values_list("bsa_m2", flat=True)) == {Decimal("1.66")}

    page = staff_browser.get(reverse("admin:edc_subject_change", args=[subject.pk])).content.decode()
    timeline = page[page.index("Treatment timeline") :]
    steps = [
        f"Apheresis, product {apheresis.product_id}",
        f"Lot {lot.lot_number}",
        "Lymphodepletion day -5",
        "Lymphodepletion day -3",
        f"Infusion (day 0), lot {lot.lot_number}",
    ]
    positions = [timeline.index(step) for step in steps]
    assert positions == sorted(positions)
    assert (
        "released" in timeline
        and "BSA 1.66 m²" in timeline
        and "5.00 × 10^3 CAR+ cells/kg × 60 kg; total 3.00 × 10^5" in timeline
    )


def test_timeline_of_an_untreated_subject(staff_browser, subject):
    page = staff_browser.get(reverse("admin:edc_subject_change", args=[subject.pk])).content.decode()
    assert f"No treatment recorded for {subject.subject_id} yet" in page


def test_admin_refuses_a_lot_of_another_subject_on_the_field(staff_browser, staff, site, subject, ready_lot, day0):
    other = edc_factories.make_subject(site, staff)
    other_lot = factories.make_ready(other, staff, day0)
    before = snapshot()
    response = add(staff_browser, Infusion, factories.infusion_values(subject, other_lot, day0))
    assert response.status_code == 200
    assert f"not of {subject.subject_id}" in str(errors_of(response)["lot"])
    assert snapshot() == before


def test_admin_refuses_an_infusion_before_lymphodepletion(staff_browser, staff, subject, day0):
    factories.enrol(subject, staff)
    lot = factories.make_lot(factories.make_apheresis(subject, staff, day0), staff, day0)
    before = snapshot()
    response = add(staff_browser, Infusion, factories.infusion_values(subject, lot, day0))
    assert response.status_code == 200
    assert "lymphodepletion" in str(errors_of(response)["infusion_start"])
    assert snapshot() == before


def test_admin_hard_limit_on_lymphodepletion_weight(staff_browser, staff, enrolled, day0):
    factories.make_apheresis(enrolled, staff, day0)
    before = snapshot()
    values = factories.dose_values(enrolled, -5, day0, weight_kg=Decimal("300.01"))
    response = add(staff_browser, LymphodepletionDose, values)
    assert response.status_code == 200
    assert "hard limit" in str(errors_of(response)["weight_kg"])
    assert snapshot() == before


def test_admin_change_needs_a_reason(staff_browser, staff, subject, ready_lot, day0):
    infusion = factories.make_infusion(subject, ready_lot, staff, day0)
    url = reverse("admin:infusion_infusion_change", args=[infusion.pk])
    values = form(factories.infusion_values(subject, ready_lot, day0, premedication="none"))
    refused = staff_browser.post(url, {**values, "opened_version": "1"})
    assert refused.status_code == 200 and "change_reason" in errors_of(refused)
    accepted = staff_browser.post(url, {**values, "opened_version": "1", "change_reason": "source checked"})
    assert accepted.status_code == 302
    assert Infusion.history.latest().history_change_reason == "source checked"


def test_monitor_reads_but_cannot_add(client, monitor, subject, ready_lot):
    client.force_login(monitor)
    assert client.get(reverse("admin:infusion_productlot_changelist")).status_code == 200
    before = snapshot()
    assert client.post(reverse("admin:infusion_apheresis_add"), {}).status_code == 403
    assert snapshot() == before


def test_lot_changelist_query_count_is_independent_of_rows(staff_browser, staff, site, day0):
    def add_lots(n):
        for _ in range(n):
            subject = factories.enrol(edc_factories.make_subject(site, staff), staff)
            factories.make_lot(factories.make_apheresis(subject, staff, day0), staff, day0)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert staff_browser.get(reverse("admin:infusion_productlot_changelist")).status_code == 200
        return len(captured)

    add_lots(1)
    count()
    one = count()
    add_lots(49)
    assert count() == one
