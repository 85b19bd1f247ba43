"""REST endpoints of the treatment CRFs. Writes go through `infusion.services` (chain of identity)."""

from rest_framework import serializers

from edc.api import CrfSerializer, CrfViewSet, ScopedRelatedField, crf_fields
from infusion import filtersets, services
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot

BOOKKEEPING = ("version", "created", "modified", "voided", "void_reason", "change_reason")


class ApheresisSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = Apheresis
        fields = crf_fields("start_datetime", "end_datetime", "processed_volume_l", "product_id", "cd3_cells")


class ProductLotSerializer(CrfSerializer):
    apheresis = ScopedRelatedField(
        slug_field="product_id", queryset=Apheresis.objects.all(), help_text="the apheresis product ID"
    )
    subject = serializers.SlugRelatedField(source="apheresis.subject", slug_field="subject_id", read_only=True)

    class Meta(CrfSerializer.Meta):
        model = ProductLot
        fields = (
            "id", "lot_number", "apheresis", "subject", "manufactured_date", "viability_pct", "car_positive_pct",
            "sterility_pass", "endotoxin_pass", "released", "release_date", *BOOKKEEPING,
        )  # fmt: skip


class LymphodepletionDoseSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = LymphodepletionDose
        fields = crf_fields(
            "day", "date", "height_cm", "weight_kg", "bsa_m2", "fludarabine_mg_per_m2", "fludarabine_mg",
            "cyclophosphamide_mg_per_m2", "cyclophosphamide_mg",
        )  # fmt: skip
        # One dose per day is judged by the service, whose message names the subject and the day.
        validators = []


class InfusionSerializer(CrfSerializer):
    lot = ScopedRelatedField(slug_field="lot_number", queryset=ProductLot.objects.all(), help_text="lot number")

    class Meta(CrfSerializer.Meta):
        model = Infusion
        fields = crf_fields(
            "lot", "infusion_start", "weight_kg", "dose_car_cells_per_kg", "total_car_cells", "premedication",
            "immediate_reaction",
        )  # fmt: skip
        # One infusion per subject is judged by the service under a lock; its message names both identities.
        validators = []
        extra_kwargs = {"subject": {"validators": []}}


class TreatmentViewSet(CrfViewSet):
    """A treatment CRF: the write is the service of `record` (which locks the subject)."""

    record = None

    def save(self, instance, reason="", version=None):
        return type(self).record(instance, user=self.request.user, reason=reason, expected_version=version)


class ApheresisViewSet(TreatmentViewSet):
    queryset = Apheresis.objects.select_related("subject")
    serializer_class = ApheresisSerializer
    filterset_class = filtersets.ApheresisFilterSet
    record = services.record_apheresis


class ProductLotViewSet(TreatmentViewSet):
    queryset = ProductLot.objects.select_related("apheresis__subject")
    serializer_class = ProductLotSerializer
    filterset_class = filtersets.ProductLotFilterSet
    record = services.record_product_lot


class LymphodepletionDoseViewSet(TreatmentViewSet):
    queryset = LymphodepletionDose.objects.select_related("subject")
    serializer_class = LymphodepletionDoseSerializer
    filterset_class = filtersets.LymphodepletionDoseFilterSet
    record = services.record_lymphodepletion_dose


class InfusionViewSet(TreatmentViewSet):
    queryset = Infusion.objects.select_related("subject", "lot")
    serializer_class = InfusionSerializer
    filterset_class = filtersets.InfusionFilterSet
    record = services.record_infusion


ROUTES = [
    ("apheresis", ApheresisViewSet),
    ("product-lots", ProductLotViewSet),
    ("lymphodepletion", LymphodepletionDoseViewSet),
    ("infusions", InfusionViewSet),
]
