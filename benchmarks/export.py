"""`exports/pkpd/` CSV end to end against PostgreSQL's own COPY of the same rows, and a naive DRF list.

    .venv/bin/python benchmarks/export.py [--subjects 10000] [--skip-naive]

Seeds (once, with bulk_create: this measures the export, not data entry) `--subjects` treated subjects with
300 PK/PD results each (10,000 subjects ≈ 3 million results), then, each in a fresh process so that its
peak RSS is its own:
- export: GET /api/v1/exports/pkpd/ through the whole Django stack (test client), streamed and consumed chunk
  by chunk: first byte, total time, rows/s, peak RSS;
- copy: `COPY (SELECT …) TO STDOUT` of the export's own lab-result query (same rows, same columns read);
- naive: a DRF ModelSerializer list of the same rows rendered as one JSON body.
Targets: export/COPY ≤ 2.5, peak RSS < 200 MB, first byte < 1 s.
"""

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/meta1019_exportbench")

from _setup import django_ready  # noqa: E402

ANALYTES = {"CD19": "cells/µL", "CARPCR": "copies/µg", "CARFLOW": "cells/µL", "DSDNA": "IU/mL", "C3": "g/L",
            "C4": "g/L"}  # fmt: skip
SAMPLES_PER_SUBJECT = 50  # × 6 analytes = 300 results


def seed(subjects: int) -> float:
    from decimal import Decimal

    from django.db import connection, transaction

    from edc import rules
    from edc.models import LabResult, Site, Subject, Visit

    site, _ = Site.objects.get_or_create(code="XB", defaults={"name": "Export benchmark site"})
    existing = Subject.objects.filter(site=site).count()
    if existing == subjects:
        return 0.0
    if existing:
        sys.exit(f"{existing} subjects seeded, not {subjects}: drop the database meta1019_exportbench first")
    started = time.perf_counter()
    codes = [c for c in rules.SCHEDULE if c not in ("SCR", "LD_M5", "LD_M4", "LD_M3", "UNS")]
    infusion = dt.datetime(2023, 1, 10, 2, 0, tzinfo=dt.UTC)
    for first in range(0, subjects, 500):
        with transaction.atomic():
            batch = Subject.objects.bulk_create(
                Subject(site=site, number=n + 1, subject_id=rules.format_subject_id("XB", n + 1), sex="F",
                        date_of_birth=dt.date(1990, 1, 1), initials="XB", status="TREATED")
                for n in range(first, min(first + 500, subjects))
            )  # fmt: skip
            # D0 at the infusion; every other visit's samples 2 h before its nominal day's infusion hour.
            moments = {c: infusion + dt.timedelta(days=rules.SCHEDULE[c].day, hours=-2 * (c != "D0")) for c in codes}
            visits = Visit.objects.bulk_create(
                Visit(subject=s, code=code, status="DONE", visit_datetime=moments[code])
                for s in batch
                for code in codes
            )
            by_subject: dict[int, list] = {}
            for visit in visits:
                by_subject.setdefault(visit.subject_id, []).append(visit)
            results = []
            for s in batch:
                own = [v for v in by_subject[s.pk] if v.code != "D0"]
                for i in range(SAMPLES_PER_SUBJECT):
                    visit = own[i] if i < len(own) else None
                    taken = visit.visit_datetime if visit else infusion + dt.timedelta(days=3 * i + 0.5)
                    for analyte, unit in ANALYTES.items():
                        results.append(LabResult(subject=s, visit=visit, analyte=analyte, unit=unit,
                                                 value=Decimal((i * 37 + s.pk) % 997) / 10, lloq=Decimal(1),
                                                 sample_datetime=taken))  # fmt: skip
            LabResult.objects.bulk_create(results, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as autovacuum would have them in production
    return time.perf_counter() - started


def run_export() -> dict:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from edc.models import Site

    user, _ = User.objects.get_or_create(username="bench-datamanager", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="data_manager"))
    Site.objects.get(code="XB").users.add(user)
    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    response = client.get("/api/v1/exports/pkpd/")
    first_byte = size = lines = 0
    for chunk in response.streaming_content:
        if not first_byte:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
    return {"seconds": time.perf_counter() - started, "first_byte": first_byte, "rows": lines - 1, "bytes": size}


def run_copy() -> dict:
    from django.db import connection

    from edc.models import Site
    from followup import exports

    site = Site.objects.get(code="XB")
    request = exports.ExportRequest(exports.DATASETS["pkpd"], site_ids=(site.pk,))
    sql, params = _lab_query(request).query.sql_with_params()
    statement = connection.ops.compose_sql(sql, params)
    connection.ensure_connection()
    started = time.perf_counter()
    rows = size = 0
    with connection.connection.cursor() as cursor, cursor.copy(f"COPY ({statement}) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
            rows += bytes(block).count(b"\n")
    return {"seconds": time.perf_counter() - started, "rows": rows, "bytes": size}


def _lab_query(request):
    """The export's own query: the lab-result source rows of the pkpd dataset, as `followup.exports.pkpd`
    reads them (through COPY) before it derives baselines and changes."""
    from followup.exports.datasets import PKPD_ANALYTES
    from followup.exports.pkpd import pkpd_source

    return pkpd_source(request, [a for a in PKPD_ANALYTES if a != "SLEDAI"])


def run_naive() -> dict:
    from rest_framework.renderers import JSONRenderer

    from edc.api import LabResultSerializer
    from edc.models import LabResult

    class Plain(LabResultSerializer):  # the same fields, without the request-scoped subject field
        subject = None

        class Meta(LabResultSerializer.Meta):
            fields = tuple(f for f in LabResultSerializer.Meta.fields if f not in ("subject", "change_reason"))

    started = time.perf_counter()
    rows = LabResult.objects.filter(subject__site__code="XB", analyte__in=list(ANALYTES)).order_by("subject_id")
    data = Plain(rows, many=True).data
    body = JSONRenderer().render(data)
    return {"seconds": time.perf_counter() - started, "rows": len(data), "bytes": len(body)}


def child(kind: str) -> None:
    django_ready()
    result = {"export": run_export, "copy": run_copy, "naive": run_naive}[kind]()
    result["peak_rss_mb"] = _peak_rss_kb() / 1024
    print(json.dumps(result))


def _peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM): ru_maxrss would also count the parent's pages at the fork."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: ru_maxrss is in kB too


def measure(kind: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    django_ready()
    seeded = seed(args.subjects)
    print(f"seeding: {seeded:.1f} s" if seeded else "seeding: data already there")
    figures = {"export": measure("export"), "copy": measure("copy")}
    if not args.skip_naive:
        figures["naive"] = measure("naive")
    print(f"{'':8}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>13}{'first byte s':>14}")
    for kind, f in figures.items():
        first = f"{f['first_byte']:.3f}" if "first_byte" in f else "—"
        print(f"{kind:8}{f['rows']:>10}{f['seconds']:>10.2f}{f['rows'] / f['seconds']:>12.0f}{f['peak_rss_mb']:>13.0f}"
              f"{first:>14}")  # fmt: skip
    print(f"ratio export/COPY: {figures['export']['seconds'] / figures['copy']['seconds']:.2f} (target ≤ 2.5)")


if __name__ == "__main__":
    main()
