import datetime as dt

import pytest
from django.utils import timezone

from tests.infusion import factories


@pytest.fixture
def day0():
    """The infusion day of the tests: 20 site days ago, so follow-up has started."""
    return timezone.localdate(timezone.now(), factories.SHANGHAI) - dt.timedelta(days=20)


@pytest.fixture
def enrolled(subject, staff):
    return factories.enrol(subject, staff)


@pytest.fixture
def ready_lot(subject, staff, day0):
    """The subject enrolled, collected, with a released lot and three lymphodepletion days."""
    return factories.make_ready(subject, staff, day0)
