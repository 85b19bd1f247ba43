"""Milestones with the real services of `make test-services`: a Redis worker, and concurrent scans."""

import datetime as dt
import os
import threading
import time

import pytest
from django.core import mail
from django.db import connection

from edc.models import Visit
from followup import services
from followup.models import Milestone
from tests import factories
from tests.followup.conftest import SHANGHAI, infuse, pcr

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("EDC_REQUIRE_SERVICES") == "1":
            pytest.fail("EDC_REQUIRE_SERVICES=1 but the database is not PostgreSQL")
        pytest.skip("needs PostgreSQL: run `make test-services`")


@pytest.fixture
def roles_and_system_user(db):
    # A transactional test empties the tables the data migration filled; put them back.
    from django.contrib.auth.models import Group, User

    from edc import roles

    for name in roles.ALL_ROLES:
        Group.objects.get_or_create(name=name)
    User.objects.get_or_create(username=roles.SYSTEM_USERNAME, defaults={"is_active": False})


def test_saving_a_qpcr_result_is_picked_up_by_a_real_worker(
    celery_worker_on_redis, roles_and_system_user, site, staff, staff_api
):
    subject = factories.make_subject(site, staff)
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=200), dt.time(10), tzinfo=SHANGHAI)
    infuse(subject, staff, start)
    body = factories.lab_payload(subject, analyte="CARPCR", unit="copies/µg", value=None, lln=None, uln=None,
                                 lloq="50", not_detected=True)  # fmt: skip
    for days in (90, 120):
        body["sample_datetime"] = (start + dt.timedelta(days=days)).isoformat()
        assert staff_api.post("/api/v1/lab-results/", body, format="json").status_code == 201
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if Milestone.objects.filter(subject=subject, kind="PCR_NEGATIVE_CONFIRMED").exists():
            break
        time.sleep(0.2)
    confirmed = Milestone.objects.get(subject=subject, kind="PCR_NEGATIVE_CONFIRMED")
    assert confirmed.date == (start + dt.timedelta(days=120)).astimezone(SHANGHAI).date()
    assert confirmed.history.first().history_user.username == "edc-system"


def test_concurrent_scans_leave_the_same_rows_and_mail_once(postgres, roles_and_system_user, site, staff, monkeypatch):
    from followup import tasks

    monkeypatch.setattr(tasks, "enqueue_recompute", lambda subject_ids: None)  # only the two scans below run
    staff.email = "staff@fah.example"
    staff.save()
    subjects = [factories.make_subject(site, staff) for _ in range(3)]
    for subject in subjects:
        start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=400), dt.time(10), tzinfo=SHANGHAI)
        infuse(subject, staff, start)
        pcr(subject, staff, start + dt.timedelta(days=90), not_detected=True)
        pcr(subject, staff, start + dt.timedelta(days=120), not_detected=True)
    barrier = threading.Barrier(2)
    errors = []

    def scan():
        try:
            barrier.wait()
            services.scan_milestones(dt.date.today())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    per_subject = Milestone.objects.filter(subject=subjects[0]).count()
    assert per_subject > 0
    assert Milestone.objects.count() == 3 * per_subject
    assert Visit.objects.filter(milestones__kind="VISIT_OVERDUE").count() == 3 * (
        per_subject - 3
    )  # + PCR, M12, contraception
    assert len(mail.outbox) == 1
