"""The OpenAPI schema is generated without a warning: every operation has its own id, every enum a chosen name."""

from collections import Counter

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture
def fresh_stats():
    reset_generator_stats()
    yield GENERATOR_STATS
    reset_generator_stats()


def test_the_schema_has_no_duplicate_operation_ids_and_no_warnings(fresh_stats):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [operation for path in schema["paths"].values() for operation in path.values()]
    ids = Counter(operation["operationId"] for operation in operations)
    assert [name for name, n in ids.items() if n > 1] == []
    assert not any(name.endswith(("_2", "_3")) for name in ids), sorted(ids)  # spectacular's collision suffixes
    assert not fresh_stats, (dict(fresh_stats._warn_cache), dict(fresh_stats._error_cache))
    assert {"v1_exports_list", "v1_exports_retrieve"} <= set(ids)


def test_spectacular_validates_with_fail_on_warn(fresh_stats, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi:")


def test_export_parameters_come_from_the_serializer():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/exports/{dataset}/"]["get"]["parameters"]}
    assert set(parameters) == {"dataset", "format", "subject", "analyte", "from_day", "to_day", "shape", "trailer"}
    assert parameters["trailer"]["schema"]["type"] == "boolean"
    assert parameters["format"]["schema"]["enum"] == ["csv", "json", "parquet", "xpt"]
    assert parameters["shape"]["schema"]["enum"] == ["long", "wide"]
    assert parameters["subject"]["schema"]["type"] == parameters["analyte"]["schema"]["type"] == "array"
    assert parameters["from_day"]["schema"]["type"] == parameters["to_day"]["schema"]["type"] == "number"
    assert "sdtm/lb" in parameters["dataset"]["schema"]["enum"]


def test_export_jobs_are_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    jobs = schema["paths"]["/api/v1/exports/jobs/"]
    body = jobs["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"dataset", "format", "filters"}
    assert "202" in jobs["post"]["responses"] and "get" in jobs
    assert "/api/v1/exports/jobs/{id}/" in schema["paths"]
    download = schema["paths"]["/api/v1/exports/jobs/{id}/download/"]["get"]["responses"]["200"]["content"]
    assert set(download) == {"text/csv; charset=utf-8", "application/json", "application/vnd.apache.parquet"}
