import datetime as dt
import random

import pytest
from django.utils import timezone

from edc import demo, roles
from edc.models import DataQuery, Subject, Visit
from edc.services import save_crf
from infusion import demo as infusion_demo
from infusion.models import Infusion, LymphodepletionDose, ProductLot
from screening.models import Consent
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


def consent_and_enrol(cohort, subject, days_ago):
    staff = cohort.users[roles.SITE_STAFF]
    consented = cohort.today - dt.timedelta(days=days_ago)
    save_crf(Consent(subject=subject, consent_date=consented, icf_version="2.0"), user=staff)
    factories.enrol(subject, staff)
    return consented


def test_every_enrolled_subject_is_treated_and_only_they(cohort):
    enrolled = cohort.subjects[:4]
    consented = {subject.pk: consent_and_enrol(cohort, subject, 200) for subject in enrolled}

    infusion_demo.seed_treatment(cohort)

    statuses = dict(Subject.objects.values_list("subject_id", "status"))
    assert [statuses[s.subject_id] for s in cohort.subjects] == ["TREATED"] * 4 + ["SCREENING"] * 2
    infusions = list(Infusion.objects.select_related("lot__apheresis"))
    assert len(infusions) == 4
    assert ProductLot.objects.filter(released=True).count() == 4 and LymphodepletionDose.objects.count() == 12
    for infusion in infusions:
        assert infusion.lot.apheresis.subject_id == infusion.subject_id
        assert 2000 <= infusion.dose_car_cells_per_kg <= 20000
        weeks_after_consent = timezone.localdate(infusion.infusion_start) - consented[infusion.subject_id]
        assert dt.timedelta(days=75) <= weeks_after_consent <= dt.timedelta(days=90)
    assert Visit.objects.filter(code="D0", status="DONE").count() == 4
    assert DataQuery.objects.count() == 0  # the demo's doses are consistent: no automatic query
    # One subject's kidney function is reduced (Cockcroft-Gault < 70 mL/min): fludarabine is reduced to 24 mg/m².
    reduced = set(LymphodepletionDose.objects.filter(fludarabine_mg_per_m2=24).values_list("subject", flat=True))
    assert cohort.subjects[1].pk in reduced and len(reduced) < 4


def test_a_subject_consented_lately_waits_enrolled(cohort):
    consent_and_enrol(cohort, cohort.subjects[0], 60)  # infusion would fall in the future
    infusion_demo.seed_treatment(cohort)
    assert Subject.objects.get(pk=cohort.subjects[0].pk).status == "ENROLLED"
    assert Infusion.objects.count() == 0
