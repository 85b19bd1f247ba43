"""Builders of treated subjects with PK/PD results, written through the services, for the export tests."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from edc import services as edc_services
from edc.models import LabResult, Subject, Visit
from screening.models import SledaiAssessment
from tests import factories
from tests.infusion import factories as infusion_factories

LLOQ = {"CARPCR": Decimal("10"), "CARFLOW": Decimal("0.5")}
RANGES = {"C3": ("0.9", "1.8"), "C4": ("0.1", "0.4"), "DSDNA": (None, "100")}
# The visits sampled, with their nominal day (BL and D0_PRE before the infusion).
SAMPLED = [("BL", -5), ("D0_PRE", 0), ("D1", 1), ("D4", 4), ("D7", 7), ("D10", 10), ("D14", 14), ("D21", 21),
           ("D28", 28), ("M2", 60), ("M3", 90)]  # fmt: skip


def day0_of_cohort() -> dt.date:
    """Infused 120 site days ago: every sample up to M3 is in the past."""
    return timezone.localdate(timezone.now(), infusion_factories.SHANGHAI) - dt.timedelta(days=120)


def treat(site, user, day0: dt.date, **subject_values) -> tuple[Subject, dt.datetime]:
    subject = factories.make_subject(site, user, **subject_values)
    lot = infusion_factories.make_ready(subject, user, day0)
    infusion = infusion_factories.make_infusion(subject, lot, user, day0)
    return Subject.objects.get(pk=subject.pk), infusion.infusion_start


def visit_of(subject: Subject, code: str, planned: dt.date, user) -> Visit:
    visit = Visit.objects.filter(subject=subject, code=code, voided=False).first()
    if visit is None:  # BL and D0_PRE are not scheduled by the infusion
        visit = edc_services.save_crf(Visit(subject=subject, code=code, planned_date=planned), user=user)
    return visit


def result(subject, visit, analyte, taken, value=None, *, not_detected=False, lloq=None) -> LabResult:
    lln, uln = RANGES.get(analyte, (None, None))
    return LabResult(
        subject=subject, visit=visit, analyte=analyte, value=None if value is None else Decimal(str(value)),
        lloq=lloq, not_detected=not_detected, sample_datetime=taken, lab_name="FAH central lab",
        lln=None if lln is None else Decimal(lln), uln=None if uln is None else Decimal(uln),
    )  # fmt: skip


def import_results(results: list[LabResult], user) -> None:
    edc_services.import_lab_results(results, user=user)


def car_treated(site, user) -> Subject:
    """One treated subject (initials QZ, born 1987-04-09: a leak would stand out) with CD19 and CAR transgene at
    days 7 and 14."""
    subject, start = treat(site, user, day0_of_cohort(), initials="QZ", date_of_birth=dt.date(1987, 4, 9))
    rows = []
    for code, day, car, cd19 in [("D7", 7, 2000, "0.4"), ("D14", 14, 800, "0.2")]:
        visit = visit_of(subject, code, None, user)
        taken = start + dt.timedelta(days=day)
        rows += [result(subject, visit, "CARPCR", taken, car, lloq=10), result(subject, visit, "CD19", taken, cd19)]
    import_results(rows, user)
    return subject


def random_profile(rng: random.Random, subject, start: dt.datetime, user) -> None:
    """A realistic subject: CAR expansion and decline, B-cell aplasia, complement and anti-dsDNA improving."""
    peak = 10 ** rng.uniform(3, 5)
    peak_day = rng.choice([7, 10, 14])
    results = []
    for code, day in SAMPLED:
        visit = visit_of(subject, code, start.date() + dt.timedelta(days=day), user)
        offset = dt.timedelta(days=day, minutes=rng.randint(-90, 90))
        taken = start + (offset if day > 0 else dt.timedelta(days=day, hours=-2))
        if day <= 0:
            car = {"CARPCR": None, "CARFLOW": None}
        else:
            rising = day <= peak_day
            level = peak * (day / peak_day if rising else 0.5 ** ((day - peak_day) / rng.uniform(4, 12)))
            car = {"CARPCR": round(level, 2), "CARFLOW": round(level / 500, 3)}
        for analyte, value in car.items():
            if value is None:
                results.append(result(subject, visit, analyte, taken, not_detected=True, lloq=LLOQ[analyte]))
            else:
                results.append(result(subject, visit, analyte, taken, value, lloq=LLOQ[analyte]))
        cd19 = rng.randint(50, 300) if day <= 0 else (round(rng.uniform(0, 0.9), 2) if day < 80 else rng.randint(5, 40))
        results.append(result(subject, visit, "CD19", taken, cd19))
        results.append(result(subject, visit, "C3", taken, round(rng.uniform(0.4, 1.4), 2)))
        results.append(result(subject, visit, "C4", taken, round(rng.uniform(0.05, 0.3), 3)))
        results.append(result(subject, visit, "DSDNA", taken, rng.randint(5, 400)))
    import_results(results, user)


def sledai(subject, visit, day: dt.date, descriptors: list[str], user) -> SledaiAssessment:
    return edc_services.save_crf(
        SledaiAssessment(subject=subject, visit=visit, assessment_date=day, descriptors=descriptors), user=user
    )
