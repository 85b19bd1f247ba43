import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from edc import roles
from edc import rules as edc_rules
from edc.models import DataQuery, Subject, Visit
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot
from tests import factories as edc_factories
from tests.infusion import factories
from tests.infusion.factories import payload, snapshot

pytestmark = pytest.mark.django_db


def post(api, route, values):
    return api.post(f"/api/v1/{route}/", payload(values), format="json")


def test_walk_from_enrolment_to_infusion(staff_api, staff, subject, day0):
    factories.enrol(subject, staff)
    apheresis = post(staff_api, "apheresis", factories.apheresis_values(subject, day0))
    assert apheresis.status_code == 201, apheresis.data
    lot = post(staff_api, "product-lots", factories.lot_values(Apheresis.objects.get(pk=apheresis.data["id"]), day0))
    assert lot.status_code == 201, lot.data
    assert (lot.data["subject"], lot.data["apheresis"]) == (subject.subject_id, apheresis.data["product_id"])
    for day in factories.LD_DAYS:
        dose = post(staff_api, "lymphodepletion", factories.dose_values(subject, day, day0))
        assert dose.status_code == 201, dose.data
        assert dose.data["bsa_m2"] == Decimal("1.66")
    infusion = post(staff_api, "infusions", factories.infusion_values(subject, lot.data["lot_number"], day0))
    assert infusion.status_code == 201, infusion.data
    assert infusion["ETag"] == '"1"'

    subject.refresh_from_db()
    assert subject.status == Subject.Status.TREATED
    assert subject.history.latest().history_change_reason == f"infusion of lot {lot.data['lot_number']} recorded"
    visits = {v.code: v for v in Visit.objects.filter(subject=subject)}
    assert (visits["D0"].status, visits["D0"].visit_datetime) == ("DONE", factories.at(day0, 10))
    assert [visits[code].planned_date for code in ("LD_M5", "LD_M4", "LD_M3")] == [
        day0 - dt.timedelta(days=n) for n in (5, 4, 3)
    ]
    d7 = visits["D7"]
    assert (d7.status, d7.planned_date, d7.window_start, d7.window_end) == (
        "SCHEDULED", day0 + dt.timedelta(days=7), day0 + dt.timedelta(days=6), day0 + dt.timedelta(days=8),
    )  # fmt: skip
    assert {v.code for v in visits.values()} >= {v.code for v in edc_rules.FOLLOW_UP}
    assert DataQuery.objects.count() == 0
    assert Infusion.history.get().history_user == staff


def test_infusion_shortly_after_midnight_is_dated_on_the_site_day(staff_api, staff, subject, ready_lot, day0):
    start = factories.at(day0, 0, 30)  # 16:30 UTC the day before
    assert start.astimezone(dt.UTC).date() == day0 - dt.timedelta(days=1)
    response = post(staff_api, "infusions", factories.infusion_values(subject, ready_lot, day0, infusion_start=start))
    assert response.status_code == 201, response.data
    visits = dict(Visit.objects.filter(subject=subject).values_list("code", "planned_date"))
    assert (visits["D0"], visits["D1"], visits["M12"]) == (
        day0, day0 + dt.timedelta(days=1), day0 + dt.timedelta(days=365),
    )  # fmt: skip


class TestRefusals:
    """Every refusal: 400 naming the field, and nothing stored (rows, history, statuses)."""

    def assert_refused(self, response, field, before, *words):
        assert response.status_code == 400, response.data
        assert field in response.data, response.data
        for word in words:
            assert word in str(response.data[field]), response.data
        assert snapshot() == before

    def test_lot_of_another_subject(self, staff_api, staff, site, subject, ready_lot, day0):
        other = edc_factories.make_subject(site, staff)
        other_lot = factories.make_ready(other, staff, day0)
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(subject, other_lot, day0))
        self.assert_refused(
            response, "lot", before,
            f"lot {other_lot.lot_number} was made from product {other_lot.apheresis.product_id} of subject "
            f"{other.subject_id}, not of {subject.subject_id}",
        )  # fmt: skip

    def test_unreleased_lot(self, staff_api, staff, subject, ready_lot, day0):
        unreleased = factories.make_lot(
            ready_lot.apheresis, staff, day0, lot_number="L-2", released=False, release_date=None, sterility_pass=None
        )
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(subject, unreleased, day0))
        self.assert_refused(response, "lot", before, "lot L-2", "not released")

    def test_second_infusion(self, staff_api, staff, subject, ready_lot, day0):
        factories.make_infusion(subject, ready_lot, staff, day0)
        second_lot = factories.make_lot(ready_lot.apheresis, staff, day0, lot_number="L-2")
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(subject, second_lot, day0))
        self.assert_refused(response, "subject", before, f"already received lot {ready_lot.lot_number}")

    def test_infusion_before_lymphodepletion(self, staff_api, staff, subject, day0):
        factories.enrol(subject, staff)
        lot = factories.make_lot(factories.make_apheresis(subject, staff, day0), staff, day0)
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(subject, lot, day0))
        self.assert_refused(response, "infusion_start", before, "no lymphodepletion day -3")

    @pytest.mark.parametrize("days_after_ld_m3", [0, -1])
    def test_infusion_not_after_the_last_lymphodepletion_day(
        self, staff_api, subject, ready_lot, day0, days_after_ld_m3
    ):
        start = factories.at(day0 - dt.timedelta(days=3 - days_after_ld_m3), 23, 59)
        before = snapshot()
        response = post(
            staff_api, "infusions", factories.infusion_values(subject, ready_lot, day0, infusion_start=start)
        )
        self.assert_refused(response, "infusion_start", before, "lymphodepletion day -3")

    def test_infusion_in_the_future(self, staff_api, subject, ready_lot, day0):
        start = timezone.now() + dt.timedelta(hours=1)
        before = snapshot()
        response = post(
            staff_api, "infusions", factories.infusion_values(subject, ready_lot, day0, infusion_start=start)
        )
        self.assert_refused(response, "infusion_start", before, "in the future")

    def test_apheresis_of_a_subject_not_enrolled(self, staff_api, subject, day0):
        before = snapshot()
        response = post(staff_api, "apheresis", factories.apheresis_values(subject, day0))
        self.assert_refused(response, "subject", before, "is SCREENING", "ENROLLED")

    def test_lymphodepletion_before_apheresis(self, staff_api, enrolled, day0):
        before = snapshot()
        response = post(staff_api, "lymphodepletion", factories.dose_values(enrolled, -5, day0))
        self.assert_refused(response, "date", before, "no apheresis")

    @pytest.mark.parametrize(
        "route, field, overrides",
        [
            ("apheresis", "end_datetime", {"end_datetime": "start"}),
            ("apheresis", "start_datetime", {"start_datetime": "future"}),
            ("apheresis", "processed_volume_l", {"processed_volume_l": Decimal(0)}),
            ("lymphodepletion", "date", {"date": "before apheresis"}),
            ("lymphodepletion", "day", {"day": -2}),
            ("lymphodepletion", "height_cm", {"height_cm": Decimal("99.99")}),
            ("lymphodepletion", "height_cm", {"height_cm": Decimal("230.01")}),
            ("lymphodepletion", "weight_kg", {"weight_kg": Decimal("24.99")}),
            ("lymphodepletion", "weight_kg", {"weight_kg": Decimal("300.01")}),
            ("lymphodepletion", "fludarabine_mg_per_m2", {"fludarabine_mg_per_m2": Decimal("-1")}),
            ("lymphodepletion", "cyclophosphamide_mg", {"cyclophosphamide_mg": Decimal("-0.01")}),
        ],
    )
    def test_bad_apheresis_and_lymphodepletion_input(self, staff_api, staff, enrolled, day0, route, field, overrides):
        if route == "apheresis":
            values = factories.apheresis_values(enrolled, day0)
            if overrides.get("end_datetime") == "start":
                overrides = {"end_datetime": values["start_datetime"]}
            if overrides.get("start_datetime") == "future":
                overrides = {"start_datetime": timezone.now() + dt.timedelta(hours=1)}
        else:
            factories.make_apheresis(enrolled, staff, day0)
            values = factories.dose_values(enrolled, -5, day0)
            if overrides.get("date") == "before apheresis":
                overrides = {"date": day0 - dt.timedelta(days=31)}
        before = snapshot()
        self.assert_refused(post(staff_api, route, {**values, **overrides}), field, before)

    def test_lymphodepletion_days_out_of_order(self, staff_api, staff, enrolled, day0):
        factories.make_apheresis(enrolled, staff, day0)
        post(staff_api, "lymphodepletion", factories.dose_values(enrolled, -5, day0))
        before = snapshot()
        late = factories.dose_values(enrolled, -4, day0, date=day0 - dt.timedelta(days=2))
        self.assert_refused(post(staff_api, "lymphodepletion", late), "date", before, "must fall on")
        again = factories.dose_values(enrolled, -5, day0)
        self.assert_refused(post(staff_api, "lymphodepletion", again), "day", before, "already recorded")

    @pytest.mark.parametrize(
        "field, overrides",
        [
            ("release_date", {"release_date": "before manufacture"}),
            ("manufactured_date", {"manufactured_date": "before apheresis"}),
            ("sterility_pass", {"sterility_pass": False}),
            ("endotoxin_pass", {"endotoxin_pass": None}),
            ("release_date", {"release_date": None}),
            ("viability_pct", {"viability_pct": Decimal("100.01")}),
            ("car_positive_pct", {"car_positive_pct": Decimal("-0.01")}),
        ],
    )
    def test_bad_lot_input(self, staff_api, staff, enrolled, day0, field, overrides):
        apheresis = factories.make_apheresis(enrolled, staff, day0)
        values = factories.lot_values(apheresis, day0)
        if overrides.get("release_date") == "before manufacture":
            overrides = {"release_date": values["manufactured_date"] - dt.timedelta(days=1)}
        if overrides.get("manufactured_date") == "before apheresis":
            overrides = {"manufactured_date": day0 - dt.timedelta(days=31)}
        before = snapshot()
        self.assert_refused(post(staff_api, "product-lots", {**values, **overrides}), field, before)

    @pytest.mark.parametrize(
        "field, value",
        [
            ("weight_kg", Decimal("24.99")),
            ("weight_kg", Decimal("300.01")),
            ("dose_car_cells_per_kg", Decimal("0")),
            ("dose_car_cells_per_kg", Decimal("100000000.01")),
            ("total_car_cells", Decimal("0")),
        ],
    )
    def test_infusion_doses_out_of_the_hard_limits(self, staff_api, subject, ready_lot, day0, field, value):
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(subject, ready_lot, day0, **{field: value}))
        self.assert_refused(response, field, before, "hard limit")

    def test_infused_lot_keeps_its_release(self, staff_api, staff, subject, ready_lot, day0):
        factories.make_infusion(subject, ready_lot, staff, day0)
        before = snapshot()
        response = staff_api.patch(
            f"/api/v1/product-lots/{ready_lot.pk}/", {"released": False, "change_reason": "x"}, format="json",
            HTTP_IF_MATCH='"1"',
        )  # fmt: skip
        self.assert_refused(response, "released", before, f"infused into subject {subject.subject_id}")

    def test_lot_of_another_site_is_unknown(self, staff_api, make_user, site, other_site, staff, day0):
        other_staff = make_user(roles.SITE_STAFF, other_site)
        foreign = edc_factories.make_subject(other_site, other_staff)
        foreign_lot = factories.make_ready(foreign, other_staff, day0)
        local = edc_factories.make_subject(site, staff)
        factories.make_ready(local, staff, day0)
        before = snapshot()
        response = post(staff_api, "infusions", factories.infusion_values(local, foreign_lot, day0))
        self.assert_refused(response, "lot", before, "at your sites")
        assert staff_api.get(f"/api/v1/product-lots/{foreign_lot.pk}/").status_code == 404


class TestSoftLimits:
    def test_lymphodepletion_dose_off_by_more_than_ten_percent_opens_a_query(self, staff_api, staff, enrolled, day0):
        factories.make_apheresis(enrolled, staff, day0)
        values = factories.dose_values(
            enrolled, -5, day0, fludarabine_mg=Decimal("55"), cyclophosphamide_mg=Decimal("540")
        )
        response = post(staff_api, "lymphodepletion", values)
        assert response.status_code == 201, response.data
        query = DataQuery.objects.get()
        assert (query.target_model, query.target_id, query.target_field, query.subject) == (
            "infusion.lymphodepletiondose", response.data["id"], "fludarabine_mg", enrolled,
        )  # fmt: skip
        assert "expected 49.8 mg (30 mg/m² × BSA 1.66 m²)" in query.text

    def test_total_cells_mismatch_and_unusual_dose_open_queries(self, staff_api, subject, ready_lot, day0):
        values = factories.infusion_values(
            subject, ready_lot, day0, dose_car_cells_per_kg=Decimal("500"), total_car_cells=Decimal("40000")
        )
        response = post(staff_api, "infusions", values)
        assert response.status_code == 201, response.data
        assert set(DataQuery.objects.values_list("target_field", flat=True)) == {
            "dose_car_cells_per_kg", "total_car_cells",
        }  # fmt: skip

    def test_query_on_a_lot_belongs_to_the_subject_of_its_product(self, client_for, monitor, subject, ready_lot):
        response = client_for(monitor).post(
            "/api/v1/queries/",
            {"target_model": "infusion.productlot", "target_id": ready_lot.pk, "target_field": "viability_pct",
             "text": "Certificate of analysis?"},
            format="json",
        )  # fmt: skip
        assert response.status_code == 201, response.data
        assert response.data["subject"] == subject.subject_id


def test_update_recomputes_bsa_and_needs_a_reason(staff_api, staff, enrolled, day0):
    factories.make_apheresis(enrolled, staff, day0)
    created = post(staff_api, "lymphodepletion", factories.dose_values(enrolled, -5, day0))
    url = f"/api/v1/lymphodepletion/{created.data['id']}/"
    refused = staff_api.patch(url, {"weight_kg": "80"}, format="json", HTTP_IF_MATCH='"1"')
    assert refused.status_code == 400 and "change_reason" in refused.data
    response = staff_api.patch(
        url, {"weight_kg": "80", "change_reason": "weighed again"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.data
    assert response.data["bsa_m2"] == Decimal("1.91")  # √(165 × 80 / 3600)
    assert LymphodepletionDose.objects.get().history.count() == 2


def test_correcting_the_infusion_date_replans_the_scheduled_visits(staff_api, staff, subject, ready_lot, day0):
    infusion = factories.make_infusion(subject, ready_lot, staff, day0)
    later = factories.at(day0 + dt.timedelta(days=1), 9)
    response = staff_api.patch(
        f"/api/v1/infusions/{infusion.pk}/", {"infusion_start": later.isoformat(), "change_reason": "typo"},
        format="json", HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert response.status_code == 200, response.data
    visits = {v.code: v for v in Visit.objects.filter(subject=subject)}
    assert (visits["D0"].visit_datetime, visits["D1"].planned_date) == (later, day0 + dt.timedelta(days=2))
    assert visits["D1"].history.latest().history_change_reason == "typo"


class TestRoles:
    ROUTES = ("apheresis", "product-lots", "lymphodepletion", "infusions")

    @pytest.mark.parametrize("role", [roles.MONITOR, roles.DATA_MANAGER])
    def test_readers_read_but_do_not_write(self, client_for, make_user, site, staff, subject, ready_lot, day0, role):
        api = client_for(make_user(role, site))
        before = snapshot()
        assert post(api, "infusions", factories.infusion_values(subject, ready_lot, day0)).status_code == 403
        assert snapshot() == before
        factories.make_infusion(subject, ready_lot, staff, day0)
        assert [api.get(f"/api/v1/{route}/").data["count"] for route in self.ROUTES] == [1, 1, 3, 1]

    def test_sponsor_viewer_reads_nothing(self, client_for, make_user, site, ready_lot):
        api = client_for(make_user(roles.SPONSOR_VIEWER, site))
        assert {api.get(f"/api/v1/{route}/").status_code for route in self.ROUTES} == {403}

    def test_investigator_enters_data(self, client_for, investigator, subject, ready_lot, day0):
        response = post(client_for(investigator), "infusions", factories.infusion_values(subject, ready_lot, day0))
        assert response.status_code == 201, response.data


def test_list_query_counts_are_independent_of_rows(staff_api, staff, site, day0):
    """One pathway per subject (apheresis, lot, 3 days, infusion) at 1 and at 50 subjects, on every route."""
    routes = {"apheresis": 1, "product-lots": 1, "lymphodepletion": 3, "infusions": 1}

    def build(n):
        for _ in range(n):
            subject = edc_factories.make_subject(site, staff)
            factories.make_infusion(subject, factories.make_ready(subject, staff, day0), staff, day0)

    def count_queries(route, subjects):
        with CaptureQueriesContext(connection) as captured:
            response = staff_api.get(f"/api/v1/{route}/?page_size=200")
        assert response.data["count"] == routes[route] * subjects
        return len(captured)

    build(1)
    staff_api.get("/api/v1/apheresis/")  # the first request caches the user's roles and sites
    one = {route: count_queries(route, 1) for route in routes}
    build(49)
    assert {route: count_queries(route, 50) for route in routes} == one


def test_void_of_an_infusion_keeps_it_in_history(staff_api, staff, subject, ready_lot, day0):
    infusion = factories.make_infusion(subject, ready_lot, staff, day0)
    response = staff_api.delete(f"/api/v1/infusions/{infusion.pk}/", {"change_reason": "wrong subject"}, format="json")
    assert response.status_code == 200
    assert Infusion.objects.get().voided and Infusion.history.count() == 2
    assert ProductLot.objects.get().released
