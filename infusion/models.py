"""The treatment pathway's CRFs (DOMAIN.md §5): apheresis, product lot, lymphodepletion, infusion."""

from django.db import models

from edc.models import AuditedModel, CrfModel
from infusion import rules

CELLS = {"max_digits": 22, "decimal_places": 2}


class Apheresis(CrfModel):
    start_datetime = models.DateTimeField()
    end_datetime = models.DateTimeField()
    processed_volume_l = models.DecimalField(max_digits=6, decimal_places=2)
    # The chain-of-identity key printed on the collected bag; never reused, even when voided.
    product_id = models.CharField(max_length=40, unique=True)
    cd3_cells = models.DecimalField(null=True, blank=True, help_text="CD3+ cells collected", **CELLS)

    field_limits = {"processed_volume_l": rules.PROCESSED_VOLUME_L, "cd3_cells": rules.NON_NEGATIVE}

    class Meta:
        ordering = ["subject", "start_datetime", "id"]
        verbose_name_plural = "aphereses"

    def __str__(self):
        return f"product {self.product_id}"


class ProductLot(AuditedModel):
    """A manufactured lot: per subject through the one apheresis product it was made from."""

    lot_number = models.CharField(max_length=40, unique=True)
    apheresis = models.ForeignKey(Apheresis, on_delete=models.PROTECT, related_name="lots")
    manufactured_date = models.DateField()
    viability_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    car_positive_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    sterility_pass = models.BooleanField(null=True, blank=True, help_text="empty while the test is pending")
    endotoxin_pass = models.BooleanField(null=True, blank=True, help_text="empty while the test is pending")
    released = models.BooleanField(default=False)
    release_date = models.DateField(null=True, blank=True)

    site_lookup = "apheresis__subject__site"
    field_limits = {"viability_pct": rules.PERCENT, "car_positive_pct": rules.PERCENT}

    class Meta:
        ordering = ["manufactured_date", "id"]

    def __str__(self):
        return f"lot {self.lot_number}"

    @property
    def subject_pk(self):
        return self.apheresis.subject_id


class LymphodepletionDose(CrfModel):
    class Day(models.IntegerChoices):
        MINUS_5 = -5, "day −5"
        MINUS_4 = -4, "day −4"
        MINUS_3 = -3, "day −3"

    day = models.SmallIntegerField(choices=Day.choices)
    date = models.DateField()
    height_cm = models.DecimalField(max_digits=6, decimal_places=2)
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2)
    bsa_m2 = models.DecimalField(
        max_digits=4, decimal_places=2, editable=False, null=True, help_text="Mosteller, computed on save"
    )
    fludarabine_mg_per_m2 = models.DecimalField(max_digits=7, decimal_places=2)
    fludarabine_mg = models.DecimalField(max_digits=8, decimal_places=2)
    cyclophosphamide_mg_per_m2 = models.DecimalField(max_digits=7, decimal_places=2)
    cyclophosphamide_mg = models.DecimalField(max_digits=8, decimal_places=2)

    field_limits = {
        "height_cm": rules.HEIGHT_CM,
        "weight_kg": rules.WEIGHT_KG,
        "fludarabine_mg_per_m2": rules.NON_NEGATIVE,
        "fludarabine_mg": rules.NON_NEGATIVE,
        "cyclophosphamide_mg_per_m2": rules.NON_NEGATIVE,
        "cyclophosphamide_mg": rules.NON_NEGATIVE,
    }

    class Meta:
        ordering = ["subject", "day", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "day"], condition=models.Q(voided=False), name="one_lymphodepletion_dose_per_day"
            )
        ]

    def __str__(self):
        return f"{self.subject} lymphodepletion day {self.day}"


class Infusion(CrfModel):
    lot = models.ForeignKey(ProductLot, on_delete=models.PROTECT, related_name="infusions")
    infusion_start = models.DateTimeField()
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2, help_text="weight used for the dose")
    dose_car_cells_per_kg = models.DecimalField(max_digits=14, decimal_places=2)
    total_car_cells = models.DecimalField(**CELLS)
    premedication = models.TextField(blank=True)
    immediate_reaction = models.TextField(blank=True)

    field_limits = {
        "weight_kg": rules.WEIGHT_KG,
        "dose_car_cells_per_kg": rules.DOSE_CAR_CELLS_PER_KG,
        "total_car_cells": rules.TOTAL_CAR_CELLS,
    }

    class Meta:
        ordering = ["infusion_start", "id"]
        constraints = [
            # With the subject row locked in the service, this is the last line against a double infusion.
            models.UniqueConstraint(
                fields=["subject"], condition=models.Q(voided=False), name="one_infusion_per_subject"
            )
        ]

    def __str__(self):
        return f"{self.subject} infusion"
