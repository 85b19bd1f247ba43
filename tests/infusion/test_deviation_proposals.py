"""The infusion's timing as a protocol deviation: day 0 is three days after lymphodepletion day −3; an infusion
earlier or later (yet after day −3, which is refused) proposes a major dosing deviation, withdrawn when the date
is corrected."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from edc.models import Deviation
from infusion import services
from tests.infusion import factories

pytestmark = pytest.mark.django_db


def order_proposals(subject):
    return list(Deviation.objects.filter(subject=subject, source=f"order:{subject.pk}:infusion"))


def test_an_infusion_on_day_0_proposes_nothing(subject, staff, ready_lot, day0):
    factories.make_infusion(subject, ready_lot, staff, day0)
    assert order_proposals(subject) == []


def test_a_late_infusion_proposes_a_major_dosing_deviation_withdrawn_when_corrected(subject, staff, ready_lot, day0):
    infusion = factories.make_infusion(subject, ready_lot, staff, day0,
                                       infusion_start=factories.at(day0 + dt.timedelta(days=1), 10))  # fmt: skip
    [proposal] = order_proposals(subject)
    assert (proposal.status, proposal.category, proposal.severity, proposal.auto) == (
        "PROPOSED",
        "DOSING",
        "MAJOR",
        True,
    )
    assert proposal.deviation_date == day0 + dt.timedelta(days=1)
    assert "4 day(s) after lymphodepletion day -3" in proposal.description
    infusion.premedication = "paracetamol 1 g"
    services.record_infusion(infusion, user=staff, reason="premedication completed")
    assert len(order_proposals(subject)) == 1  # the same cause: no second proposal
    infusion.infusion_start = factories.at(day0, 10)
    services.record_infusion(infusion, user=staff, reason="date mistyped")
    [withdrawn] = order_proposals(subject)
    assert withdrawn.status == "DISMISSED" and withdrawn.dismiss_reason.startswith("withdrawn by the system")


def test_an_early_infusion_proposes_one_too(subject, staff, ready_lot, day0):
    factories.make_infusion(subject, ready_lot, staff, day0, infusion_start=factories.at(day0 - dt.timedelta(days=1)))
    [proposal] = order_proposals(subject)
    assert "2 day(s) after lymphodepletion day -3" in proposal.description


def test_an_infusion_on_lymphodepletion_day_minus_3_is_refused_not_proposed(subject, staff, ready_lot, day0):
    with pytest.raises(ValidationError, match="must be after lymphodepletion day -3"):
        factories.make_infusion(
            subject, ready_lot, staff, day0, infusion_start=factories.at(day0 - dt.timedelta(days=3))
        )
    assert not Deviation.objects.exists()
