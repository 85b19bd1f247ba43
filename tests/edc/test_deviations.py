"""The protocol deviation log: proposals from visits outside their window (raised once, withdrawn when corrected,
never for a visit in its window), the confirmation and dismissal of a proposal, the API (roles, site scope, bad
input) and the admin's list, form, home-page proposals and subject panel."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from edc import roles, services
from edc.models import Deviation, Visit
from tests import factories

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def today():
    return timezone.localdate(timezone.now(), SHANGHAI)


@pytest.fixture
def d7(subject, staff):
    """A scheduled D7 visit of a subject infused 20 days ago: window day 6 … day 8."""
    day0 = today() - dt.timedelta(days=20)
    visit = Visit(subject=subject, code="D7", planned_date=day0 + dt.timedelta(days=7),
                  window_start=day0 + dt.timedelta(days=6), window_end=day0 + dt.timedelta(days=8))  # fmt: skip
    return services.save_crf(visit, user=staff)


def done_on(visit, day: dt.date, user, reason="visit performed"):
    visit.visit_datetime = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
    visit.status = Visit.Status.DONE
    return services.save_crf(visit, user=user, reason=reason)


def proposals_of(subject):
    return list(Deviation.objects.filter(subject=subject, auto=True))


def manual(subject, **overrides) -> Deviation:
    values = {"subject": subject, "category": Deviation.Category.CONSENT, "severity": Deviation.Severity.MAJOR,
              "deviation_date": today() - dt.timedelta(days=3), "description": "ICF v2 signed after the v3 approval",
              **overrides}  # fmt: skip
    return Deviation(**values)


# --- Proposals from visit windows ---------------------------------------------------------------


def test_a_visit_outside_its_window_proposes_one_minor_visit_window_deviation(d7, staff):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    assert (proposal.status, proposal.category, proposal.severity) == ("PROPOSED", "VISIT_WINDOW", "MINOR")
    assert proposal.source == f"visit-window:{visit.pk}" and proposal.visit == visit
    assert proposal.deviation_date == d7.window_end + dt.timedelta(days=2)
    assert "2 day(s) late" in proposal.description and "visit D7" in proposal.description
    assert proposal.history.first().history_user.username == roles.SYSTEM_USERNAME


def test_saving_the_same_visit_again_raises_no_second_proposal(d7, staff):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    visit.status = Visit.Status.DONE
    done_on(visit, d7.window_end + dt.timedelta(days=3), staff, reason="time corrected")
    assert len(proposals_of(visit.subject)) == 1


def test_a_visit_in_its_window_proposes_nothing(d7, staff):
    for day in (d7.window_start, d7.window_end):
        d7 = done_on(d7, day, staff, reason="date corrected")
    assert proposals_of(d7.subject) == []


def test_a_corrected_visit_withdraws_its_proposal_and_a_new_slip_raises_it_again(d7, staff):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    visit = done_on(visit, d7.window_end, staff, reason="date was mistyped")
    [proposal] = proposals_of(visit.subject)
    assert proposal.status == "DISMISSED" and proposal.decided_by.username == roles.SYSTEM_USERNAME
    assert proposal.dismiss_reason.startswith("withdrawn by the system")
    done_on(visit, d7.window_start - dt.timedelta(days=1), staff, reason="it was the day before after all")
    [again] = proposals_of(visit.subject)
    assert again.pk == proposal.pk and again.status == "PROPOSED" and "1 day(s) early" in again.description


def test_a_confirmed_proposal_stays_when_the_visit_is_corrected(d7, staff, data_manager):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    services.confirm_deviation(proposal, user=data_manager)
    done_on(visit, d7.window_end, staff, reason="date was mistyped")
    proposal.refresh_from_db()
    assert proposal.status == "CONFIRMED" and proposal.decided_by == data_manager


def test_a_proposal_a_person_dismissed_is_not_raised_again(d7, staff, investigator):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    services.dismiss_deviation(proposal, reason="the sponsor allowed the delay", user=investigator)
    done_on(visit, d7.window_end + dt.timedelta(days=3), staff, reason="time corrected")
    proposal.refresh_from_db()
    assert proposal.status == "DISMISSED" and proposal.dismiss_reason == "the sponsor allowed the delay"


# --- Confirm, dismiss, record --------------------------------------------------------------------


def test_only_investigators_and_data_managers_decide_and_only_a_proposal(d7, staff, monitor, data_manager):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    for user in (staff, monitor):
        with pytest.raises(PermissionDenied):
            services.confirm_deviation(proposal, user=user)
    with pytest.raises(ValidationError) as refused:
        services.dismiss_deviation(proposal, reason="  ", user=data_manager)
    assert "dismiss_reason" in refused.value.message_dict
    services.confirm_deviation(proposal, user=data_manager)
    with pytest.raises(ValidationError) as twice:
        services.dismiss_deviation(proposal, reason="changed my mind", user=data_manager)
    assert "not proposed" in twice.value.message_dict["status"][0]


def test_recorded_deviations_are_confirmed_and_audited(subject, staff, data_manager, monitor):
    deviation = services.record_deviation(manual(subject), user=data_manager)
    assert (deviation.status, deviation.auto, deviation.source) == ("CONFIRMED", False, "")
    with pytest.raises(PermissionDenied):
        services.record_deviation(manual(subject), user=monitor)
    deviation.corrective_action = "re-consented on ICF v3"
    with pytest.raises(ValidationError):
        services.record_deviation(deviation, user=staff)  # no reason for change
    services.record_deviation(deviation, user=staff, reason="re-consent done")
    assert [h.history_change_reason for h in deviation.history.order_by("history_id")] == [None, "re-consent done"]


def test_reported_to_the_ethics_committee_needs_its_date_and_only_then(subject, staff):
    with pytest.raises(ValidationError) as missing:
        services.record_deviation(manual(subject, reported_to_ec=True), user=staff)
    assert "required" in missing.value.message_dict["reported_to_ec_date"][0]
    with pytest.raises(ValidationError) as unticked:
        services.record_deviation(manual(subject, reported_to_ec_date=today()), user=staff)
    assert "reported_to_ec_date" in unticked.value.message_dict
    with pytest.raises(ValidationError) as future:
        services.record_deviation(manual(subject, deviation_date=today() + dt.timedelta(days=2)), user=staff)
    assert "future" in future.value.message_dict["deviation_date"][0]
    stored = services.record_deviation(manual(subject, reported_to_ec=True, reported_to_ec_date=today()), user=staff)
    assert stored.reported_to_ec_date == today()
    assert Deviation.objects.count() == 1


# --- API -----------------------------------------------------------------------------------------


def body(subject, **overrides) -> dict:
    return {"subject": subject.subject_id, "category": "CONSENT", "severity": "MAJOR",
            "deviation_date": (today() - dt.timedelta(days=3)).isoformat(),
            "description": "ICF v2 signed after the v3 approval", **overrides}  # fmt: skip


def test_api_create_list_and_filters(client_for, subject, staff, data_manager):
    created = client_for(data_manager).post("/api/v1/deviations/", body(subject), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "CONFIRMED" and created["ETag"] == '"1"'
    api = client_for(staff)
    listed = api.get("/api/v1/deviations/", {"subject": subject.subject_id, "category": "CONSENT", "site": "01"})
    assert [row["id"] for row in listed.json()["results"]] == [created.json()["id"]]
    assert api.get("/api/v1/deviations/", {"status": "PROPOSED"}).json()["results"] == []


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"reported_to_ec": True}, "reported_to_ec_date", "required"),
        ({"deviation_date": "9999-01-01"}, "deviation_date", "1900"),
        ({"deviation_date": ""}, "deviation_date", "format"),
        ({"description": ""}, "description", "blank"),
        ({"category": "LATE"}, "category", "valid choice"),
        ({"severity": ""}, "severity", "valid choice"),
        ({"status": "CONFIRMED", "source": "x", "reported_to_ec_date": "2026-13-01"}, "reported_to_ec_date", "format"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(staff_api, subject, overrides, field, words):
    response = staff_api.post("/api/v1/deviations/", body(subject, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()[field])
    assert Deviation.objects.count() == 0


def test_api_roles_and_site_scope(client_for, make_user, site, other_site, subject, staff, monitor, investigator):
    deviation = services.record_deviation(manual(subject), user=staff)
    sponsor = make_user(roles.SPONSOR_VIEWER, site, username="sponsor")
    elsewhere = make_user(roles.DATA_MANAGER, other_site, username="elsewhere")
    assert client_for(sponsor).get("/api/v1/deviations/").status_code == 403
    assert client_for(monitor).get(f"/api/v1/deviations/{deviation.pk}/").status_code == 200
    assert client_for(monitor).post("/api/v1/deviations/", body(subject), format="json").status_code == 403
    assert client_for(elsewhere).get(f"/api/v1/deviations/{deviation.pk}/").status_code == 404
    assert client_for(elsewhere).post("/api/v1/deviations/", body(subject), format="json").status_code == 400
    patched = client_for(investigator).patch(
        f"/api/v1/deviations/{deviation.pk}/", {"corrective_action": "re-consented", "change_reason": "done"},
        format="json", HTTP_IF_MATCH='"1"',
    )  # fmt: skip
    assert patched.status_code == 200 and patched["ETag"] == '"2"'


def test_api_confirm_and_dismiss(client_for, d7, staff, data_manager):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    url = f"/api/v1/deviations/{proposal.pk}/"
    assert client_for(staff).post(f"{url}confirm/").status_code == 403
    no_reason = client_for(data_manager).post(f"{url}dismiss/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    confirmed = client_for(data_manager).post(f"{url}confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "CONFIRMED"
    assert confirmed.json()["decided_by"] == data_manager.username
    again = client_for(data_manager).post(f"{url}dismiss/", {"reason": "no"}, format="json")
    assert again.status_code == 400 and "not proposed" in again.json()["status"][0]


# --- Admin ---------------------------------------------------------------------------------------


def test_the_admin_list_shows_labels_and_the_form_needs_the_ec_date(client, subject, staff, data_manager):
    services.record_deviation(manual(subject, reported_to_ec=True, reported_to_ec_date=today()), user=staff)
    client.force_login(data_manager)
    page = client.get("/admin/edc/deviation/").content.decode()
    assert "informed consent" in page and "major" in page and f"yes, {today():%Y-%m-%d}" in page
    form = {"subject": subject.pk, "category": "OTHER", "severity": "MINOR", "deviation_date": today().isoformat(),
            "description": "blood drawn before consent", "reported_to_ec": "on"}  # fmt: skip
    refused = client.post("/admin/edc/deviation/add/", form)
    assert refused.status_code == 200
    assert "required when the deviation was reported to the ethics committee" in refused.content.decode()
    saved = client.post("/admin/edc/deviation/add/", {**form, "reported_to_ec_date": today().isoformat()})
    assert saved.status_code == 302
    assert Deviation.objects.filter(category="OTHER", status="CONFIRMED").exists()


def test_the_admin_confirms_and_dismisses_a_proposal(client, d7, staff, investigator):
    visit = done_on(d7, d7.window_end + dt.timedelta(days=2), staff)
    [proposal] = proposals_of(visit.subject)
    client.force_login(investigator)
    page = client.get(f"/admin/edc/deviation/{proposal.pk}/change/").content.decode()
    assert f"/admin/edc/deviation/{proposal.pk}/dismiss/" in page
    assert client.post(f"/admin/edc/deviation/{proposal.pk}/dismiss/", {"reason": ""}).status_code == 200
    assert client.post(f"/admin/edc/deviation/{proposal.pk}/dismiss/", {"reason": "allowed"}).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "DISMISSED" and proposal.decided_by == investigator
    client.force_login(staff)
    assert client.get(f"/admin/edc/deviation/{proposal.pk}/confirm/").status_code == 403


def test_proposals_are_on_the_data_managers_home_page_in_fixed_queries(client, site, staff, data_manager,
                                                                       django_assert_max_num_queries):  # fmt: skip
    client.force_login(data_manager)

    def propose_for_a_new_subject():
        subject = factories.make_subject(site, staff)
        window_end = today() - dt.timedelta(days=12)
        visit = Visit(subject=subject, code="D7", planned_date=window_end, window_start=window_end,
                      window_end=window_end)  # fmt: skip
        done_on(services.save_crf(visit, user=staff), window_end + dt.timedelta(days=2), staff)

    propose_for_a_new_subject()
    client.get("/admin/")
    with django_assert_max_num_queries(200) as one:
        page = client.get("/admin/").content.decode()
    assert "Proposed deviations to confirm or dismiss (1)" in page and "visit window · minor" in page
    for _ in range(9):
        propose_for_a_new_subject()
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get("/admin/").content.decode()
    assert "Proposed deviations to confirm or dismiss (10)" in page


def test_the_subject_page_has_a_deviations_panel(client, subject, staff):
    services.record_deviation(manual(subject), user=staff)
    client.force_login(staff)
    page = client.get(f"/admin/edc/subject/{subject.pk}/change/").content.decode()
    assert "Protocol deviations" in page and "ICF v2 signed after the v3 approval" in page
    assert f"/admin/edc/deviation/add/?subject={subject.pk}" in page
