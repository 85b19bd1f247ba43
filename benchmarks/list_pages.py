"""The last whole page of the large API lists at 300 and 3,000 subjects: by page number (offset, with its COUNT)
and by keyset (`?cursor=`).

    .venv/bin/python benchmarks/list_pages.py [--scales 300 3000] [--repeat 5] [--page-size 1000]

Each scale has a PostgreSQL database of its own (`meta1019_bench_lists_<N>`), loaded once with
`seed_demo --subjects N` (which ends with ANALYZE) and reused; each scale runs in a child process, since Django
binds one database per process. Times are medians of `--repeat` GETs of the list's last whole page through DRF's test
client, as the data manager. Target (issue #18): keyset last page at 3,000 / at 300 subjects ≤ 1.2.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROUTES = ("lab-results", "visits", "queries")


def measure(subjects: int, repeat: int, page_size: int) -> dict:
    """{route: {rows, offset_ms, keyset_ms, keyset_queries}} in this process's database."""
    from _setup import django_ready

    django_ready()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from edc.models import Subject

    if not Subject.objects.exists():
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", "--subjects", str(subjects), verbosity=0, stdout=quiet)
    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="datamanager"))

    def median_ms(url: str) -> tuple[float, int, dict]:
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = api.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
        return statistics.median(times), len(queries), response.data

    figures = {}
    for route in ROUTES:
        rows = api.get(f"/api/v1/{route}/?page_size=1").data["count"]
        last_full_page = max(rows // page_size, 1)  # a whole page: a short last page would flatter the larger scale
        offset_ms, offset_queries, _ = median_ms(f"/api/v1/{route}/?page={last_full_page}&page_size={page_size}")
        url, pages = f"/api/v1/{route}/?cursor=&page_size={page_size}", []
        while url:  # walk to the last whole page once, then time it
            pages.append(url)
            url = api.get(url).data["next"]
        keyset_ms, keyset_queries, _ = median_ms(pages[last_full_page - 1])
        figures[route] = {
            "rows": rows,
            "offset_ms": offset_ms,
            "offset_queries": offset_queries,
            "keyset_ms": keyset_ms,
            "keyset_queries": keyset_queries,
        }
    return figures


def run_scale(subjects: int, args) -> dict:
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/meta1019_bench_lists_{subjects}"}
    command = [sys.executable, __file__, "--child", str(subjects), "--repeat", str(args.repeat)]
    output = subprocess.run([*command, "--page-size", str(args.page_size)], env=env, check=True, capture_output=True)
    return json.loads(output.stdout.decode().strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs=2, default=(300, 3000))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeat, args.page_size)))
        return
    small, large = args.scales
    by_scale = {scale: run_scale(scale, args) for scale in (small, large)}
    print(f"last whole page of each list, page_size={args.page_size}, median of {args.repeat}")
    for route in ROUTES:
        for scale in (small, large):
            f = by_scale[scale][route]
            offset = f"offset {f['offset_ms']:7.1f} ms ({f['offset_queries']} queries)"
            keyset = f"keyset {f['keyset_ms']:7.1f} ms ({f['keyset_queries']} queries)"
            print(f"{route:12} {scale:>5} subjects {f['rows']:>8} rows: {offset}, {keyset}")
        offset_ratio = by_scale[large][route]["offset_ms"] / by_scale[small][route]["offset_ms"]
        keyset_ratio = by_scale[large][route]["keyset_ms"] / by_scale[small][route]["keyset_ms"]
        print(f"{route:12} ratio {large}/{small}: offset {offset_ratio:.2f}, keyset {keyset_ratio:.2f} (target ≤ 1.2)")


if __name__ == "__main__":
    main()
