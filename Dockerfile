# One image for web (gunicorn), Celery worker, Celery beat and the backup worker.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 EDC_VAR_DIR=/var/lib/edc
WORKDIR /app
# PostgreSQL's client programs for `manage.py backup`/`restore`, of the server's major version (PGDG's packages:
# Debian's own are one version per release); compose passes the server's PG_MAJOR. fonts-noto-cjk: the plots'
# Chinese titles and axes (README, "Languages").
ARG PG_MAJOR=16
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && . /etc/os-release \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} fonts-noto-cjk \
 && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
# The runtime set only (no test or lint tool), every download checked against its hash.
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . .
# /var/lib/edc/backups exists in the image so that the backup volume mounted there starts owned by edc.
RUN useradd --system --home /app edc && mkdir -p /var/lib/edc/backups && chown -R edc /var/lib/edc \
 && chmod 700 /var/lib/edc/backups
USER edc
EXPOSE 8000
# Worker class, threads and timeouts: config/gunicorn.conf.py (shared with docker-compose.yml and the README).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
