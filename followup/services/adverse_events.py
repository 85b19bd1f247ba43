"""Adverse events: the ASTCT grade of CRS and ICANS from the event and the medication log (DOMAIN.md §6)."""

from __future__ import annotations

import datetime as dt

from edc import rules as edc_rules
from edc.services import save_crf, system_user
from followup import rules
from followup.models import AdverseEvent, PrednisoneDose
from screening.models import Medication


def validate_adverse_event(event: AdverseEvent, now: dt.datetime):
    errors = {
        **edc_rules.not_in_future("onset_date", event.onset_date, now),
        **edc_rules.not_in_future("resolution_date", event.resolution_date, now),
    }
    warnings = {}
    if event.resolution_date and event.onset_date and event.resolution_date < event.onset_date:
        errors["resolution_date"] = f"{event.resolution_date} is before the onset on {event.onset_date}"
    if event.category in (AdverseEvent.Category.CRS, AdverseEvent.Category.ICANS):
        # The grade is computed from the findings, never typed.
        masked = fever_masked(event)
        event.astct_grade = rules.astct_grade(event.category, fever_masked=masked, **_astct_fields(event))
        if event.category == AdverseEvent.Category.CRS and event.astct_grade == 0 and not masked:
            warnings["max_temperature_c"] = (
                "CRS needs fever ≥ 38 °C under ASTCT; was it masked by antipyretics or tocilizumab? please confirm"
                " (tocilizumab or a corticosteroid for the CRS goes in the medication log, indication CRS)"
            )
    else:
        event.astct_grade = None
        if event.ctcae_grade is None:
            errors["ctcae_grade"] = f"a CTCAE grade (1–5) is required for a {event.category} event"
    return errors, warnings


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
