# ruff: noqa: N999 - gunicorn's own name for its configuration file
"""The one gunicorn configuration: the Dockerfile, docker-compose.yml and the README run
`gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

Why gthread: the default sync worker serves one request at a time and its `timeout` counts from the start of the
request, so a 3-million-row export streamed for longer than 30 s was killed mid-body (HTTP 200 already sent). A
gthread worker's main thread tells the arbiter it is alive once a second while its threads serve requests, so
`timeout` only catches a worker whose main loop is stuck, never a long stream; the threads let the other requests
of that worker go on meanwhile. An ASGI server would need async views for the same effect and the exports are
synchronous generators over a database cursor. Exports too large for one request are jobs (`exports/jobs/`).

Every value may be overridden from the environment (GUNICORN_*) or the command line.
"""

import gc
import os
import sys

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Each thread holds one database connection while it serves: workers × threads stays well under PostgreSQL's
# max_connections (100 by default).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A worker whose main loop has not reported for this long is restarted (requests do not count against it).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On a restart or deploy, streams in flight get this long to finish before the worker stops.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "120"))
keepalive = 5
accesslog = "-"
# The proxy in front terminates TLS (settings trust X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")


def _mark_unfinished_exports() -> None:
    """The exports this worker is still streaming get INCOMPLETE in their log: the worker ends before they do."""
    exports = sys.modules.get("followup.exports")  # not imported: no export was served by this worker
    if exports is not None:
        exports.mark_unfinished_incomplete()


def post_worker_init(worker):
    # The application is loaded and lives as long as the worker: frozen, its objects (modules, models, settings)
    # are no longer walked by each full pass of the cyclic collector over the requests' garbage (issue #18).
    gc.freeze()


def worker_abort(worker):
    # SIGABRT: the arbiter's timeout.
    _mark_unfinished_exports()


def worker_exit(server, worker):
    # A stop or restart whose graceful timeout ran out with streams still going.
    _mark_unfinished_exports()
