"""Two requests recording the infusion of one subject at the same moment leave exactly one (PostgreSQL)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from edc.models import Subject, Visit
from infusion.models import Infusion
from tests.infusion import factories

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_infusions_of_one_subject_leave_exactly_one(postgres, staff, subject, day0):
    first_lot = factories.make_ready(subject, staff, day0)
    second_lot = factories.make_lot(first_lot.apheresis, staff, day0, lot_number="L-second")
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def attempt(lot):
        try:
            fresh_subject = Subject.objects.get(pk=subject.pk)  # each thread has its own connection
            barrier.wait()
            factories.make_infusion(fresh_subject, lot, staff, day0)
            outcomes[lot.lot_number] = "recorded"
        except ValidationError as error:
            outcomes[lot.lot_number] = error.message_dict
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(lot,)) for lot in (first_lot, second_lot)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values(), key=str).count("recorded") == 1, outcomes
    refusal = next(outcome for outcome in outcomes.values() if outcome != "recorded")
    assert "already received lot" in refusal["subject"][0]  # judged under the lock, not by the constraint
    assert Infusion.objects.count() == 1 and Infusion.history.count() == 1
    assert Visit.objects.filter(subject=subject, code="D0").count() == 1
    subject.refresh_from_db()
    assert subject.status == Subject.Status.TREATED
