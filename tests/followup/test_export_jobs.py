"""Large exports as jobs: `POST exports/jobs/` → a Celery task writes the file → status with rows → download with
its SHA-256; roles, sites and pseudonymisation as the export routes; bad input; the admin's exports page."""

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from edc import roles
from followup import export_jobs, tasks
from followup.models import ExportJob, ExportLog
from tests.followup.conftest import EXPORT_JOBS

pytestmark = pytest.mark.django_db
JOBS = EXPORT_JOBS  # the route of the jobs, shared with the fixtures that post to it


@pytest.fixture(autouse=True)
def job_files(settings, tmp_path):
    """The exports storage and the partial files in a folder of the test's own."""
    settings.VAR_DIR = tmp_path
    files = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "files")}}
    settings.STORAGES = {**settings.STORAGES, "exports": files}
    return tmp_path


@pytest.fixture
def role_groups():
    # A transactional test's flush removes the role groups that a data migration created.
    for role in roles.ALL_ROLES:
        Group.objects.get_or_create(name=role)


def streamed(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_a_job_writes_the_file_and_its_download_carries_the_checksum(client_for, post_job, exporter, car_treated):
    body = {"dataset": "pkpd", "format": "csv", "filters": {"analyte": ["CARPCR", "CD19"], "from_day": 0}}
    response = post_job(exporter, body)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response["Location"].endswith(f"{JOBS}{job_id}/")
    status = client_for(exporter).get(f"{JOBS}{job_id}/").json()
    assert status["status"] == "complete" and status["rows_written"] == 4
    assert status["filters"] == {"analyte": ["CARPCR", "CD19"], "from_day": 0, "shape": "long"}  # as the log has them
    assert status["download"].endswith(f"{JOBS}{job_id}/download/")
    download = client_for(exporter).get(f"{JOBS}{job_id}/download/")
    content = streamed(download)
    digest = hashlib.sha256(content)
    assert download["X-Export-SHA256"] == status["sha256"] == digest.hexdigest()
    assert download["Content-Digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert download["X-Export-Rows"] == "4" and download["Content-Length"] == str(len(content)) == str(status["size"])
    assert download["Content-Disposition"] == f'attachment; filename="pkpd-job-{job_id}.csv"'
    synchronous = streamed(client_for(exporter).get("/api/v1/exports/pkpd/?analyte=CARPCR,CD19&from_day=0"))
    assert content == synchronous  # the same file as the export route's
    job_log = ExportLog.objects.get(channel="job")
    assert (job_log.status, job_log.row_count, job_log.user) == (ExportLog.Status.COMPLETE, 4, exporter)


def test_a_sponsor_viewers_job_is_pseudonymised_as_the_route_is(client_for, post_job, make_user, site, car_treated):
    sponsor = make_user(roles.SPONSOR_VIEWER, site)
    job_id = post_job(sponsor, {"dataset": "sdtm/dm"}).json()["id"]
    content = streamed(client_for(sponsor).get(f"{JOBS}{job_id}/download/"))
    assert content == streamed(client_for(sponsor).get("/api/v1/exports/sdtm/dm/"))
    assert b"1987" not in content and b"QZ" not in content
    assert ExportLog.objects.get(channel="job").pseudonymised
    assert ExportJob.objects.get().params == {"format": "csv"}  # no shape: sdtm/dm has none


@pytest.mark.parametrize("export_format", ["json", "parquet"])
def test_json_and_parquet_jobs(client_for, post_job, exporter, car_treated, export_format):
    job_id = post_job(exporter, {"dataset": "pkpd", "format": export_format}).json()["id"]
    content = streamed(client_for(exporter).get(f"{JOBS}{job_id}/download/"))
    assert content == streamed(client_for(exporter).get(f"/api/v1/exports/pkpd/?format={export_format}"))


@pytest.mark.parametrize("role", [roles.SITE_STAFF, roles.MONITOR])
def test_roles_without_exports_get_no_jobs(client_for, make_user, site, car_treated, role):
    api = client_for(make_user(role, site))
    assert api.post(JOBS, {"dataset": "pkpd"}, format="json").status_code == 403
    assert api.get(JOBS).status_code == 403
    assert not ExportJob.objects.exists()


def test_a_user_sees_only_their_own_jobs(client_for, post_job, exporter, make_user, site, car_treated):
    job_id = post_job(exporter, {"dataset": "pkpd"}).json()["id"]
    other = client_for(make_user(roles.DATA_MANAGER, site))
    assert other.get(f"{JOBS}{job_id}/").status_code == 404
    assert other.get(f"{JOBS}{job_id}/download/").status_code == 404
    assert other.get(JOBS).json()["count"] == 0
    assert client_for(exporter).get(JOBS).json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "pkpdx"}, "dataset"),
        ({"dataset": "pkpd", "format": "xlsx"}, "format"),
        ({"dataset": "sdtm/ae", "format": "xpt"}, "format"),  # written whole: the dataset route or the package
        ({"dataset": "pkpd", "filters": {"analytes": "C3"}}, "filters"),
        ({"dataset": "pkpd", "filters": {"trailer": True}}, "filters"),
        ({"dataset": "pkpd", "filters": {"analyte": ["NOPE"]}}, "filters"),
        ({"dataset": "sdtm/dm", "filters": {"from_day": 3}}, "filters"),
        ({"dataset": "pkpd", "filters": {"from_day": "nan"}}, "filters"),
        ({"dataset": "pkpd", "filters": "C3"}, "filters"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(client_for, exporter, car_treated, body, field):
    response = client_for(exporter).post(JOBS, body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not ExportJob.objects.exists() and not ExportLog.objects.exists()


def test_a_subject_not_at_your_sites_is_a_404_naming_it(client_for, exporter, car_treated):
    response = client_for(exporter).post(JOBS, {"dataset": "pkpd", "filters": {"subject": ["M1019-09-999"]}},
                                         format="json")  # fmt: skip
    assert response.status_code == 404 and list(response.json()) == ["subject"]
    assert not ExportJob.objects.exists()


def test_a_job_not_complete_yet_has_no_download(client_for, exporter, car_treated):
    response = client_for(exporter).post(JOBS, {"dataset": "pkpd"}, format="json")  # not committed: not queued
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["download"] is None
    download = client_for(exporter).get(f"{JOBS}{job_id}/download/")
    assert download.status_code == 409 and "queued" in download.json()["status"][0]


def test_a_broker_that_is_down_fails_the_job_with_a_reason(post_job, exporter, car_treated, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.run_export_job, "apply_async", unreachable)
    assert post_job(exporter, {"dataset": "pkpd"}).status_code == 202
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED and "queue is not reachable" in job.error


def test_the_worker_checks_the_role_again(client_for, exporter, car_treated):
    job_id = client_for(exporter).post(JOBS, {"dataset": "pkpd"}, format="json").json()["id"]
    exporter.groups.clear()  # no export role any more by the time the worker runs
    job = export_jobs.run_job(job_id)
    assert job.status == ExportJob.Status.FAILED and "exports are for" in job.error
    assert not job.file_name and not ExportLog.objects.exists()


def test_running_a_job_twice_keeps_the_complete_file(post_job, exporter, car_treated):
    post_job(exporter, {"dataset": "pkpd"})
    job = ExportJob.objects.get()
    again = tasks.run_export_job(job.pk)
    assert again == {"job": job.pk, "status": "COMPLETE", "rows": 4}
    assert ExportJob.objects.get().sha256 == job.sha256 and ExportLog.objects.count() == 1


def test_a_job_that_fails_mid_write_leaves_no_file_and_an_incomplete_log(client_for, exporter, car_treated, job_files,
                                                                          monkeypatch):  # fmt: skip
    job_id = client_for(exporter).post(JOBS, {"dataset": "pkpd"}, format="json").json()["id"]

    def failing_writer(export_format, columns, rows, **kwargs):
        yield next(iter(rows)).__repr__().encode()
        raise OSError("disk full")

    monkeypatch.setattr(export_jobs.exports, "write", failing_writer)
    with pytest.raises(OSError):
        export_jobs.run_job(job_id)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.FAILED and job.error and not job.sha256
    assert ExportLog.objects.get().status == ExportLog.Status.INCOMPLETE
    assert not [p for p in Path(job_files).rglob("*") if p.is_file()]


# Committed: on PostgreSQL the progress is written on a second connection, which sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_a_running_job_reports_its_rows_as_it_goes(role_groups, exporter, monkeypatch):
    job = ExportJob.objects.create(user=exporter, requested_at=dt.datetime.now(dt.UTC), dataset="pkpd", format="csv")
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 10)
    seen = []
    for _ in export_jobs._progress(job.pk, iter(range(25))):
        seen.append(ExportJob.objects.get().rows_written)
    assert seen[9] == 0 and seen[10] == 10 and seen[-1] == 20


# --- The admin's exports page --------------------------------------------------------------------------------------

EXPORTS = reverse("admin:followup_exports")


@pytest.mark.parametrize("role", [roles.INVESTIGATOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER])
def test_the_exports_page_prepares_a_job_and_shows_its_status(client, make_user, site, car_treated, role,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    user = make_user(role, site)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EXPORTS, {"dataset": "pkpd", "format": "csv", "analyte": ["CARPCR"],
                                         "as_job": "Prepare as a job"})  # fmt: skip
    assert response.status_code == 303 and response["Location"] == EXPORTS
    job = ExportJob.objects.get()
    assert (job.user, job.status, job.rows_written) == (user, ExportJob.Status.COMPLETE, 2)
    page = client.get(EXPORTS).content.decode()
    assert job.params == {"format": "csv", "analyte": ["CARPCR"], "shape": "long"}
    assert "queued: pkpd (csv)" in page  # the message
    assert "complete" in page and job.sha256 in page and "analyte CARPCR" in page
    assert reverse("exportjob-download", args=[job.pk]) in page
    assert client.get(reverse("exportjob-download", args=[job.pk])).status_code == 200  # the session is enough


def test_the_exports_page_refreshes_while_a_job_runs(client, exporter, car_treated):
    client.force_login(exporter)
    ExportJob.objects.create(user=exporter, requested_at=dt.datetime.now(dt.UTC), dataset="pkpd", format="csv")
    assert 'http-equiv="refresh"' in client.get(EXPORTS).content.decode()
    ExportJob.objects.update(status=ExportJob.Status.COMPLETE)
    assert 'http-equiv="refresh"' not in client.get(EXPORTS).content.decode()


def test_the_exports_form_still_downloads_at_once_by_post_and_get(client, exporter, car_treated):
    client.force_login(exporter)
    posted = client.post(EXPORTS, {"dataset": "pkpd", "format": "csv", "download": "Download"})
    got = client.get(EXPORTS, {"dataset": "pkpd", "format": "csv"})
    assert streamed(posted) == streamed(got)
    assert not ExportJob.objects.exists()


def test_a_bad_job_request_on_the_page_is_a_form_error(client, exporter, car_treated):
    client.force_login(exporter)
    response = client.post(EXPORTS, {"dataset": "sdtm/dm", "from_day": "3", "as_job": "1"})
    assert response.status_code == 400 and "has no day filter" in response.content.decode()
    assert not ExportJob.objects.exists()


@pytest.mark.services
def test_a_real_worker_writes_the_job(postgres, celery_worker_on_redis, client_for, site, staff, make_user):
    from tests.followup import export_cohort as cohort_module

    subject, start = cohort_module.treat(site, staff, cohort_module.day0_of_cohort())
    visit = cohort_module.visit_of(subject, "D7", None, staff)
    cohort_module.import_results([cohort_module.result(subject, visit, "CD19", start + dt.timedelta(days=7), 1)],
                                 staff)  # fmt: skip
    user = make_user(roles.DATA_MANAGER, site)
    api = client_for(user)
    job_id = api.post(JOBS, {"dataset": "pkpd"}, format="json").json()["id"]  # committed: queued on Redis
    import time

    deadline = time.monotonic() + 60
    while (state := api.get(f"{JOBS}{job_id}/").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "complete" and state["rows_written"] == 1
    content = streamed(api.get(f"{JOBS}{job_id}/download/"))
    assert hashlib.sha256(content).hexdigest() == state["sha256"]


def test_the_exports_page_refuses_xpt_as_a_job_on_the_format_field(client, make_user, site, car_treated):
    client.force_login(make_user(roles.DATA_MANAGER, site))
    response = client.post(EXPORTS, {"dataset": "sdtm/ae", "format": "xpt", "as_job": "Prepare as a job"})
    assert response.status_code == 400
    assert response.context["form"].errors["format"] == [export_jobs.job_format_error("xpt")]
    assert "a job writes csv, json, parquet" in response.context["form"].errors["format"][0]
    assert not ExportJob.objects.exists()
