import datetime as dt
import random

import pytest
from django.utils import timezone

from edc import demo, roles
from edc.models import DataQuery, Subject, Visit
from infusion import demo as infusion_demo
from infusion.models import Infusion, LymphodepletionDose, ProductLot
from tests.infusion import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort():
    site, users = demo.seed_site_and_users()
    cohort = demo.DemoCohort(
        site=site, users=users, rng=random.Random(1019), today=timezone.localdate(), size=6, log=lambda line: None
    )
    demo.seed_subjects(cohort)
    return cohort


def test_every_enrolled_subject_is_treated_and_only_they(cohort):
    enrolled = cohort.subjects[:4]
    for subject in enrolled:
        factories.enrol(subject, cohort.users[roles.SITE_STAFF])

    infusion_demo.seed_treatment(cohort)

    statuses = dict(Subject.objects.values_list("subject_id", "status"))
    assert [statuses[s.subject_id] for s in cohort.subjects] == ["TREATED"] * 4 + ["SCREENING"] * 2
    infusions = list(Infusion.objects.select_related("lot__apheresis"))
    assert len(infusions) == 4
    assert ProductLot.objects.filter(released=True).count() == 4 and LymphodepletionDose.objects.count() == 12
    earliest = cohort.today - dt.timedelta(days=456)
    for infusion in infusions:
        assert infusion.lot.apheresis.subject_id == infusion.subject_id
        assert 2000 <= infusion.dose_car_cells_per_kg <= 20000
        assert earliest <= timezone.localdate(infusion.infusion_start) <= cohort.today - dt.timedelta(days=7)
    assert Visit.objects.filter(code="D0", status="DONE").count() == 4
    assert DataQuery.objects.count() == 0  # the demo's doses are consistent: no automatic query


def test_the_first_enrolled_is_treated_first(cohort):
    for subject in cohort.subjects[:2]:
        factories.enrol(subject, cohort.users[roles.SITE_STAFF])
    infusion_demo.seed_treatment(cohort)
    first = list(Infusion.objects.order_by("subject").values_list("infusion_start", "dose_car_cells_per_kg"))
    assert first[0][0] < first[1][0]
