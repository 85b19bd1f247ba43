"""The OpenAPI schema documents every answer the API gives, errors included.

drf-spectacular documents the 2xx bodies from the serializers; the error bodies come from one place
(`edc.api.exception_handler`, DRF's own exceptions, `edc.input_guard`), so they are added here, per
operation, by what the operation can meet: every route refuses bad input (400), anonymous (401) and
out-of-role (403) callers, and answers 404 for what is not in the caller's site; writes to clinical
records can meet a lock (423); a change needs the version it was read at (428, 412).
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StaleVersionSerializer(ErrorDetailSerializer):
    current_version = serializers.IntegerField(help_text="the version to read again; also in the ETag header")


class BulkRowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="position of the row in the posted list")
    field = serializers.CharField()
    message = serializers.CharField()


class BulkRejectionSerializer(ErrorDetailSerializer):
    errors = BulkRowErrorSerializer(many=True)


# A field's messages, or the messages of a nested object or list (by key or position).
FIELD_ERRORS = ResolvedComponent(
    name="FieldErrors",
    type=ResolvedComponent.SCHEMA,
    object="FieldErrors",
    schema={
        "type": "object",
        "description": "Each refused field (or query parameter, or header) with its messages, "
        'e.g. {"ice_score": ["Ensure this value is less than or equal to 10."]}.',
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
                {"type": "object"},
            ]
        },
    },
)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
VERSIONED_METHODS = {"PUT", "PATCH", "DELETE"}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.method == "DELETE" and "204" in responses:
            # A void answers 200 with the voided record (it stays, flagged, with its history).
            responses = {"200": self._get_response_for_code(self._get_serializer(), "200", direction=direction)}
        for code, response in self._error_responses().items():
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        self.registry.register_on_missing(FIELD_ERRORS)
        detail = self.resolve_serializer(ErrorDetailSerializer, "response").ref
        field_errors = FIELD_ERRORS.ref
        errors = {
            "400": OpenApiResponse(
                {"anyOf": [field_errors, detail, self.resolve_serializer(BulkRejectionSerializer, "response").ref]},
                description="Refused input: each field, parameter or header named with the limit it broke "
                "(bulk rows as index, field, message); nothing was stored.",
            ),
            "404": OpenApiResponse(
                {"anyOf": [detail, field_errors]}, description="Not found, or not in one of your sites."
            ),
        }
        if self.view.permission_classes:  # the token route is the one open to anonymous callers
            errors["401"] = OpenApiResponse(detail, description="No or invalid credentials.")
            errors["403"] = OpenApiResponse(detail, description="Your role may not do this.")
        if self.view.throttle_classes:  # the token route: per address, and per account once locked out
            errors["429"] = OpenApiResponse(
                detail, description="Too many requests, or the account is locked out; see the Retry-After header."
            )
        if self.method in WRITE_METHODS:
            errors["423"] = OpenApiResponse(detail, description="The record's visit, subject or the study is locked.")
        if self.method in VERSIONED_METHODS:  # only clinical records are changed or voided
            stale = self.resolve_serializer(StaleVersionSerializer, "response").ref
            errors["412"] = OpenApiResponse(stale, description="If-Match names a version that is no longer current.")
            if self.method != "DELETE":
                errors["428"] = OpenApiResponse(detail, description="If-Match is required.")
        return errors


class ScopedRelatedFieldExtension(OpenApiSerializerFieldExtension):
    """A row named by its id is an integer (drf-spectacular cannot read the type through `pk`)."""

    target_class = "edc.api.ScopedRelatedField"

    def map_serializer_field(self, auto_schema, direction):
        if self.target.slug_field == "pk":
            return build_basic_type(OpenApiTypes.INT)
        return auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
