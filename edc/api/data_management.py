"""Data queries, signatures, source verification, locks and the study audit trail."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from edc import exports, filtersets, roles, services
from edc.api.base import (
    ScopedRelatedField,
    ScopedViewSetMixin,
)
from edc.models import DataQuery, Lock, Signature, SourceVerification, Subject, Visit
from edc.pagination import LargeListPagination


class DataQuerySerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    answered_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = DataQuery
        fields = (
            "id", "subject", "target_model", "target_id", "target_field", "text", "status", "auto", "raised_by",
            "answer", "answered_by", "answered_at", "closed_by", "closed_at", "created", "version",
        )  # fmt: skip
        read_only_fields = ("status", "auto", "answer", "answered_at", "closed_at", "created", "version")


class QueryAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField()


@extend_schema_view(create=extend_schema(description="Open a data query on one field of a clinical record."))
class DataQueryViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = DataQuery.objects.select_related("subject", "raised_by", "answered_by", "closed_by")
    serializer_class = DataQuerySerializer
    write_roles = roles.CLINICAL_READERS  # each transition checks its own role in the service
    filterset_class = filtersets.DataQueryFilterSet
    pagination_class = LargeListPagination

    def perform_create(self, serializer):
        data = serializer.validated_data
        target = services.resolve_target(data["target_model"], data["target_id"], self.request.user)
        serializer.instance = services.open_query(target, data["target_field"], data["text"], user=self.request.user)

    @extend_schema(request=QueryAnswerSerializer, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        body = QueryAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        query = services.answer_query(self.get_object(), body.validated_data["answer"], user=request.user)
        return Response(self.get_serializer(query).data)

    @extend_schema(request=None, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        query = services.close_query(self.get_object(), user=request.user)
        return Response(self.get_serializer(query).data)

    @extend_schema(request=None, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Send an answered or closed query back to the site (monitors and data managers)."""
        query = services.reopen_query(self.get_object(), user=request.user)
        return Response(self.get_serializer(query).data)


class SignatureSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    signed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    signer_name = serializers.CharField(source="signed_by.get_full_name", read_only=True)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    over_open_queries = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="sign despite the queries not closed over the data (refused with 400 otherwise)",
    )  # fmt: skip

    class Meta:
        model = Signature
        fields = (
            "id", "subject", "target_model", "target_id", "meaning", "signed_by", "signer_name", "signed_at",
            "password", "over_open_queries", "voided",
        )  # fmt: skip
        read_only_fields = ("signed_at", "voided")


class SignatureViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Signature.objects.select_related("subject", "signed_by")
    serializer_class = SignatureSerializer
    write_roles = roles.SIGNERS
    filterset_class = filtersets.SignatureFilterSet

    def perform_create(self, serializer):
        data = serializer.validated_data
        target = services.resolve_target(data["target_model"], data["target_id"], self.request.user)
        serializer.instance = services.sign(target, data["meaning"], user=self.request.user, password=data["password"],
                                            over_open_queries=data["over_open_queries"])  # fmt: skip


class SourceVerificationSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    verified_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SourceVerification
        fields = (
            "id", "subject", "target_model", "target_id", "verified_version", "verified_by", "verified_at", "voided",
            "void_reason",
        )  # fmt: skip
        read_only_fields = ("verified_version", "verified_at", "voided", "void_reason")


class SourceVerificationViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Source data verification: a monitor marks a row verified; a later change of the row voids it."""

    queryset = SourceVerification.objects.select_related("subject", "verified_by")
    serializer_class = SourceVerificationSerializer
    write_roles = {roles.MONITOR}
    filterset_class = filtersets.SourceVerificationFilterSet

    def perform_create(self, serializer):
        data = serializer.validated_data
        target = services.resolve_target(data["target_model"], data["target_id"], self.request.user)
        serializer.instance = services.verify_source(target, user=self.request.user)


class LockSerializer(serializers.ModelSerializer):
    subject = ScopedRelatedField("subject_id", queryset=Subject.objects.all(), required=False, allow_null=True)
    visit = ScopedRelatedField(queryset=Visit.objects.all(), required=False, allow_null=True)
    locked_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    unlocked_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Lock
        fields = (
            "id", "level", "subject", "visit", "reason", "active", "locked_by", "locked_at", "unlocked_by",
            "unlocked_at", "unlock_reason",
        )  # fmt: skip
        read_only_fields = ("active", "locked_at", "unlocked_at", "unlock_reason")


class UnlockSerializer(serializers.Serializer):
    reason = serializers.CharField()


class LockViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Locks of a visit, a subject or the study: locked rows refuse writes (423) until unlocked."""

    queryset = Lock.objects.select_related("subject", "visit", "locked_by", "unlocked_by")
    serializer_class = LockSerializer
    write_roles = {roles.DATA_MANAGER}
    filterset_class = filtersets.LockFilterSet

    def get_queryset(self):
        study_locks = self.queryset.filter(level=Lock.Level.STUDY)  # a study lock is every site's
        return super().get_queryset() | study_locks

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.lock(
            data["level"], subject=data.get("subject"), visit=data.get("visit"), reason=data["reason"],
            user=self.request.user,
        )  # fmt: skip

    @extend_schema(request=UnlockSerializer, responses=LockSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        body = UnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        unlocked = services.unlock(self.get_object(), reason=body.validated_data["reason"], user=request.user)
        return Response(self.get_serializer(unlocked).data)


class AuditTrailViewSet(ScopedViewSetMixin, viewsets.ViewSet):
    """The whole study's audit trail (your sites), streamed as CSV."""

    read_roles = {roles.INVESTIGATOR, roles.MONITOR, roles.DATA_MANAGER}
    route_basename = "audit-trail"  # no queryset to name the route after

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def list(self, request):
        events = services.study_audit_trail(request.user)
        response = StreamingHttpResponse(exports.audit_trail_csv(events, settings.TIME_ZONE), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-trail-study.csv"'
        return response
