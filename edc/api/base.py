"""The policy every API endpoint of every app is built from: errors as the schema documents them, role
permissions, site scope, the query parameters a route takes, reasons for change and versions (If-Match), and
the CRF viewset and serializer."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.defaults import page_not_found
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException, Throttled
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from edc import input_guard, roles, security, services
from edc.api_fields import CheckedModelSerializer
from edc.models import Subject

CHANGE_REASON_HEADER = "HTTP_X_CHANGE_REASON"
CHANGE_REASON_PARAMETERS = [
    OpenApiParameter(
        "X-Change-Reason", OpenApiTypes.STR, OpenApiParameter.HEADER, description="reason for change (or body field)"
    ),
]
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description="the ETag last read"
)
OPTIONAL_IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="the ETag last read (checked when sent)"
)


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "If-Match is required: send the ETag of the version you read"
    default_code = "precondition_required"


def exception_handler(exc, context):
    """Rule violations raised by services become 400 naming the field; a stale version 412."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = DrfValidationError(detail=detail)
    if isinstance(exc, services.Locked):
        return Response({"detail": str(exc)}, status=status.HTTP_423_LOCKED)
    if isinstance(exc, services.StaleVersion):
        response = Response(
            {"detail": str(exc), "current_version": exc.current_version}, status=status.HTTP_412_PRECONDITION_FAILED
        )
        response["ETag"] = f'"{exc.current_version}"'
        return response
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """An address under /api/ that no route takes answers JSON, as every other API error does."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


class RolePermission(BasePermission):
    """Reads need one of the view's `read_roles`, writes one of its `write_roles`."""

    message = "your role does not allow this"

    def has_permission(self, request, view):
        return roles.may_request(request.user, request.method, view.read_roles, getattr(view, "write_roles", ()))


def change_reason(request) -> str:
    """The reason for change, from the body's `change_reason` or the X-Change-Reason header."""
    body = request.data  # without a body, DRF's empty QueryDict (a dict)
    if not isinstance(body, dict):
        raise DrfValidationError({"body": [f"expected a JSON object, got {input_guard.json_type(body)}"]})
    reason = body.get("change_reason") or request.META.get(CHANGE_REASON_HEADER, "")
    if not isinstance(reason, str):
        raise DrfValidationError({"change_reason": ["expected text"]})
    return reason


def expected_version(request) -> int:
    raw = request.META.get("HTTP_IF_MATCH", "").strip()
    if not raw:
        raise PreconditionRequired()
    raw = raw.removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise DrfValidationError({"If-Match": [f'expected an ETag such as "3", got {raw!r}']})
    return int(raw)


class ScopedRelatedField(serializers.SlugRelatedField):
    """A related row among the requesting user's sites only (another site's row does not exist for them), named by
    its `slug_field`: its id by default, a subject by its subject_id, a product by its ID, a lot by its number."""

    default_error_messages = {"does_not_exist": "no {slug_name} {value!r} at your sites", "invalid": "invalid value"}

    def __init__(self, slug_field: str = "pk", **kwargs):
        super().__init__(slug_field=slug_field, **kwargs)

    def get_queryset(self):
        return roles.scope(super().get_queryset(), self.context["request"].user)

    def use_pk_only_optimization(self):
        return self.slug_field == "pk"  # an id is shown from the foreign key, without loading the row

    def to_internal_value(self, data):
        if self.slug_field == "pk" and not _is_whole_number(data):  # 1.5 is no visit 1, true no row 1
            self.fail("invalid")
        return super().to_internal_value(data)


def _is_whole_number(data) -> bool:
    return (isinstance(data, int) and not isinstance(data, bool)) or (isinstance(data, str) and data.isdigit())


class CrfSerializer(CheckedModelSerializer):
    change_reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="required on every update"
    )
    serializer_related_field = ScopedRelatedField

    class Meta:
        read_only_fields = ("id", "version", "created", "modified", "voided", "void_reason")

    def build_relational_field(self, field_name, relation_info):
        field_class, kwargs = super().build_relational_field(field_name, relation_info)
        if relation_info.related_model is Subject:
            kwargs["slug_field"] = "subject_id"
            # With its site: a record's rules read the site's time zone (one query per write fewer).
            kwargs["queryset"] = Subject.objects.select_related("site")
        return field_class, kwargs

    def validate(self, attrs):
        attrs.pop("change_reason", None)
        return attrs


def crf_fields(*names: str) -> tuple[str, ...]:
    return ("id", "subject", *names, "version", "created", "modified", "voided", "void_reason", "change_reason")


class ScopedViewSetMixin:
    """The policy of every API view over rows: the user's sites only, the view's `read_roles` and `write_roles`,
    and no query parameter the view does not take (a misspelt filter is a 400, not an unfiltered answer).

    A view's parameters are its filterset's, its paginator's, its search and ordering, `format`, and the names
    in `query_parameters` (an `@action` may set its own: `@action(..., query_parameters=("subject",))`).
    """

    permission_classes = [IsAuthenticated, RolePermission]
    read_roles = roles.CLINICAL_READERS
    query_parameters: tuple[str, ...] = ()

    def get_queryset(self):
        return roles.scope(super().get_queryset(), self.request.user)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        known = self.known_query_parameters()
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            takes = ", ".join(sorted(known - {"format"})) or "no parameters"
            raise DrfValidationError({name: [f"unknown query parameter; this route takes {takes}"] for name in unknown})

    def known_query_parameters(self) -> set[str]:
        known = {"format", *self.query_parameters}
        paginator = getattr(self, "paginator", None)  # a plain ViewSet has neither paginator nor filters
        if paginator is not None:
            known |= {paginator.page_query_param, paginator.page_size_query_param}
            cursor = getattr(paginator, "cursor_query_param", None)  # a large list's keyset paging
            known |= {cursor} if cursor else set()
        for backend in getattr(self, "filter_backends", ()):
            if issubclass(backend, DjangoFilterBackend):
                filterset = backend().get_filterset_class(self, self.queryset)
                known |= set(filterset.base_filters) if filterset else set()
            elif issubclass(backend, SearchFilter) and getattr(self, "search_fields", None):
                known.add(backend.search_param)
            elif issubclass(backend, OrderingFilter):
                known.add(backend.ordering_param)
        return known


class CrfViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """A clinical record: site-scoped, role-checked, versioned (ETag/If-Match), voided not deleted.

    Subclasses declare `queryset` (with `select_related`), `serializer_class` and `filterset_class`; writes
    go through `services.save_crf`, so the admin and the API share every rule.
    """

    write_roles = roles.DATA_ENTRY
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]
    query_parameters = ("include_voided",)

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("include_voided") != "true":
            queryset = queryset.filter(voided=False)
        return queryset

    def finalize_response(self, request, response, *args, **kwargs):
        data = getattr(response, "data", None)
        if self.detail_or_create() and isinstance(data, dict) and "version" in data and response.status_code < 300:
            response["ETag"] = f'"{data["version"]}"'
        return super().finalize_response(request, response, *args, **kwargs)

    def detail_or_create(self) -> bool:
        return self.action in {"retrieve", "create", "update", "partial_update"}

    def save(self, instance, reason="", version=None):
        return services.save_crf(instance, user=self.request.user, reason=reason, expected_version=version)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.save(serializer.Meta.model(**serializer.validated_data))
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[IF_MATCH_PARAMETER, *CHANGE_REASON_PARAMETERS])
    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        version = expected_version(request)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        for field, value in serializer.validated_data.items():
            setattr(instance, field, value)
        instance = self.save(instance, reason=change_reason(request), version=version)
        return Response(self.get_serializer(instance).data)

    @extend_schema(parameters=[IF_MATCH_PARAMETER, *CHANGE_REASON_PARAMETERS])
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(parameters=[OPTIONAL_IF_MATCH_PARAMETER, *CHANGE_REASON_PARAMETERS])
    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        version = expected_version(request) if request.META.get("HTTP_IF_MATCH") else None
        instance = services.void_crf(
            instance, user=request.user, reason=change_reason(request), expected_version=version
        )
        return Response(self.get_serializer(instance).data, status=status.HTTP_200_OK)


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send as `Authorization: Token <token>`")
    expires = serializers.DateTimeField(help_text="after this the token is refused (401): ask for a new one")


class TokenView(ObtainAuthToken):
    """`POST auth/token/` with username and password; the API's own parser (forms are checked by the middleware).

    Throttled per address (`auth-token` rate); the account's failures count towards its lockout (django-axes,
    through `authenticate`), and a locked-out account is refused (429) even with the right password."""

    parser_classes = (input_guard.StrictJSONParser, FormParser)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "auth-token"

    @extend_schema(request=AuthTokenSerializer, responses={200: IssuedTokenSerializer})
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail=security.lockout_message())
            raise DrfValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        if security.password_expired(user):
            raise DrfValidationError({"password": [security.expired_password_message() + " (in the admin)"]})
        token = security.current_token(user)
        return Response({"token": token.key, "expires": security.token_expires_at(token)})


class TokenRevokeView(APIView):
    """`POST auth/token/revoke/`: the caller's token is deleted and refused from now on."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
