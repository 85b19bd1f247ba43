"""Fixtures shared by the whole suite: sites, users per role, API clients."""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from edc import roles
from tests import factories

PASSWORD = factories.PASSWORD


@pytest.fixture(autouse=True)
def empty_cache():
    """The cache is the process's and outlives a test's database transaction: what one test cached (panels keyed by
    row ids the next test reuses, the token endpoint's throttle counts) is cleared. The lockout's attempts are rows,
    rolled back with the test."""
    cache.clear()


@pytest.fixture(autouse=True)
def english_first():
    """Each test starts in the default language: a request in Chinese leaves the thread's language active after it
    (LocaleMiddleware activates, nothing deactivates), which would leak into the next test's English assertions."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def site(db):
    return factories.SiteFactory(code="01")


@pytest.fixture
def other_site(db):
    return factories.SiteFactory(code="02", name="Another hospital")


@pytest.fixture
def make_user(db):
    def make(role: str, *sites, username: str | None = None):
        user = factories.UserFactory(**({"username": username} if username else {}))
        user.groups.add(Group.objects.get(name=role))
        for s in sites:
            s.users.add(user)
        return user

    return make


@pytest.fixture
def staff(make_user, site):
    return make_user(roles.SITE_STAFF, site, username="staff")


@pytest.fixture
def investigator(make_user, site):
    return make_user(roles.INVESTIGATOR, site, username="investigator")


@pytest.fixture
def monitor(make_user, site):
    return make_user(roles.MONITOR, site, username="monitor")


@pytest.fixture
def data_manager(make_user, site):
    return make_user(roles.DATA_MANAGER, site, username="datamanager")


@pytest.fixture
def client_for():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def staff_api(client_for, staff):
    return client_for(staff)


@pytest.fixture
def subject(site, staff):
    return factories.make_subject(site, staff)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url():
    """The real Redis of `make test-services`: absent → skip; asked for but unreachable → fail."""
    url = os.environ.get("REDIS_URL")
    required = os.environ.get("EDC_REQUIRE_SERVICES") == "1"
    if not url:
        if required:
            pytest.fail("EDC_REQUIRE_SERVICES=1 but REDIS_URL is not set")
        pytest.skip("needs Redis: run `make test-services`")
    if not _reachable(url, 6379):
        pytest.fail(f"Redis at {url} is unreachable")
    return url


@pytest.fixture
def celery_worker_on_redis(redis_url, monkeypatch):
    """A real Celery worker consuming from the real Redis broker, for one test: tasks are sent to
    Redis only while it runs (everywhere else they run in-process)."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    assert app.conf.broker_url.startswith("redis://")
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    app.control.purge()  # nothing left over from an earlier run
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


def _require_postgres():
    """Absent → skip; asked for by `make test-services` → fail."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        if os.environ.get("EDC_REQUIRE_SERVICES") == "1":
            pytest.fail("EDC_REQUIRE_SERVICES=1 but DATABASE_URL is not a PostgreSQL URL")
        pytest.skip("needs PostgreSQL: run `make test-services`")


@pytest.fixture
def postgres_db(db):
    """PostgreSQL inside the test's own transaction: for what only PostgreSQL refuses, on one connection."""
    _require_postgres()


@pytest.fixture
def postgres(transactional_db):
    """Row locks need a real PostgreSQL and committed rows that other connections see."""
    _require_postgres()
    # An earlier transactional test's flush removed the role groups that a data migration created.
    for role in roles.ALL_ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def count_queries():
    """`count_queries(request)` → (SQL queries the call ran, its result): the one helper of query-count tests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(call):
        with CaptureQueriesContext(connection) as captured:
            result = call()
        return len(captured), result

    return count
