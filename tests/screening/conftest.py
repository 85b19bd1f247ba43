import pytest

from tests.screening import factories


@pytest.fixture
def screened(subject, staff):
    """The conftest subject with the eligible screening data of `factories.dry_run_body` stored."""
    factories.store_screening(subject, staff)
    return subject
