"""Export jobs on an S3-compatible bucket (django-storages' S3Storage) against a real S3 API: moto's server, in this
process on a loopback port. The file is uploaded once complete; its object's bytes and SHA-256 are the download's;
the download is streamed through the API's checks; a storage that fails fails the job, or answers 503."""

import hashlib
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from config import settings as edc_settings
from edc import roles
from followup import export_jobs
from followup.models import ExportJob, ExportLog
from tests.followup.test_export_jobs import JOBS, streamed

pytestmark = pytest.mark.django_db
BUCKET, PREFIX = "edc-exports", "study/jobs"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "eu-west-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    """A client of the S3 API, on a bucket of its own: moto's state is reset around each test."""
    urllib.request.urlopen(urllib.request.Request(f"{s3_endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


def s3_storage(endpoint: str, bucket: str = BUCKET) -> dict:
    """The exports storage as config.settings.exports_storage() makes it from the EDC_EXPORTS_S3_* variables."""
    environment = {
        "EDC_EXPORTS_S3_BUCKET": bucket,
        "EDC_EXPORTS_S3_ENDPOINT_URL": endpoint,
        "EDC_EXPORTS_S3_REGION": CREDENTIALS["region_name"],
        "EDC_EXPORTS_S3_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "EDC_EXPORTS_S3_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "EDC_EXPORTS_S3_PREFIX": f"/{PREFIX}/",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        return edc_settings.exports_storage()


@pytest.fixture
def on_s3(settings, tmp_path, s3, s3_endpoint):
    """The exports storage on the bucket; the worker's partial files in the test's own folder."""
    settings.VAR_DIR = tmp_path
    settings.STORAGES = {**settings.STORAGES, "exports": s3_storage(s3_endpoint)}
    return tmp_path


def local_files(folder) -> list[Path]:
    return [path for path in Path(folder).rglob("*") if path.is_file()]


def test_the_settings_choose_the_bucket_when_it_is_named_and_the_folder_otherwise(monkeypatch):
    options = s3_storage("http://127.0.0.1:9000")
    assert options["BACKEND"] == "storages.backends.s3.S3Storage"
    assert options["OPTIONS"]["bucket_name"] == BUCKET and options["OPTIONS"]["location"] == PREFIX
    assert options["OPTIONS"]["default_acl"] is None and options["OPTIONS"]["file_overwrite"] is False
    monkeypatch.delenv("EDC_EXPORTS_S3_BUCKET", raising=False)
    assert edc_settings.exports_storage()["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_a_job_is_written_to_the_bucket_and_downloaded_with_its_checksum(client_for, post_job, exporter, car_treated,
                                                                         on_s3, s3):  # fmt: skip
    body = {"dataset": "pkpd", "format": "csv", "filters": {"analyte": ["CARPCR", "CD19"], "from_day": 0}}
    job_id = post_job(exporter, body).json()["id"]
    job = ExportJob.objects.get(pk=job_id)
    assert job.status == ExportJob.Status.COMPLETE and job.rows_written == 4
    stored = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{job.file_name}")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == job.sha256 and len(stored) == job.size
    assert not local_files(on_s3)  # the partial file is gone once uploaded; nothing else is written locally
    download = client_for(exporter).get(f"{JOBS}{job_id}/download/")
    content = streamed(download)
    assert content == stored
    assert download["X-Export-SHA256"] == job.sha256 and download["Content-Length"] == str(len(stored))
    assert download["Content-Disposition"] == f'attachment; filename="pkpd-job-{job_id}.csv"'
    assert "Location" not in download  # streamed through the API, not redirected to the bucket


def test_another_users_job_on_the_bucket_is_a_404(client_for, post_job, exporter, make_user, site, car_treated, on_s3):
    job_id = post_job(exporter, {"dataset": "pkpd"}).json()["id"]
    colleague = make_user(roles.DATA_MANAGER, site, username="colleague")
    assert client_for(colleague).get(f"{JOBS}{job_id}/").status_code == 404
    assert client_for(colleague).get(f"{JOBS}{job_id}/download/").status_code == 404


def test_a_bucket_that_refuses_the_upload_fails_the_job(client_for, exporter, car_treated, settings, tmp_path,
                                                        s3, s3_endpoint):  # fmt: skip
    settings.VAR_DIR = tmp_path
    settings.STORAGES = {**settings.STORAGES, "exports": s3_storage(s3_endpoint, bucket="no-such-bucket")}
    job_id = client_for(exporter).post(JOBS, {"dataset": "pkpd"}, format="json").json()["id"]
    with pytest.raises(export_jobs.StorageUnavailable, match="NoSuchBucket"):
        export_jobs.run_job(job_id)  # raised to the worker, which logs the task failed
    status = client_for(exporter).get(f"{JOBS}{job_id}/")
    assert status.status_code == 200 and status.json()["status"] == "failed"
    assert "exports storage refused the file" in status.json()["error"]
    assert not status.json()["sha256"] and not status.json()["download"]
    assert client_for(exporter).get(f"{JOBS}{job_id}/download/").status_code == 409
    assert ExportLog.objects.get().status == ExportLog.Status.COMPLETE  # every row was read; the upload failed
    assert not local_files(tmp_path)


def test_a_bucket_that_does_not_answer_at_download_is_a_503_naming_the_file(client_for, post_job, exporter, car_treated,
                                                                            on_s3, settings):  # fmt: skip
    job_id = post_job(exporter, {"dataset": "pkpd"}).json()["id"]
    unreachable = s3_storage("http://127.0.0.1:9")  # the discard port: connection refused
    unreachable["OPTIONS"]["client_config"] = Config(retries={"max_attempts": 1, "mode": "standard"})
    settings.STORAGES = {**settings.STORAGES, "exports": unreachable}
    download = client_for(exporter).get(f"{JOBS}{job_id}/download/")
    assert download.status_code == 503 and "file" in download.json()


def test_an_object_gone_from_the_bucket_is_a_503_naming_the_file(client_for, post_job, exporter, car_treated,
                                                                 on_s3, s3):  # fmt: skip
    job_id = post_job(exporter, {"dataset": "pkpd"}).json()["id"]
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{ExportJob.objects.get(pk=job_id).file_name}")  # a lifecycle rule
    download = client_for(exporter).get(f"{JOBS}{job_id}/download/")
    assert download.status_code == 503 and "exports storage" in download.json()["file"][0]
