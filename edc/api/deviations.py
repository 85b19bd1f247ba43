"""The protocol deviation log: recorded like every CRF, and a proposal confirmed or dismissed by its own action."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from edc import filtersets, services
from edc.api.base import CrfSerializer, CrfViewSet, crf_fields, expected_version
from edc.models import Deviation
from edc.services.deviations import RECORDERS


class DeviationSerializer(CrfSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta(CrfSerializer.Meta):
        model = Deviation
        fields = crf_fields(
            "visit", "category", "severity", "deviation_date", "description", "corrective_action", "reported_to_ec",
            "reported_to_ec_date", "status", "auto", "source", "decided_by", "decided_at", "dismiss_reason",
        )  # fmt: skip
        read_only_fields = (
            *CrfSerializer.Meta.read_only_fields, "status", "auto", "source", "decided_by", "decided_at",
            "dismiss_reason",
        )  # fmt: skip
        extra_kwargs = {"description": {"allow_blank": False}}


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="why this is not a protocol deviation")


class DeviationViewSet(CrfViewSet):
    """Protocol deviations. Site staff, investigators and data managers record one (confirmed as recorded);
    the system proposes some (`auto`, `status` PROPOSED), which investigators and data managers confirm or
    dismiss (`If-Match` optional on both)."""

    queryset = Deviation.objects.select_related("subject__site", "decided_by")
    serializer_class = DeviationSerializer
    filterset_class = filtersets.DeviationFilterSet
    write_roles = RECORDERS

    def save(self, instance, reason="", version=None):
        return services.record_deviation(instance, user=self.request.user, reason=reason, expected_version=version)

    def _version(self, request) -> int | None:
        return expected_version(request) if request.META.get("HTTP_IF_MATCH") else None

    @extend_schema(request=None, responses=DeviationSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm a proposed deviation (investigators and data managers)."""
        deviation = services.confirm_deviation(self.get_object(), user=request.user,
                                               expected_version=self._version(request))  # fmt: skip
        return Response(self.get_serializer(deviation).data)

    @extend_schema(request=DismissSerializer, responses=DeviationSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Dismiss a proposed deviation with the reason (investigators and data managers)."""
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deviation = services.dismiss_deviation(self.get_object(), reason=body.validated_data["reason"],
                                               user=request.user, expected_version=self._version(request))  # fmt: skip
        return Response(self.get_serializer(deviation).data)
