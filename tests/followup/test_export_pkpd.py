"""PK/PD exports: values of the long, wide and PK-parameter datasets, against hand and independent computations."""

import csv
import datetime as dt
import io
import math
import random

import pytest

from edc import roles
from followup import exports
from followup.exports import copy_reader
from followup.exports.datasets import PKPD_LONG_COLUMNS
from followup.models import ExportLog
from tests.followup import export_cohort as cohort

pytestmark = pytest.mark.django_db
REL = 1e-9


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def exporter(make_user, site):
    return make_user(roles.DATA_MANAGER, site, username="exporter")


@pytest.fixture
def hand_subject(site, staff):
    """CARPCR ND on day 1, 100 on day 4, 1000 on day 7, 500 on day 14, BLQ (5 < LLOQ 10) on day 21, 50 on day 28;
    CD19 from 200 (BL) and 150 (D0_PRE, the baseline) to 0.5 on day 4 and 12 on day 28."""
    day0 = cohort.day0_of_cohort()
    subject, start = cohort.treat(site, staff, day0)
    rows = []
    for code, day, car, cd19 in [("BL", -5, None, 200), ("D0_PRE", 0, None, 150), ("D1", 1, "ND", 90),
                                 ("D4", 4, 100, "0.5"), ("D7", 7, 1000, "0.2"), ("D14", 14, 500, "0.3"),
                                 ("D21", 21, 5, "0.4"), ("D28", 28, 50, 12)]:  # fmt: skip
        visit = cohort.visit_of(subject, code, day0 + dt.timedelta(days=day), staff)
        taken = start + (dt.timedelta(days=day) if day > 0 else dt.timedelta(days=day, hours=-2))
        rows.append(cohort.result(subject, visit, "CD19", taken, cd19))
        if car == "ND":
            rows.append(cohort.result(subject, visit, "CARPCR", taken, not_detected=True, lloq=10))
        elif car is not None:
            rows.append(cohort.result(subject, visit, "CARPCR", taken, car, lloq=10))
    cohort.import_results(rows, staff)
    return subject


def test_pk_parameters_of_a_hand_computed_profile(client_for, exporter, hand_subject):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pk-parameters/"))
    # Linear 0→0 (day 0–1), 0→100 (1–4), 100→1000 (4–7); log 1000→500 (7–14), 500→50 (14–28); day 21 BLQ left out.
    auc = 0 + 150 + 1650 + 500 / math.log(2) * 7 + 450 / math.log(10) * 14
    assert [r["analyte"] for r in rows] == ["CARPCR"]
    row = rows[0]
    assert row["usubjid"] == "NCT06711146-01-001"
    assert (float(row["CMAX"]), float(row["TMAX"]), float(row["CLAST"]), float(row["TLAST"])) == (1000, 7, 50, 28)
    assert float(row["AUC0_28"]) == pytest.approx(auc, rel=REL)
    assert (row["n_quantifiable"], row["unit"]) == ("4", "copies/µg")


def test_long_rows_carry_actual_day_baseline_and_change(client_for, exporter, hand_subject):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CD19"))
    assert list(rows[0]) == [c.name for c in PKPD_LONG_COLUMNS]
    shown = [(r["visit"], r["visitnum"], r["nominal_day"], r["value"], r["baseline"], r["change_from_baseline_pct"])
             for r in rows]  # fmt: skip
    assert shown[:3] == [("BL", "2", "-5", "200", "150", ""),
                         ("D0_PRE", "6", "0", "150", "150", ""),
                         ("D1", "101", "1", "90", "150", "")]  # fmt: skip
    assert [float(r["actual_day"]) for r in rows[:3]] == pytest.approx([-5 - 2 / 24, -2 / 24, 1], rel=REL)
    assert {r["unit"] for r in rows} == {"cells/µL"} and {r["blq"] for r in rows} == {"false"}


def test_blq_flags_and_day_filter(client_for, exporter, hand_subject):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CARPCR&from_day=0.5&to_day=21"))
    assert [(r["visit"], r["value"], r["lloq"], r["blq"]) for r in rows] == [
        ("D1", "", "10", "true"), ("D4", "100", "10", "false"), ("D7", "1000", "10", "false"),
        ("D14", "500", "10", "false"), ("D21", "5", "10", "true"),
    ]  # fmt: skip
    assert {r["baseline"] for r in rows} == {""}  # no CAR-T cells before infusion: no baseline value


def test_wide_shape_gives_one_row_per_subject_and_visit(client_for, exporter, hand_subject):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?shape=wide&analyte=CD19,CARPCR"))
    assert list(rows[0]) == ["usubjid", "visit", "visitnum", "nominal_day", "actual_day", "CD19", "CARPCR"]
    assert [(r["visit"], r["CD19"], r["CARPCR"]) for r in rows] == [
        ("BL", "200", ""), ("D0_PRE", "150", ""), ("D1", "90", ""), ("D4", "0.5", "100"), ("D7", "0.2", "1000"),
        ("D14", "0.3", "500"), ("D21", "0.4", "5"), ("D28", "12", "50"),
    ]  # fmt: skip


def test_sledai_total_is_an_analyte_of_the_long_export(client_for, exporter, hand_subject, staff):
    visit = cohort.visit_of(hand_subject, "D28", None, staff)
    infusion_date = cohort.day0_of_cohort()
    bl = cohort.visit_of(hand_subject, "BL", None, staff)
    cohort.sledai(hand_subject, bl, infusion_date - dt.timedelta(days=5), ["ARTHRITIS", "RASH", "DNA_BINDING"], staff)
    cohort.sledai(hand_subject, visit, infusion_date + dt.timedelta(days=28), ["RASH"], staff)
    rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=SLEDAI"))
    assert [(r["visit"], r["actual_day"], r["value"], r["baseline"], r["change_from_baseline_pct"]) for r in rows] == [
        ("BL", "-5", "8", "8", "0"), ("D28", "28", "2", "8", "-75")
    ]  # fmt: skip


def test_sledai_totals_spooled_to_a_file_merge_as_from_memory(client_for, exporter, hand_subject, staff, monkeypatch):
    """The SELENA-SLEDAI totals, read before the lab results' COPY, go to a temporary file beyond a threshold."""
    for code, day, descriptors in [("BL", -5, ["ARTHRITIS", "RASH"]), ("D28", 28, ["RASH"])]:
        visit = cohort.visit_of(hand_subject, code, None, staff)
        cohort.sledai(hand_subject, visit, cohort.day0_of_cohort() + dt.timedelta(days=day), descriptors, staff)
    api = client_for(exporter)
    from_memory = read_csv(api.get("/api/v1/exports/pkpd/"))
    monkeypatch.setattr(copy_reader, "SPOOL_IN_MEMORY", 1)
    assert read_csv(api.get("/api/v1/exports/pkpd/")) == from_memory
    assert [(r["analyte"], r["visit"]) for r in from_memory[-2:]] == [("SLEDAI", "BL"), ("SLEDAI", "D28")]


# --- The cohort recomputed by an independent, slow implementation -------------------------------


def slow_nca(points: list[tuple[float, float | None, bool]]) -> dict:
    """DOMAIN.md §8 written again, differently: each segment as a function of time, integrated in closed form."""
    after = sorted((p for p in points if p[0] > 0), key=lambda p: p[0])
    first_quantifiable = next((i for i, (_, v, blq) in enumerate(after) if not blq and v is not None), None)
    curve = [(0.0, 0.0)]
    for i, (day, value, blq) in enumerate(after):
        if blq and (first_quantifiable is None or i < first_quantifiable):
            curve.append((day, 0.0))
        elif not blq and value is not None:
            curve.append((day, value))
    quantifiable = [(d, v) for i, (d, v, blq) in enumerate(after) if not blq and v is not None]
    if not quantifiable:
        return {"CMAX": None, "TMAX": None, "CLAST": None, "TLAST": None, "AUC0_28": 0.0, "n_quantifiable": 0}
    auc = 0.0
    for (t1, c1), (t2, c2) in zip(curve, curve[1:], strict=False):
        end = min(t2, 28.0)
        if end <= t1:
            break
        if c1 > c2 > 0:  # exponential decay c1·e^(−k(t − t1))
            k = math.log(c1 / c2) / (t2 - t1)
            auc += c1 / k * (1 - math.exp(-k * (end - t1)))
        else:
            c_end = c1 + (c2 - c1) * (end - t1) / (t2 - t1)
            auc += (c1 + c_end) / 2 * (end - t1)
    cmax = max(v for _, v in quantifiable)
    return {"CMAX": cmax, "TMAX": next(d for d, v in quantifiable if v == cmax), "CLAST": quantifiable[-1][1],
            "TLAST": quantifiable[-1][0], "AUC0_28": auc, "n_quantifiable": len(quantifiable)}  # fmt: skip


@pytest.fixture
def demo_cohort(site, staff):
    rng = random.Random(1019)
    day0 = cohort.day0_of_cohort()
    for index in range(6):
        subject, start = cohort.treat(site, staff, day0 - dt.timedelta(days=index))
        cohort.random_profile(rng, subject, start, staff)


def test_every_pk_parameter_of_the_cohort_matches_an_independent_computation(client_for, exporter, demo_cohort):
    long_rows = read_csv(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CARPCR,CARFLOW"))
    profiles: dict[tuple, list] = {}
    for r in long_rows:
        value = float(r["value"]) if r["value"] else None
        point = (float(r["actual_day"]), value, r["blq"] == "true")
        profiles.setdefault((r["usubjid"], r["analyte"]), []).append(point)
    parameters = read_csv(client_for(exporter).get("/api/v1/exports/pk-parameters/"))
    assert len(parameters) == len(profiles) == 12
    for row in parameters:
        expected = slow_nca(profiles[(row["usubjid"], row["analyte"])])
        assert int(row["n_quantifiable"]) == expected["n_quantifiable"]
        for name in ("CMAX", "TMAX", "CLAST", "TLAST", "AUC0_28"):
            assert float(row[name]) == pytest.approx(expected[name], rel=REL), (row["usubjid"], name)


def test_cd19_pd_of_the_hand_profile(hand_subject):
    profile = exports.subject_profile(hand_subject)
    assert (profile.cd19.nadir, profile.cd19.nadir_day) == (0.2, pytest.approx(7, rel=REL))
    assert profile.cd19.aplasia_onset_day == pytest.approx(4, rel=REL)
    assert profile.cd19.reconstitution_day == pytest.approx(28, rel=REL)
    assert profile.cd19.aplasia_duration_days == pytest.approx(24, rel=REL)


def test_the_command_writes_the_same_export_to_a_file(hand_subject, tmp_path):
    from django.core.management import call_command

    output = tmp_path / "pk.csv"
    call_command("export_pkpd", "--dataset", "pk-parameters", "--format", "csv", "--output", str(output))
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [(r["usubjid"], r["CMAX"], r["TLAST"]) for r in rows] == [("NCT06711146-01-001", "1000", "28")]
    log = ExportLog.objects.get()
    assert (log.user, log.channel, log.row_count) == (None, "command", 1)


def test_the_command_names_a_bad_parameter(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--analyte: unknown analyte HGB"):
        call_command("export_pkpd", "--dataset", "pkpd", "--analyte", "HGB", "--output", "-")
    assert not ExportLog.objects.exists()
