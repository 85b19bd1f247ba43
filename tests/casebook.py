"""One treated subject's casebook: a row of every CRF the router serves, built through the services.

Shared by the suites that walk every route (the contract suite, the bad-input sweep).
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from config.urls import router
from edc import services
from edc.api import CrfViewSet
from edc.models import Deviation, LabResult, Visit
from followup.models import AdverseEvent, AdverseEventTreatment, PrednisoneDose
from screening.models import Medication
from tests.infusion import factories as treatment
from tests.screening import factories as screening

CRF_ROUTES = [prefix for prefix, viewset, _ in router.registry if issubclass(viewset, CrfViewSet)]


def viewset_of(route: str):
    return next(viewset for prefix, viewset, _ in router.registry if prefix == route)


def treated_casebook(subject, staff) -> dict:
    """Screened, treated 20 days ago, with a CRS event treated with tocilizumab and a prednisone dose: route → the id
    its URLs take."""
    day0 = timezone.localdate(timezone.now(), treatment.SHANGHAI) - dt.timedelta(days=20)
    screening.store_screening(subject, staff)
    lot = treatment.make_ready(subject, staff, day0)
    infusion = treatment.make_infusion(subject, lot, staff, day0)
    d7 = Visit.objects.get(subject=subject, code="D7")
    event = AdverseEvent(subject=subject, term="CRS", category="CRS", relatedness="PROBABLE", max_temperature_c=38.5,
                         onset_date=day0 + dt.timedelta(days=1))  # fmt: skip
    dose = PrednisoneDose(subject=subject, visit=d7, prednisone_mg_per_day=Decimal("7.5"))
    deviation = Deviation(subject=subject, category="CONSENT", severity="MINOR", deviation_date=day0,
                          description="ICF page 4 initialled by the witness only")  # fmt: skip
    event = services.save_crf(event, user=staff)
    tocilizumab = Medication(subject=subject, drug="tocilizumab", category="ANTI_IL6", indication="CRS", route="IV",
                             dose_mg_per_day=Decimal("480"), start_date=event.onset_date)  # fmt: skip
    link = AdverseEventTreatment(subject=subject, adverse_event=event,
                                 medication=services.save_crf(tocilizumab, user=staff))  # fmt: skip
    dexamethasone = Medication(subject=subject, drug="dexamethasone", category="CORTICOSTEROID", indication="CRS",
                               route="IV", dose_mg_per_day=Decimal("10"), start_date=event.onset_date)  # fmt: skip
    ids = {
        "another CRS medication": services.save_crf(dexamethasone, user=staff).pk,  # not a route: for an edit
        "subjects": subject.subject_id,
        "visits": d7.pk,
        "lab-results": LabResult.objects.filter(subject=subject).first().pk,
        "infusions": infusion.pk,
        "product-lots": lot.pk,
        "adverse-events": event.pk,
        "adverse-event-treatments": services.save_crf(link, user=staff).pk,
        "prednisone-doses": services.save_crf(dose, user=staff).pk,
        "deviations": services.record_deviation(deviation, user=staff).pk,
    }
    for route in CRF_ROUTES:
        if route not in ids:
            ids[route] = viewset_of(route).queryset.model.objects.filter(subject=subject).first().pk
    return ids
