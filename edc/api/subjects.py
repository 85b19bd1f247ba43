"""Sites, subjects (with their audit trail), visits and lab results (with the bulk import)."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response

from edc import bulk_rows, exports, filtersets, input_guard, roles, services
from edc.api.base import (
    CrfSerializer,
    CrfViewSet,
    ScopedViewSetMixin,
    crf_fields,
)
from edc.api.data_management import SourceVerificationSerializer
from edc.api_fields import PlausibleDateField
from edc.models import LabResult, Site, Subject, Visit
from edc.pagination import LargeListPagination


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ("id", "code", "name", "timezone")


class SiteViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Site.objects.order_by("code")
    serializer_class = SiteSerializer
    read_roles = roles.ALL_ROLES
    filterset_class = filtersets.SiteFilterSet


class SubjectSerializer(CrfSerializer):
    site = serializers.SlugRelatedField(slug_field="code", queryset=Site.objects.all())

    class Meta(CrfSerializer.Meta):
        model = Subject
        fields = (
            "id", "subject_id", "site", "sex", "date_of_birth", "childbearing_potential", "initials", "status",
            "off_study_date", "off_study_reason", "version", "created", "modified", "voided", "void_reason",
            "change_reason",
        )  # fmt: skip
        read_only_fields = (
            *CrfSerializer.Meta.read_only_fields,
            "subject_id",
            "status",
            "off_study_date",
            "off_study_reason",
        )

    def validate_site(self, site):
        if not roles.scope(Site.objects.filter(pk=site.pk), self.context["request"].user).exists():
            raise serializers.ValidationError(f"you are not a member of site {site.code}")
        return site


class OffStudySerializer(serializers.Serializer):
    date = PlausibleDateField(help_text="the day the subject left the study (site calendar)")
    reason = serializers.CharField(help_text="why: withdrawal of consent, lost to follow-up, investigator's decision…")


class SubjectViewSet(CrfViewSet):
    queryset = Subject.objects.select_related("site")
    serializer_class = SubjectSerializer
    lookup_field = "subject_id"
    filterset_class = filtersets.SubjectFilterSet
    search_fields = ["subject_id", "initials"]

    def save(self, instance, reason="", version=None):
        if instance.pk is None:
            return services.register_subject(instance, user=self.request.user)
        return super().save(instance, reason, version)

    @extend_schema(request=OffStudySerializer, responses=SubjectSerializer)
    @action(detail=True, methods=["post"], url_path="off-study")
    def off_study(self, request, subject_id=None):
        """An investigator takes the subject off study, with the date and the reason (the only way to OFF_STUDY)."""
        body = OffStudySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subject = services.take_off_study(self.get_object(), user=request.user, on=body.validated_data["date"],
                                          reason=body.validated_data["reason"])  # fmt: skip
        return Response(self.get_serializer(subject).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, url_path="audit-trail")
    def audit_trail(self, request, subject_id=None):
        """The subject's audit trail as CSV: who, what (old → new), when (UTC and site time), why."""
        subject = self.get_object()
        response = StreamingHttpResponse(
            exports.audit_trail_csv(services.audit_trail(subject), subject.site.timezone), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-trail-{subject.subject_id}.csv"'
        return response


class WindowSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["IN_WINDOW", "EARLY", "LATE"])
    days_outside = serializers.IntegerField()


class VisitSerializer(CrfSerializer):
    visitnum = serializers.FloatField(read_only=True)
    window = WindowSerializer(read_only=True, allow_null=True, help_text="null until the visit is done")

    class Meta(CrfSerializer.Meta):
        model = Visit
        fields = crf_fields(
            "code", "visitnum", "planned_date", "window_start", "window_end", "visit_datetime", "window", "status"
        )


class VisitVerificationSerializer(serializers.Serializer):
    visit = serializers.IntegerField(source="visit.pk")
    verifications = SourceVerificationSerializer(many=True, help_text="the visit's, then each result's")


class VisitViewSet(CrfViewSet):
    queryset = Visit.objects.select_related("subject__site")
    serializer_class = VisitSerializer
    filterset_class = filtersets.VisitFilterSet
    pagination_class = LargeListPagination

    @extend_schema(request=None, responses=VisitVerificationSerializer)
    @action(detail=True, methods=["post"], write_roles=frozenset({roles.MONITOR}))
    def verify(self, request, pk=None):
        """A monitor verifies the visit against source with all its results (SDV), each at its current version;
        again, it changes nothing. A later change to a record withdraws its verification."""
        if request.data:  # read first: a malformed body is refused (400) before anything is stored
            raise DrfValidationError({"body": ["this route takes no body"]})
        visit = self.get_object()
        verifications = services.verify_visit(visit, user=request.user)
        return Response(VisitVerificationSerializer({"visit": visit, "verifications": verifications}).data)


class LabResultSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = LabResult
        fields = crf_fields(
            "visit", "analyte", "value", "result_text", "unit", "lln", "uln", "lloq", "not_detected",
            "sample_datetime", "lab_name",
        )  # fmt: skip
        extra_kwargs = {"value": {"coerce_to_string": False}}


class LabResultBulkSerializer(serializers.Serializer):
    results = LabResultSerializer(many=True, help_text=f"at most {services.BULK_LIMIT} rows")


class LabResultBulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    queries_opened = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class LabResultViewSet(CrfViewSet):
    queryset = LabResult.objects.select_related("subject")
    serializer_class = LabResultSerializer
    filterset_class = filtersets.LabResultFilterSet
    pagination_class = LargeListPagination

    @extend_schema(request=LabResultBulkSerializer, responses={201: LabResultBulkResponseSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Import up to 5,000 results at once, all or nothing; each refused row is reported with its index."""
        try:
            results, parse_errors = bulk_rows.parse(_bulk_rows(request), request.user)
            imported = services.import_lab_results(results, user=request.user, parse_errors=parse_errors)
        except services.BulkRejected as rejected:
            return Response({"detail": str(rejected), "errors": rejected.errors}, status=status.HTTP_400_BAD_REQUEST)
        body = {
            "created": len(imported.results),
            "queries_opened": len(imported.queries),
            "ids": [r.pk for r in imported.results],
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _bulk_rows(request) -> list:
    """The body's rows; text that cannot be stored is reported as the row's problem, like any other."""
    try:
        body = request.data
    except input_guard.UnstorableBody as error:
        place = [step for step in error.path if step != "results"]
        index = place[0] if place and isinstance(place[0], int) else None
        field = str(place[1]) if len(place) > 1 else "results"
        message = next(iter(error.detail.values()))[0]
        raise services.BulkRejected([{"index": index, "field": field, "message": str(message)}]) from None
    rows = body.get("results") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise DrfValidationError({"results": ['send a JSON list of results, or {"results": [...]}']})
    return rows
