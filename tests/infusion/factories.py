"""Builders of the treatment pathway: model values, their API payloads, and rows saved through the services."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import models

from edc import services as edc_services
from edc.models import DataQuery, Subject, Visit
from infusion import services
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot

SHANGHAI = ZoneInfo("Asia/Shanghai")
LD_DAYS = (-5, -4, -3)


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment of a site calendar day (Asia/Shanghai)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def enrol(subject: Subject, user) -> Subject:
    subject.status = Subject.Status.ENROLLED
    return edc_services.save_crf(subject, user=user, reason="eligibility confirmed")


def apheresis_values(subject, day0: dt.date, **overrides) -> dict:
    return {
        "subject": subject,
        "start_datetime": at(day0 - dt.timedelta(days=30), 8),
        "end_datetime": at(day0 - dt.timedelta(days=30), 12),
        "processed_volume_l": Decimal("12.5"),
        "product_id": f"AP-{subject.subject_id}",
        "cd3_cells": Decimal("4500000000"),
        **overrides,
    }


def lot_values(apheresis, day0: dt.date, **overrides) -> dict:
    return {
        "lot_number": f"L-{apheresis.product_id}",
        "apheresis": apheresis,
        "manufactured_date": day0 - dt.timedelta(days=28),
        "viability_pct": Decimal("92.5"),
        "car_positive_pct": Decimal("35.0"),
        "sterility_pass": True,
        "endotoxin_pass": True,
        "released": True,
        "release_date": day0 - dt.timedelta(days=10),
        **overrides,
    }


def dose_values(subject, day: int, day0: dt.date, **overrides) -> dict:
    """165 cm, 60 kg: BSA 1.66 m²; fludarabine 30 mg/m² → 49.8 mg, cyclophosphamide 300 mg/m² → 498 mg."""
    return {
        "subject": subject,
        "day": day,
        "date": day0 + dt.timedelta(days=day),
        "height_cm": Decimal("165"),
        "weight_kg": Decimal("60"),
        "fludarabine_mg_per_m2": Decimal("30"),
        "fludarabine_mg": Decimal("49.8"),
        "cyclophosphamide_mg_per_m2": Decimal("300"),
        "cyclophosphamide_mg": Decimal("498"),
        **overrides,
    }


def infusion_values(subject, lot, day0: dt.date, **overrides) -> dict:
    return {
        "subject": subject,
        "lot": lot,
        "infusion_start": at(day0, 10),
        "weight_kg": Decimal("60"),
        "dose_car_cells_per_kg": Decimal("5000"),
        "total_car_cells": Decimal("300000"),
        "premedication": "paracetamol 500 mg, chlorphenamine 4 mg",
        "immediate_reaction": "",
        **overrides,
    }


def payload(values: dict) -> dict:
    """Model values as a JSON body: related rows by their identity keys, moments in ISO 8601."""
    keys = {Subject: "subject_id", Apheresis: "product_id", ProductLot: "lot_number"}
    body = {}
    for name, value in values.items():
        if isinstance(value, models.Model):
            value = getattr(value, keys[type(value)])
        elif isinstance(value, dt.date | Decimal):
            value = value.isoformat() if isinstance(value, dt.date) else str(value)
        body[name] = value
    return body


def make_apheresis(subject, user, day0, **overrides) -> Apheresis:
    return services.record_apheresis(Apheresis(**apheresis_values(subject, day0, **overrides)), user=user)


def make_lot(apheresis, user, day0, **overrides) -> ProductLot:
    return services.record_product_lot(ProductLot(**lot_values(apheresis, day0, **overrides)), user=user)


def make_doses(subject, user, day0) -> list[LymphodepletionDose]:
    return [
        services.record_lymphodepletion_dose(LymphodepletionDose(**dose_values(subject, day, day0)), user=user)
        for day in LD_DAYS
    ]


def make_ready(subject, user, day0) -> ProductLot:
    """Enrolled, collected, manufactured, released and lymphodepleted: ready for day 0. Returns the lot."""
    enrol(subject, user)
    lot = make_lot(make_apheresis(subject, user, day0), user, day0)
    make_doses(subject, user, day0)
    return lot


def make_infusion(subject, lot, user, day0, **overrides) -> Infusion:
    return services.record_infusion(Infusion(**infusion_values(subject, lot, day0, **overrides)), user=user)


def snapshot() -> dict:
    """Rows, history rows and subject statuses: a refused write leaves all of them as they were."""
    counted = [Apheresis, ProductLot, LymphodepletionDose, Infusion, Visit, DataQuery, Subject]
    state = {model.__name__: (model.objects.count(), model.history.count()) for model in counted}
    state["statuses"] = dict(Subject.objects.values_list("subject_id", "status"))
    return state
