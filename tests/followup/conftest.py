import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from edc import services as edc_services
from edc.models import LabResult, Visit
from tests import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
