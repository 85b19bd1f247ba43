import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from edc import roles
from edc.models import Subject

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
