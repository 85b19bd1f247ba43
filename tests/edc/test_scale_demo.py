"""`seed_demo --subjects N` beyond the keyed subjects copies them in bulk, keys remapped."""

import pytest
from django.apps import apps
from django.core.management import call_command

from edc import demo
from edc.models import LabResult, Subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def scaled(monkeypatch):
    monkeypatch.setattr(demo, "KEYED_SUBJECTS", 3)
    call_command("seed_demo", "--subjects", "7", "--seed", "4")
    return {s.number: s for s in Subject.objects.all()}


def owned(subject):
    """Rows per model that belong to a subject, through the same paths the copy follows."""
    plan = demo._CopyPlan.for_subjects([subject.pk])
    return {model._meta.label_lower: len(rows) for model, rows in plan.rows.items()}


def test_copies_mirror_their_template_with_their_own_keys(scaled):
    assert sorted(scaled) == list(range(1, 8))
    template, copy = scaled[1], scaled[4]  # copies cycle through the keyed subjects
    assert copy.subject_id == "M1019-01-004"
    assert (copy.sex, copy.date_of_birth, copy.status) == (template.sex, template.date_of_birth, template.status)
    assert owned(copy) == owned(template)
    assert owned(copy)["edc.labresult"] > 50
    for result in LabResult.objects.filter(subject=copy).select_related("visit"):
        assert result.visit is None or result.visit.subject_id == copy.pk
    for model in apps.get_models():
        names = {f.name for f in model._meta.fields}
        if {"target_model", "target_id", "subject"} <= names:
            for row in model.objects.filter(subject=copy):
                target = apps.get_model(row.target_model).objects.get(pk=row.target_id)
                assert target.subject_pk == copy.pk


def test_treatment_chain_of_identity_holds_in_copies(scaled):
    from infusion.models import Infusion

    for infusion in Infusion.objects.select_related("lot__apheresis"):
        assert infusion.lot.apheresis.subject_id == infusion.subject_id
    product_ids = list(Infusion.objects.values_list("lot__apheresis__product_id", flat=True))
    assert len(product_ids) == len(set(product_ids))


def test_decisions_are_linked_to_the_copies_signatures(scaled):
    from screening.models import EligibilityDecision

    for decision in EligibilityDecision.objects.select_related("signature"):
        assert decision.signature.subject_id == decision.subject_id
        assert decision.signature.target_id == decision.pk


def test_every_copied_row_has_its_history(scaled):
    copy = scaled[5]
    for result in LabResult.objects.filter(subject=copy)[:20]:
        record = result.history.get()
        assert (record.history_type, record.history_change_reason) == ("+", "scale demo copy")
    from screening.models import EligibilityDecision

    decision = EligibilityDecision.objects.get(subject=copy)
    reasons = list(decision.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons == ["scale demo copy", "scale demo copy: link"]  # created, then linked to its signature
