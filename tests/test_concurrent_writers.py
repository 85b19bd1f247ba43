"""Ten clients posting the one-per-subject CRFs of one subject at the same moment (PostgreSQL).

Each passes the validators before any has stored its row; the database keeps one. The other nine get the 400
a sequential duplicate gets, naming the rule, never an IntegrityError's 500.
"""

import json
import threading

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from edc.models import Visit
from screening.models import Consent, ScreeningExam, SleHistory
from tests.screening import factories as screening

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
WRITERS = 10


def race(user, route: str, body: dict) -> list:
    """The responses of WRITERS clients posting `body` to `route` at once."""
    barrier = threading.Barrier(WRITERS, timeout=30)
    responses = []

    def post():
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait()
            responses.append(client.post(f"/api/v1/{route}/", body))
        finally:
            connections.close_all()  # each thread has its own connection

    threads = [threading.Thread(target=post) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def one_stored_nine_refused(responses, field: str) -> None:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * (WRITERS - 1), [(r.status_code, r.content[:200]) for r in responses]
    for response in responses:
        if response.status_code == 400:  # the field by name, or a message naming it
            assert field in json.dumps(response.json()), response.json()


def iso(day) -> str:
    return day.isoformat() if day else None


@pytest.mark.parametrize(
    ("route", "model", "part"),
    [
        ("consents", Consent, "consent"),
        ("sle-history", SleHistory, "sle_history"),
        ("screening-exams", ScreeningExam, "screening_exam"),
    ],
)
def test_one_per_subject_crfs_posted_at_once_store_one(postgres, staff, subject, route, model, part):
    if route != "consents":
        Consent.objects.create(subject=subject, **screening.typed(Consent, screening.dry_run_body()["consent"]))
    body = {"subject": subject.subject_id, **screening.dry_run_body()[part]}
    one_stored_nine_refused(race(staff, route, body), "subject")
    assert model.objects.filter(subject=subject).count() == 1
    assert model.history.filter(subject_id=subject.pk).count() == 1


@pytest.mark.parametrize("code", ["SCR", "BL"])
def test_a_scheduled_visit_posted_at_once_is_stored_once(postgres, staff, subject, code):
    body = {
        "subject": subject.subject_id,
        "code": code,
        "planned_date": iso(timezone.localdate()),
        "visit_datetime": timezone.now().isoformat(),
        "status": "DONE",
    }
    one_stored_nine_refused(race(staff, "visits", body), "code")
    assert Visit.objects.filter(subject=subject, code=code).count() == 1
    assert Visit.history.filter(subject_id=subject.pk, code=code).count() == 1
