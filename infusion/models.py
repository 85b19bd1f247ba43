"""The treatment pathway's CRFs (DOMAIN.md §5): apheresis, product lot, lymphodepletion, infusion."""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc.models import AuditedModel, CrfModel
from infusion import rules

CELLS = {"max_digits": 22, "decimal_places": 2}


class Apheresis(CrfModel):
    start_datetime = models.DateTimeField(_("start datetime"))
    end_datetime = models.DateTimeField(_("end datetime"))
    processed_volume_l = models.DecimalField(_("processed volume l"), max_digits=6, decimal_places=2)
    # The chain-of-identity key printed on the collected bag; never reused, even when voided.
    product_id = models.CharField(_("product id"), max_length=40, unique=True)
    cd3_cells = models.DecimalField(_("cd3 cells"), null=True, blank=True, help_text=_("CD3+ cells collected"), **CELLS)

    field_limits = {"processed_volume_l": rules.PROCESSED_VOLUME_L, "cd3_cells": rules.NON_NEGATIVE}

    class Meta:
        ordering = ["subject", "start_datetime", "id"]
        verbose_name = _("apheresis")
        verbose_name_plural = _("aphereses")

    def __str__(self):
        return gettext("product {product}").format(product=self.product_id)


class ProductLot(AuditedModel):
    """A manufactured lot: per subject through the one apheresis product it was made from."""

    lot_number = models.CharField(_("lot number"), max_length=40, unique=True)
    apheresis = models.ForeignKey(Apheresis, on_delete=models.PROTECT, related_name="lots", verbose_name=_("apheresis"))
    manufactured_date = models.DateField(_("manufactured date"))
    viability_pct = models.DecimalField(_("viability pct"), max_digits=5, decimal_places=2, null=True, blank=True)
    car_positive_pct = models.DecimalField(_("car positive pct"), max_digits=5, decimal_places=2, null=True, blank=True)
    sterility_pass = models.BooleanField(
        _("sterility pass"), null=True, blank=True, help_text=_("empty while the test is pending")
    )
    endotoxin_pass = models.BooleanField(
        _("endotoxin pass"), null=True, blank=True, help_text=_("empty while the test is pending")
    )
    released = models.BooleanField(_("released"), default=False)
    release_date = models.DateField(_("release date"), null=True, blank=True)

    site_lookup = "apheresis__subject__site"
    field_limits = {"viability_pct": rules.PERCENT, "car_positive_pct": rules.PERCENT}

    class Meta:
        verbose_name = _("product lot")
        verbose_name_plural = _("product lots")
        ordering = ["manufactured_date", "id"]

    def __str__(self):
        return gettext("lot {lot}").format(lot=self.lot_number)

    @property
    def subject_pk(self):
        return self.apheresis.subject_id


class LymphodepletionDose(CrfModel):
    class Day(models.IntegerChoices):
        MINUS_5 = -5, _("day −5")
        MINUS_4 = -4, _("day −4")
        MINUS_3 = -3, _("day −3")

    day = models.SmallIntegerField(_("day"), choices=Day.choices)
    date = models.DateField(_("date"))
    height_cm = models.DecimalField(_("height cm"), max_digits=6, decimal_places=2)
    weight_kg = models.DecimalField(_("weight kg"), max_digits=6, decimal_places=2)
    bsa_m2 = models.DecimalField(
        _("bsa m2"),
        max_digits=4,
        decimal_places=2,
        editable=False,
        null=True,
        help_text=_("Mosteller, computed on save"),
    )
    fludarabine_mg_per_m2 = models.DecimalField(_("fludarabine mg per m2"), max_digits=7, decimal_places=2)
    fludarabine_mg = models.DecimalField(_("fludarabine mg"), max_digits=8, decimal_places=2)
    cyclophosphamide_mg_per_m2 = models.DecimalField(_("cyclophosphamide mg per m2"), max_digits=7, decimal_places=2)
    cyclophosphamide_mg = models.DecimalField(_("cyclophosphamide mg"), max_digits=8, decimal_places=2)

    field_limits = {
        "height_cm": rules.HEIGHT_CM,
        "weight_kg": rules.WEIGHT_KG,
        "fludarabine_mg_per_m2": rules.NON_NEGATIVE,
        "fludarabine_mg": rules.NON_NEGATIVE,
        "cyclophosphamide_mg_per_m2": rules.NON_NEGATIVE,
        "cyclophosphamide_mg": rules.NON_NEGATIVE,
    }

    class Meta:
        verbose_name = _("lymphodepletion dose")
        verbose_name_plural = _("lymphodepletion doses")
        ordering = ["subject", "day", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "day"], condition=models.Q(voided=False), name="one_lymphodepletion_dose_per_day"
            )
        ]

    def __str__(self):
        return gettext("{subject} lymphodepletion day {day}").format(subject=self.subject, day=self.day)


class Infusion(CrfModel):
    lot = models.ForeignKey(ProductLot, on_delete=models.PROTECT, related_name="infusions", verbose_name=_("lot"))
    infusion_start = models.DateTimeField(_("infusion start"))
    weight_kg = models.DecimalField(
        _("weight kg"), max_digits=6, decimal_places=2, help_text=_("weight used for the dose")
    )
    dose_car_cells_per_kg = models.DecimalField(_("dose car cells per kg"), max_digits=14, decimal_places=2)
    total_car_cells = models.DecimalField(_("total car cells"), **CELLS)
    premedication = models.TextField(_("premedication"), blank=True)
    immediate_reaction = models.TextField(_("immediate reaction"), blank=True)

    field_limits = {
        "weight_kg": rules.WEIGHT_KG,
        "dose_car_cells_per_kg": rules.DOSE_CAR_CELLS_PER_KG,
        "total_car_cells": rules.TOTAL_CAR_CELLS,
    }

    class Meta:
        verbose_name = _("infusion")
        verbose_name_plural = _("infusions")
        ordering = ["infusion_start", "id"]
        constraints = [
            # With the subject row locked in the service, this is the last line against a double infusion.
            models.UniqueConstraint(
                fields=["subject"], condition=models.Q(voided=False), name="one_infusion_per_subject"
            )
        ]

    def __str__(self):
        return gettext("{subject} infusion").format(subject=self.subject)
