# Two commands on a bare machine with Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# One stamp per set: runtime (requirements.txt) for run/migrate, runtime + dev for test/lint.
# Both files carry hashes, so pip checks every download (hash-checking mode is implicit).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
# The services of `make test-services` (and of CI).
PG_URL ?= postgres://postgres@127.0.0.1:5432/meta1019
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install install-dev requirements run test test-services lint migrate clean

$(RUNTIME_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements.txt
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements.txt requirements-dev.txt
	$(PIP) --require-hashes -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

# Recompile the pins (with hashes) after an edit of requirements.in or requirements-dev.in; existing pins
# stay unless asked otherwise (PIP_COMPILE_FLAGS=--upgrade, or --upgrade-package NAME). The machine's
# extra package indexes are not written into the files: the image and other machines use PyPI.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(PIP_COMPILE_FLAGS)
requirements: install-dev
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

migrate: install
	DEBUG=1 $(PY) manage.py migrate --noinput -v 0

# Web (runserver) + Celery worker with embedded beat on the SQLite file and the filesystem broker.
run: migrate
	@DEBUG=1 $(PY) manage.py seed_demo
	@mkdir -p var
	@DEBUG=1 $(VENV)/bin/celery -A config worker --beat --pool solo --loglevel INFO >var/worker.log 2>&1 & \
	  worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  echo "Worker + beat: pid $$worker, log in var/worker.log"; \
	  echo "Admin:   http://$(HOST):$(PORT)/admin/"; \
	  echo "API:     http://$(HOST):$(PORT)/api/v1/   schema: /api/schema/   docs: /api/docs/"; \
	  DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(PY) -m pytest -q

# The same suite on PostgreSQL with a real Redis broker and worker, plus the headless-Chromium test;
# services must be reachable (the browser is apt-installed when missing).
test-services: install-dev
	bash .ci/ensure-services
	bash .ci/ensure-browser
	DATABASE_URL=$(PG_URL) REDIS_URL=$(SERVICES_REDIS_URL) EDC_REQUIRE_SERVICES=1 $(PY) -m pytest -q

# Style, the import contracts of pyproject.toml (layers, pure rules) and migrations in step with the models.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf var .pytest_cache
