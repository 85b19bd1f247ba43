import pytest
from django.core.management import call_command

from edc.models import Signature, Subject
from screening.models import EligibilityDecision

pytestmark = pytest.mark.django_db


def test_seed_demo_screens_most_in_and_a_few_out_on_different_criteria():
    call_command("seed_demo", "--subjects", "14", "--seed", "1019")
    # the treatment step that follows infuses the enrolled ones
    assert Subject.objects.filter(status__in=["ENROLLED", "TREATED"]).count() == 12
    failed = EligibilityDecision.objects.filter(eligible=False).order_by("subject__subject_id")
    reasons = [[c["code"] for c in decision.criteria if c["outcome"] != "MET"] for decision in failed]
    assert reasons == [["INC_CARDIAC"], ["INC_SLEDAI"]]
    assert set(Subject.objects.filter(pk__in=failed.values("subject")).values_list("status", flat=True)) == {
        "SCREEN_FAILED"
    }
    assert Signature.objects.filter(meaning="ELIGIBILITY_CONFIRMED").count() == 14
