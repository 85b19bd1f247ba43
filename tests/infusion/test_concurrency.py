"""Two requests recording the infusion of one subject at the same moment leave exactly one (PostgreSQL)."""

import os
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connections

from edc import roles
from edc.models import Subject, Visit
from infusion.models import Infusion
from tests.infusion import factories

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgres(transactional_db):
    """Row locks need a real PostgreSQL: absent → skip; asked for by `make test-services` → fail."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        if os.environ.get("EDC_REQUIRE_SERVICES") == "1":
            pytest.fail("EDC_REQUIRE_SERVICES=1 but DATABASE_URL is not a PostgreSQL URL")
        pytest.skip("needs PostgreSQL: run `make test-services`")
    # An earlier transactional test's flush removed the role groups that a data migration created.
    for role in roles.ALL_ROLES:
        Group.objects.get_or_create(name=role)


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
