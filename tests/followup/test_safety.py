"""The safety summary (DOMAIN.md §9) from stored rows, on the subject page (a fixed number of queries) and in
`exports/safety/` (formats, roles, pseudonymisation, log)."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from django.core.cache import cache

from edc import roles
from edc import services as edc_services
from edc.models import LabResult, Visit
from followup import rules, services
from followup.exports.datasets import DATASETS
from followup.models import AdverseEvent, ExportLog, Milestone
from screening.models import Medication
from tests import factories
from tests.followup.conftest import SHANGHAI, infuse

pytestmark = pytest.mark.django_db

SAFETY_COLUMNS = ["usubjid", "crs_max_grade", "crs_onset_day", "icans_max_grade", "icans_onset_day",
                  "icaht_early_grade", "icaht_late_grade", "anc_le_0_5_days", "igg_min", "igg_min_day", "ivig_given",
                  "infections", "infections_grade3plus", "pcr_negative_date"]  # fmt: skip


def infused_on(subject) -> dt.datetime:
    return Visit.objects.get(subject=subject, code="D0").visit_datetime


def at_day(subject, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment of site day `day` from the infusion (day 0)."""
    day0 = infused_on(subject).astimezone(SHANGHAI).date()
    return dt.datetime.combine(day0 + dt.timedelta(days=day), dt.time(hour, minute), tzinfo=SHANGHAI)


def lab(subject, analyte, when, value, lln=None) -> LabResult:
    return LabResult(subject=subject, analyte=analyte, value=Decimal(value), sample_datetime=when,
                     lln=None if lln is None else Decimal(lln))  # fmt: skip


def ae(subject, user, category, day, **fields) -> AdverseEvent:
    day0 = infused_on(subject).astimezone(SHANGHAI).date()
    values = {"term": category.lower(), "category": category, "relatedness": "POSSIBLE",
              "onset_date": day0 + dt.timedelta(days=day), **fields}  # fmt: skip
    return edc_services.save_crf(AdverseEvent(subject=subject, **values), user=user)


@pytest.fixture
def casebook(treated, staff):
    """ANC with a nadir in week 1 (days 1–8 ≤ 0.5) and a late fall, IgG falling to 3.1 g/L on day 90, grade 2 CRS
    from day 2, two infections (one grade 3), IVIG after the infusion and PCR negativity confirmed."""
    anc = [(-5, "3.2"), (1, "0.4"), (4, "0.2"), (7, "0.45"), (9, "1.1"), (14, "2.0"), (21, "2.2"), (28, "2.4"),
           (60, "1.3"), (90, "1.4")]  # fmt: skip
    results = [lab(treated, "ANC", at_day(treated, day), value, "1.8") for day, value in anc]
    igg = [(-5, "9.5"), (28, "6.2"), (90, "3.1"), (180, "4.5")]
    results += [lab(treated, "IGG", at_day(treated, day), value, "7") for day, value in igg]
    edc_services.import_lab_results(results, user=staff)
    ae(treated, staff, "CRS", 2, max_temperature_c=Decimal("38.6"), hypotension="NO_VASOPRESSOR")
    ae(treated, staff, "CRS", 5, max_temperature_c=Decimal("38.1"))
    ae(treated, staff, "INFECTION", 40, ctcae_grade=2)
    ae(treated, staff, "INFECTION", 95, ctcae_grade=3)
    ae(treated, staff, "OTHER", 3, ctcae_grade=3)  # not an infection
    day0 = infused_on(treated).astimezone(SHANGHAI).date()
    edc_services.save_crf(
        Medication(subject=treated, drug="IVIG", category="IVIG", indication="INFECTION",
                   dose_mg_per_day=Decimal("24000"), start_date=day0 + dt.timedelta(days=96),
                   stop_date=day0 + dt.timedelta(days=96)),
        user=staff,
    )  # fmt: skip
    Milestone.objects.update_or_create(
        subject=treated, kind="PCR_NEGATIVE_CONFIRMED", visit=None,
        defaults={"date": day0 + dt.timedelta(days=200), "raised_at": infused_on(treated), "revoked_at": None},
    )  # fmt: skip
    return treated


def test_the_summary_of_a_casebook(casebook):
    day0 = infused_on(casebook).astimezone(SHANGHAI).date()
    assert services.subject_safety(casebook) == rules.SafetySummary(
        crs_max_grade=2, crs_onset_day=2, icans_max_grade=0, icans_onset_day=None, icaht_early_grade=2,
        icaht_late_grade=1, anc_le_0_5_days=8, igg_min=Decimal("3.1"), igg_min_day=90, ivig_given=True, infections=2,
        infections_grade3plus=1, pcr_negative_date=day0 + dt.timedelta(days=200),
    )  # fmt: skip


def test_days_are_site_calendar_days(treated, staff):
    # 00:30 in Hangzhou on day 3 is 16:30 UTC on day 2: it is day 3's ANC, and days 3–5 are carried from it.
    edc_services.import_lab_results(
        [lab(treated, "ANC", at_day(treated, 1), "2.5"), lab(treated, "ANC", at_day(treated, 3, 0, 30), "0.3")],
        user=staff,
    )
    summary = services.subject_safety(treated)
    assert (summary.anc_le_0_5_days, summary.icaht_early_grade) == (3, 1)


def test_untreated_subject_has_no_summary(subject):
    assert services.subject_safety(subject) is None


def test_the_panel_reads_as_typed_without_codes(client, staff, casebook):
    client.force_login(staff)
    page = client.get(f"/admin/edc/subject/{casebook.pk}/change/").content.decode()
    panel = page.split('class="safety-panel"')[1].split("</div>")[0]
    for text in ("grade 2, onset day 2", "no ICANS", "3.1 g/L on day 90", "2 (1 of grade ≥ 3)", "IVIG given", "yes"):
        assert text in panel
    assert "3.100000" not in panel and "_" not in panel  # no padded decimals, no raw codes


def test_the_subject_page_costs_the_same_queries_with_more_safety_data(client, staff, treated, count_queries):
    client.force_login(staff)
    url = f"/admin/edc/subject/{treated.pk}/change/"
    client.get(url)  # warm-up: content types and the like are cached on first use
    cache.clear()  # the panels are rendered again, as after any change to the subject's data
    few, _ = count_queries(lambda: client.get(url))
    results = [lab(treated, "ANC", at_day(treated, day), "0.3") for day in range(0, 60, 3)]
    results += [lab(treated, "IGG", at_day(treated, day), "5.5") for day in range(10, 200, 30)]
    edc_services.import_lab_results(results, user=staff)
    for day in (2, 40, 80):
        ae(treated, staff, "INFECTION", day, ctcae_grade=3)
    cache.clear()
    many, page = count_queries(lambda: client.get(url))
    assert page.status_code == 200 and "3 (3 of grade ≥ 3)" in page.content.decode()
    assert many == few


# --- exports/safety/ ----------------------------------------------------------------------------------------------


@pytest.fixture
def second_subject(site, staff):
    """Infused, with no safety data at all: its row holds zeros and empty cells."""
    other = factories.make_subject(site, staff, sex="M")
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=50), dt.time(10), tzinfo=SHANGHAI)
    return infuse(other, staff, start)


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_safety_export_one_row_per_treated_subject(client_for, data_manager, casebook, second_subject, subject):
    response = client_for(data_manager).get("/api/v1/exports/safety/")
    assert response.status_code == 200
    rows = read_csv(response)
    assert list(rows[0]) == SAFETY_COLUMNS == [c.name for c in DATASETS["safety"].columns]
    assert [r["usubjid"] for r in rows] == ["NCT06711146-01-001", "NCT06711146-01-002"]  # 003 is not treated
    first, second = rows
    assert (first["crs_max_grade"], first["crs_onset_day"], first["icaht_early_grade"], first["anc_le_0_5_days"],
            first["igg_min"], first["igg_min_day"], first["ivig_given"], first["infections_grade3plus"]) == (
        "2", "2", "2", "8", "3.1", "90", "true", "1")  # fmt: skip
    assert first["pcr_negative_date"] == str(infused_on(casebook).astimezone(SHANGHAI).date() + dt.timedelta(days=200))
    assert (second["crs_max_grade"], second["icaht_early_grade"], second["igg_min"], second["ivig_given"],
            second["infections"]) == ("0", "", "", "false", "0")  # fmt: skip
    log = ExportLog.objects.get()
    assert (log.dataset, log.row_count, log.pseudonymised) == ("safety", 2, False)


def test_safety_export_formats_agree(client_for, data_manager, casebook):
    api = client_for(data_manager)
    as_json = json.loads(b"".join(api.get("/api/v1/exports/safety/?format=json").streaming_content))
    table = pq.read_table(io.BytesIO(b"".join(api.get("/api/v1/exports/safety/?format=parquet").streaming_content)))
    assert as_json == table.to_pylist()
    assert (as_json[0]["igg_min"], as_json[0]["ivig_given"], as_json[0]["crs_onset_day"]) == (3.1, True, 2)


def test_sponsor_gets_the_safety_export_without_dates(client_for, make_user, site, casebook):
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    rows = read_csv(client_for(sponsor).get("/api/v1/exports/safety/"))
    assert rows[0]["pcr_negative_date"] == "" and rows[0]["igg_min_day"] == "90"
    assert ExportLog.objects.get().pseudonymised


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR])
def test_roles_without_exports_get_no_safety_export(client_for, make_user, site, casebook, role):
    assert client_for(make_user(role, site)).get("/api/v1/exports/safety/").status_code == 403


@pytest.mark.parametrize("parameter", ["analyte=ANC", "from_day=1", "shape=wide"])
def test_safety_export_takes_no_analyte_day_or_shape_filter(client_for, data_manager, casebook, parameter):
    response = client_for(data_manager).get(f"/api/v1/exports/safety/?{parameter}")
    assert response.status_code == 400 and parameter.split("=")[0] in response.json()


def test_safety_export_subject_filter_and_other_sites(client_for, make_user, data_manager, other_site, casebook,
                                                     second_subject):  # fmt: skip
    rows = read_csv(client_for(data_manager).get(f"/api/v1/exports/safety/?subject={second_subject.subject_id}"))
    assert [r["usubjid"] for r in rows] == ["NCT06711146-01-002"]
    elsewhere = make_user(roles.DATA_MANAGER, other_site)
    assert read_csv(client_for(elsewhere).get("/api/v1/exports/safety/")) == []


def test_safety_export_queries_do_not_grow_with_subjects(client_for, data_manager, casebook, staff, site,
                                                        count_queries):  # fmt: skip
    api = client_for(data_manager)
    read_csv(api.get("/api/v1/exports/safety/"))

    def rows():
        return read_csv(api.get("/api/v1/exports/safety/"))

    one, _ = count_queries(rows)
    for _ in range(3):
        other = factories.make_subject(site, staff)
        infuse(other, staff, dt.datetime.combine(dt.date.today() - dt.timedelta(days=40), dt.time(9), tzinfo=SHANGHAI))
        edc_services.import_lab_results([lab(other, "ANC", at_day(other, 2), "0.3")], user=staff)
    four, listed = count_queries(rows)
    assert len(listed) == 4 and four == one
