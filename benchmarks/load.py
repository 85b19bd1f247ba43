"""Server cost per request under closed-loop load: gunicorn as the Dockerfile starts it, 50 token clients (Locust).

    .venv/bin/python benchmarks/load.py [--seconds 60] [--clients 50] [--warmup-seconds 5] [--workers 3]

A PostgreSQL database of its own (`meta1019_bench_load`), loaded once with `seed_demo` and reused as the template
of each run's copy (`meta1019_bench_load_run`, dropped after): the POSTs and the exports' logs of one run do not
reach the next, which starts from the same rows (the exported subjects' casebooks stay their size). gunicorn runs
`-c config/gunicorn.conf.py config.wsgi:application` on a free loopback port, DEBUG off, access log discarded;
each demo user gets an API token (`Authorization: Token …`). benchmarks/locustfile.py's clients (no wait between
requests) mix, in the weights 4 : 3 : 2 : 1, list pages (subjects, visits, lab results, queries), detail GETs,
lab-result POSTs (copies of stored results, to visits no lock covers) and one-subject exports (pkpd CSV, ODM
casebook). After a warm-up run (every worker past its first requests), the measured run's figures: requests, errors
by status, p50/p99 latency, and the server CPU per request: the (user + system) time that gunicorn's master and
workers spent during the run, over its requests. The exit status is 1 on any 5xx (or request left unanswered).
Target (issue #18): ≤ 5 ms CPU per request, p99 < 300 ms.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/meta1019_bench_load")

from _setup import ROOT, django_ready  # noqa: E402

BIN = Path(sys.executable).parent
LAB_RESULT_FIELDS = ("subject", "visit", "analyte", "value", "unit", "lln", "uln", "sample_datetime", "lab_name")
DETAILS_PER_ROUTE = 20
POST_BODIES = 50


def seeded_plan() -> dict:
    """Tokens and ids of the mix, from the seeded database (seeded here on the first run)."""
    django_ready()
    from django.core.management import call_command

    from edc import demo, roles, security
    from edc.models import DataQuery, LabResult, Subject, Visit

    if not Subject.objects.exists():
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", verbosity=0, stdout=quiet)
    users = {username: security.current_token(user) for username, user in demo_users(demo).items()}
    by_role = {role: username for username, (role, _) in demo.DEMO_USERS.items()}
    return {
        "tokens": {username: token.key for username, token in users.items()},
        "readers": sorted(by_role[role] for role in roles.CLINICAL_READERS),
        "writer": by_role[roles.SITE_STAFF],
        "exporter": by_role[roles.DATA_MANAGER],
        "details": {
            "subjects": first_keys(Subject.objects.order_by("id"), "subject_id"),
            "visits": first_keys(Visit.objects.order_by("id"), "id"),
            "lab-results": first_keys(LabResult.objects.order_by("id"), "id"),
            "queries": first_keys(DataQuery.objects.order_by("id"), "id"),
        },
        "lab_results": lab_result_bodies(),
        "subjects": list(Subject.objects.filter(status="TREATED").values_list("subject_id", flat=True)[:10]),
    }


def demo_users(demo) -> dict:
    from django.contrib.auth import get_user_model

    return {user.username: user for user in get_user_model().objects.filter(username__in=demo.DEMO_USERS)}


def first_keys(queryset, field: str) -> list:
    return [str(key) for key in queryset.filter(voided=False).values_list(field, flat=True)[:DETAILS_PER_ROUTE]]


def lab_result_bodies() -> list[dict]:
    """Copies of stored numeric results (valid, as they were) on visits and subjects no lock covers."""
    from edc.models import LabResult
    from edc.services.crf import covering_locks

    bodies = []
    stored = LabResult.objects.filter(voided=False, value__isnull=False, visit__isnull=False)
    for result in stored.select_related("subject").order_by("id").iterator():
        if covering_locks({result.subject_id}, {result.visit_id}).exists() or result.subject.status == "OFF_STUDY":
            continue
        values = {"subject": result.subject.subject_id, "visit": result.visit_id, "value": float(result.value)}
        for name in ("analyte", "unit", "lab_name"):
            values[name] = getattr(result, name)
        for name in ("lln", "uln"):
            values[name] = None if getattr(result, name) is None else float(getattr(result, name))
        values["sample_datetime"] = result.sample_datetime.isoformat()
        bodies.append(values)
        if len(bodies) == POST_BODIES:
            break
    return bodies


def run_database_url() -> str:
    """A fresh copy of the seeded database for one run (a template copy: PostgreSQL copies the files)."""
    from django.db import connection

    connection.close()  # a template must have no other session
    seeded_url = os.environ["DATABASE_URL"]
    run_url = f"{seeded_url}_run"
    drop_database(run_url)
    with admin_connection(run_url) as admin:
        admin.execute(f'CREATE DATABASE "{database_name(run_url)}" TEMPLATE "{database_name(seeded_url)}"')
    return run_url


def drop_database(url: str) -> None:
    with admin_connection(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def admin_connection(url: str):
    """A connection to the server's `postgres` database, where databases are created and dropped."""
    import psycopg

    return psycopg.connect(f"{url.rsplit('/', 1)[0]}/postgres", autocommit=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int, workers: int, database_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "GUNICORN_BIND": f"127.0.0.1:{port}", "DEBUG": "0"}
    env["GUNICORN_WORKERS"] = str(workers)
    command = [BIN / "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_serving(port: int, token: str, server: subprocess.Popen, workers: int) -> None:
    import psutil

    url, headers = f"http://127.0.0.1:{port}/api/v1/sites/", {"Authorization": f"Token {token}"}
    request = urllib.request.Request(url, headers=headers)
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200 and len(psutil.Process(server.pid).children()) == workers:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("gunicorn did not answer within 60 s")


def server_cpu_seconds(server: subprocess.Popen) -> dict[int, float]:
    """user + system CPU seconds of gunicorn's master and each worker, by pid."""
    import psutil

    master = psutil.Process(server.pid)
    times = {}
    for process in (master, *master.children(recursive=True)):
        cpu = process.cpu_times()
        times[process.pid] = cpu.user + cpu.system
    return times


def run_clients(port: int, plan_path: str, clients: int, seconds: int) -> dict:
    """One Locust run; its responses' statuses and times."""
    with tempfile.NamedTemporaryFile(suffix=".json") as results:
        env = {**os.environ, "LOAD_PLAN": plan_path, "LOAD_RESULTS": results.name}
        command = [
            BIN / "locust", "-f", ROOT / "benchmarks" / "locustfile.py", "--headless", "--only-summary",
            "--users", str(clients), "--spawn-rate", str(clients), "--run-time", f"{seconds}s",
            "--host", f"http://127.0.0.1:{port}", "--loglevel", "WARNING",
        ]  # fmt: skip
        # Locust exits 1 when any request failed: the failures are counted from its results, not its exit code.
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return json.loads(Path(results.name).read_text())


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages (other sessions share it)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def figures(results: dict, cpu_before: dict, cpu_after: dict, seconds: int) -> dict:
    latencies = sorted(results["latencies_ms"])
    requests = len(latencies)
    cpu = sum(after - cpu_before.get(pid, 0.0) for pid, after in cpu_after.items())
    statuses = results["statuses"]
    return {
        "requests": requests,
        "requests_per_s": round(requests / seconds, 1),
        "errors": sum(n for status, n in statuses.items() if not status.startswith("2")),
        # 5xx, and a request without an answer (a dropped connection)
        "server_errors": sum(n for status, n in statuses.items() if status[0] not in "1234"),
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(requests - 1, int(requests * 0.99))], 1),
        "cpu_ms_per_request": round(cpu * 1000 / requests, 2),
        "loadavg_after": load_average(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup-seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    plan = seeded_plan()
    database_url, port = run_database_url(), free_port()
    server = start_gunicorn(port, args.workers, database_url)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as plan_file:
            json.dump(plan, plan_file)
            plan_file.flush()
            wait_until_serving(port, plan["tokens"][plan["exporter"]], server, args.workers)
            run_clients(port, plan_file.name, args.clients, args.warmup_seconds)
            loadavg_before, cpu_before = load_average(), server_cpu_seconds(server)
            results = run_clients(port, plan_file.name, args.clients, args.seconds)
            cpu_after = server_cpu_seconds(server)
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_database(database_url)
    result = {**figures(results, cpu_before, cpu_after, args.seconds), "loadavg_before": loadavg_before}
    report(result, args)
    if result["server_errors"]:
        sys.exit("server errors (5xx or no answer): there must be none")


def report(result: dict, args) -> None:
    print(f"{args.clients} closed-loop clients, {args.seconds} s, gunicorn {args.workers} workers (issue #18)")
    print(f"  requests           {result['requests']:>8} ({result['requests_per_s']}/s)")
    print(f"  errors (non-2xx)   {result['errors']:>8}  5xx: {result['server_errors']}  {result['statuses']}")
    print(f"  latency p50 / p99  {result['p50_ms']:>8} / {result['p99_ms']} ms (target p99 < 300)")
    print(f"  server CPU         {result['cpu_ms_per_request']:>8} ms/request (target ≤ 5)")
    print(f"  load average       {result['loadavg_before']} before the run, {result['loadavg_after']} after")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
