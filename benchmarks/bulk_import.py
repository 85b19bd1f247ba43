"""Bulk lab-result import through the API versus a plain bulk_create of the same rows.

    .venv/bin/python benchmarks/bulk_import.py [--rows 100000] [--chunk 5000]

Reports results per second of `POST /api/v1/lab-results/bulk/` (JSON parsing, row checks, history,
soft-limit queries, in 5,000-row requests) and its ratio to `LabResult.objects.bulk_create` of the
same rows without history or validation, measured in the same run on the same database.
Target: ratio ≤ 3.
"""

import argparse
import datetime as dt
import json
import random
import time

from _setup import django_ready


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--subjects", type=int, default=200)
    args = parser.parse_args()
    django_ready()

    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone
    from rest_framework.test import APIClient

    from edc import services
    from edc.models import DataQuery, LabResult, Site, Subject

    site, _ = Site.objects.get_or_create(code="BM", defaults={"name": "Benchmark site"})
    user, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="site_staff"))
    site.users.add(user)
    subjects = list(Subject.objects.filter(site=site))
    while len(subjects) < args.subjects:
        subjects.append(
            services.register_subject(
                Subject(site=site, sex="F", date_of_birth=dt.date(1990, 1, 1), initials="BM"), user=user
            )
        )

    rng = random.Random(7)
    base = timezone.now() - dt.timedelta(days=100)
    # (analyte, unit, LLN, ULN, realistic range); a few CD19 values pass the soft limit and open queries.
    analytes = [
        ("C3", "g/L", "0.9", "1.8", (0.3, 2.0)),
        ("CD19", "cells/µL", "90", "500", (0.0, 1520.0)),
        ("CARPCR", "copies/µg", None, None, (0.0, 50_000.0)),
    ]
    rows = []
    for i in range(args.rows):
        analyte, unit, lln, uln, (low, high) = analytes[i % 3]
        rows.append(
            {
                "subject": subjects[i % len(subjects)].subject_id,
                "analyte": analyte,
                "value": f"{rng.uniform(low, high):.3f}",
                "unit": unit,
                "lln": lln,
                "uln": uln,
                "sample_datetime": (base + dt.timedelta(seconds=30 * i)).isoformat(),
                "lab_name": "bench",
            }
        )
    chunks = [rows[i : i + args.chunk] for i in range(0, len(rows), args.chunk)]
    bodies = [json.dumps({"results": chunk}) for chunk in chunks]

    def clear():
        LabResult.history.filter(subject__site=site).delete()
        DataQuery.objects.filter(subject__site=site).delete()
        DataQuery.history.filter(subject_id__in=[s.pk for s in subjects]).delete()
        LabResult.objects.filter(subject__site=site).delete()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE edc_labresult") if connection.vendor == "postgresql" else None

    def run_api():
        client = APIClient()
        client.force_authenticate(user)
        start = time.perf_counter()
        for body in bodies:
            response = client.post("/api/v1/lab-results/bulk/", body, content_type="application/json")
            assert response.status_code == 201, response.content[:500]
        return time.perf_counter() - start

    subject_by_id = {s.subject_id: s for s in subjects}

    def run_plain():
        start = time.perf_counter()
        for chunk in chunks:
            LabResult.objects.bulk_create(
                [
                    LabResult(
                        subject=subject_by_id[r["subject"]],
                        analyte=r["analyte"],
                        value=r["value"],
                        unit=r["unit"],
                        lln=r["lln"],
                        uln=r["uln"],
                        sample_datetime=r["sample_datetime"],
                        lab_name=r["lab_name"],
                    )
                    for r in chunk
                ],
                batch_size=1000,
            )
        return time.perf_counter() - start

    timings = {"api": [], "plain": []}
    for _ in range(2):
        clear()
        timings["plain"].append(run_plain())
        clear()
        timings["api"].append(run_api())
    clear()
    api, plain = min(timings["api"]), min(timings["plain"])
    print(f"database: {connection.vendor}; rows: {args.rows}; requests of {args.chunk}")
    print(f"bulk endpoint : {api:7.2f} s  {args.rows / api:10.0f} results/s (history, checks, queries)")
    print(f"plain create  : {plain:7.2f} s  {args.rows / plain:10.0f} results/s (no history, no checks)")
    print(f"ratio endpoint/plain: {api / plain:.2f} (target ≤ 3)")


if __name__ == "__main__":
    main()
