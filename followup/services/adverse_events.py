"""Adverse events: the ASTCT grade of CRS and ICANS from the event and the medication log (DOMAIN.md §6)."""

from __future__ import annotations

import datetime as dt

from edc import rules as edc_rules
from edc.rules import Message
from edc.services import save_crf, system_user
from followup import rules
from followup.models import AdverseEvent, AdverseEventTreatment, PrednisoneDose
from screening.models import Medication


def validate_adverse_event(event: AdverseEvent, now: dt.datetime):
    errors = {
        **edc_rules.not_in_future("onset_date", event.onset_date, now),
        **edc_rules.not_in_future("resolution_date", event.resolution_date, now),
    }
    warnings = {}
    if event.resolution_date and event.onset_date and event.resolution_date < event.onset_date:
        errors["resolution_date"] = Message("{resolution} is before the onset on {onset}",
                                            resolution=event.resolution_date, onset=event.onset_date)  # fmt: skip
    infection = {name: getattr(event, name) for name in rules.INFECTION_FIELDS}
    errors.update(rules.check_infection_fields(event.category, infection))
    if event.category in (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS):
        # The grade is computed from the findings, never typed.
        masked = fever_masked(event)
        event.astct_grade = rules.astct_grade(event.category, fever_masked=masked, **_astct_fields(event))
        if event.category == AdverseEvent.Category.CRS and event.astct_grade == 0 and not masked:
            warnings["max_temperature_c"] = rules.CRS_WITHOUT_FEVER
    else:
        event.astct_grade = None
        if event.ctcae_grade is None:
            errors["ctcae_grade"] = Message("a CTCAE grade (1–5) is required for a {category} event",
                                            category=event.category)  # fmt: skip
    return errors, warnings


def validate_treatment(link: AdverseEventTreatment, now: dt.datetime):
    """A medication treats an event of its own subject, given for that kind of event; one event per medication."""
    if link.voided or link.medication_id is None or link.adverse_event_id is None:
        return {}, {}  # a missing one is named by the form or the serializer
    medication, event = link.medication, link.adverse_event
    errors = {}
    for name, row in (("medication", medication), ("adverse_event", event)):
        if row.subject_id != link.subject_id:
            errors[name] = Message("{record} belongs to another subject than {subject}", record=str(row),
                                   subject=str(link.subject))  # fmt: skip
    if errors:
        return errors, {}
    errors = rules.treatment_errors(medication.indication, event.category)
    others = AdverseEventTreatment.objects.filter(medication_id=medication.pk, voided=False).exclude(pk=link.pk)
    other = others.select_related("adverse_event").first()
    if other is not None and not errors:
        errors["medication"] = Message(
            "{drug} is already recorded as treating {term} (onset {onset}); void that link first",
            drug=medication.drug, term=other.adverse_event.term, onset=other.adverse_event.onset_date,
        )  # fmt: skip
    return errors, {}


def treated_events(subject_pk: int) -> dict[int, str]:
    """{medication pk: the adverse event it treats, as staff read it} for one subject, in one query (screening's
    medication inline and page show it)."""
    links = AdverseEventTreatment.objects.filter(subject_id=subject_pk, voided=False, adverse_event__voided=False)
    rows = links.values_list("medication_id", "adverse_event__term", "adverse_event__onset_date")
    return {medication: f"{term} (onset {onset})" for medication, term, onset in rows}


def validate_prednisone_dose(dose: PrednisoneDose, now: dt.datetime):
    if dose.visit_id and dose.visit.subject_id != dose.subject_id:
        return {"visit": f"visit {dose.visit} belongs to another subject than {dose.subject}"}, {}
    return {}, {}


def _astct_fields(event: AdverseEvent) -> dict:
    names = ("max_temperature_c", "hypotension", "hypoxia", "ice_score", "consciousness", "seizure",
             "motor_findings", "cerebral_oedema", "outcome")  # fmt: skip
    return {name: getattr(event, name) for name in names}


def fever_masked(event: AdverseEvent) -> bool:
    """Whether the subject's medication log shows tocilizumab or a corticosteroid given for this CRS."""
    if event.category != AdverseEvent.Category.CRS or not event.subject_id or event.onset_date is None:
        return False
    log = Medication.objects.filter(subject_id=event.subject_id, voided=False, indication="CRS")
    treatments = [rules.CrsTreatment(*row) for row in log.values_list("category", "indication", "start_date")]
    return rules.crs_fever_masked(treatments, event.onset_date, event.resolution_date)


def regrade_crs_after_medication(rows) -> None:
    """A save listener: a medication-log entry re-grades the subject's CRS events, so that a grade does not
    depend on whether the event or its treatment was keyed first."""
    subject_ids = {row.subject_id for row in rows if isinstance(row, Medication)}
    if not subject_ids:
        return
    events = AdverseEvent.objects.filter(subject_id__in=subject_ids, category=AdverseEvent.Category.CRS, voided=False)
    for event in events.select_related("subject"):
        grade = rules.astct_grade(event.category, fever_masked=fever_masked(event), **_astct_fields(event))
        if grade != event.astct_grade:
            event.astct_grade = grade  # the validator computes the same; set here so that the save sees a change
            save_crf(event, user=system_user(), reason="ASTCT grade recomputed: the medication log changed")
