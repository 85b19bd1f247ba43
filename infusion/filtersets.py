"""The filters of the treatment lists: related rows by their chain-of-identity keys, as the API shows them."""

import django_filters

from edc.filtersets import SubjectRowsFilterSet
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot


class ApheresisFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Apheresis
        fields = ["product_id"]


class ProductLotFilterSet(SubjectRowsFilterSet):
    apheresis = django_filters.CharFilter(field_name="apheresis__product_id", help_text="the apheresis product ID")

    class Meta:
        model = ProductLot
        fields = ["lot_number", "released"]


class LymphodepletionDoseFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = LymphodepletionDose
        fields = ["day"]


class InfusionFilterSet(SubjectRowsFilterSet):
    lot = django_filters.CharFilter(field_name="lot__lot_number", help_text="lot number")

    class Meta:
        model = Infusion
        fields = []
