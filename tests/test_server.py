"""The web server: one gunicorn configuration for the Dockerfile, compose and the README, and a real gunicorn on
loopback serving an export longer than its timeout, then a worker stopped mid-export: the client can tell the
body is cut short and the export log says INCOMPLETE."""

import gc
import hashlib
import http.client
import json
import os
import re
import runpy
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "config/gunicorn.conf.py"
SERVE = ["gunicorn", "-c", CONFIG, "config.wsgi:application"]


def test_the_dockerfile_and_compose_run_gunicorn_with_the_one_config_file():
    cmd = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == SERVE
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    assert web[-1].split(" && ")[-1] == " ".join(SERVE)  # after collectstatic, the same command, no other flag
    assert " ".join(SERVE) in (ROOT / "README.md").read_text()


def test_the_config_serves_streams_on_threads():
    config = runpy.run_path(str(ROOT / CONFIG))
    assert config["worker_class"] == "gthread" and config["threads"] > 1
    assert config["graceful_timeout"] >= 60  # a deploy lets streams in flight finish
    assert callable(config["worker_abort"]) and callable(config["worker_exit"])


def test_a_worker_freezes_the_loaded_application_out_of_the_collectors_passes():
    config = runpy.run_path(str(ROOT / CONFIG))
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


# --- A real gunicorn ------------------------------------------------------------------------------------------------

ROWS = 120_000  # ~9 MB of CSV: more than the loopback buffers hold, so the server is still sending when it stops
TIMEOUT = 2  # gunicorn's worker timeout in this test: far shorter than the slow client's download
SETUP = f"""
import datetime as dt
from decimal import Decimal
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from edc import roles
from edc.models import LabResult
from tests import factories
from tests.followup import export_cohort as cohort

site = factories.SiteFactory(code="01")
users = {{}}
for role in (roles.SITE_STAFF, roles.DATA_MANAGER):
    users[role] = factories.UserFactory()
    users[role].groups.add(Group.objects.get(name=role))
    site.users.add(users[role])
subject, start = cohort.treat(site, users[roles.SITE_STAFF], cohort.day0_of_cohort())
LabResult.objects.bulk_create(
    (LabResult(subject=subject, analyte="CD19", value=Decimal(i % 300), unit="cells/µL",
               sample_datetime=start + dt.timedelta(minutes=i + 1)) for i in range({ROWS})),
    batch_size=5000,
)
print(Token.objects.create(user=users[roles.DATA_MANAGER]).key)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with the project's config (one worker, a 2 s timeout) on a migrated SQLite file with 120,000
    results; yields (port, token, database path, master process)."""
    var = tmp_path_factory.mktemp("server-var")
    # Its own SQLite file under `var`, whatever database the suite runs on (`make test-services` sets DATABASE_URL
    # to the configured PostgreSQL database, which tests never write).
    inherited = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env = {**inherited, "EDC_VAR_DIR": str(var), "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings",
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    token = subprocess.run([*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, timeout=300,
                           capture_output=True, text=True).stdout.split()[-1]  # fmt: skip
    port = _free_port()
    master = subprocess.Popen(
        [sys.executable, "-m", *SERVE[:3], "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout",
         str(TIMEOUT), SERVE[3]],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: _accepts(port), 60, "gunicorn to listen")
        yield port, token, var / "edc.sqlite3", master
    finally:
        master.terminate()
        master.wait(timeout=30)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _export(port: int, token: str) -> http.client.HTTPResponse:
    """GET the pkpd CSV with its trailer, on a socket with a small receive buffer (the client reads slowly)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", port))
    connection.sock = sock
    connection.request("GET", "/api/v1/exports/pkpd/?trailer=1", headers={"Authorization": f"Token {token}"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    return response


def _last_log(database: Path) -> tuple[str, int | None]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT status, row_count FROM followup_exportlog ORDER BY id DESC LIMIT 1").fetchone()


def _workers(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_an_export_longer_than_the_timeout_arrives_whole(server):
    port, token, database, _ = server
    response = _export(port, token)
    first = response.read(64 * 1024)
    time.sleep(TIMEOUT * 2)  # a sync worker would have been killed by now
    body = first + response.read()
    content, _, trailer = body.removesuffix(b"\r\n").rpartition(b"\r\n")
    digest = hashlib.sha256(content + b"\r\n").hexdigest()
    assert trailer.decode() == f"# rows={ROWS} sha256={digest}"
    assert _wait(lambda: _last_log(database)[0] == "COMPLETE" and _last_log(database), 10, "the log") == (
        "COMPLETE", ROWS)  # fmt: skip


def test_a_worker_stopped_mid_export_cuts_a_body_the_client_can_tell_and_logs_it_incomplete(server):
    port, token, database, master = server
    response = _export(port, token)
    received = response.read(64 * 1024)
    assert _last_log(database)[0] == "STARTED"
    (worker,) = _workers(master)
    # What the arbiter sends a worker past its timeout; the worker's abort hook marks its streams, and the arbiter
    # kills it outright when it does not exit in time (its stream thread is blocked on this client).
    os.kill(worker, signal.SIGABRT)
    status, rows = _wait(lambda: _last_log(database)[0] == "INCOMPLETE" and _last_log(database), 30, "the log")
    assert 0 < rows < ROWS
    _wait(lambda: not Path(f"/proc/{worker}").exists() or "zombie" in _state(worker), 30, "the worker to end")
    with pytest.raises(http.client.IncompleteRead):  # the chunked body never got its last, empty chunk
        received += response.read()
    assert not re.search(rb"# rows=\d+ sha256=", received)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (FileNotFoundError, IndexError):
        return "zombie"
