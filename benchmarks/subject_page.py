"""The subject page of a treated subject: server time, SQL queries and HTML bytes after two years of follow-up
against two weeks (the baseline of the same run), its panels cold (first view after a change) and cached, and the
PK/PD plot drawn cold against served from the cache.

    .venv/bin/python benchmarks/subject_page.py [--repeat 15]

Builds (each run, in a flushed database of its own) two treated subjects through the services, as the tests do
(`tests.casebook.followed_casebook`): infused 14 and 745 days ago, every follow-up visit planned before today done
with six results. Times are medians of `--repeat` GETs through Django's test client (the whole request: session,
admin, template), in this process. Targets (issue #14): ≤ 150 ms, ≤ 150 KB and ≤ 20 queries with the panels cached;
two years / two weeks ≈ 1 for each.
"""

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/meta1019_bench_subjectpage")

from _setup import django_ready  # noqa: E402 - the database is chosen before Django is set up

DURATIONS = {"2 weeks": 14, "2 years": 745}


def build():
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from edc import roles
    from tests import casebook, factories

    call_command("flush", interactive=False, verbosity=0)
    for role in roles.ALL_ROLES:  # the flush removed the groups a data migration made
        Group.objects.get_or_create(name=role)
    site = factories.SiteFactory(code="01")
    staff = factories.UserFactory(username="bench-staff")
    staff.groups.add(Group.objects.get(name=roles.SITE_STAFF))
    site.users.add(staff)
    subjects = {label: casebook.followed_casebook(factories.make_subject(site, staff), staff, days)
                for label, days in DURATIONS.items()}  # fmt: skip
    return staff, subjects


def timed_get(client, url, before=None, headers=None):
    """(seconds, queries, bytes, CPU seconds of this process) of one GET; `before()` runs first, untimed. The CPU
    time is the server's own work, which other processes of a busy machine do not stretch (the database's is not in
    it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers or {})
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert response.status_code in (200, 304), response.status_code
    return seconds, len(queries), len(response.content), cpu


def interleaved(client, cases, rounds):
    """Each case (name → (url, before, headers)) once per round, the cases alternating: a machine busy with
    something else slows all of them alike. Median seconds, the queries and bytes of the last GET, median CPU
    seconds."""
    seen = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (url, before, headers) in cases.items():
            seen[name].append(timed_get(client, url, before, headers))
    return {
        name: (statistics.median(run[0] for run in runs), *runs[-1][1:3], statistics.median(run[3] for run in runs))
        for name, runs in seen.items()
    }


def at_once(user, url, people=3, repeat=5):
    """Median seconds of one GET while `people` users load the page at the same moment (one thread each)."""
    from django.db import connection
    from django.test import Client

    times, lock = [], threading.Lock()

    def one_person():
        client = Client()
        client.force_login(user)
        client.get(url)
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            with lock:
                times.append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=one_person) for _ in range(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    django_ready()
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    staff, subjects = build()
    client = Client()
    client.force_login(staff)
    cases = {}
    for label, subject in subjects.items():
        page = reverse("admin:edc_subject_change", args=[subject.pk])
        plot = reverse("admin:edc_subject_pkpd_plot", args=[subject.pk])
        client.get(page)  # what a process loads once (content types, templates)
        etag = client.get(plot)["ETag"]
        cases |= {(label, "page cold"): (page, cache.clear, None), (label, "page cached"): (page, None, None),
                  (label, "plot drawn"): (plot, cache.clear, None), (label, "plot cached"): (plot, None, None),
                  (label, "plot 304"): (plot, None, {"if-none-match": etag})}  # fmt: skip
    # A cached case right after a cold one would find the cache empty: the cold ones warm it again first.
    warm = {name: case for name, case in cases.items() if case[1] is None}
    cold = {name: case for name, case in cases.items() if case[1] is not None}
    found = interleaved(client, cold, args.repeat)
    for url, _, _ in warm.values():
        client.get(url)
    found |= interleaved(client, warm, args.repeat)
    for label in subjects:
        for kind in ("page cold", "page cached", "plot drawn", "plot cached", "plot 304"):
            seconds, queries, size, cpu = found[label, kind]
            print(f"{label:8} {kind:12} {seconds * 1000:7.1f} ms (CPU {cpu * 1000:5.1f} ms)  {queries:3} queries  "
                  f"{size / 1000:6.1f} KB")  # fmt: skip
    for kind in ("page cold", "page cached"):
        years, weeks = found["2 years", kind], found["2 weeks", kind]
        print(f"2 years / 2 weeks, {kind}: {years[0] / weeks[0]:.2f}, CPU {years[3] / weeks[3]:.2f} "
              f"(queries {years[1]} / {weeks[1]}, bytes {years[2] / weeks[2]:.3f})")  # fmt: skip
    print(
        f"2 years: page cached / cold {found['2 years', 'page cached'][0] / found['2 years', 'page cold'][0]:.2f}; "
        f"plot cached / drawn {found['2 years', 'plot cached'][0] / found['2 years', 'plot drawn'][0]:.3f}"
    )
    page = reverse("admin:edc_subject_change", args=[subjects["2 years"].pk])
    print(f"2 years, three users at once: {at_once(staff, page) * 1000:.0f} ms per page (panels cached)")


if __name__ == "__main__":
    main()
