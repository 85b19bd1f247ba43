import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from edc import demo, roles, rules
from edc.models import Lock, Subject
from edc.services import dashboard

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_the_cohort_once_and_prints_logins(capsys):
    call_command("seed_demo", "--subjects", "5", "--seed", "7")
    call_command("seed_demo", "--subjects", "5")  # a second run adds nothing
    out = capsys.readouterr().out
    assert Subject.objects.count() == 5
    assert Subject.objects.filter(subject_id="M1019-01-005").exists()
    for role in roles.ALL_ROLES:
        assert get_user_model().objects.filter(groups__name=role, edc_sites__code="01").exists()
        assert role in out
    assert "Demo cohort already loaded." in out


def test_subject_page_shows_registered_panels(client, staff, subject, monkeypatch):
    from edc.admin import base

    monkeypatch.setattr(base, "_subject_panels", [("Test panel", lambda request, s: f"panel of {s}")])
    client.force_login(staff)
    response = client.get(f"/admin/edc/subject/{subject.pk}/change/")
    assert response.status_code == 200
    assert f"panel of {subject.subject_id}" in response.content.decode()


def test_the_demo_dashboard_shows_every_state_of_its_legend():
    """Monitoring under way in the demo: visits verified, signed and locked; a visit long past its window recorded
    as missed, a recent one still overdue; queries open and visits due."""
    call_command("seed_demo", "--seed", "1019")
    grid = dashboard.study_grid(Subject.objects.all())
    assert {state for state, count in grid.counts.items() if count} == set(rules.VISIT_STATE_LABELS)
    assert grid.counts["SIGNED"] + grid.counts["LOCKED"] == demo.SIGNED_VISITS
    assert Lock.objects.filter(level=Lock.Level.VISIT, active=True).count() == demo.LOCKED_VISITS
