import random

import pytest
from django.core.management import call_command

from edc.models import LabResult, Subject, Visit
from followup import demo, services
from followup.models import AdverseEvent, AdverseEventTreatment, Milestone, PrednisoneDose
from screening.models import Medication, SledaiAssessment

pytestmark = pytest.mark.django_db


def by_day(subject, analyte):
    infusion = Visit.objects.get(subject=subject, code="D0").visit_datetime
    rows = LabResult.objects.filter(subject=subject, analyte=analyte).order_by("sample_datetime")
    return [((r.sample_datetime - infusion).total_seconds() / 86400, r) for r in rows]


def test_follow_up_demo_is_realistic():
    call_command("seed_demo", "--subjects", "8", "--seed", "11")
    treated = list(Subject.objects.filter(status="TREATED"))
    assert treated
    for subject in treated:
        pcr = [(day, r.value) for day, r in by_day(subject, "CARPCR") if r.value is not None and day > 0]
        if len(pcr) >= 4:  # followed long enough to see the peak
            peak_day = max(pcr, key=lambda point: point[1])[0]
            assert 3 <= peak_day <= 22
        cd19 = [(day, r.value) for day, r in by_day(subject, "CD19")]
        baseline = [value for day, value in cd19 if day < 0]
        assert baseline and 40 <= baseline[0] <= 400
        week_two = [value for day, value in cd19 if 9 <= day <= 21]
        assert all(value < 1 for value in week_two)
        assert SledaiAssessment.objects.filter(subject=subject, visit__code="BL").get().total >= 8
        assert PrednisoneDose.objects.filter(subject=subject).exists()
    assert AdverseEvent.objects.filter(category="CRS", astct_grade__in=[1, 2]).exists()
    assert Milestone.objects.exists()


def test_safety_demo_neutrophils_and_immunoglobulin_g():
    call_command("seed_demo", "--subjects", "8", "--seed", "11")
    followed = 0
    for subject in Subject.objects.filter(status="TREATED"):
        anc = [(day, r.value) for day, r in by_day(subject, "ANC")]
        igg = [(day, r.value) for day, r in by_day(subject, "IGG")]
        assert [value for day, value in anc if day < 0][0] >= 2 and [value for day, value in igg if day < 0][0] >= 7
        week_one = [value for day, value in anc if 0 < day <= 8]
        if week_one:
            assert min(week_one) < 1.5  # the nadir after lymphodepletion
        late = [value for day, value in igg if 60 <= day <= 120]
        if late:
            followed += 1
            assert max(late) < [value for day, value in igg if day < 0][0]  # falling during B-cell aplasia
        summary = services.subject_safety(subject)
        assert summary.icaht_early_grade is not None or not week_one
    assert followed


def test_courses_are_deterministic_for_a_seed():
    assert demo.draw_course(random.Random(5)) == demo.draw_course(random.Random(5))
    assert demo.draw_course(random.Random(5)) != demo.draw_course(random.Random(6))


def test_demo_medication_log_treats_its_adverse_events():
    call_command("seed_demo", "--subjects", "12", "--seed", "1019")
    for crs in AdverseEvent.objects.filter(category="CRS", astct_grade__gte=2):
        (link,) = AdverseEventTreatment.objects.filter(adverse_event=crs)
        medication = link.medication
        assert (medication.drug, medication.category, medication.indication, medication.route) == (
            "tocilizumab", "ANTI_IL6", "CRS", "IV"
        )  # fmt: skip
    assert AdverseEventTreatment.objects.filter(adverse_event__category="CRS").exists()
    for infection in AdverseEvent.objects.filter(category="INFECTION"):
        assert infection.pathogen_class and infection.organism and infection.infection_site
        treated = AdverseEventTreatment.objects.filter(adverse_event=infection, medication__category="ANTI_INFECTIVE")
        assert treated.exists() == (infection.pathogen_class == "BACTERIAL")
    assert set(Medication.objects.filter(category="IVIG").values_list("route", flat=True)) <= {"IV"}
    assert not Medication.objects.filter(category__in=["CORTICOSTEROID", "IMMUNOMODULATOR"], route="").exists()
