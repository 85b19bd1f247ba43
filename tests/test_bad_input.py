"""Bad input on every route, as outside clients send it: a 400 naming the field, and every table as it was.

Each case is one an API fuzzer found as a 500 (or as a value stored that CRF.md refuses). "As it was" counts the
rows of every table of the project, history tables included, before and after each request.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from edc import roles
from edc import services as edc_services
from edc.models import LabResult, Visit
from screening.models import Consent, SleHistory
from tests import factories
from tests.casebook import CRF_ROUTES, treated_casebook
from tests.screening import factories as screening

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("edc", "screening", "infusion", "followup", "auth", "authtoken")
SUBJECT_CRF_ROUTES = [route for route in CRF_ROUTES if route not in ("subjects", "product-lots")]


def table_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count() for model in apps.get_models() if model._meta.app_label in PROJECT_APPS
    }


@pytest.fixture
def casebook(staff, subject, data_manager):
    """The subject's casebook, a data query and a visit lock (route → the id its URLs take)."""
    ids = treated_casebook(subject, staff)
    d7, d14 = (Visit.objects.get(subject=subject, code=code) for code in ("D7", "D14"))
    ids["queries"] = edc_services.open_query(d7, "visit_datetime", "please confirm", user=data_manager).pk
    ids["locks"] = edc_services.lock("VISIT", visit=d14, reason="monitoring visit", user=data_manager).pk
    return ids


def send(api, method: str, url: str, raw_body: str, **headers):
    return api.generic(method, url, raw_body, content_type="application/json", **headers)


def refused(response, field: str) -> list:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    assert field in response.json(), response.json()
    return response.json()[field]


# --- 1. DELETE with a body that is not a JSON object ----------------------------------------------


@pytest.mark.parametrize(
    ("raw_body", "json_type"), [("[1, 2]", "array"), ('"x"', "string"), ("null", "null"), ("42", "number")]
)
def test_delete_with_a_body_that_is_not_an_object_is_refused(staff_api, casebook, raw_body, json_type):
    before = table_counts()
    for route in CRF_ROUTES:
        url = f"/api/v1/{route}/{casebook[route]}/"
        response = send(staff_api, "DELETE", url, raw_body, HTTP_X_CHANGE_REASON="entered in error")
        assert refused(response, "body") == [f"expected a JSON object, got {json_type}"], route
    assert table_counts() == before


# --- 2. Text that cannot be stored: NUL and lone surrogates ------------------------------------------


def test_nul_in_a_void_reason_is_refused(staff_api, casebook):
    before = table_counts()
    for route in CRF_ROUTES:
        response = send(staff_api, "DELETE", f"/api/v1/{route}/{casebook[route]}/", '{"change_reason": "typo\\u0000"}')
        assert "NUL" in refused(response, "change_reason")[0], route
    assert table_counts() == before


def test_nul_in_a_subject_lookup_is_refused_on_every_crf_that_takes_one(staff_api, casebook):
    assert len(SUBJECT_CRF_ROUTES) == 14  # deviations and adverse-event-treatments included
    before = table_counts()
    for route in SUBJECT_CRF_ROUTES:
        response = send(staff_api, "POST", f"/api/v1/{route}/", '{"subject": "M1019-01-001\\u0000"}')
        assert "NUL" in refused(response, "subject")[0], route
    assert table_counts() == before


@pytest.mark.parametrize(
    ("route", "field"), [("subjects", "site"), ("product-lots", "apheresis"), ("infusions", "lot")]
)
def test_nul_in_other_lookups_is_refused(staff_api, casebook, route, field):
    before = table_counts()
    refused(send(staff_api, "POST", f"/api/v1/{route}/", json.dumps({field: "01\x00"})), field)
    assert table_counts() == before


def test_a_lone_surrogate_in_text_is_refused_with_its_place(staff_api, casebook):
    before = table_counts()
    body = json.dumps({**factories.lab_payload(LabResult.objects.first().subject), "lab_name": "lab \ud800"})
    assert "lone surrogate" in refused(send(staff_api, "POST", "/api/v1/lab-results/", body), "lab_name")[0]
    nested = json.dumps({"medications": [{"drug": "x\ud800"}]})
    refused(send(staff_api, "POST", "/api/v1/eligibility/evaluate/", nested), "medications.0.drug")
    assert table_counts() == before


def test_nul_or_a_lone_surrogate_in_an_export_jobs_filters_is_refused(client_for, data_manager, casebook):
    exports = client_for(data_manager)
    before = table_counts()
    for text in ('"a\\u0000b"', '"a\\ud800"'):
        body = '{"dataset": "sdtm/lb", "filters": {"subject": [' + text + "]}}"
        response = send(exports, "POST", "/api/v1/exports/jobs/", body)
        assert response.status_code == 400, response.content
    assert table_counts() == before


def test_nul_in_a_query_parameter_path_or_header_is_refused(client_for, data_manager, staff_api, casebook):
    exports = client_for(data_manager)
    assert "NUL" in refused(exports.get("/api/v1/exports/sdtm/lb/?subject=a%00b"), "subject")[0]
    refused(staff_api.get("/api/v1/subjects/M1019-01-001%00/"), "path")
    before = table_counts()
    response = send(
        staff_api, "DELETE", f"/api/v1/consents/{casebook['consents']}/", "", HTTP_X_CHANGE_REASON="typo\x00"
    )
    refused(response, "X-Change-Reason")
    assert table_counts() == before


def test_nul_in_an_admin_search_is_a_bad_request_not_an_error(client, staff):
    client.force_login(staff)
    assert client.get("/admin/edc/subject/?q=a%00b").status_code == 400


# --- 3. Deeply nested JSON on every write operation -------------------------------------------------


def write_operations() -> list[tuple[str, str, bool]]:
    """(method, path, takes a body) of every write operation of the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), path, "requestBody" in operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    ]


@pytest.fixture
def every_role_api(client_for, make_user, site):
    user = make_user(roles.SITE_STAFF, site, username="every-role")
    user.groups.add(*Group.objects.filter(name__in=roles.ALL_ROLES))
    return client_for(user)


def test_every_write_operation_refuses_a_deeply_nested_body(every_role_api, casebook):
    """Refused by the parser before any view reads it; an operation that takes no body never reads it."""
    operations = write_operations()
    assert len(operations) >= 60
    before = table_counts()
    for method, path, takes_body in operations:
        route = path.removeprefix("/api/v1/").split("/")[0]
        url = path.replace("{subject_id}", casebook["subjects"]).replace("{id}", str(casebook.get(route, 1)))
        response = send(every_role_api, method, url, "[" * 100_000, HTTP_IF_MATCH='"1"', HTTP_X_CHANGE_REASON="x")
        if takes_body or method == "DELETE":  # DELETE may carry its reason in the body
            assert response.status_code == 400, (method, url, response.status_code, response.content[:300])
            assert "nested deeper" in response.json()["detail"], (method, url)
        else:
            assert response.status_code < 500, (method, url, response.status_code)
    assert table_counts() == before


# --- 4. Bulk rows the single-row route refuses ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject", ["M1019-01-001"], "expected the subject_id as text, got array"),
        ("subject", {"id": 1}, "expected the subject_id as text, got object"),
        ("visit", [1], "expected the visit's id, a whole number, got array"),
        ("visit", 1.5, "expected the visit's id, a whole number, got number"),
        ("lab_name", "x" * 101, "at most 100 characters; got 101"),
        ("lab_name", 7, "expected text, got number"),
        ("lab_name", "lab\x00", "contains a NUL character (\\u0000), which cannot be stored"),
        ("lab_name", "lab\ud800", "contains a lone surrogate (\\ud800), which is not Unicode text"),
        ("sample_datetime", "0001-01-01T00:00:00+14:00", "0001-01-01 is outside 1900-01-01 … 2100-12-31 (hard limit)"),
    ],
)
def test_bulk_rows_are_refused_as_the_single_row_route_refuses_them(staff_api, subject, field, value, message):
    good = factories.lab_payload(subject)
    before = table_counts()
    response = send(staff_api, "POST", "/api/v1/lab-results/bulk/", json.dumps([good, {**good, field: value}]))
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [{"index": 1, "field": field, "message": message}]
    assert table_counts() == before


# --- 5, 6. Year-1 dates and non-finite day filters ---------------------------------------------------


def test_year_one_dates_are_refused_on_eligibility_and_suggestions(client_for, investigator, staff_api, subject):
    outside = "0001-01-01 is outside 1900-01-01 … 2100-12-31 (hard limit)"
    url = f"/api/v1/subjects/{subject.subject_id}/eligibility/"
    assert refused(staff_api.get(f"{url}?evaluation_date=0001-01-01"), "evaluation_date") == [outside]
    suggestions = staff_api.get(f"/api/v1/sledai/suggestions/?subject={subject.subject_id}&assessment_date=0001-01-05")
    assert refused(suggestions, "assessment_date") == [outside.replace("01-01 is", "01-05 is")]
    before = table_counts()
    confirm = client_for(investigator).post(
        f"{url}confirm/", {"password": factories.PASSWORD, "evaluation_date": "0001-01-01"}
    )
    assert refused(confirm, "evaluation_date") == [outside]
    dry_run = staff_api.post("/api/v1/eligibility/evaluate/", screening.dry_run_body(evaluation_date="0001-01-01"))
    assert refused(dry_run, "evaluation_date") == [outside]
    assert table_counts() == before


@pytest.mark.parametrize(("parameter", "value"), [("from_day", "nan"), ("from_day", "1e309"), ("to_day", "-inf")])
def test_non_finite_day_filters_are_refused(client_for, data_manager, parameter, value):
    response = client_for(data_manager).get(f"/api/v1/exports/sdtm/lb/?{parameter}={value}")
    assert refused(response, parameter) == [f"{value!r} is not a finite number of days"]


# --- 7. Field limits come before the rules that read the field -------------------------------------------


@pytest.mark.parametrize("ice_score", [11, 300])
def test_an_ice_score_above_ten_is_a_field_error(staff_api, subject, ice_score):
    before = table_counts()
    body = {
        "subject": subject.subject_id,
        "term": "ICANS",
        "category": "ICANS",
        "relatedness": "PROBABLE",
        "onset_date": str(dt.date.today() - dt.timedelta(days=3)),
        "ice_score": ice_score,
    }
    assert refused(staff_api.post("/api/v1/adverse-events/", body), "ice_score") == [
        f"must be ≤ 10 (hard limit); got {ice_score}"
    ]
    assert table_counts() == before


# --- Stored when it should be refused ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_timestamp_without_its_offset_is_refused(staff_api, subject, method):
    result = LabResult.objects.create(
        subject=subject,
        analyte="C3",
        value=Decimal("1.1"),
        unit="g/L",
        sample_datetime=timezone.now() - dt.timedelta(days=2),
    )
    naive = (dt.datetime.now() - dt.timedelta(days=1)).replace(microsecond=0).isoformat()
    before = table_counts()
    if method == "post":
        response = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, sample_datetime=naive))
    else:
        response = staff_api.patch(
            f"/api/v1/lab-results/{result.pk}/",
            {"sample_datetime": naive, "change_reason": "time"},
            HTTP_IF_MATCH='"1"',
        )
    assert refused(response, "sample_datetime") == [
        "the timestamp needs its UTC offset, e.g. 2026-12-01T09:00:00+08:00"
    ]
    assert table_counts() == before


def test_every_crf_timestamp_needs_its_offset(staff_api, casebook):
    naive = "2026-01-01T09:00:00"
    for route, field in [
        ("visits", "visit_datetime"),
        ("apheresis", "start_datetime"),
        ("apheresis", "end_datetime"),
        ("infusions", "infusion_start"),
    ]:
        response = staff_api.patch(
            f"/api/v1/{route}/{casebook[route]}/", {field: naive, "change_reason": "x"}, HTTP_IF_MATCH='"1"'
        )
        assert "UTC offset" in refused(response, field)[0], route


def test_a_negative_lloq_and_a_fractional_visit_are_refused(staff_api, casebook):
    subject_id = casebook["subjects"]
    subject = LabResult.objects.first().subject
    assert subject.subject_id == subject_id
    before = table_counts()
    lloq = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, lloq=-1))
    assert refused(lloq, "lloq") == ["must be ≥ 0 (hard limit); got -1"]
    visit = staff_api.post("/api/v1/lab-results/", factories.lab_payload(subject, visit=casebook["visits"] + 0.5))
    refused(visit, "visit")
    assert table_counts() == before


@pytest.mark.parametrize("moment", ["1552-09-19T07:15:56+08:00", "2206-01-01T09:00:00+08:00"])
def test_a_timestamp_outside_the_plausible_range_is_a_hard_limit(staff_api, casebook, moment):
    before = table_counts()
    response = staff_api.patch(
        f"/api/v1/visits/{casebook['visits']}/", {"visit_datetime": moment, "change_reason": "x"}, HTTP_IF_MATCH='"1"'
    )
    assert "outside 1900-01-01 … 2100-12-31" in refused(response, "visit_datetime")[0]
    assert table_counts() == before


def test_a_date_outside_the_plausible_range_is_refused_by_the_services_too(staff, subject):
    """The admin and the services share the hard limit (the API refuses it before them)."""
    with pytest.raises(ValidationError) as refusal:
        edc_services.save_crf(Consent(subject=subject, consent_date=dt.date(1, 1, 1), icf_version="2"), user=staff)
    assert refusal.value.message_dict == {
        "consent_date": ["0001-01-01 is outside 1900-01-01 … 2100-12-31 (hard limit)"]
    }


# --- 8. A unique race lost in the database is a 400 -----------------------------------------------------------


def test_a_duplicate_that_slipped_past_the_validators_is_refused_with_the_rule(staff, subject, monkeypatch):
    """What the loser of two simultaneous first entries meets: the database's constraint, not the validator's
    check (tests/test_concurrent_writers.py runs the real race on PostgreSQL)."""
    edc_services.save_crf(SleHistory(subject=subject, diagnosis_date=dt.date(2020, 1, 1)), user=staff)
    before = table_counts()
    monkeypatch.setitem(edc_services.crf._validators, SleHistory, [])  # as if both writers had passed the check
    with pytest.raises(ValidationError) as refusal:
        edc_services.save_crf(SleHistory(subject=subject, diagnosis_date=dt.date(2020, 1, 2)), user=staff)
    assert refusal.value.message_dict == {
        "subject": [
            "this SLE history breaks the rule 'one sle history per subject': another was stored at the same time"
        ]
    }
    assert table_counts() == before
