"""REST for the kernel, and the base classes every CRF endpoint of the other apps is built from."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse, StreamingHttpResponse
from django.views.defaults import page_not_found
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from edc import bulk_rows, exports, filtersets, input_guard, roles, services
from edc.api_fields import CheckedModelSerializer
from edc.models import DataQuery, LabResult, Lock, Signature, Site, SourceVerification, Subject, Visit

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


# --- Kernel endpoints ---------------------------------------------------------------------------


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
            "version", "created", "modified", "voided", "void_reason", "change_reason",
        )  # fmt: skip
        read_only_fields = (*CrfSerializer.Meta.read_only_fields, "subject_id", "status")

    def validate_site(self, site):
        if not roles.scope(Site.objects.filter(pk=site.pk), self.context["request"].user).exists():
            raise serializers.ValidationError(f"you are not a member of site {site.code}")
        return site


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


class VisitViewSet(CrfViewSet):
    queryset = Visit.objects.select_related("subject__site")
    serializer_class = VisitSerializer
    filterset_class = filtersets.VisitFilterSet


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

    class Meta:
        model = Signature
        fields = (
            "id", "subject", "target_model", "target_id", "meaning", "signed_by", "signer_name", "signed_at",
            "password", "voided",
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
        serializer.instance = services.sign(target, data["meaning"], user=self.request.user, password=data["password"])


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


class TokenView(ObtainAuthToken):
    """`POST auth/token/` with username and password; the API's own parser (forms are checked by the middleware)."""

    parser_classes = (input_guard.StrictJSONParser, FormParser)


ROUTES = [
    ("sites", SiteViewSet),
    ("subjects", SubjectViewSet),
    ("visits", VisitViewSet),
    ("lab-results", LabResultViewSet),
    ("queries", DataQueryViewSet),
    ("signatures", SignatureViewSet),
    ("source-verifications", SourceVerificationViewSet),
    ("locks", LockViewSet),
    ("audit-trail", AuditTrailViewSet),
]
