"""The admin's exports page (a form that downloads through the export routes' stream), the cohort overlay's legend
and the home page's links to both."""

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from edc import roles
from followup import admin_exports, exports, plots
from followup.models import ExportLog
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db

EXPORTS = reverse("admin:followup_exports")


@pytest.fixture
def treated(site, staff):
    return cohort.car_treated(site, staff)


def browser(client, make_user, site, role):
    client.force_login(make_user(role, site))
    return client


def downloaded(response) -> bytes:
    assert response.status_code == 200, response.content[:2000]
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


EXPORTERS = [roles.INVESTIGATOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER]


def test_every_dataset_is_described_on_the_form():
    assert set(admin_exports.DATASET_LABELS) == set(exports.DATASETS)


@pytest.mark.parametrize("role", EXPORTERS)
def test_each_export_role_sees_the_form_and_downloads_a_csv(client, make_user, site, treated, role):
    page = browser(client, make_user, site, role)
    form = page.get(EXPORTS)
    assert form.status_code == 200 and 'name="dataset"' in form.content.decode()
    response = page.get(EXPORTS, {"dataset": "pkpd", "format": "csv", "analyte": ["CARPCR"]})
    lines = downloaded(response).decode().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="pkpd.csv"'
    assert lines[0].startswith("usubjid,visit,visitnum,nominal_day,actual_day,analyte,value,unit")
    assert len(lines) == 3 and all(",CARPCR," in line for line in lines[1:])
    log = ExportLog.objects.get()
    assert (log.channel, log.dataset, log.filters, log.pseudonymised) == (
        "admin", "pkpd", {"analyte": ["CARPCR"], "shape": "long"}, role == roles.SPONSOR_VIEWER
    )  # fmt: skip


def test_json_and_parquet_and_the_wide_shape(client, make_user, site, treated):
    page = browser(client, make_user, site, roles.DATA_MANAGER)
    as_json = page.get(EXPORTS, {"dataset": "sdtm/pc", "format": "json", "from_day": "0", "to_day": "10"})
    assert as_json["Content-Type"].startswith("application/json")
    assert [row["PCSTRESN"] for row in json.loads(downloaded(as_json))] == [2000.0]
    parquet = page.get(EXPORTS, {"dataset": "pkpd", "format": "parquet", "shape": "wide", "analyte": "CD19"})
    table = pq.read_table(io.BytesIO(downloaded(parquet)))
    assert table.column_names == ["usubjid", "visit", "visitnum", "nominal_day", "actual_day", "CD19"]


def test_the_sponsor_gets_pseudonymised_ids_without_initials_or_birth_dates(client, make_user, site, treated):
    page = browser(client, make_user, site, roles.SPONSOR_VIEWER)
    assert "Your exports are pseudonymised" in page.get(EXPORTS).content.decode()
    dm = list(csv.DictReader(io.StringIO(downloaded(page.get(EXPORTS, {"dataset": "sdtm/dm"})).decode())))
    assert (dm[0]["USUBJID"], dm[0]["BRTHDTC"], dm[0]["RFSTDTC"]) == ("NCT06711146-01-001", "", "")
    for dataset in ("pkpd", "sdtm/dm", "sdtm/lb", "safety"):
        text = downloaded(page.get(EXPORTS, {"dataset": dataset})).decode()
        assert "QZ" not in text and "1987-04-09" not in text and str(cohort.day0_of_cohort()) not in text


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR])
def test_roles_without_exports_are_refused(client, make_user, site, treated, role):
    page = browser(client, make_user, site, role)
    assert page.get(EXPORTS).status_code == 403
    assert page.get(EXPORTS, {"dataset": "pkpd"}).status_code == 403
    assert not ExportLog.objects.exists()


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"dataset": "pkpd", "from_day": "abc"}, "from_day", "&#x27;abc&#x27; is not a number of days"),
        ({"dataset": "pkpd", "to_day": "inf"}, "to_day", "&#x27;inf&#x27; is not a finite number of days"),
        ({"dataset": "pkpd", "from_day": "9", "to_day": "2"}, "from_day", "from_day 9 is after to_day 2"),
        ({"dataset": "safety", "analyte": "CD19"}, "analyte", "safety has no analyte filter"),
        ({"dataset": "sdtm/dm", "from_day": "1"}, "from_day", "sdtm/dm has no day filter"),
        ({"dataset": "sdtm/ae", "shape": "wide"}, "shape", "shape &#x27;wide&#x27; is not offered for sdtm/ae"),
        ({"dataset": "pk-parameters", "analyte": "C3"}, "analyte", "unknown analyte C3 for pk-parameters"),
        ({"dataset": "pkpd", "subject": "M1019-99-001"}, "subject", "no subject M1019-99-001 at your sites"),
        ({"dataset": "nosuch"}, "dataset", "Select a valid choice"),
        ({"dataset": "pkpd", "format": "xlsx"}, "format", "Select a valid choice"),
    ],
)
def test_bad_filters_are_form_errors_on_their_field(client, make_user, site, treated, params, field, message):
    response = browser(client, make_user, site, roles.DATA_MANAGER).get(EXPORTS, params)
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field]) or message in response.content.decode()
    assert field in response.context["form"].errors
    assert not ExportLog.objects.exists()


def test_a_subject_of_another_site_is_not_exported(client, make_user, site, other_site, staff, treated):
    others, _ = cohort.treat(other_site, staff, cohort.day0_of_cohort())
    response = browser(client, make_user, site, roles.INVESTIGATOR).get(
        EXPORTS, {"dataset": "pkpd", "subject": others.subject_id}
    )
    assert response.status_code == 400 and f"no subject {others.subject_id} at your sites" in response.content.decode()


def test_the_cohort_plot_names_each_line_and_its_axes():
    svg = plots.cohort_svg([("NCT06711146-01-001", [(1.0, 50.0), (7.0, 900.0)]),
                            ("NCT06711146-02-003", [(2.0, 30.0), (14.0, 400.0)])])  # fmt: skip
    for text in ("01-001", "02-003", "USUBJID NCT06711146-…", "time after infusion (days)",
                 "CAR transgene by qPCR (copies/µg)", "2 subject(s)"):  # fmt: skip
        assert text in svg, text


def test_a_large_cohort_is_named_by_site_in_the_legend():
    profiles = [
        (f"NCT06711146-{site:02d}-{n:03d}", [(1.0, 10.0 + n), (7.0, 500.0)]) for site in (1, 2) for n in range(30)
    ]
    svg = plots.cohort_svg(profiles)
    assert "site 01" in svg and "site 02" in svg and "01-007" not in svg


def test_the_sponsor_opens_the_cohort_plot_with_its_legend(client, make_user, site, treated):
    page = browser(client, make_user, site, roles.SPONSOR_VIEWER).get(reverse("admin:followup_investigator"))
    html = page.content.decode()
    assert page.status_code == 200 and "01-001" in html and "USUBJID NCT06711146-…" in html
    assert "QZ" not in html and "1987-04-09" not in html and f'href="{EXPORTS}"' in html


HOME_LINKS = {
    roles.SITE_STAFF: {"dashboard", "cohort"},
    roles.INVESTIGATOR: {"dashboard", "cohort", "exports"},
    roles.MONITOR: {"dashboard", "cohort"},
    roles.DATA_MANAGER: {"dashboard", "cohort", "exports"},
    roles.SPONSOR_VIEWER: {"cohort", "exports"},
}


@pytest.mark.parametrize("role", HOME_LINKS)
def test_the_home_page_links_the_pages_the_role_may_open(client, make_user, site, role):
    html = browser(client, make_user, site, role).get(reverse("admin:index")).content.decode()
    urls = {"dashboard": reverse("admin:edc_visit_dashboard"), "cohort": reverse("admin:followup_investigator"),
            "exports": EXPORTS}  # fmt: skip
    assert {name for name, url in urls.items() if f'class="button" href="{url}"' in html} == HOME_LINKS[role]
