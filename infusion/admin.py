"""The treatment CRFs' screens and the subject page's treatment timeline. Saves go through the services."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc.admin import CrfAdmin, change_url
from edc.rules import as_typed
from infusion import services
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot


class TreatmentAdmin(CrfAdmin):
    record = None

    def save_model(self, request, obj, form, change):
        type(self).record(
            obj,
            user=request.user,
            reason=form.cleaned_data.get("change_reason", ""),
            expected_version=form.cleaned_data.get("opened_version"),
        )


@admin.register(Apheresis)
class ApheresisAdmin(TreatmentAdmin):
    list_display = ("product_id", "subject", "start_datetime", "end_datetime", "processed_volume_l", "cd3_cells")
    list_filter = ("voided", "subject__site")
    search_fields = ("product_id", "subject__subject_id")
    date_hierarchy = "start_datetime"
    record = services.record_apheresis


@admin.register(ProductLot)
class ProductLotAdmin(TreatmentAdmin):
    list_display = (
        "lot_number", "product_id", "subject_id", "manufactured_date", "viability_pct", "car_positive_pct",
        "sterility_pass", "endotoxin_pass", "released", "release_date",
    )  # fmt: skip
    list_filter = ("released", "sterility_pass", "endotoxin_pass", "voided", "apheresis__subject__site")
    search_fields = ("lot_number", "apheresis__product_id", "apheresis__subject__subject_id")
    list_select_related = ("apheresis__subject",)
    record = services.record_product_lot

    @admin.display(description=_("product ID"), ordering="apheresis__product_id")
    def product_id(self, lot):
        return lot.apheresis.product_id

    @admin.display(description=_("subject"), ordering="apheresis__subject__subject_id")
    def subject_id(self, lot):
        return lot.apheresis.subject.subject_id


@admin.register(LymphodepletionDose)
class LymphodepletionDoseAdmin(TreatmentAdmin):
    list_display = (
        "subject", "day", "date", "height_cm", "weight_kg", "bsa_m2", "fludarabine_mg_per_m2", "fludarabine_mg",
        "cyclophosphamide_mg_per_m2", "cyclophosphamide_mg",
    )  # fmt: skip
    list_filter = ("day", "voided", "subject__site")
    search_fields = ("subject__subject_id",)
    readonly_fields = ("bsa_m2", *CrfAdmin.readonly_fields)
    record = services.record_lymphodepletion_dose


@admin.register(Infusion)
class InfusionAdmin(TreatmentAdmin):
    list_display = ("subject", "lot", "infusion_start", "weight_kg", "dose_car_cells_per_kg", "total_car_cells")
    list_filter = ("voided", "subject__site")
    search_fields = ("subject__subject_id", "lot__lot_number")
    list_select_related = ("subject", "lot")
    date_hierarchy = "infusion_start"
    record = services.record_infusion


# --- The subject page's treatment timeline ------------------------------------------------------


@dataclass(frozen=True)
class TimelineStep:
    step: str
    when: str
    numbers: str
    status: str
    url: str


def _local(moment, tz) -> str:
    return timezone.localtime(moment, tz).strftime("%Y-%m-%d %H:%M")


def timeline_steps(subject) -> list[TimelineStep]:
    """Apheresis → lot → lymphodepletion days → infusion, each with its key numbers and status."""
    treatment = services.treatment_of(subject)
    tz = ZoneInfo(subject.site.timezone)
    steps = [
        TimelineStep(
            gettext("Apheresis, product %(product)s") % {"product": a.product_id},
            f"{_local(a.start_datetime, tz)} → {_local(a.end_datetime, tz)}",
            gettext("%(volume)s L processed; CD3+ %(cells)s")
            % {
                "volume": _typed(a.processed_volume_l),
                "cells": _cells(a.cd3_cells) if a.cd3_cells is not None else "—",
            },
            gettext("collected"),
            change_url(a),
        )
        for a in treatment.aphereses
    ]
    steps += [
        TimelineStep(
            gettext("Lot %(lot)s (product %(product)s)") % {"lot": lot.lot_number, "product": lot.apheresis.product_id},
            _made(lot),
            gettext("viability %(viability)s %%, CAR+ %(car)s %%, sterility %(sterility)s, endotoxin %(endotoxin)s")
            % {
                "viability": _typed(lot.viability_pct),
                "car": _typed(lot.car_positive_pct),
                "sterility": _passed(lot.sterility_pass),
                "endotoxin": _passed(lot.endotoxin_pass),
            },
            gettext("released") if lot.released else gettext("not released"),
            change_url(lot),
        )
        for lot in treatment.lots
    ]
    steps += [
        TimelineStep(
            gettext("Lymphodepletion day %(day)s") % {"day": dose.day},
            str(dose.date),
            gettext(
                "BSA %(bsa)s m²; fludarabine %(flu)s mg (%(flu_m2)s mg/m²), "
                "cyclophosphamide %(cy)s mg (%(cy_m2)s mg/m²)"
            )
            % {
                "bsa": _typed(dose.bsa_m2),
                "flu": _typed(dose.fludarabine_mg),
                "flu_m2": _typed(dose.fludarabine_mg_per_m2),
                "cy": _typed(dose.cyclophosphamide_mg),
                "cy_m2": _typed(dose.cyclophosphamide_mg_per_m2),
            },
            gettext("given"),
            change_url(dose),
        )
        for dose in treatment.doses
    ]
    if treatment.infusion is not None:
        infusion = treatment.infusion
        steps.append(
            TimelineStep(
                gettext("Infusion (day 0), lot %(lot)s") % {"lot": infusion.lot.lot_number},
                _local(infusion.infusion_start, tz),
                gettext("%(dose)s CAR+ cells/kg × %(weight)s kg; total %(total)s CAR+ cells")
                % {
                    "dose": _cells(infusion.dose_car_cells_per_kg),
                    "weight": _typed(infusion.weight_kg),
                    "total": _cells(infusion.total_car_cells),
                },
                gettext("infused"),
                change_url(infusion),
            )
        )
    return steps


def _typed(value) -> str:
    """A stored number as typed (30, not 30.00), or "—" when not recorded."""
    return "—" if value is None else as_typed(value)


def _cells(count) -> str:
    """A cell count as 4.40 × 10^9, or "—" when not recorded."""
    if count is None:
        return "—"
    mantissa, exponent = f"{count:.2e}".split("e")
    return f"{mantissa} × 10^{int(exponent)}"


def _made(lot) -> str:
    if lot.release_date:
        return gettext("made %(made)s, released %(released)s") % {
            "made": lot.manufactured_date,
            "released": lot.release_date,
        }
    return gettext("made %(made)s") % {"made": lot.manufactured_date}


def _passed(value: bool | None) -> str:
    return {True: gettext("pass"), False: gettext("FAIL"), None: gettext("pending")}[value]


def treatment_timeline(request, subject) -> str:
    return render_to_string(
        "admin/infusion/treatment_timeline.html",
        {"subject": subject, "steps": timeline_steps(subject)},
        request=request,
    )
