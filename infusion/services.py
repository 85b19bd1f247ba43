"""Treatment use cases and the chain of identity (DOMAIN.md §5).

The validators below run on every write of a treatment CRF, from the admin form and the API alike
(`edc.services.save_crf`). The `record_*` functions are the writes: each locks the subject row first,
so that two requests about one subject (two infusions, two lymphodepletion days) are judged one after
the other against committed data, and a refusal stores nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from edc import roles
from edc import rules as edc_rules
from edc.models import Deviation, LabResult, Subject, Visit
from edc.rules import Message
from edc.services import Proposal, recheck_auto_queries, save_crf, schedule_follow_up, sync_proposal, system_user
from infusion import rules
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot

ENROLLED = Subject.Status.ENROLLED
LYMPHODEPLETION_VISITS = {-5: "LD_M5", -4: "LD_M4", -3: "LD_M3"}


# --- Site calendar ------------------------------------------------------------------------------


def site_date(moment: dt.datetime, subject: Subject) -> dt.date:
    """The calendar day at the site: an infusion at 00:30 in Hangzhou is that day, not the UTC day before."""
    return edc_rules.site_date(moment, subject.site.timezone)


def _site_now(now: dt.datetime, subject: Subject) -> dt.datetime:
    return now.astimezone(ZoneInfo(subject.site.timezone))


# --- Reads --------------------------------------------------------------------------------------


def latest_apheresis(subject_pk: int) -> Apheresis | None:
    return Apheresis.objects.filter(subject_id=subject_pk, voided=False).order_by("-end_datetime").first()


def lymphodepletion_dates(subject_pk: int, exclude_pk: int | None = None) -> dict[int, dt.date]:
    doses = LymphodepletionDose.objects.filter(subject_id=subject_pk, voided=False).exclude(pk=exclude_pk)
    return dict(doses.values_list("day", "date"))


def infusion_of(subject_pk: int, exclude_pk: int | None = None) -> Infusion | None:
    infusions = Infusion.objects.filter(subject_id=subject_pk, voided=False).exclude(pk=exclude_pk)
    return infusions.select_related("lot").first()


@dataclass(frozen=True)
class Treatment:
    """One subject's pathway in order, for the timeline: apheresis → lot → lymphodepletion → infusion."""

    aphereses: list[Apheresis]
    lots: list[ProductLot]
    doses: list[LymphodepletionDose]
    infusion: Infusion | None


def treatment_of(subject: Subject) -> Treatment:
    return Treatment(
        aphereses=list(Apheresis.objects.filter(subject=subject, voided=False).order_by("start_datetime")),
        lots=list(
            ProductLot.objects.filter(apheresis__subject=subject, voided=False)
            .select_related("apheresis")
            .order_by("manufactured_date", "id")
        ),
        doses=list(LymphodepletionDose.objects.filter(subject=subject, voided=False).order_by("day")),
        infusion=infusion_of(subject.pk),
    )


# --- Validators (run by save_crf and by the admin forms) ----------------------------------------


def validate_apheresis(apheresis: Apheresis, now: dt.datetime):
    subject = apheresis.subject
    local_now = _site_now(now, subject)
    errors = {
        **edc_rules.not_in_future("start_datetime", apheresis.start_datetime, local_now),
        **edc_rules.not_in_future("end_datetime", apheresis.end_datetime, local_now),
    }
    errors.update(
        rules.strictly_after(
            "end_datetime", apheresis.end_datetime, apheresis.start_datetime, edc_rules.N_("the apheresis start")
        )  # fmt: skip
    )
    if apheresis.pk is None and subject.status != ENROLLED:
        errors["subject"] = Message(
            "subject {subject} is {status}; apheresis is recorded only for an ENROLLED subject",
            subject=subject.subject_id, status=subject.status,
        )  # fmt: skip
    if apheresis.voided and ProductLot.objects.filter(apheresis_id=apheresis.pk, voided=False).exists():
        errors["voided"] = Message("lots were made from product {product}; void them first",
                                   product=apheresis.product_id)  # fmt: skip
    return errors, {}


def validate_product_lot(lot: ProductLot, now: dt.datetime):
    apheresis = lot.apheresis
    subject = apheresis.subject
    local_now = _site_now(now, subject)
    errors = {
        **edc_rules.not_in_future("manufactured_date", lot.manufactured_date, local_now),
        **edc_rules.not_in_future("release_date", lot.release_date, local_now),
    }
    errors.update(
        rules.not_before(
            "manufactured_date",
            lot.manufactured_date,
            site_date(apheresis.start_datetime, subject),
            Message("the collection of product {product}", product=apheresis.product_id),
        )
    )
    manufactured = edc_rules.N_("the manufacturing date")
    errors.update(rules.not_before("release_date", lot.release_date, lot.manufactured_date, manufactured))
    if apheresis.voided:
        errors["apheresis"] = Message("product {product} is voided; a lot is made from a valid product",
                                      product=apheresis.product_id)  # fmt: skip
    errors.update(_release_errors(lot))
    errors.update(_infused_lot_errors(lot))
    return errors, {}


def _release_errors(lot: ProductLot) -> dict[str, str]:
    if not lot.released:
        if lot.release_date:
            return {"release_date": Message("lot {lot} is not released; a release date needs `released`",
                                            lot=lot.lot_number)}  # fmt: skip
        return {}
    errors = {}
    if lot.release_date is None:
        errors["release_date"] = Message("lot {lot} is released; its release date is required", lot=lot.lot_number)
    if lot.sterility_pass is not True:
        errors["sterility_pass"] = Message("lot {lot} cannot be released before its sterility test passes",
                                           lot=lot.lot_number)  # fmt: skip
    if lot.endotoxin_pass is not True:
        errors["endotoxin_pass"] = Message("lot {lot} cannot be released before its endotoxin test passes",
                                           lot=lot.lot_number)  # fmt: skip
    return errors


def _infused_lot_errors(lot: ProductLot) -> dict[str, str]:
    """Once infused, a lot keeps its product, its release and its validity."""
    if lot.pk is None:
        return {}
    infusion = Infusion.objects.filter(lot_id=lot.pk, voided=False).select_related("subject").first()
    if infusion is None:
        return {}
    infused = Message("lot {lot} was infused into subject {subject}", lot=lot.lot_number,
                      subject=infusion.subject.subject_id)  # fmt: skip
    errors = {}
    if ProductLot.objects.filter(pk=lot.pk).values_list("apheresis_id", flat=True).get() != lot.apheresis_id:
        errors["apheresis"] = Message("{infused}; the product it was made from cannot change", infused=infused)
    if not lot.released:
        errors["released"] = Message("{infused}; it cannot be unreleased", infused=infused)
    if lot.voided:
        errors["voided"] = Message("{infused}; void the infusion first", infused=infused)
    return errors


def validate_lymphodepletion_dose(dose: LymphodepletionDose, now: dt.datetime):
    subject = dose.subject
    errors, warnings, dose.bsa_m2 = rules.check_lymphodepletion_dose(
        day=dose.day,
        height_cm=dose.height_cm,
        weight_kg=dose.weight_kg,
        fludarabine_mg_per_m2=dose.fludarabine_mg_per_m2,
        fludarabine_mg=dose.fludarabine_mg,
        cyclophosphamide_mg_per_m2=dose.cyclophosphamide_mg_per_m2,
        cyclophosphamide_mg=dose.cyclophosphamide_mg,
    )
    if dose.voided or dose.date is None:
        return errors, warnings
    errors.update(_lymphodepletion_order_errors(dose, subject))
    errors.update(edc_rules.not_in_future("date", dose.date, _site_now(now, subject)))
    return errors, warnings


def validate_fludarabine_for_kidney_function(dose: LymphodepletionDose, now: dt.datetime):
    """A query on `fludarabine_mg_per_m2` when the dose is not reduced for the kidney function, or when the
    clearance is so low that fludarabine is normally avoided (DOMAIN.md §9): Cockcroft-Gault from the latest
    creatinine sampled on or before the first lymphodepletion day (site date), with that day's weight. Never
    a refusal: the investigator decides."""
    if dose.voided or dose.date is None or dose.fludarabine_mg_per_m2 is None:
        return {}, {}
    first = _first_lymphodepletion_day(dose)
    if first.weight_kg is None:
        return {}, {}
    subject = dose.subject
    creatinine = _latest_creatinine(subject, on_or_before=first.date)
    if creatinine is None:
        return {}, {}
    taken_on = site_date(creatinine.sample_datetime, subject)
    crcl = rules.lymphodepletion_clearance(
        date_of_birth=subject.date_of_birth, female=subject.sex == Subject.Sex.FEMALE, weight_kg=first.weight_kg,
        creatinine_umol_l=creatinine.value, creatinine_date=taken_on,
    )  # fmt: skip
    warning = rules.fludarabine_kidney_warning(crcl, dose.fludarabine_mg_per_m2)
    return {}, ({"fludarabine_mg_per_m2": warning} if warning else {})


FLUDARABINE_FIELD = "fludarabine_mg_per_m2"


def recheck_fludarabine_after_save(rows) -> None:
    """A save listener: the fludarabine query follows the data it reads. A creatinine sampled on or before the
    first lymphodepletion day, saved (or voided) after the doses, or a change of a day's weight, re-runs the check
    of the subject's doses: their query opens when the dose is now not reduced, and closes as resolved when it
    no longer applies."""
    creatinines = [row for row in rows if isinstance(row, LabResult) and row.analyte == "CREAT"]
    edited_doses = {row.pk: row.subject_id for row in rows if isinstance(row, LymphodepletionDose)}
    subject_ids = {row.subject_id for row in creatinines} | set(edited_doses.values())
    if not subject_ids:
        return
    doses = LymphodepletionDose.objects.filter(
        subject_id__in=subject_ids, voided=False, fludarabine_mg_per_m2__isnull=False, date__isnull=False
    ).select_related("subject__site")
    by_subject: dict[int, list[LymphodepletionDose]] = {}
    for dose in doses.order_by("date", "id"):
        by_subject.setdefault(dose.subject_id, []).append(dose)
    judged = {subject_pk for subject_pk in edited_doses.values() if subject_pk in by_subject}
    for creatinine in creatinines:
        first = by_subject.get(creatinine.subject_id, [None])[0]
        # A later creatinine judges no dose: only the latest on or before the first day counts.
        if first and creatinine.sample_datetime and site_date(creatinine.sample_datetime, first.subject) <= first.date:
            judged.add(creatinine.subject_id)
    now, user = timezone.now(), system_user()
    for subject_pk in judged:
        # The edited dose too: its own save settles a query only when its fludarabine changed, not its weight.
        for dose in by_subject[subject_pk]:
            _, warnings = validate_fludarabine_for_kidney_function(dose, now)
            cause = "the creatinine or the lymphodepletion weight it is judged by changed"
            recheck_auto_queries(dose, FLUDARABINE_FIELD, warnings.get(FLUDARABINE_FIELD), user=user, cause=cause)


def _first_lymphodepletion_day(dose: LymphodepletionDose) -> LymphodepletionDose:
    """The subject's earliest lymphodepletion day, this one (as edited) included."""
    others = LymphodepletionDose.objects.filter(subject_id=dose.subject_id, voided=False, date__lt=dose.date)
    return others.exclude(pk=dose.pk).order_by("date", "id").first() or dose


def _latest_creatinine(subject: Subject, *, on_or_before: dt.date) -> LabResult | None:
    """The latest creatinine with a value sampled on or before `on_or_before` (site calendar)."""
    tz = ZoneInfo(subject.site.timezone)
    before = dt.datetime.combine(on_or_before + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    results = LabResult.objects.filter(
        subject_id=subject.pk, analyte="CREAT", voided=False, value__isnull=False, sample_datetime__lt=before
    )
    return results.order_by("-sample_datetime", "-id").first()


def _lymphodepletion_order_errors(dose: LymphodepletionDose, subject: Subject) -> dict[str, str]:
    """After apheresis, on consecutive days, before the infusion."""
    apheresis = latest_apheresis(subject.pk)
    if apheresis is None:
        return {"date": Message("subject {subject} has no apheresis recorded; lymphodepletion comes after apheresis",
                                subject=subject.subject_id)}  # fmt: skip
    errors = rules.not_before(
        "date",
        dose.date,
        site_date(apheresis.end_datetime, subject),
        Message("the end of apheresis of product {product}", product=apheresis.product_id),
    )
    if dose.day in rules.LYMPHODEPLETION_DAYS:
        others = lymphodepletion_dates(subject.pk, exclude_pk=dose.pk)
        errors = {**rules.consecutive_day_errors(dose.day, dose.date, others), **errors}
    infusion = infusion_of(subject.pk)
    if infusion is not None:
        infused_on = site_date(infusion.infusion_start, subject)
        if dose.date >= infused_on:
            errors["date"] = Message("{date} is not before the infusion on {infused_on}", date=dose.date.isoformat(),
                                     infused_on=infused_on.isoformat())  # fmt: skip
    return errors


def validate_infusion(infusion: Infusion, now: dt.datetime):
    subject = infusion.subject
    if infusion.voided:
        return {}, {}
    errors = edc_rules.not_in_future("infusion_start", infusion.infusion_start, _site_now(now, subject))
    errors.update(_one_infusion_errors(infusion, subject))
    errors.update(_lot_errors(infusion, subject))
    if infusion.infusion_start is not None and "infusion_start" not in errors:
        infusion_date = site_date(infusion.infusion_start, subject)
        last_day = lymphodepletion_dates(subject.pk).get(rules.LAST_LYMPHODEPLETION_DAY)
        errors.update(rules.infusion_timing_errors(infusion_date, last_day, subject.subject_id))
        if infusion.lot_id and "lot" not in errors:
            release_date = infusion.lot.release_date
            errors.update(
                rules.not_before(
                    "infusion_start",
                    infusion_date,
                    release_date,
                    Message("the release of {lot}", lot=str(infusion.lot)),
                )  # fmt: skip
            )
    warnings = {}
    if None not in (infusion.dose_car_cells_per_kg, infusion.weight_kg, infusion.total_car_cells):
        warning = rules.total_car_cells_warning(
            infusion.dose_car_cells_per_kg, infusion.weight_kg, infusion.total_car_cells
        )
        if warning:
            warnings["total_car_cells"] = warning
    return errors, warnings


def _one_infusion_errors(infusion: Infusion, subject: Subject) -> dict[str, str]:
    other = infusion_of(subject.pk, exclude_pk=infusion.pk)
    if other is not None:
        return {"subject": Message(
            "subject {subject} already received lot {lot} on {date}; at most one infusion per subject",
            subject=subject.subject_id, lot=other.lot.lot_number,
            date=site_date(other.infusion_start, subject).isoformat(),
        )}  # fmt: skip
    if infusion.pk is None and subject.status != ENROLLED:
        return {"subject": Message("subject {subject} is {status}; only an ENROLLED subject is infused",
                                   subject=subject.subject_id, status=subject.status)}  # fmt: skip
    return {}


def _lot_errors(infusion: Infusion, subject: Subject) -> dict[str, str]:
    if infusion.lot_id is None:
        return {}
    lot = ProductLot.objects.select_related("apheresis__subject").get(pk=infusion.lot_id)
    if lot.voided or lot.apheresis.voided:
        return {"lot": Message("{lot} (product {product}) is voided", lot=str(lot), product=lot.apheresis.product_id)}
    return rules.chain_of_identity_errors(
        lot_number=lot.lot_number,
        product_id=lot.apheresis.product_id,
        lot_subject_id=lot.apheresis.subject.subject_id,
        subject_id=subject.subject_id,
        released=lot.released,
    )


# --- Writes -------------------------------------------------------------------------------------


def _require_data_entry(user) -> None:
    if not roles.has_any_role(user, roles.DATA_ENTRY):
        raise PermissionDenied("only site staff and investigators enter treatment data")


def _lock_subject(subject_pk: int) -> Subject:
    """Serialises the writes about one subject (select_for_update; SQLite serialises all writes)."""
    return Subject.objects.select_for_update().select_related("site").get(pk=subject_pk)


def record_apheresis(apheresis: Apheresis, *, user, reason: str = "", expected_version: int | None = None):
    _require_data_entry(user)
    with transaction.atomic():
        apheresis.subject = _lock_subject(apheresis.subject_id)
        return save_crf(apheresis, user=user, reason=reason, expected_version=expected_version)


def record_product_lot(lot: ProductLot, *, user, reason: str = "", expected_version: int | None = None):
    _require_data_entry(user)
    with transaction.atomic():
        _lock_subject(lot.apheresis.subject_id)
        return save_crf(lot, user=user, reason=reason, expected_version=expected_version)


def record_lymphodepletion_dose(
    dose: LymphodepletionDose, *, user, reason: str = "", expected_version: int | None = None
):
    """Save one day of lymphodepletion and mark its visit (LD_M5, LD_M4, LD_M3) done on that date."""
    _require_data_entry(user)
    try:
        with transaction.atomic():
            dose.subject = _lock_subject(dose.subject_id)
            dose = save_crf(dose, user=user, reason=reason, expected_version=expected_version)
            if not dose.voided:
                _upsert_visit(
                    dose.subject, LYMPHODEPLETION_VISITS[dose.day], planned_date=dose.date, visit_datetime=None,
                    user=user, reason=reason or "lymphodepletion dose recorded",
                )  # fmt: skip
    except IntegrityError as error:  # only reachable without the subject lock
        already = gettext("day %(day)s is already recorded for %(subject)s") % {"day": dose.day,
                                                                                 "subject": dose.subject}  # fmt: skip
        raise ValidationError({"day": [already]}) from error
    return dose


def record_infusion(infusion: Infusion, *, user, reason: str = "", expected_version: int | None = None):
    """Record day 0: the subject becomes TREATED, D0 is done and the follow-up visits are scheduled.

    A correction of the infusion date re-plans the follow-up visits that are still scheduled.
    """
    _require_data_entry(user)
    first_entry = infusion.pk is None
    try:
        with transaction.atomic():
            subject = infusion.subject = _lock_subject(infusion.subject_id)
            stored_start = (
                None if first_entry else Infusion.objects.values_list("infusion_start", flat=True).get(pk=infusion.pk)
            )
            infusion = save_crf(infusion, user=user, reason=reason, expected_version=expected_version)
            if infusion.voided:
                return infusion
            infusion_date = site_date(infusion.infusion_start, subject)
            why = reason or f"infusion of lot {infusion.lot.lot_number} recorded"
            _upsert_visit(
                subject, "D0", planned_date=infusion_date, visit_datetime=infusion.infusion_start, user=user, reason=why
            )
            if first_entry:
                subject.status = Subject.Status.TREATED
                save_crf(subject, user=user, reason=why)
                schedule_follow_up(subject, infusion_date, user=user)
            elif site_date(stored_start, subject) != infusion_date:
                _replan_follow_up(subject, infusion_date, user=user, reason=why)
    except IntegrityError as error:  # the unique constraint, should two requests slip past the lock
        already = gettext("subject %(subject)s already has an infusion; at most one infusion per subject")
        raise ValidationError({"subject": [already % {"subject": infusion.subject}]}) from error
    return infusion


def _upsert_visit(subject: Subject, code: str, *, planned_date, visit_datetime, user, reason: str) -> Visit:
    visit = Visit.objects.filter(subject=subject, code=code, voided=False).first() or Visit(subject=subject, code=code)
    visit.planned_date = visit.window_start = visit.window_end = planned_date
    visit.visit_datetime = visit_datetime
    visit.status = Visit.Status.DONE
    return save_crf(visit, user=user, reason=reason)


def _replan_follow_up(subject: Subject, infusion_date: dt.date, *, user, reason: str) -> None:
    plan = {planned.code: planned for planned in edc_rules.follow_up_plan(infusion_date)}
    scheduled = Visit.objects.filter(
        subject=subject, code__in=plan, status=Visit.Status.SCHEDULED, voided=False
    ).select_related("subject__site")
    for visit in scheduled:
        planned = plan[visit.code]
        visit.planned_date, visit.window_start, visit.window_end = (
            planned.planned_date, planned.window_start, planned.window_end,
        )  # fmt: skip
        save_crf(visit, user=user, reason=reason)


# --- Deviations the treatment order shows ------------------------------------------------------

INFUSION_ORDER_SOURCE = "order:{subject_pk}:infusion"


def propose_for_treatment_order(rows) -> None:
    """A save listener: an infusion given earlier or later than day 0 (three days after lymphodepletion day −3)
    proposes a major dosing deviation, withdrawn when the dates are corrected (the order refused outright, an
    infusion on or before day −3, is an error and never stored)."""
    if not rows or not isinstance(rows[0], Infusion | LymphodepletionDose):
        return
    for subject_pk in sorted({row.subject_id for row in rows}):
        subject = Subject.objects.select_related("site").get(pk=subject_pk)
        source = INFUSION_ORDER_SOURCE.format(subject_pk=subject_pk)
        gone = "the infusion is on day 0, three days after lymphodepletion day −3 (or no longer recorded)"
        sync_proposal(subject, source, _infusion_order_proposal(subject), gone=gone)


def _infusion_order_proposal(subject: Subject) -> Proposal | None:
    infusion = infusion_of(subject.pk)
    if infusion is None:
        return None
    infusion_date = site_date(infusion.infusion_start, subject)
    last_day = lymphodepletion_dates(subject.pk).get(rules.LAST_LYMPHODEPLETION_DAY)
    description = rules.infusion_schedule_deviation(infusion_date, last_day)
    if description is None:
        return None
    return Proposal(Deviation.Category.DOSING, Deviation.Severity.MAJOR, infusion_date, description)


def apheresis_start(subject: Subject) -> dt.datetime | None:
    apheresis = latest_apheresis(subject.pk)
    return apheresis.start_datetime if apheresis else None


# The eligibility engine judges the screening CBC's 24-hour timing against this (INC_CBC).
