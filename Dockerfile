# One image for web (gunicorn), Celery worker and Celery beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 EDC_VAR_DIR=/var/lib/edc
WORKDIR /app
# The runtime set only (no test or lint tool), every download checked against its hash.
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . .
RUN useradd --system --home /app edc && mkdir -p /var/lib/edc && chown edc /var/lib/edc
USER edc
EXPOSE 8000
# Worker class, threads and timeouts: config/gunicorn.conf.py (shared with docker-compose.yml and the README).
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
