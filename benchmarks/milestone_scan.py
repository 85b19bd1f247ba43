"""The milestone scan over many treated subjects versus one raw SQL read of the same qPCR rows.

    .venv/bin/python benchmarks/milestone_scan.py [--subjects 10000] [--results 20]

Creates (once, with bulk_create: this measures the scan, not data entry) `--subjects` treated subjects
with a D0 visit, their scheduled follow-up visits and `--results` CAR transgene qPCR results each, then
times `followup.services.scan_milestones` (first scan: everything raised; second scan: nothing changes)
and counts its SQL queries, against one `SELECT … FROM edc_labresult` reading the same qPCR rows.
Targets: the query count does not grow with subjects; scan/raw-read ratio ≤ 5.
"""

import argparse
import datetime as dt
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

from _setup import django_ready

SHANGHAI = ZoneInfo("Asia/Shanghai")


def seed(subjects: int, results: int) -> float:
    from django.db import transaction

    from edc import rules
    from edc.models import LabResult, Site, Subject, Visit

    started = time.perf_counter()
    site, _ = Site.objects.get_or_create(code="MS", defaults={"name": "Milestone benchmark site"})
    existing = Subject.objects.filter(site=site).count()
    if existing >= subjects:
        return 0.0
    today = dt.date.today()
    with transaction.atomic():
        people = Subject.objects.bulk_create(
            Subject(site=site, number=n, subject_id=rules.format_subject_id("MS", n), sex="F" if n % 5 else "M",
                    date_of_birth=dt.date(1985, 1, 1), childbearing_potential=n % 3 == 0, initials="MS",
                    status="TREATED")
            for n in range(existing + 1, subjects + 1)
        )  # fmt: skip
        visits, pcr = [], []
        for index, subject in enumerate(people):
            start = dt.datetime.combine(today - dt.timedelta(days=100 + index % 400), dt.time(10), tzinfo=SHANGHAI)
            visits.append(Visit(subject=subject, code="D0", visit_datetime=start, status="DONE"))
            for planned in rules.follow_up_plan(start.date()):
                done = planned.window_end < today and index % 7
                visits.append(Visit(subject=subject, code=planned.code, planned_date=planned.planned_date,
                                    window_start=planned.window_start, window_end=planned.window_end,
                                    status="DONE" if done else "SCHEDULED"))  # fmt: skip
            for k in range(results):
                day = 1 + k * 10
                negative = day > 90 and (index + k) % 4
                pcr.append(LabResult(subject=subject, analyte="CARPCR", unit="copies/µg", lloq=Decimal(50),
                                     sample_datetime=start + dt.timedelta(days=day), not_detected=bool(negative),
                                     value=None if negative else Decimal(10_000 // (k + 1))))  # fmt: skip
        Visit.objects.bulk_create(visits, batch_size=5000)
        LabResult.objects.bulk_create(pcr, batch_size=5000)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--results", type=int, default=20)
    args = parser.parse_args()
    django_ready()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from followup import services
    from followup.models import Milestone

    seeded = seed(args.subjects, args.results)
    Milestone.history.all().delete()
    Milestone.objects.all().delete()

    def timed_scan():
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = services.scan_milestones(dt.date.today())
            return time.perf_counter() - started, len(queries), result

    first, first_queries, first_result = timed_scan()
    second, second_queries, second_result = timed_scan()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT subject_id, sample_datetime, value, lloq, not_detected FROM edc_labresult "
            "WHERE analyte = 'CARPCR' AND NOT voided ORDER BY subject_id, sample_datetime"
        )
        rows = len(cursor.fetchall())
        raw = time.perf_counter() - started
    print(f"database: {connection.vendor}; seeded in {seeded:.1f} s (0 = reused)")
    print(f"subjects scanned: {first_result.subjects}; qPCR rows: {rows}")
    print(f"first scan : {first:6.2f} s, {first_queries} SQL queries, {len(first_result.raised)} milestones raised")
    print(f"second scan: {second:6.2f} s, {second_queries} SQL queries, {len(second_result.raised)} raised, "
          f"{second_result.updated} updated")  # fmt: skip
    print(f"raw read of the qPCR rows: {raw:.2f} s")
    print(f"ratio second scan / raw read: {second / raw:.2f} (target ≤ 5); first scan / raw read: {first / raw:.2f}")


if __name__ == "__main__":
    main()
