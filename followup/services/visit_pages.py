"""What the follow-up pages read and save: the whole visit CRF at once, and the subject's follow-up grid."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from edc import rules as edc_rules
from edc.models import LabResult, Subject, Visit
from edc.services import save_crf
from followup.models import PrednisoneDose
from followup.services.adverse_events import treated_events
from followup.visit_crf import CRF_LINES
from screening.models import Medication

# --- The follow-up visit CRF ----------------------------------------------------------------------


def visit_crf_rows(visit: Visit) -> tuple[dict[str, LabResult], dict[str, LabResult]]:
    """The visit's own results, and each analyte's latest earlier result (whose reference range and
    LLOQ the form proposes), in one query."""
    analytes = [line.analyte for line in CRF_LINES]
    own, previous = {}, {}
    results = LabResult.objects.filter(subject_id=visit.subject_id, voided=False, analyte__in=analytes)
    for result in results.order_by("sample_datetime", "id"):
        if result.visit_id == visit.pk:
            own[result.analyte] = result
        elif visit.visit_datetime is None or result.sample_datetime <= visit.visit_datetime:
            previous[result.analyte] = result
    return own, previous


@dataclass(frozen=True)
class MedicationLine:
    """A medication-log entry as the visit CRF lists it: labels, not codes; the dose as typed."""

    medication: Medication
    treats: str

    @property
    def dose(self) -> str:
        dose = self.medication.dose_mg_per_day
        return "—" if dose is None else f"{edc_rules.as_typed(dose)} mg/day"


def medications_on(visit: Visit) -> list[MedicationLine]:
    """The subject's medications taken on the visit's day (its date at the site, else the planned date), each with
    the adverse event it treats, in two queries."""
    tz = ZoneInfo(visit.subject.site.timezone)
    day = visit.visit_datetime.astimezone(tz).date() if visit.visit_datetime else visit.planned_date
    if day is None:
        return []
    taken = Medication.objects.filter(subject_id=visit.subject_id, voided=False, start_date__lte=day).filter(
        Q(stop_date__isnull=True) | Q(stop_date__gte=day)
    )
    treats = treated_events(visit.subject_id)
    return [MedicationLine(m, treats.get(m.pk, "")) for m in taken.order_by("start_date", "id")]


def record_visit_crf(visit: Visit, entries: dict, *, user, reason: str = "") -> None:
    """Save a whole visit page at once, all or nothing: the visit, its results, SELENA-SLEDAI and
    prednisone. Errors come back keyed by the form's field names (`C3__value`, `pga`, …)."""
    from screening.models import SledaiAssessment

    errors: dict[str, list[str]] = {}

    # Keying a scheduled visit for the first time is its first entry, not a change needing a reason.
    first_entry = visit.status == Visit.Status.SCHEDULED and visit.visit_datetime is None

    def attempt(prefix: str, row, reason=reason):
        try:
            return save_crf(row, user=user, reason=reason)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                key = field if field in ("change_reason", "__all__") else f"{prefix}{field}"
                errors.setdefault(key, []).extend(messages)
            return row

    with transaction.atomic():
        visit.visit_datetime, visit.status = entries["visit_datetime"], entries["status"]
        visit = attempt("", visit, reason=reason or ("visit recorded" if first_entry else ""))
        own, _ = visit_crf_rows(visit)
        for line in CRF_LINES:
            values = {field: entries.get(f"{line.analyte}__{field}") for field in line.fields}
            stored = own.get(line.analyte)
            if stored is None and not any(values[field] not in (None, "", False) for field in line.result_fields):
                continue  # a test left empty is no result, whatever range the form proposed beside it
            if visit.visit_datetime is None:
                errors.setdefault("visit_datetime", [gettext("a visit with results needs its date and time")])
                continue
            result = stored or LabResult(
                subject_id=visit.subject_id, visit=visit, analyte=line.analyte, sample_datetime=visit.visit_datetime
            )
            for field, value in values.items():
                setattr(result, field, value)
            attempt(f"{line.analyte}__", result)
        if entries.get("descriptors") or entries.get("pga") is not None:
            assessment = SledaiAssessment.objects.filter(visit=visit, voided=False).first() or SledaiAssessment(
                subject_id=visit.subject_id, visit=visit
            )
            assessment.descriptors, assessment.pga = entries.get("descriptors") or [], entries.get("pga")
            site_tz = ZoneInfo(visit.subject.site.timezone)
            assessment.assessment_date = assessment.assessment_date or visit.visit_datetime.astimezone(site_tz).date()
            attempt("", assessment)
        if entries.get("prednisone_mg_per_day") is not None:
            dose = PrednisoneDose.objects.filter(visit=visit, voided=False).first() or PrednisoneDose(
                subject_id=visit.subject_id, visit=visit
            )
            dose.prednisone_mg_per_day = entries["prednisone_mg_per_day"]
            attempt("", dose)
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationError(errors)


# --- Follow-up grid ------------------------------------------------------------------------------

GRID_ANALYTES = ("CD19", "CARPCR", "CARFLOW", "DSDNA", "C3", "C4")


@dataclass(frozen=True)
class GridRow:
    visit: Visit
    window: edc_rules.WindowStatus | None
    values: list  # one LabResult or None per GRID_ANALYTES
    sledai: int | None
    url: str = ""  # where the screen opens the visit (the admin fills it in)

    @property
    def name(self) -> str:
        return edc_rules.visit_name(self.visit.code)

    @property
    def status(self) -> str:
        return self.visit.get_status_display()


def follow_up_grid(subject: Subject) -> list[GridRow]:
    """Visits × key analytes for the subject page, in three queries whatever the follow-up length."""
    from screening.models import SledaiAssessment

    codes = ["BL", *(v.code for v in edc_rules.FOLLOW_UP)]
    visits = list(
        Visit.objects.filter(subject=subject, code__in=codes, voided=False)
        .select_related("subject__site")
        .order_by("planned_date", "visit_datetime")
    )
    labs = LabResult.objects.filter(subject=subject, voided=False, analyte__in=GRID_ANALYTES, visit__isnull=False)
    results = {(result.visit_id, result.analyte): result for result in labs}
    assessments = SledaiAssessment.objects.filter(subject=subject, voided=False, visit__isnull=False)
    sledai = dict(assessments.values_list("visit", "total"))
    return [
        GridRow(visit, visit.window, [results.get((visit.pk, a)) for a in GRID_ANALYTES], sledai.get(visit.pk))
        for visit in visits
    ]
