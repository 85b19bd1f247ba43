import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from edc import roles
from edc import services as edc_services
from edc.models import LabResult, Visit
from tests import factories
from tests.followup import export_cohort

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXPORT_JOBS = "/api/v1/exports/jobs/"


def infuse(subject, user, infusion_start: dt.datetime):
    """What the infusion service records for the kernel: a DONE D0 visit and the follow-up schedule."""
    edc_services.save_crf(
        Visit(subject=subject, code="D0", visit_datetime=infusion_start, status=Visit.Status.DONE), user=user
    )
    edc_services.schedule_follow_up(subject, infusion_start.astimezone(SHANGHAI).date(), user=user)
    subject.status = "TREATED"
    return edc_services.save_crf(subject, user=user, reason="infused")


def pcr(subject, user, when: dt.datetime, value=None, not_detected=False, lloq="50"):
    return edc_services.save_crf(
        LabResult(
            subject=subject, analyte="CARPCR", value=None if value is None else Decimal(str(value)),
            lloq=Decimal(lloq), not_detected=not_detected, sample_datetime=when,
        ),
        user=user,
    )  # fmt: skip


@pytest.fixture
def treated(site, staff, django_capture_on_commit_callbacks):
    """A woman of childbearing potential infused 400 days ago at 10:00 site time.

    Its on-commit work (the milestone recompute) runs here, as a committed setup would, so that a
    test's own transaction gathers only its own saves."""
    subject = factories.make_subject(site, staff, sex="F", childbearing_potential=True)
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=400), dt.time(10), tzinfo=SHANGHAI)
    with django_capture_on_commit_callbacks(execute=True):
        return infuse(subject, staff, start)


@pytest.fixture
def car_treated(site, staff):
    """One treated subject with PK/PD results (`export_cohort.car_treated`), for the export job tests."""
    return export_cohort.car_treated(site, staff)


@pytest.fixture
def exporter(make_user, site):
    return make_user(roles.DATA_MANAGER, site, username="exporter")


@pytest.fixture
def post_job(client_for, django_capture_on_commit_callbacks):
    """POST an export job as `user`; its task runs in-process (eager) once the request's transaction commits."""

    def post(user, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(user).post(EXPORT_JOBS, body, format="json")

    return post
