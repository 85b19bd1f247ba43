"""Property-based requests over the OpenAPI schema, as outside clients send them (schemathesis).

Every operation the schema lists, for a site-staff member and a data manager, on a treated subject's casebook:
no request may produce a 500, and every answer (status, content type, body) must be one the schema documents.
Runs in `make test-services` (PostgreSQL, which refuses what SQLite stores); derandomised, so a failure is
reproducible; `EDC_FUZZ_EXAMPLES` sets the examples per operation (12 by default: about three and a half minutes).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from edc import roles
from tests.casebook import treated_casebook
from tests.factories import make_subject

pytestmark = pytest.mark.services

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("EDC_FUZZ_EXAMPLES", "12"))
ROLES = [roles.SITE_STAFF, roles.DATA_MANAGER]


@pytest.fixture(params=ROLES)
def role(request):
    return request.param


@pytest.fixture
def one_connection():
    """Keep the WSGI handler from closing the connection after each request, as Django's test client does:
    the whole run stays in the test's transaction (rolled back, not flushed: much faster)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token(postgres_db, one_connection, make_user, site, staff, role):
    treated_casebook(make_subject(site, staff), staff)
    user = staff if role == roles.SITE_STAFF else make_user(role, site)
    return Token.objects.create(user=user).key


# Revoking would delete the run's own token and leave every later request a 401 (tests/edc/test_part11.py tests it).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).exclude(path="/api/v1/auth/token/revoke/")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_breaks_the_contract(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
