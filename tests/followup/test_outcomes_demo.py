"""The outcome exports of the demo cohort recomputed row by row by a slow, independent implementation of DOMAIN.md
§4 and §10 written here (plain ORM reads per subject, its own thresholds), so that a shared mistake in the rules
modules cannot pass both."""

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from edc.models import Subject, Visit
from followup.models import PrednisoneDose
from screening.models import Medication, SledaiAssessment

pytestmark = pytest.mark.django_db

PREDNISONE_PER_MG = {"prednisone": Decimal(1), "prednisolone": Decimal(1), "methylprednisolone": Decimal("1.25")}
MAJOR = {"SEIZURE", "PSYCHOSIS", "ORGANIC_BRAIN", "VISUAL", "CRANIAL_NERVE", "LUPUS_HEADACHE", "CVA", "VASCULITIS",
         "URINARY_CASTS", "HEMATURIA", "PROTEINURIA", "PYURIA", "PLEURISY", "PERICARDITIS", "FEVER"}  # fmt: skip


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value != value.to_integral() else str(int(value))
    return str(value)


def conj(*values):
    """Three-valued AND: False wins, then None."""
    return False if False in values else None if None in values else True


def running(med: Medication, day: dt.date) -> bool:
    return med.start_date <= day and (med.stop_date is None or med.stop_date >= day)


def prednisone(a: SledaiAssessment):
    if a.visit_id:
        dose = PrednisoneDose.objects.filter(visit_id=a.visit_id, voided=False).first()
        if dose:
            return dose.prednisone_mg_per_day
    total = Decimal(0)
    for med in Medication.objects.filter(subject=a.subject, category="CORTICOSTEROID", voided=False):
        if running(med, a.assessment_date):
            if med.dose_mg_per_day is None:
                return None
            total += med.dose_mg_per_day * PREDNISONE_PER_MG[med.drug.lower()]
    return total


def flare(prev, cur) -> str | None:
    if prev is None:
        return None
    if prev.total <= 12 < cur.total:
        return "SEVERE"
    if prev.pga is None or cur.pga is None:
        return None
    if prev.pga <= Decimal("2.5") < cur.pga:
        return "SEVERE"
    if cur.total - prev.total >= 3 or cur.pga - prev.pga >= 1:
        return "MILD_MODERATE"
    return "NONE"


def slow_outcomes(subject: Subject) -> list[dict]:
    d0 = Visit.objects.filter(subject=subject, code="D0", status="DONE", voided=False).first()
    day0 = d0.visit_datetime.astimezone(ZoneInfo(subject.site.timezone)).date() if d0 else None
    assessments = list(SledaiAssessment.objects.filter(subject=subject, voided=False).order_by("assessment_date", "id"))
    baseline = [a for a in assessments if day0 and a.assessment_date <= day0]
    baseline = baseline[-1] if baseline else None
    rows, prev = [], None
    for a in assessments:
        dose = prednisone(a)
        pga = a.pga
        doris = conj(a.clinical == 0, None if pga is None else pga < Decimal("0.5"),
                     None if dose is None else dose <= 5)  # fmt: skip
        on_treatment = any(
            running(m, a.assessment_date)
            for m in Medication.objects.filter(subject=subject, voided=False,
                                               category__in=["CORTICOSTEROID", "IMMUNOSUPPRESSANT", "BIOLOGIC"])
        )  # fmt: skip
        descriptors = set(a.descriptors)
        new = None if prev is None else bool(descriptors - set(prev.descriptors))
        lldas = conj(a.total <= 4, not (descriptors & MAJOR), None if new is None else not new,
                     None if pga is None else pga <= 1, None if dose is None else dose <= Decimal("7.5"))  # fmt: skip
        day = None if day0 is None else (a.assessment_date - day0).days
        rows.append({
            "usubjid": f"NCT06711146-{subject.site.code}-{subject.number:03d}",
            "visit": a.visit.code if a.visit_id else "",
            "actual_day": text(day), "sledai_total": text(a.total), "sledai_clinical": text(a.clinical),
            "sledai_serological": text(a.serological), "pga": text(pga), "prednisone_mg_per_day": text(dose),
            "flare": text(flare(prev, a)), "doris": text(doris),
            "doris_treatment_free": text(conj(doris, not on_treatment)), "lldas": text(lldas),
            "sledai_change_from_baseline": text(None if baseline is None else a.total - baseline.total),
            "_day": day,
        })  # fmt: skip
        prev = a
    return rows


def slow_state(rows: list[dict], column: str) -> tuple[str, str, str]:
    after = [r for r in rows if r["_day"] is not None and r["_day"] > 0]
    first = None
    for i, r in enumerate(after):
        if r[column] == "true":
            first = i
            break
    if first is None:
        return "", "", "0"
    later = [r[column] for r in after[first:]]
    sustained = "false" if "false" in later else "" if "" in later else "true"
    days = 0
    for earlier, current in zip(after, after[1:], strict=False):
        if earlier[column] == current[column] == "true":
            days += current["_day"] - earlier["_day"]
    return text(after[first]["_day"]), sustained, text(days)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def demo_cohort():
    call_command("seed_demo", "--subjects", "12", "--seed", "1019")


def test_every_outcome_row_of_the_demo_recomputed(demo_cohort, client_for, data_manager):
    exported = read_csv(client_for(data_manager).get("/api/v1/exports/outcomes/"))
    expected = []
    for subject in Subject.objects.filter(voided=False).select_related("site").order_by("pk"):
        expected += slow_outcomes(subject)
    assert len(exported) == len(expected) > 30
    for row, slow in zip(exported, expected, strict=True):
        assert row == {k: v for k, v in slow.items() if k != "_day"}
    # The demo exercises every state (DOMAIN.md §10): flares of both levels, DORIS with and without treatment.
    assert {r["flare"] for r in exported} >= {"NONE", "MILD_MODERATE", "SEVERE"}
    assert {r["doris_treatment_free"] for r in exported} >= {"true", "false"}


def test_every_outcome_summary_row_of_the_demo_recomputed(demo_cohort, client_for, data_manager):
    exported = read_csv(client_for(data_manager).get("/api/v1/exports/outcome-summary/"))
    treated = Subject.objects.filter(voided=False, status="TREATED").select_related("site").order_by("pk")
    assert len(exported) == treated.count() > 5
    for row, subject in zip(exported, treated, strict=True):
        rows = slow_outcomes(subject)
        baseline = [r for r in rows if r["_day"] is not None and r["_day"] <= 0]
        assert row["baseline_sledai"] == (baseline[-1]["sledai_total"] if baseline else "")
        for state in ("doris", "doris_treatment_free", "lldas"):
            shown = (row[f"first_{state}_day"], row[f"{state}_sustained"], row[f"{state}_days"])
            assert shown == slow_state(rows, state), (row["usubjid"], state)
