"""REST for adverse events and milestones."""

from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from edc import roles
from edc.api import CrfSerializer, CrfViewSet, RolePermission, crf_fields
from followup.models import AdverseEvent, Milestone, PrednisoneDose


class AdverseEventSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = AdverseEvent
        fields = crf_fields(
            "term", "category", "onset_date", "resolution_date", "ctcae_grade", "serious", "relatedness",
            "max_temperature_c", "hypotension", "hypoxia", "ice_score", "consciousness", "seizure", "motor_findings",
            "cerebral_oedema", "astct_grade",
        )  # fmt: skip
        read_only_fields = (*CrfSerializer.Meta.read_only_fields, "astct_grade")
        extra_kwargs = {"max_temperature_c": {"coerce_to_string": False}}


class AdverseEventViewSet(CrfViewSet):
    queryset = AdverseEvent.objects.select_related("subject")
    serializer_class = AdverseEventSerializer
    filterset_fields = {
        "subject__subject_id": ["exact"],
        "category": ["exact"],
        "serious": ["exact"],
        "astct_grade": ["exact", "gte"],
        "onset_date": ["gte", "lte"],
    }


class PrednisoneDoseSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = PrednisoneDose
        fields = crf_fields("visit", "prednisone_mg_per_day")
        extra_kwargs = {"prednisone_mg_per_day": {"coerce_to_string": False}}


class PrednisoneDoseViewSet(CrfViewSet):
    queryset = PrednisoneDose.objects.select_related("subject")
    serializer_class = PrednisoneDoseSerializer
    filterset_fields = {"subject__subject_id": ["exact"], "visit": ["exact"]}


class MilestoneSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    visit = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Milestone
        fields = ("id", "subject", "kind", "date", "visit", "raised_at", "revoked_at", "detail")


class MilestoneViewSet(viewsets.ReadOnlyModelViewSet):
    """Milestones are computed by the scan; read-only here."""

    queryset = Milestone.objects.select_related("subject", "visit")
    serializer_class = MilestoneSerializer
    permission_classes = [IsAuthenticated, RolePermission]
    read_roles = roles.CLINICAL_READERS
    filterset_fields = {"subject__subject_id": ["exact"], "kind": ["exact"], "date": ["gte", "lte"],
                        "revoked_at": ["isnull"]}  # fmt: skip

    def get_queryset(self):
        return roles.scope(super().get_queryset(), self.request.user)


ROUTES = [
    ("adverse-events", AdverseEventViewSet),
    ("prednisone-doses", PrednisoneDoseViewSet),
    ("milestones", MilestoneViewSet),
]
