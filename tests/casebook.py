"""One treated subject's casebook: a row of every CRF the router serves, built through the services.

Shared by the suites that walk every route (the contract suite, the bad-input sweep).
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from config.urls import router
from edc import rules, services
from edc.api import CrfViewSet
from edc.models import Deviation, LabResult, Subject, Visit
from followup.models import AdverseEvent, AdverseEventTreatment, PrednisoneDose
from screening.models import Medication
from tests.followup import export_cohort
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


# What a follow-up visit of the subject-page tests samples: the plot's analytes and a blood count.
FOLLOW_UP_ANALYTES = {"CARPCR": 1500, "CD19": 0.4, "C3": 1.1, "C4": 0.2, "DSDNA": 40, "ANC": 2.5}


def followed_casebook(subject, staff, days: int) -> Subject:
    """Screened and treated `days` site days ago; each follow-up visit planned before today is done, with a result
    of each of FOLLOW_UP_ANALYTES. The screening keeps its distance to the infusion whatever `days` is."""
    today = timezone.localdate(timezone.now(), treatment.SHANGHAI)
    day0 = today - dt.timedelta(days=days)
    screening.store_screening(subject, staff, _shifted(screening.dry_run_body(), day0 - (today - dt.timedelta(20))))
    treatment.make_infusion(subject, treatment.make_ready(subject, staff, day0), staff, day0)
    results = []
    for visit in Visit.objects.filter(
        subject=subject, code__in=[v.code for v in rules.FOLLOW_UP], planned_date__lt=today
    ):
        visit.status, visit.visit_datetime = Visit.Status.DONE, treatment.at(visit.planned_date, 9)
        services.save_crf(visit, user=staff, reason="visit done")
        taken = treatment.at(visit.planned_date, 9, 30)
        results += [export_cohort.result(subject, visit, analyte, taken, value)
                    for analyte, value in FOLLOW_UP_ANALYTES.items()]  # fmt: skip
    export_cohort.import_results(results, staff)
    return Subject.objects.get(pk=subject.pk)


def _shifted(body, by: dt.timedelta):
    """A dry-run body with each of its ISO dates and moments moved by `by`."""
    if isinstance(body, dict):
        return {key: _shifted(value, by) for key, value in body.items()}
    if isinstance(body, list):
        return [_shifted(value, by) for value in body]
    if isinstance(body, str) and len(body) >= 10 and body[4:5] == "-" and body[7:8] == "-":
        moment = dt.datetime.fromisoformat(body) + by
        return moment.date().isoformat() if len(body) == 10 else moment.isoformat()
    return body
