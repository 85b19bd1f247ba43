"""The schema says what the API answers: nulls declared, lists as they come, every error body documented.

The schemathesis run (tests/test_api_schema_fuzz.py) checks real answers against the schema on PostgreSQL;
these pin the declarations themselves, and the answers that once broke them, on any database.
"""

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from edc import roles
from tests.casebook import treated_casebook

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _component(schema, name):
    return schema["components"]["schemas"][name]


def _validate(schema, body, ref):
    """Validate a body against a documented schema: OpenAPI 3.0 is JSON Schema draft 4 (boolean exclusive limits)
    with `nullable`, read here as draft 4's null type."""

    def as_json_schema(node):
        if isinstance(node, dict):
            node = {k: as_json_schema(v) for k, v in node.items()}
            if node.pop("nullable", False):
                node = {"anyOf": [node, {"type": "null"}]}
            return node
        if isinstance(node, list):
            return [as_json_schema(v) for v in node]
        return node

    document = as_json_schema({"components": schema["components"], **ref})
    jsonschema.Draft4Validator(document).validate(body)


@pytest.mark.parametrize(
    ("component", "field"),
    [("Lock", "unlocked_by"), ("DataQuery", "answered_by"), ("DataQuery", "closed_by"), ("Milestone", "visit")],
)
def test_relations_returned_as_null_are_declared_nullable(schema, component, field):
    assert _component(schema, component)["properties"][field].get("nullable") is True


def test_suggestions_are_a_plain_list_and_eligibility_one_object(schema):
    suggestions = schema["paths"]["/api/v1/sledai/suggestions/"]["get"]
    assert suggestions["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert {p["name"] for p in suggestions["parameters"]} == {"subject", "assessment_date"}
    eligibility = schema["paths"]["/api/v1/subjects/{subject_id}/eligibility/"]["get"]
    assert eligibility["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Eligibility"
    }


def test_every_operation_documents_the_errors_it_can_answer(schema):
    for path, method, operation in _operations(schema):
        expected = {"400", "404"}
        if path != "/api/v1/auth/token/":
            expected |= {"401", "403"}
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            expected.add("423")
        if method in {"PUT", "PATCH"}:
            expected |= {"412", "428"}
        if method == "DELETE":
            expected |= {"200", "412"}
        assert expected <= set(operation["responses"]), (method, path, sorted(operation["responses"]))


def _error_schema(schema, path, method, code):
    return schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]


def test_the_error_bodies_the_api_answers_are_the_documented_ones(schema, staff, subject, staff_api, client):
    ids = treated_casebook(subject, staff)
    item = f"/api/v1/visits/{ids['visits']}/"
    answers = {
        ("/api/v1/visits/{id}/", "patch", "428"): staff_api.patch(item, {"change_reason": "x"}),
        ("/api/v1/visits/{id}/", "patch", "412"): staff_api.patch(item, {"change_reason": "x"}, HTTP_IF_MATCH='"99"'),
        ("/api/v1/visits/{id}/", "patch", "400"): staff_api.patch(
            item, {"visit_datetime": "2026-12-01T09:00:00", "change_reason": "x"}, HTTP_IF_MATCH='"1"'
        ),
        ("/api/v1/visits/", "get", "400"): staff_api.get("/api/v1/visits/?subjekt=1"),
        ("/api/v1/visits/{id}/", "get", "404"): staff_api.get("/api/v1/visits/999999/"),
        ("/api/v1/visits/", "get", "401"): client.get("/api/v1/visits/"),
        ("/api/v1/lab-results/bulk/", "post", "400"): staff_api.post(
            "/api/v1/lab-results/bulk/", [{"subject": subject.subject_id, "lab_name": "x" * 101}]
        ),
    }
    for (path, method, code), response in answers.items():
        assert str(response.status_code) == code, (path, method, response.status_code, response.content)
        _validate(schema, response.json(), _error_schema(schema, path, method, code))


def test_a_void_answers_the_voided_record_as_documented(schema, staff, subject, staff_api):
    ids = treated_casebook(subject, staff)
    response = staff_api.delete(f"/api/v1/adverse-events/{ids['adverse-events']}/", {"change_reason": "entered twice"})
    assert response.status_code == 200 and response.json()["voided"] is True
    documented = schema["paths"]["/api/v1/adverse-events/{id}/"]["delete"]["responses"]["200"]
    _validate(schema, response.json(), documented["content"]["application/json"]["schema"])


def test_an_unknown_api_address_answers_json_404(staff_api):
    for address in ("/api/v1/no-such-route/", "/api/v1/exports/0.5/", "/api/v1/sledai/suggestions.json"):
        response = staff_api.get(address)
        assert response.status_code == 404, address
        assert response["Content-Type"] == "application/json", address


def test_an_unknown_admin_address_stays_a_page(client, make_user, site):
    client.force_login(make_user(roles.SITE_STAFF, site))
    response = client.get("/admin/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
