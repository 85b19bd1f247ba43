"""REST for adverse events, milestones and the PK/PD exports."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from edc.api import CrfSerializer, CrfViewSet, RolePermission, ScopedViewSetMixin, crf_fields
from followup import export_services, exports, filtersets
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
    filterset_class = filtersets.AdverseEventFilterSet


class PrednisoneDoseSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = PrednisoneDose
        fields = crf_fields("visit", "prednisone_mg_per_day")
        extra_kwargs = {"prednisone_mg_per_day": {"coerce_to_string": False}}


class PrednisoneDoseViewSet(CrfViewSet):
    queryset = PrednisoneDose.objects.select_related("subject")
    serializer_class = PrednisoneDoseSerializer
    filterset_class = filtersets.PrednisoneDoseFilterSet


class MilestoneSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    visit = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Milestone
        fields = ("id", "subject", "kind", "date", "visit", "raised_at", "revoked_at", "detail")


class MilestoneViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Milestones are computed by the scan; read-only here."""

    queryset = Milestone.objects.select_related("subject", "visit")
    serializer_class = MilestoneSerializer
    filterset_class = filtersets.MilestoneFilterSet


EXPORT_PARAMETERS = [
    OpenApiParameter("format", OpenApiTypes.STR, enum=export_services.FORMATS, description="csv (default)"),
    OpenApiParameter("subject", OpenApiTypes.STR, description="subject_id(s), comma-separated or repeated"),
    OpenApiParameter("analyte", OpenApiTypes.STR, description="analyte code(s), comma-separated or repeated"),
    OpenApiParameter("from_day", OpenApiTypes.NUMBER, description="first actual day from infusion (inclusive)"),
    OpenApiParameter("to_day", OpenApiTypes.NUMBER, description="last actual day from infusion (inclusive)"),
    OpenApiParameter("shape", OpenApiTypes.STR, enum=export_services.SHAPES, description="pkpd only: long or wide"),
]


class ExportViewSet(viewsets.ViewSet):
    """PK/PD exports streamed as CSV, JSON or Parquet: `exports/pkpd/`, `exports/pk-parameters/`,
    `exports/sdtm/{dm,ex,lb,pc,pp,ae}/`. Sponsor viewers get pseudonymised data; every export is logged."""

    permission_classes = [IsAuthenticated, RolePermission]
    read_roles = export_services.EXPORT_ROLES
    route_basename = "exports"
    lookup_field = "dataset"
    lookup_value_regex = "[a-z0-9/-]+"

    def perform_content_negotiation(self, request, force=False):
        # `?format=csv|parquet` names the export's format, not a DRF renderer: errors are rendered as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        """The datasets and their columns."""
        return Response({name: [c.name for c in dataset.columns] for name, dataset in export_services.DATASETS.items()})

    @extend_schema(
        parameters=EXPORT_PARAMETERS,
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in exports.CONTENT_TYPES.values()},
    )
    def retrieve(self, request, dataset=None):
        try:
            export_request = export_services.parse_request(dataset, request.query_params, request.user)
        except export_services.ExportNotFound as missing:
            raise NotFound({missing.parameter: [str(missing)]}) from None
        export = export_services.start_export(export_request)
        response = StreamingHttpResponse(
            exports.write(export_request.format, export_request.columns, export.rows),
            content_type=exports.CONTENT_TYPES[export_request.format],
        )
        filename = f"{export_request.dataset.name.replace('/', '-')}.{export_request.format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


ROUTES = [
    ("adverse-events", AdverseEventViewSet),
    ("prednisone-doses", PrednisoneDoseViewSet),
    ("milestones", MilestoneViewSet),
    ("exports", ExportViewSet),
]
