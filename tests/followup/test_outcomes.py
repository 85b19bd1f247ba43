"""Lupus outcomes over time (DOMAIN.md §10): per assessment, per subject, and exports/outcomes/ and
exports/outcome-summary/ (CRF.md), their roles, formats and query counts."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from django.core import mail

from edc import roles
from edc import services as edc_services
from edc.models import Visit
from followup import services
from followup.exports.datasets import DATASETS
from followup.models import AdverseEvent, ExportLog, Milestone, PrednisoneDose
from screening.models import Medication, SledaiAssessment
from tests import factories
from tests.followup.conftest import SHANGHAI, infuse

pytestmark = pytest.mark.django_db


def day0_of(subject) -> dt.date:
    return Visit.objects.get(subject=subject, code="D0", voided=False).visit_datetime.astimezone(SHANGHAI).date()


def assess(subject, user, day: int, descriptors, pga, code=None, prednisone=None):
    """A SELENA-SLEDAI assessment on site day `day`, at visit `code` with the dose keyed there."""
    visit = Visit.objects.get(subject=subject, code=code, voided=False) if code else None
    edc_services.save_crf(
        SledaiAssessment(subject=subject, visit=visit, assessment_date=day0_of(subject) + dt.timedelta(days=day),
                         descriptors=list(descriptors), pga=Decimal(pga)),
        user=user,
    )  # fmt: skip
    if prednisone is not None:
        edc_services.save_crf(
            PrednisoneDose(subject=subject, visit=visit, prednisone_mg_per_day=Decimal(prednisone)), user=user
        )


def medication(subject, user, drug, category, dose, start_day, stop_day=None):
    day0 = day0_of(subject)
    edc_services.save_crf(
        Medication(subject=subject, drug=drug, category=category, indication="SLE",
                   dose_mg_per_day=None if dose is None else Decimal(dose),
                   start_date=day0 + dt.timedelta(days=start_day),
                   stop_date=None if stop_day is None else day0 + dt.timedelta(days=stop_day)),
        user=user,
    )  # fmt: skip


@pytest.fixture
def course(treated, staff):
    """Baseline SLEDAI 14 on prednisone 15 mg (log), LLDAS from day 28, DORIS from day 90 (still on prednisone),
    treatment-free DORIS on day 180 after the taper, a mild/moderate flare on day 270 and a severe one on day 365."""
    medication(treated, staff, "prednisone", "CORTICOSTEROID", "15", -300, 100)
    medication(treated, staff, "mycophenolate mofetil", "IMMUNOSUPPRESSANT", "2000", -300, -10)
    medication(treated, staff, "hydroxychloroquine", "IMMUNOMODULATOR", "400", -300)  # an antimalarial continues
    assess(treated, staff, -5, ["ARTHRITIS", "PROTEINURIA", "RASH", "LOW_COMPLEMENT", "DNA_BINDING"], "1.8")
    assess(treated, staff, 28, ["RASH", "LOW_COMPLEMENT"], "0.8", "D28", "7.5")
    assess(treated, staff, 90, [], "0.2", "M3", "5")
    assess(treated, staff, 180, [], "0.1", "M6", "0")
    assess(treated, staff, 270, ["ALOPECIA", "ARTHRITIS", "DNA_BINDING"], "1.2", "M9", "0")
    assess(treated, staff, 365, ["SEIZURE", "ARTHRITIS", "ALOPECIA", "DNA_BINDING"], "2.6", "M12", "10")
    return treated


def states(outcome):
    return [(o.day, o.flare.value, o.doris.value, o.doris_treatment_free.value, o.lldas.value,
             o.change_from_baseline.value) for o in outcome.outcomes]  # fmt: skip


def test_each_assessment_of_a_course(course):
    outcome = services.subject_outcome(course)
    assert states(outcome) == [
        (-5, None, False, False, False, 0),  # baseline: no previous assessment, no flare judged; SLEDAI 14
        (28, "NONE", False, False, True, -10),  # clinical 2: not DORIS; total 4, PGA 0.8, 7.5 mg: LLDAS
        (90, "NONE", True, False, True, -14),  # DORIS on 5 mg prednisone: not treatment-free
        (180, "NONE", True, True, True, -14),  # prednisone and mycophenolate stopped, hydroxychloroquine goes on
        (270, "MILD_MODERATE", False, False, False, -6),  # +8 points, PGA +1.1; new activity
        (365, "SEVERE", False, False, False, 2),  # 8 → 16: above 12
    ]
    baseline = outcome.outcomes[0]
    assert baseline.prednisone.value == 15  # no visit: the medication log's dose that day
    assert baseline.flare.missing == ("previous assessment",)
    assert outcome.outcomes[3].doris_treatment_free.reasons == ("DORIS", "no steroid, immunosuppressant or biologic")
    assert outcome.outcomes[2].doris_treatment_free.reasons == ("corticosteroid in the medication log",)


def test_the_summary_of_a_course(course):
    row = next(services.outcome_summary_rows(type(course).objects.filter(pk=course.pk)))
    o = row.outcomes
    assert o.baseline_sledai == 14
    assert (o.doris.first_day, o.doris.sustained, o.doris.days) == (90, False, 90)
    assert (o.doris_treatment_free.first_day, o.doris_treatment_free.sustained, o.doris_treatment_free.days) == (
        180, False, 0,
    )  # fmt: skip
    assert (o.lldas.first_day, o.lldas.sustained, o.lldas.days) == (28, False, 152)  # 28 → 90 → 180


def test_a_subject_without_assessments_or_infusion(subject, treated):
    assert services.subject_outcome(treated) is None
    assert services.subject_outcome(subject) is None


def test_sustained_holds_while_every_later_assessment_meets_it(treated, staff):
    assess(treated, staff, -5, ["RASH"], "1.5", prednisone=None)
    assess(treated, staff, 90, [], "0", "M3", "0")
    assess(treated, staff, 180, [], "0.2", "M6", "0")
    o = next(services.outcome_summary_rows(type(treated).objects.filter(pk=treated.pk))).outcomes
    assert (o.doris.first_day, o.doris.sustained, o.doris.days) == (90, True, 90)
    assert (o.doris_treatment_free.first_day, o.doris_treatment_free.sustained) == (90, True)


# --- exports ------------------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


OUTCOME_COLUMNS = ["usubjid", "visit", "actual_day", "sledai_total", "sledai_clinical", "sledai_serological", "pga",
                   "prednisone_mg_per_day", "flare", "doris", "doris_treatment_free", "lldas",
                   "sledai_change_from_baseline"]  # fmt: skip


def test_outcomes_export_has_crf_columns_and_one_row_per_assessment(client_for, data_manager, course):
    rows = read_csv(client_for(data_manager).get("/api/v1/exports/outcomes/"))
    assert list(rows[0]) == OUTCOME_COLUMNS == [c.name for c in DATASETS["outcomes"].columns]
    assert [(r["visit"], r["actual_day"], r["sledai_total"], r["pga"], r["prednisone_mg_per_day"], r["flare"],
             r["doris"], r["doris_treatment_free"], r["lldas"], r["sledai_change_from_baseline"]) for r in rows] == [
        ("", "-5", "14", "1.8", "15", "", "false", "false", "false", "0"),
        ("D28", "28", "4", "0.8", "7.5", "NONE", "false", "false", "true", "-10"),
        ("M3", "90", "0", "0.2", "5", "NONE", "true", "false", "true", "-14"),
        ("M6", "180", "0", "0.1", "0", "NONE", "true", "true", "true", "-14"),
        ("M9", "270", "8", "1.2", "0", "MILD_MODERATE", "false", "false", "false", "-6"),
        ("M12", "365", "16", "2.6", "10", "SEVERE", "false", "false", "false", "2"),
    ]  # fmt: skip
    log = ExportLog.objects.get()
    assert (log.dataset, log.row_count) == ("outcomes", 6)


def test_outcome_summary_export(client_for, data_manager, make_user, site, course):
    rows = read_csv(client_for(data_manager).get("/api/v1/exports/outcome-summary/"))
    assert list(rows[0]) == [c.name for c in DATASETS["outcome-summary"].columns]
    (row,) = rows
    assert (row["baseline_sledai"], row["first_doris_day"], row["doris_sustained"], row["doris_days"],
            row["first_doris_treatment_free_day"], row["first_lldas_day"], row["lldas_days"],
            row["crs_max_grade"]) == ("14", "90", "false", "90", "180", "28", "152", "0")  # fmt: skip
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    assert read_csv(client_for(sponsor).get("/api/v1/exports/outcome-summary/"))[0]["pcr_negative_date"] == ""


@pytest.mark.parametrize("dataset", ["outcomes", "outcome-summary"])
def test_outcome_exports_formats_agree(client_for, data_manager, course, dataset):
    api = client_for(data_manager)
    as_json = json.loads(b"".join(api.get(f"/api/v1/exports/{dataset}/?format=json").streaming_content))
    table = pq.read_table(io.BytesIO(b"".join(api.get(f"/api/v1/exports/{dataset}/?format=parquet").streaming_content)))
    assert as_json == table.to_pylist()


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR])
@pytest.mark.parametrize("dataset", ["outcomes", "outcome-summary"])
def test_roles_without_exports_get_no_outcome_export(client_for, make_user, site, course, role, dataset):
    assert client_for(make_user(role, site)).get(f"/api/v1/exports/{dataset}/").status_code == 403


@pytest.mark.parametrize("parameter", ["analyte=SLEDAI", "from_day=1", "shape=wide"])
def test_outcome_exports_take_no_analyte_day_or_shape_filter(client_for, data_manager, course, parameter):
    response = client_for(data_manager).get(f"/api/v1/exports/outcomes/?{parameter}")
    assert response.status_code == 400 and parameter.split("=")[0] in response.json()


def test_outcome_exports_scope_to_sites(client_for, make_user, other_site, course):
    elsewhere = make_user(roles.DATA_MANAGER, other_site)
    assert read_csv(client_for(elsewhere).get("/api/v1/exports/outcomes/")) == []


@pytest.mark.parametrize("dataset", ["outcomes", "outcome-summary"])
def test_outcome_exports_queries_do_not_grow_with_subjects(client_for, data_manager, course, staff, site,
                                                          count_queries, dataset):  # fmt: skip
    api = client_for(data_manager)

    def rows():
        return read_csv(api.get(f"/api/v1/exports/{dataset}/"))

    rows()  # the first request after saves warms the role and site caches
    one, few = count_queries(rows)
    for _ in range(3):
        other = factories.make_subject(site, staff)
        infuse(other, staff, dt.datetime.combine(dt.date.today() - dt.timedelta(days=200), dt.time(9), tzinfo=SHANGHAI))
        medication(other, staff, "prednisone", "CORTICOSTEROID", "10", -100)
        assess(other, staff, -5, ["RASH"], "1")
        assess(other, staff, 90, [], "0.2", "M3", "5")
    rows()
    four, many = count_queries(rows)
    assert len(many) > len(few) and four == one


# --- milestones ---------------------------------------------------------------------------------------------------


def test_outcome_milestones_are_raised_once_and_mailed(course, staff, django_capture_on_commit_callbacks):
    staff.email = "staff@fah.example"
    staff.save()
    today = dt.date.today()
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_milestones(today)
    day0 = day0_of(course)
    outcome = {(m.kind, m.date, m.visit.code if m.visit else "") for m in Milestone.objects.filter(
        kind__in=["DORIS_REMISSION", "LLDAS", "SEVERE_FLARE"])}  # fmt: skip
    assert outcome == {
        ("LLDAS", day0 + dt.timedelta(days=28), ""),
        ("DORIS_REMISSION", day0 + dt.timedelta(days=90), ""),
        ("SEVERE_FLARE", day0 + dt.timedelta(days=365), "M12"),
    }
    body = mail.outbox[-1].body
    assert "DORIS_REMISSION" in body and "SEVERE_FLARE" in body and "SLEDAI rose from 8 to 16" in body
    sent, rows = len(mail.outbox), list(Milestone.objects.values_list("pk", "kind", "date", "revoked_at", "version"))
    with django_capture_on_commit_callbacks(execute=True):
        again = services.scan_milestones(today)
    assert (len(again.raised), again.updated, again.revoked) == (0, 0, 0)
    assert list(Milestone.objects.values_list("pk", "kind", "date", "revoked_at", "version")) == rows
    assert len(mail.outbox) == sent


def test_a_corrected_assessment_revokes_its_severe_flare(course, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.scan_milestones(dt.date.today())
    flare = SledaiAssessment.objects.get(subject=course, visit__code="M12")
    flare.descriptors = ["ALOPECIA", "ARTHRITIS", "DNA_BINDING"]
    flare.pga = Decimal("1.2")
    with django_capture_on_commit_callbacks(execute=True):
        edc_services.save_crf(flare, user=staff, reason="keyed on the wrong form")
        services.scan_milestones(dt.date.today())
    assert Milestone.objects.get(kind="SEVERE_FLARE").revoked_at is not None


# --- pages --------------------------------------------------------------------------------------------------------


def test_the_visit_crf_shows_the_saved_assessment_outcomes(client, staff, course):
    client.force_login(staff)
    visit = Visit.objects.get(subject=course, code="M12")
    page = client.get(f"/admin/edc/visit/{visit.pk}/crf/").content.decode()
    block = page.split("Disease activity (computed from the saved assessment)")[1].split("</fieldset>")[0]
    shown = ("16 — high activity", "clinical 14, serological 2", "severe flare", "SLEDAI rose from 8 to 16 (&gt; 12)",
             "PGA 2.6 ≥ 0.5", "new activity: seizure", "+2 points", "10 mg/day", "keyed at this visit")  # fmt: skip
    for text in shown:
        assert text in block, text
    assert "_" not in block and "SEVERE" not in block  # no raw codes


def test_the_visit_crf_of_a_visit_without_assessment_has_no_outcome_block(client, staff, course):
    client.force_login(staff)
    visit = Visit.objects.get(subject=course, code="M2")
    assert "Disease activity (computed" not in client.get(f"/admin/edc/visit/{visit.pk}/crf/").content.decode()


def test_the_subject_page_panel_and_its_constant_queries(client, staff, treated, count_queries):
    client.force_login(staff)
    url = f"/admin/edc/subject/{treated.pk}/change/"
    assess(treated, staff, -5, ["RASH", "ARTHRITIS"], "1.5")
    client.get(url)  # warm-up: content types and the like are cached on first use
    few, _ = count_queries(lambda: client.get(url))
    for day, code in ((28, "D28"), (90, "M3"), (180, "M6"), (270, "M9")):
        assess(treated, staff, day, [], "0.2", code, "0")
    client.get(url)
    many, page = count_queries(lambda: client.get(url))
    panel = page.content.decode().split('class="disease-activity-panel"')[1].split("</table>")[0]
    assert f'<img src="/admin/edc/subject/{treated.pk}/activity-plot/"' in panel
    assert "from day 28, sustained, 242 days in all" in panel
    assert many == few
    plot = client.get(f"/admin/edc/subject/{treated.pk}/activity-plot/")
    assert plot.status_code == 200 and plot["Content-Type"] == "image/svg+xml" and b"<svg" in plot.content


def test_plots_are_cached_by_the_data_they_draw(course, monkeypatch):
    from followup import outcome_plots

    drawn = []
    draw = outcome_plots._draw_activity
    monkeypatch.setattr(outcome_plots, "_draw_activity", lambda data: drawn.append(data) or draw(data))
    outcomes = services.subject_outcome(course).outcomes
    first = outcome_plots.disease_activity_svg(outcomes)
    assert outcome_plots.disease_activity_svg(outcomes) == first and len(drawn) == 1
    outcome_plots.disease_activity_svg(outcomes[:-1])  # other data: drawn anew
    assert len(drawn) == 2


def test_the_swimmer_plot_of_the_cohort(client, make_user, site, course, staff):
    from followup import outcome_plots

    edc_services.save_crf(
        AdverseEvent(subject=course, term="CRS", category="CRS", onset_date=day0_of(course) + dt.timedelta(days=2),
                     resolution_date=day0_of(course) + dt.timedelta(days=5), relatedness="DEFINITE",
                     max_temperature_c=Decimal("38.6"), hypotension="NO_VASOPRESSOR"),
        user=staff,
    )  # fmt: skip
    (lane,) = services.swimmer_lanes(type(course).objects.all())
    assert lane.episodes == [("CRS", 2, 2, 5)]
    assert lane.states == [(28, "LLDAS"), (90, "DORIS"), (180, "TF_DORIS"), (270, "NONE"), (365, "NONE")]
    assert lane.flares == [(270, "MILD_MODERATE"), (365, "SEVERE")]
    svg = outcome_plots.swimmer_svg([lane])
    assert svg.startswith("<svg") and "treatment-free DORIS" in svg and "CRS grade 2" in svg
    client.force_login(make_user(roles.INVESTIGATOR, site))
    page = client.get("/admin/followup/exportlog/investigator/").content.decode()
    assert 'class="swimmer-plot"><svg' in page and "severe flare" in page


def test_the_swimmer_plot_shows_only_the_users_sites(make_user, other_site, course):
    from followup import admin_outcomes

    assert "0 treated subject(s)" in admin_outcomes.cohort_swimmer_svg(make_user(roles.INVESTIGATOR, other_site))


# --- SDTM RS and QS -----------------------------------------------------------------------------------------------


def test_sdtm_rs_has_the_response_states_of_each_assessment(client_for, data_manager, make_user, site, course):
    rows = read_csv(client_for(data_manager).get("/api/v1/exports/sdtm/rs/"))
    assert list(rows[0]) == [c.name for c in DATASETS["sdtm/rs"].columns]
    assert len(rows) == 6 * 4 and [r["RSSEQ"] for r in rows] == [str(n) for n in range(1, 25)]
    first = {r["RSTESTCD"]: r for r in rows[:4]}
    assert (first["SFI"]["RSORRES"], first["SFI"]["RSSTAT"], first["SFI"]["RSREASND"]) == (
        "", "NOT DONE", "no previous assessment",
    )  # fmt: skip
    m6 = {r["RSTESTCD"]: r["RSORRES"] for r in rows if r["VISIT"] == "M6"}
    assert m6 == {"DORIS": "Y", "DORISTF": "Y", "LLDAS": "Y", "SFI": "NONE"}
    m12 = {r["RSTESTCD"]: r for r in rows if r["VISIT"] == "M12"}
    assert (m12["SFI"]["RSORRES"], m12["SFI"]["RSDY"], m12["SFI"]["VISITNUM"]) == ("SEVERE", "366", "212")
    assert m12["SFI"]["RSDTC"] == str(day0_of(course) + dt.timedelta(days=365))
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    assert {r["RSDTC"] for r in read_csv(client_for(sponsor).get("/api/v1/exports/sdtm/rs/"))} == {""}


def test_sdtm_qs_has_each_descriptor_the_total_and_the_pga(client_for, data_manager, course):
    rows = read_csv(client_for(data_manager).get("/api/v1/exports/sdtm/qs/"))
    assert list(rows[0]) == [c.name for c in DATASETS["sdtm/qs"].columns]
    assert len(rows) == 6 * 26
    m12 = {r["QSTESTCD"]: r for r in rows if r["VISIT"] == "M12"}
    assert (m12["SLED01"]["QSTEST"], m12["SLED01"]["QSORRES"], m12["SLED01"]["QSSTRESN"]) == ("Seizure", "Y", "8")
    assert (m12["SLED02"]["QSORRES"], m12["SLED02"]["QSSTRESN"]) == ("N", "0")
    assert (m12["SLEDTOT"]["QSSTRESN"], m12["PGA"]["QSORRES"], m12["PGA"]["QSSTRESN"]) == ("16", "2.6", "2.6")
    assert all(len(code) <= 8 for code in {r["QSTESTCD"] for r in rows})
