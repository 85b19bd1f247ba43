"""Taking a subject off study: the investigator's dated, explained decision, the only way to OFF_STUDY."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from edc import rules, services
from edc.models import Subject

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("status", "on", "reason", "refused"),
    [
        ("TREATED", TODAY, "withdrew consent", set()),
        ("ENROLLED", TODAY - dt.timedelta(days=400), "lost to follow-up", set()),
        ("SCREENING", TODAY, "withdrew consent", set()),
        ("TREATED", TODAY + dt.timedelta(days=1), "withdrew consent", {"date"}),
        ("TREATED", dt.date(1899, 12, 31), "withdrew consent", {"date"}),
        ("TREATED", TODAY, "  ", {"reason"}),
        ("OFF_STUDY", TODAY, "again", {"status"}),
        ("SCREEN_FAILED", TODAY, "never entered", {"status"}),
    ],
)
def test_off_study_rule(status, on, reason, refused):
    assert set(rules.off_study_errors(status, on, reason, TODAY)) == refused


def test_only_an_investigator_takes_a_subject_off_study(subject, staff, investigator):
    with pytest.raises(PermissionDenied):
        services.take_off_study(subject, on=timezone.localdate(), reason="withdrew consent", user=staff)
    services.take_off_study(subject, on=timezone.localdate(), reason=" withdrew consent ", user=investigator)
    subject.refresh_from_db()
    assert (subject.status, subject.off_study_date, subject.off_study_reason) == (
        "OFF_STUDY", timezone.localdate(), "withdrew consent",
    )  # fmt: skip
    assert subject.history.first().history_change_reason == "taken off study: withdrew consent"


def test_the_api_takes_a_subject_off_study_and_names_refused_fields(client_for, investigator, staff_api, subject):
    url = f"/api/v1/subjects/{subject.subject_id}/off-study/"
    assert staff_api.post(url, {"date": "2026-12-01", "reason": "x"}).status_code == 403
    api = client_for(investigator)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    refused = api.post(url, {"date": tomorrow, "reason": ""})
    assert refused.status_code == 400 and set(refused.json()) == {"reason"}  # the serializer's own limits first
    refused = api.post(url, {"date": tomorrow, "reason": "withdrew consent"})
    assert refused.status_code == 400 and "in the future" in refused.json()["date"][0]
    assert Subject.objects.get(pk=subject.pk).status == "SCREENING"
    taken = api.post(url, {"date": timezone.localdate().isoformat(), "reason": "withdrew consent"})
    assert taken.status_code == 200, taken.content
    assert (taken.json()["status"], taken.json()["off_study_reason"]) == ("OFF_STUDY", "withdrew consent")


def test_the_subject_page_takes_a_subject_off_study_for_investigators_only(client, staff, investigator, subject):
    page_url = reverse("admin:edc_subject_change", args=[subject.pk])
    off_study_url = reverse("admin:edc_subject_off_study", args=[subject.pk])
    client.force_login(staff)
    assert "Take off study" not in client.get(page_url).content.decode()
    assert client.get(off_study_url).status_code == 403
    client.force_login(investigator)
    assert "Take off study" in client.get(page_url).content.decode()
    response = client.post(off_study_url, {"date": timezone.localdate().isoformat(), "reason": "lost to follow-up"})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.status, subject.off_study_reason) == ("OFF_STUDY", "lost to follow-up")
    assert "Take off study" not in client.get(page_url).content.decode()
