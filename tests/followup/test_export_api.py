"""Export routes: SDTM shapes and column order, formats, roles and pseudonymisation, bad input, the export log."""

import csv
import datetime as dt
import io
import json
import math
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse

from edc import roles
from edc import services as edc_services
from edc.models import Deviation, LabResult
from followup.exports.datasets import PKPD_LONG_COLUMNS
from followup.models import AdverseEvent, AdverseEventTreatment, ExportLog
from screening.models import Medication
from tests import factories
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    assert response.status_code == 200, response.content
    if not isinstance(response, StreamingHttpResponse):
        return response.content
    return b"".join(response.streaming_content)


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body(response).decode())))


@pytest.fixture
def treated(site, staff):
    """One treated subject: CD19 and C3 at baseline and day 7, CARPCR at day 7 and 14, one CRS event."""
    day0 = cohort.day0_of_cohort()
    subject, start = cohort.treat(site, staff, day0, initials="QZ")
    bl = cohort.visit_of(subject, "BL", day0 - dt.timedelta(days=5), staff)
    d7 = cohort.visit_of(subject, "D7", None, staff)
    d14 = cohort.visit_of(subject, "D14", None, staff)
    before, day7, day14 = start - dt.timedelta(days=5), start + dt.timedelta(days=7), start + dt.timedelta(days=14)
    cohort.import_results([
        cohort.result(subject, bl, "CD19", before, 120), cohort.result(subject, bl, "C3", before, "0.6"),
        cohort.result(subject, d7, "CD19", day7, "0.4"), cohort.result(subject, d7, "C3", day7, "1.2"),
        cohort.result(subject, d7, "CARPCR", day7, 2000, lloq=10),
        cohort.result(subject, d14, "CARPCR", day14, 800, lloq=10),
    ], staff)  # fmt: skip
    event = AdverseEvent(subject=subject, term="Cytokine release syndrome", category="CRS", relatedness="PROBABLE",
                         onset_date=day0 + dt.timedelta(days=2), resolution_date=day0 + dt.timedelta(days=4),
                         max_temperature_c=38.6, hypotension="NONE", hypoxia="NONE")  # fmt: skip
    edc_services.save_crf(event, user=staff)
    consent = Deviation(subject=subject, category="CONSENT", severity="MAJOR",
                        deviation_date=day0 - dt.timedelta(days=40),
                        description="ICF signed by QZ on the superseded version")  # fmt: skip
    edc_services.record_deviation(consent, user=staff)
    return subject


@pytest.fixture
def exporter(make_user, site):
    return make_user(roles.DATA_MANAGER, site, username="exporter")


@pytest.fixture
def sponsor(make_user, site):
    return make_user(roles.SPONSOR_VIEWER, site, username="sponsor")


SDTM_COLUMNS = {
    "dm": "STUDYID DOMAIN USUBJID SUBJID RFSTDTC SITEID BRTHDTC AGE AGEU SEX",
    "ex": "STUDYID DOMAIN USUBJID EXSEQ EXTRT EXDOSE EXDOSU EXSTDTC EXSTDY",
    "lb": "STUDYID DOMAIN USUBJID LBSEQ LBTESTCD LBTEST LBORRES LBORRESU LBSTRESN LBSTRESU LBNRIND VISIT VISITNUM "
    "LBDTC LBDY",
    "pc": "STUDYID DOMAIN USUBJID PCSEQ PCTESTCD PCTEST PCORRES PCORRESU PCSTRESN PCSTRESU PCNRIND PCLLOQ VISIT "
    "VISITNUM PCDTC PCDY",
    "pp": "STUDYID DOMAIN USUBJID PPSEQ PPCAT PPTESTCD PPTEST PPORRES PPORRESU PPSTRESN PPSTRESU PPSTINT PPENINT",
    "ae": "STUDYID DOMAIN USUBJID AESEQ AETERM AECAT AESER AEREL AEOUT AETOXGR AESTDTC AEENDTC AESTDY AEENDY",
    "suppae": "STUDYID RDOMAIN USUBJID IDVAR IDVARVAL QNAM QLABEL QVAL QORIG",
    "cm": "STUDYID DOMAIN USUBJID CMSEQ CMTRT CMCAT CMINDC CMDOSE CMDOSU CMDOSFRQ CMROUTE CMSTDTC CMENDTC CMSTDY "
    "CMENDY",
    "suppcm": "STUDYID RDOMAIN USUBJID IDVAR IDVARVAL QNAM QLABEL QVAL QORIG",
    "dv": "STUDYID DOMAIN USUBJID DVSEQ DVTERM DVDECOD DVCAT DVSCAT DVSTDTC DVSTDY",
}


@pytest.fixture
def medication_log(treated, staff):
    """Tocilizumab for the CRS, and a bacteraemia with its antibiotic (tests/followup/test_medication_log.py has
    the values of CM, SUPPCM and SUPPAE)."""
    day0 = cohort.day0_of_cohort()
    crs = AdverseEvent.objects.get(subject=treated)
    infection = edc_services.save_crf(
        AdverseEvent(subject=treated, term="E. coli bacteraemia", category="INFECTION", relatedness="UNLIKELY",
                     onset_date=day0 + dt.timedelta(days=12), ctcae_grade=3, pathogen_class="BACTERIAL",
                     organism="Escherichia coli", infection_site="BLOODSTREAM", opportunistic=False),
        user=staff,
    )  # fmt: skip
    for event, drug, category in ((crs, "tocilizumab", "ANTI_IL6"), (infection, "meropenem", "ANTI_INFECTIVE")):
        given = edc_services.save_crf(
            Medication(subject=treated, drug=drug, category=category, indication=event.category, route="IV",
                       dose_mg_per_day=Decimal("3000"), start_date=event.onset_date),
            user=staff,
        )  # fmt: skip
        edc_services.save_crf(AdverseEventTreatment(subject=treated, adverse_event=event, medication=given), user=staff)
    return treated


@pytest.mark.parametrize("domain", SDTM_COLUMNS)
def test_sdtm_columns_and_their_order(client_for, exporter, medication_log, domain):
    response = client_for(exporter).get(f"/api/v1/exports/sdtm/{domain}/")
    assert isinstance(response, StreamingHttpResponse)
    text = body(response).decode()
    assert text.splitlines()[0].split(",") == SDTM_COLUMNS[domain].split()
    assert len(text.splitlines()) > 1


def test_sdtm_lb_values(client_for, exporter, treated):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/lb/?analyte=C3"))
    day0 = cohort.day0_of_cohort()
    assert [(r["LBSEQ"], r["LBTESTCD"], r["LBORRES"], r["LBORRESU"], r["LBSTRESN"], r["LBNRIND"], r["VISIT"],
             r["VISITNUM"], r["LBDY"]) for r in rows] == [
        ("1", "C3", "0.6", "g/L", "0.6", "LOW", "BL", "2", "-5"),
        ("2", "C3", "1.2", "g/L", "1.2", "NORMAL", "D7", "107", "8"),
    ]  # fmt: skip
    assert rows[1]["LBDTC"] == f"{day0 + dt.timedelta(days=7)}T10:00:00+08:00"
    assert {r["USUBJID"] for r in rows} == {"NCT06711146-01-001"}


def test_sdtm_pp_has_the_nca_parameters(client_for, exporter, treated):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/pp/"))
    by_code = {r["PPTESTCD"]: r for r in rows}
    assert list(by_code) == ["CMAX", "TMAX", "AUCINT", "CLST", "TLST"]
    assert (by_code["CMAX"]["PPSTRESN"], by_code["TMAX"]["PPSTRESN"], by_code["CLST"]["PPSTRESN"]) == (
        "2000", "7", "800"
    )  # fmt: skip
    # 0 → 2000 linear over 7 days, 2000 → 800 log-linear over 7 days; nothing after day 14.
    assert float(by_code["AUCINT"]["PPSTRESN"]) == pytest.approx(7000 + 1200 / math.log(2.5) * 7)
    assert (by_code["AUCINT"]["PPSTINT"], by_code["AUCINT"]["PPENINT"], by_code["AUCINT"]["PPORRESU"]) == (
        "P0D", "P28D", "day*copies/µg"
    )  # fmt: skip
    assert [r["PPSEQ"] for r in rows] == ["1", "2", "3", "4", "5"]


def test_sdtm_dm_ex_ae_values(client_for, exporter, treated):
    api = client_for(exporter)
    dm = read_csv(api.get("/api/v1/exports/sdtm/dm/"))
    day0 = cohort.day0_of_cohort()
    assert dm == [
        {
            "STUDYID": "NCT06711146",
            "DOMAIN": "DM",
            "USUBJID": "NCT06711146-01-001",
            "SUBJID": "M1019-01-001",
            "RFSTDTC": f"{day0}T10:00:00+08:00",
            "SITEID": "01",
            "BRTHDTC": "1990-05-17",
            "AGE": str(day0.year - 1990 - ((day0.month, day0.day) < (5, 17))),
            "AGEU": "YEARS",
            "SEX": "F",
        }
    ]
    ex = read_csv(api.get("/api/v1/exports/sdtm/ex/"))
    assert [(r["EXTRT"], r["EXDOSE"], r["EXDOSU"], r["EXSTDY"]) for r in ex] == [
        ("FLUDARABINE", "49.8", "mg", "-5"), ("CYCLOPHOSPHAMIDE", "498", "mg", "-5"),
        ("FLUDARABINE", "49.8", "mg", "-4"), ("CYCLOPHOSPHAMIDE", "498", "mg", "-4"),
        ("FLUDARABINE", "49.8", "mg", "-3"), ("CYCLOPHOSPHAMIDE", "498", "mg", "-3"),
        ("META10-19", "5000", "CAR+ cells/kg", "1"),
    ]  # fmt: skip
    ae = read_csv(api.get("/api/v1/exports/sdtm/ae/"))
    assert [(r["AESEQ"], r["AECAT"], r["AESER"], r["AETOXGR"], r["AESTDY"], r["AEENDY"]) for r in ae] == [
        ("1", "CRS", "N", "1", "3", "5")
    ]


def test_sdtm_dv_has_the_confirmed_deviations_only(client_for, exporter, staff, treated):
    day0 = cohort.day0_of_cohort()
    d7 = cohort.visit_of(treated, "D7", None, staff)
    d7.status = "DONE"
    d7.visit_datetime = dt.datetime.combine(
        day0 + dt.timedelta(days=11), dt.time(9), tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    edc_services.save_crf(d7, user=staff, reason="visit done")  # 3 days late: proposed, not a deviation yet
    assert Deviation.objects.filter(status="PROPOSED").count() == 1
    dv = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/dv/"))
    assert dv == [{"STUDYID": "NCT06711146", "DOMAIN": "DV", "USUBJID": "NCT06711146-01-001", "DVSEQ": "1",
                   "DVTERM": "ICF signed by QZ on the superseded version", "DVDECOD": "CONSENT",
                   "DVCAT": "INFORMED CONSENT", "DVSCAT": "MAJOR",
                   "DVSTDTC": (day0 - dt.timedelta(days=40)).isoformat(), "DVSTDY": "-40"}]  # fmt: skip
    edc_services.confirm_deviation(Deviation.objects.get(status="PROPOSED"), user=exporter)
    dv = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/dv/"))
    assert [(r["DVSEQ"], r["DVDECOD"], r["DVSCAT"], r["DVSTDY"]) for r in dv] == [
        ("1", "CONSENT", "MAJOR", "-40"),
        ("2", "VISIT_WINDOW", "MINOR", "12"),
    ]


def test_json_and_parquet_carry_the_same_rows_as_csv(client_for, exporter, treated):
    api = client_for(exporter)
    as_csv = read_csv(api.get("/api/v1/exports/pkpd/"))
    as_json = json.loads(body(api.get("/api/v1/exports/pkpd/?format=json")))
    table = pq.read_table(io.BytesIO(body(api.get("/api/v1/exports/pkpd/?format=parquet"))))
    assert len(as_csv) == len(as_json) == table.num_rows == 6
    assert table.column_names == [c.name for c in PKPD_LONG_COLUMNS]
    first = as_json[0]
    assert first == table.slice(0, 1).to_pylist()[0]
    assert (first["analyte"], first["value"], first["blq"], first["baseline"]) == ("C3", 0.6, False, 0.6)
    assert as_csv[0]["value"] == "0.6"
    # Change from baseline for C3 (a PD derivation of DOMAIN.md §8), none for CD19 and the CAR transgene.
    changes = {(r["analyte"], r["change_from_baseline_pct"]) for r in as_csv}
    assert changes == {("C3", "0"), ("C3", "100"), ("CD19", ""), ("CARPCR", "")}


def test_sponsor_viewer_gets_no_dates_and_no_initials(client_for, sponsor, treated):
    api = client_for(sponsor)
    lb = read_csv(api.get("/api/v1/exports/sdtm/lb/"))
    assert {r["LBDTC"] for r in lb} == {""} and {r["LBDY"] for r in lb} == {"-5", "8"}
    dm = read_csv(api.get("/api/v1/exports/sdtm/dm/"))
    assert (dm[0]["RFSTDTC"], dm[0]["BRTHDTC"], dm[0]["USUBJID"]) == ("", "", "NCT06711146-01-001")
    for dataset in ("pkpd", "sdtm/dm", "sdtm/ae", "sdtm/ex", "sdtm/dv"):
        text = body(api.get(f"/api/v1/exports/{dataset}/")).decode()
        assert "QZ" not in text and "1990-05-17" not in text and str(cohort.day0_of_cohort()) not in text
    dv = read_csv(api.get("/api/v1/exports/sdtm/dv/"))
    assert [(r["DVTERM"], r["DVDECOD"], r["DVSCAT"], r["DVSTDTC"], r["DVSTDY"]) for r in dv] == [
        ("", "CONSENT", "MAJOR", "", "-40")
    ]
    assert ExportLog.objects.filter(user=sponsor, pseudonymised=True).count() == 8


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR])
def test_roles_without_exports_are_refused(client_for, make_user, site, treated, role):
    response = client_for(make_user(role, site)).get("/api/v1/exports/pkpd/")
    assert response.status_code == 403
    assert not ExportLog.objects.exists()


def test_every_export_is_logged_with_its_filters_and_row_count(client_for, exporter, treated):
    body(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CD19,C3&subject=M1019-01-001&from_day=-10&to_day=10"))
    log = ExportLog.objects.get()
    assert (log.user, log.dataset, log.format, log.row_count, log.pseudonymised) == (exporter, "pkpd", "csv", 4, False)
    assert log.filters == {"subject": ["M1019-01-001"], "analyte": ["CD19", "C3"], "from_day": -10.0, "to_day": 10.0,
                           "shape": "long"}  # fmt: skip
    assert log.finished_at >= log.started_at


@pytest.mark.parametrize(
    ("url", "status", "parameter"),
    [
        ("/api/v1/exports/sdtm/xx/", 404, "dataset"),
        ("/api/v1/exports/pkpd/?format=xlsx", 400, "format"),
        ("/api/v1/exports/pkpd/?analyte=HGB", 400, "analyte"),
        ("/api/v1/exports/pk-parameters/?analyte=CD19", 400, "analyte"),
        ("/api/v1/exports/sdtm/dm/?analyte=C3", 400, "analyte"),
        ("/api/v1/exports/pkpd/?from_day=10&to_day=9.5", 400, "from_day"),
        ("/api/v1/exports/pkpd/?to_day=soon", 400, "to_day"),
        ("/api/v1/exports/pk-parameters/?from_day=1", 400, "from_day"),
        ("/api/v1/exports/sdtm/lb/?shape=wide", 400, "shape"),
        ("/api/v1/exports/pkpd/?subject=M1019-02-001", 404, "subject"),
        ("/api/v1/exports/pkpd/?subject=M1019-01-999", 404, "subject"),
    ],
)
def test_bad_input_names_the_parameter_and_logs_nothing(client_for, exporter, make_user, other_site, treated, url,
                                                        status, parameter):  # fmt: skip
    # M1019-02-001, at a site the exporter is not a member of
    factories.make_subject(other_site, make_user(roles.SITE_STAFF, other_site))
    response = client_for(exporter).get(url)
    assert response.status_code == status, response.content
    assert parameter in response.json()
    assert not ExportLog.objects.exists()


def test_day_bounds_are_inclusive(client_for, exporter, treated):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CARPCR&from_day=7&to_day=7"))
    assert [(r["visit"], r["value"]) for r in rows] == [("D7", "2000")]


def test_other_sites_are_not_exported(client_for, make_user, other_site, treated):
    elsewhere = make_user(roles.DATA_MANAGER, other_site)
    assert read_csv(client_for(elsewhere).get("/api/v1/exports/pkpd/")) == []
    assert read_csv(client_for(elsewhere).get("/api/v1/exports/sdtm/dm/")) == []


def test_query_count_does_not_grow_with_subjects(client_for, exporter, site, staff, treated):
    api = client_for(exporter)
    body(api.get("/api/v1/exports/sdtm/dm/"))  # the user's roles and sites are read once per user object

    def queries_of(url):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            body(api.get(url))
        return len(captured)

    one = {url: queries_of(url) for url in ("/api/v1/exports/pkpd/", "/api/v1/exports/sdtm/ex/")}
    subject, start = cohort.treat(site, staff, cohort.day0_of_cohort())
    d7 = cohort.visit_of(subject, "D7", None, staff)
    cohort.import_results([cohort.result(subject, d7, "CD19", start + dt.timedelta(days=7), 3)], staff)
    assert {url: queries_of(url) for url in one} == one


def test_open_queries_are_a_column_of_the_pkpd_export(client_for, exporter, monitor, treated):
    result = LabResult.objects.get(subject=treated, analyte="C3", value=Decimal("1.2"))
    query = edc_services.open_query(result, "value", "Confirm against the lab report", user=monitor)
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=C3"))
    assert [(r["value"], r["open_queries"]) for r in rows] == [("0.6", "0"), ("1.2", "1")]
    edc_services.close_query(query, user=monitor)
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=C3"))
    assert [r["open_queries"] for r in rows] == ["0", "0"]
