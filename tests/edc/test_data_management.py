import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from edc import services
from edc.models import DataQuery, LabResult, Lock, Signature, SourceVerification, Visit
from screening.models import EligibilityDecision
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(staff, subject):
    row = LabResult(
        subject=subject, analyte="C3", value=Decimal("0.65"), unit="g/L", lln=Decimal("0.9"), uln=Decimal("1.8"),
        sample_datetime=timezone.now() - dt.timedelta(days=1),
    )  # fmt: skip
    return services.save_crf(row, user=staff)


def patch_value(api, row, value="0.99"):
    return api.patch(
        f"/api/v1/lab-results/{row.pk}/", {"value": value, "change_reason": "correction"}, format="json",
        HTTP_IF_MATCH=f'"{row.version}"',
    )  # fmt: skip


class TestLocks:
    def lock(self, api, **body):
        return api.post("/api/v1/locks/", {"reason": "interim analysis", **body}, format="json")

    def test_subject_lock_refuses_writes_with_423_until_unlocked(
        self, client_for, data_manager, staff_api, subject, result
    ):
        dm_api = client_for(data_manager)
        locked = self.lock(dm_api, level="SUBJECT", subject=subject.subject_id)
        assert locked.status_code == 201, locked.content
        refused = patch_value(staff_api, result)
        assert refused.status_code == 423
        assert "interim analysis" in refused.data["detail"]
        result.refresh_from_db()
        assert (str(result.value), result.history.count()) == ("0.650000", 1)
        assert staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject), format="json").status_code == 423
        assert dm_api.post(f"/api/v1/locks/{locked.data['id']}/unlock/", {}, format="json").status_code == 400
        unlocked = dm_api.post(f"/api/v1/locks/{locked.data['id']}/unlock/", {"reason": "query fixed"}, format="json")
        assert unlocked.status_code == 200 and unlocked.data["active"] is False
        assert patch_value(staff_api, result).status_code == 200
        lock_history = Lock.history.filter(id=locked.data["id"]).order_by("history_id")
        assert [h.history_change_reason for h in lock_history] == [None, "query fixed"]

    def test_visit_lock_covers_the_visit_and_its_results_only(
        self, client_for, data_manager, staff, staff_api, subject
    ):
        scr = services.save_crf(Visit(subject=subject, code="SCR"), user=staff)
        bl = services.save_crf(Visit(subject=subject, code="BL"), user=staff)
        assert self.lock(client_for(data_manager), level="VISIT", visit=scr.pk).status_code == 201
        in_scr = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, visit=scr.pk), format="json")
        in_bl = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, visit=bl.pk), format="json")
        assert (in_scr.status_code, in_bl.status_code) == (423, 201)
        visit_edit = staff_api.patch(
            f"/api/v1/visits/{scr.pk}/", {"status": "MISSED", "change_reason": "x"}, format="json", HTTP_IF_MATCH='"1"'
        )
        assert visit_edit.status_code == 423

    def test_study_lock_refuses_bulk_import(self, client_for, data_manager, staff_api, subject):
        assert self.lock(client_for(data_manager), level="STUDY").status_code == 201
        response = staff_api.post("/api/v1/lab-results/bulk/", [factories.lab_payload(subject)], format="json")
        assert response.status_code == 400
        assert "locked" in response.data["errors"][0]["message"]
        assert LabResult.objects.count() == 0

    def test_only_data_managers_lock(self, client_for, monitor, staff_api, subject):
        for api in (staff_api, client_for(monitor)):
            assert self.lock(api, level="SUBJECT", subject=subject.subject_id).status_code == 403
        assert Lock.objects.count() == 0

    def test_lock_needs_its_target(self, client_for, data_manager):
        response = self.lock(client_for(data_manager), level="VISIT")
        assert response.status_code == 400 and "visit" in response.data

    def test_locked_row_is_read_only_in_the_admin(self, client, staff, data_manager, subject, result):
        services.lock("SUBJECT", subject=subject, reason="frozen", user=data_manager)
        client.force_login(staff)
        url = reverse("admin:edc_labresult_change", args=[result.pk])
        page = client.get(url)
        assert page.status_code == 200 and 'name="value"' not in page.content.decode()
        assert client.post(url, {"value": "3", "change_reason": "x"}).status_code == 403


class TestSourceVerification:
    def test_monitor_verifies_and_a_change_voids_it(self, client_for, monitor, staff_api, result):
        api = client_for(monitor)
        body = {"target_model": "edc.labresult", "target_id": result.pk}
        created = api.post("/api/v1/source-verifications/", body, format="json")
        assert created.status_code == 201, created.content
        assert created.data["verified_version"] == 1
        assert patch_value(staff_api, result).status_code == 200
        verification = SourceVerification.objects.get()
        assert verification.voided and "changed after verification" in verification.void_reason

    def test_staff_cannot_verify(self, staff_api, result):
        body = {"target_model": "edc.labresult", "target_id": result.pk}
        assert staff_api.post("/api/v1/source-verifications/", body, format="json").status_code == 403
        assert SourceVerification.objects.count() == 0

    def test_admin_action_marks_verified(self, client, monitor, result):
        client.force_login(monitor)
        response = client.post(
            reverse("admin:edc_labresult_changelist"),
            {"action": "mark_source_verified", "_selected_action": [result.pk]},
        )
        assert response.status_code == 302
        assert SourceVerification.objects.get().target_id == result.pk


class TestSignatures:
    def test_changing_signed_visit_data_voids_the_signature(self, investigator, staff, staff_api, subject):
        visit = services.save_crf(Visit(subject=subject, code="SCR"), user=staff)
        visit_sig = services.sign(visit, "REVIEWED", user=investigator, password=factories.PASSWORD)
        decided = EligibilityDecision(subject=subject, evaluation_date=timezone.localdate(), eligible=True,
                                      decided_by=investigator)  # fmt: skip
        recorded = services.save_crf(decided, user=investigator)
        decision = services.sign(recorded, "ELIGIBILITY_CONFIRMED", user=investigator, password=factories.PASSWORD)
        response = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, visit=visit.pk), format="json")
        assert response.status_code == 201
        visit_sig.refresh_from_db()
        decision.refresh_from_db()
        assert visit_sig.voided and "a new signature is needed" in visit_sig.void_reason
        assert not decision.voided  # a dated decision, not an attestation of the data as it stands

    def test_admin_sign_view_asks_for_the_password(self, client, investigator, staff, subject):
        visit = services.save_crf(Visit(subject=subject, code="SCR"), user=staff)
        client.force_login(investigator)
        url = reverse("admin:edc_visit_sign", args=[visit.pk])
        wrong = client.post(url, {"meaning": "APPROVED", "password": "nope"})
        assert wrong.status_code == 200 and "does not match" in wrong.content.decode()
        assert Signature.objects.count() == 0
        right = client.post(url, {"meaning": "APPROVED", "password": factories.PASSWORD})
        assert right.status_code == 302
        assert Signature.objects.get().signed_by == investigator

    def test_staff_cannot_use_the_sign_view(self, client, staff, subject):
        visit = services.save_crf(Visit(subject=subject, code="SCR"), user=staff)
        client.force_login(staff)
        response = client.post(
            reverse("admin:edc_visit_sign", args=[visit.pk]), {"meaning": "APPROVED", "password": factories.PASSWORD}
        )
        assert response.status_code == 403
        assert Signature.objects.count() == 0


class TestQueriesInTheAdmin:
    def test_monitor_raises_a_query_and_the_badge_shows_beside_the_field(self, client, monitor, staff, result):
        client.force_login(monitor)
        raised = client.post(
            reverse("admin:edc_labresult_raise_query", args=[result.pk]),
            {"target_field": "value", "text": "Check source"},
        )
        assert raised.status_code == 302
        client.force_login(staff)
        page = client.get(reverse("admin:edc_labresult_change", args=[result.pk])).content.decode()
        assert 'class="query-badge"' in page and "Check source" in page

    def test_close_action_reports_what_it_closed_and_what_it_refused(self, client, make_user, site, monitor, result):
        other_monitor = make_user("monitor", site, username="other-monitor")
        warning = {"value": "0.65 g/L is below the expected 0.9; please confirm"}
        automatic = services.open_auto_queries(result, warning)[0]
        theirs = services.open_query(result, "value", "Check source", user=other_monitor)
        client.force_login(monitor)
        response = client.post(
            reverse("admin:edc_dataquery_changelist"),
            {"action": "close_queries", "_selected_action": [automatic.pk, theirs.pk]},
            follow=True,
        )
        shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
        assert ("success", "1 query(ies) closed.") in shown
        assert any(level == "error" and "only other-monitor" in text for level, text in shown), shown
        automatic.refresh_from_db()
        theirs.refresh_from_db()
        assert (automatic.status, theirs.status) == (DataQuery.Status.CLOSED, DataQuery.Status.OPEN)
        assert theirs.history.count() == 1

    def test_site_staff_cannot_raise_queries(self, client, staff, result):
        client.force_login(staff)
        response = client.post(
            reverse("admin:edc_labresult_raise_query", args=[result.pk]), {"target_field": "value", "text": "x"}
        )
        assert response.status_code == 403
        assert DataQuery.objects.count() == 0


def test_audit_trail_has_query_sdv_signature_and_lock_events(
    monitor, investigator, data_manager, staff, subject, result
):
    services.open_query(result, "value", "Source?", user=monitor)
    services.verify_source(result, user=monitor)
    services.sign(subject, "REVIEWED", user=investigator, password=factories.PASSWORD, over_open_queries=True)
    services.lock("SUBJECT", subject=subject, reason="frozen", user=data_manager)
    models = {event.model for event in services.audit_trail(subject)}
    assert {"edc.dataquery", "edc.sourceverification", "edc.signature", "edc.lock", "edc.labresult"} <= models


def test_study_audit_trail_streams_only_the_users_sites(client_for, make_user, data_manager, other_site, staff, site):
    from edc import roles

    mine = factories.make_subject(site, staff)
    other_staff = make_user(roles.SITE_STAFF, other_site)
    theirs = factories.make_subject(other_site, other_staff)
    services.lock("STUDY", reason="database lock", user=data_manager)
    response = client_for(data_manager).get("/api/v1/audit-trail/")
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode()
    assert mine.subject_id in body and theirs.subject_id not in body
    assert "database lock" in body
    assert client_for(staff).get("/api/v1/audit-trail/").status_code == 403
