"""Export parameters: ExportParamsSerializer's 400 names each bad parameter; a parameter a route does not take is a
400 naming it and listing the route's; the `export_pkpd` command refuses the same values with the same words."""

import pytest
from django.core.management import CommandError, call_command

from edc import roles
from followup.models import ExportLog

pytestmark = pytest.mark.django_db

EXPORT_PARAMETERS = "analyte, from_day, shape, subject, to_day, trailer"


@pytest.fixture
def api(client_for, make_user, site):
    return client_for(make_user(roles.DATA_MANAGER, site, username="exporter"))


@pytest.mark.parametrize(
    ("url", "parameter", "message"),
    [
        ("/api/v1/exports/pkpd/?format=xlsx", "format", "unknown format 'xlsx'; one of csv, json, parquet, xpt"),
        ("/api/v1/exports/pkpd/?shape=tall", "shape", "shape 'tall' is not offered for pkpd; pkpd takes long or wide"),
        ("/api/v1/exports/sdtm/ae/?shape=wide", "shape",
         "shape 'wide' is not offered for sdtm/ae; pkpd takes long or wide"),
        ("/api/v1/exports/pk-parameters/?analyte=CARPCR,CD19", "analyte",
         "unknown analyte CD19 for pk-parameters; one of CARPCR, CARFLOW"),
        ("/api/v1/exports/sdtm/ex/?analyte=C3", "analyte", "sdtm/ex has no analyte filter"),
        ("/api/v1/exports/pkpd/?from_day=soon", "from_day", "'soon' is not a number of days"),
        ("/api/v1/exports/pkpd/?to_day=later", "to_day", "'later' is not a number of days"),
        ("/api/v1/exports/pkpd/?from_day=inf", "from_day", "'inf' is not a finite number of days"),
        ("/api/v1/exports/pkpd/?to_day=nan", "to_day", "'nan' is not a finite number of days"),
        ("/api/v1/exports/pkpd/?from_day=3&to_day=2", "from_day", "from_day 3 is after to_day 2"),
        ("/api/v1/exports/sdtm/dm/?from_day=1", "from_day", "sdtm/dm has no day filter"),
        ("/api/v1/exports/sdtm/dm/?to_day=1", "to_day", "sdtm/dm has no day filter"),
    ],
)  # fmt: skip
def test_each_bad_parameter_is_a_400_naming_it(api, url, parameter, message):
    response = api.get(url)
    assert response.status_code == 400, response.content
    assert response.json() == {parameter: [message]}
    assert not ExportLog.objects.exists()


def test_an_unknown_subject_is_a_404_naming_the_parameter(api):
    response = api.get("/api/v1/exports/pkpd/?subject=M1019-01-404")
    assert response.status_code == 404
    assert response.json() == {"subject": ["no subject M1019-01-404 at your sites"]}


def test_an_unknown_dataset_is_a_404_before_its_parameters_are_read(api):
    response = api.get("/api/v1/exports/sdtm/xx/?format=xlsx")
    assert response.status_code == 404
    assert list(response.json()) == ["dataset"]


@pytest.mark.parametrize(
    ("url", "unknown", "takes"),
    [
        ("/api/v1/exports/pkpd/?subjects=M1019-01-001", ["subjects"], EXPORT_PARAMETERS),
        ("/api/v1/exports/sdtm/lb/?analytes=C3&day=1", ["analytes", "day"], EXPORT_PARAMETERS),
        ("/api/v1/exports/?dataset=pkpd", ["dataset"], "no parameters"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_listing_what_the_route_takes(api, url, unknown, takes):
    response = api.get(url)
    assert response.status_code == 400, response.content
    assert response.json() == {name: [f"unknown query parameter; this route takes {takes}"] for name in unknown}
    assert not ExportLog.objects.exists()


def test_lists_are_comma_separated_or_repeated_and_read_once(api):
    assert api.get("/api/v1/exports/pkpd/?analyte=C3,%20C4&analyte=C3&format=JSON").status_code == 200
    assert ExportLog.objects.get().filters == {"analyte": ["C3", "C4"], "shape": "long"}
    assert ExportLog.objects.get().format == "json"


def test_an_empty_day_is_no_day_filter(api):
    assert api.get("/api/v1/exports/sdtm/dm/?from_day=&to_day=").status_code == 200


def test_the_command_refuses_the_same_values(tmp_path):
    output = str(tmp_path / "out.csv")
    with pytest.raises(CommandError, match=r"^--from-day: 'nan' is not a finite number of days$"):
        call_command("export_pkpd", "--dataset", "pkpd", "--output", output, "--from-day", "nan")
    with pytest.raises(CommandError, match=r"^--analyte: sdtm/dm has no analyte filter$"):
        call_command("export_pkpd", "--dataset", "sdtm/dm", "--output", output, "--analyte", "C3")
    with pytest.raises(CommandError, match=r"^--dataset: unknown dataset 'xx'"):
        call_command("export_pkpd", "--dataset", "xx", "--output", output)
    assert not ExportLog.objects.exists()
