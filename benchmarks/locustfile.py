"""The clients of benchmarks/load.py (run by it: `locust --headless`, never on its own).

Each client is one closed loop (no wait between requests) over the mix: list pages, detail GETs, lab-result POSTs
and one-subject exports, each as a demo user whose role allows it. The plan (tokens, ids, POST bodies) is the JSON
file named by LOAD_PLAN; every response's status and time go to LOAD_RESULTS when the run ends, so that load.py
counts the errors by status and takes exact percentiles (Locust's own are rounded).
"""

import json
import os
import random
from collections import Counter

from locust import FastHttpUser, constant, events, task

with open(os.environ["LOAD_PLAN"]) as plan_file:
    PLAN = json.load(plan_file)
ONE_SUBJECT_EXPORTS = (
    ("pkpd", "/api/v1/exports/pkpd/?format=csv&subject="),
    ("odm", "/api/v1/exports/odm/?subject="),  # the subject's casebook
)
LATENCIES_MS: list[float] = []
STATUSES: Counter = Counter()


@events.request.add_listener
def record(request_type, name, response_time, response, exception, **kwargs):
    LATENCIES_MS.append(response_time)
    STATUSES[str(response.status_code) if response is not None and response.status_code else "no answer"] += 1


@events.quitting.add_listener
def write_results(environment, **kwargs):
    with open(os.environ["LOAD_RESULTS"], "w") as results:
        json.dump({"latencies_ms": LATENCIES_MS, "statuses": STATUSES}, results)


def token_header(username: str) -> dict:
    return {"Authorization": f"Token {PLAN['tokens'][username]}"}


class TokenClient(FastHttpUser):
    wait_time = constant(0)  # closed loop: the next request as soon as the last is answered

    def get(self, url: str, username: str, name: str):
        self.client.get(url, headers=token_header(username), name=name)

    @task(4)
    def list_page(self):
        route = random.choice(("subjects", "visits", "lab-results", "queries"))
        self.get(f"/api/v1/{route}/", random.choice(PLAN["readers"]), name=f"list {route}")

    @task(3)
    def detail(self):
        route, key = random.choice([(route, key) for route, keys in PLAN["details"].items() for key in keys])
        self.get(f"/api/v1/{route}/{key}/", random.choice(PLAN["readers"]), name=f"detail {route}")

    @task(2)
    def post_lab_result(self):
        body = random.choice(PLAN["lab_results"])
        headers = token_header(PLAN["writer"])
        self.client.post("/api/v1/lab-results/", json=body, headers=headers, name="post lab-result")

    @task(1)
    def one_subject_export(self):
        subject_id = random.choice(PLAN["subjects"])
        dataset, url = random.choice(ONE_SUBJECT_EXPORTS)
        self.get(url + subject_id, PLAN["exporter"], name=f"export {dataset}")
