"""REST for adverse events, milestones and the PK/PD exports."""

import base64
import math
import tempfile
from pathlib import Path

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.reverse import reverse

from edc.api import CrfSerializer, CrfViewSet, ScopedViewSetMixin, crf_fields
from edc.models import Subject
from followup import export_jobs, exports, filtersets, odm, rules
from followup.models import AdverseEvent, AdverseEventTreatment, ExportJob, ExportLog, Milestone, PrednisoneDose


class AdverseEventSerializer(CrfSerializer):
    treated_with = serializers.SerializerMethodField(
        help_text="ids of the medication-log entries given for this event (linked at adverse-event-treatments/)"
    )

    class Meta(CrfSerializer.Meta):
        model = AdverseEvent
        fields = crf_fields(
            "term", "category", "onset_date", "resolution_date", "ctcae_grade", "serious", "relatedness", "outcome",
            "max_temperature_c", "hypotension", "hypoxia", "ice_score", "consciousness", "seizure", "motor_findings",
            "cerebral_oedema", "astct_grade", *rules.INFECTION_FIELDS, "treated_with",
        )  # fmt: skip
        read_only_fields = (*CrfSerializer.Meta.read_only_fields, "astct_grade")
        extra_kwargs = {"max_temperature_c": {"coerce_to_string": False}}

    def get_treated_with(self, event) -> list[int]:
        return [link.medication_id for link in event.treatments.all() if not link.voided]


class AdverseEventViewSet(CrfViewSet):
    # The links of a page of events in one query (a voided one is left out when read).
    queryset = AdverseEvent.objects.select_related("subject").prefetch_related("treatments")
    serializer_class = AdverseEventSerializer
    filterset_class = filtersets.AdverseEventFilterSet


class AdverseEventTreatmentSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = AdverseEventTreatment
        fields = crf_fields("adverse_event", "medication")
        validators = []  # one event per medication: the service's validator names the field


class AdverseEventTreatmentViewSet(CrfViewSet):
    """A medication-log entry given for an adverse event (CRS, ICANS, infection): both of the same subject."""

    queryset = AdverseEventTreatment.objects.select_related("subject")
    serializer_class = AdverseEventTreatmentSerializer
    filterset_class = filtersets.AdverseEventTreatmentFilterSet


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


class ChoiceParameter(serializers.ChoiceField):
    """One of `choices`, in any case; an unknown value is refused with `error(field, value)`."""

    def __init__(self, *, error, **kwargs):
        self.error = error
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = str(data).strip().lower()
        if value not in self.choices:
            raise serializers.ValidationError(self.error(self, value))
        return value


class ListParameter(serializers.ListField):
    """Values given once comma-separated, or repeated (`?analyte=C3&analyte=C4`), each once, in order."""

    child = serializers.CharField()

    def get_value(self, dictionary):
        if self.field_name not in dictionary:
            return empty
        raw = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else dictionary[self.field_name]
        items = [raw] if isinstance(raw, str) else raw
        return list(dict.fromkeys(v.strip() for item in items for v in str(item).split(",") if v.strip()))


class DaysParameter(serializers.FloatField):
    """A finite number of days (`nan` and `inf` are refused: no day compares with them)."""

    default_error_messages = {
        "invalid": "{input!r} is not a number of days",
        "not_finite": "{input!r} is not a finite number of days",
    }

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            day = float(text)
        except ValueError:
            self.fail("invalid", input=text)
        if not math.isfinite(day):
            self.fail("not_finite", input=text)
        return day


class ExportParamsSerializer(serializers.Serializer):
    """An export's query parameters, checked against its dataset (`context["dataset"]`): a 400 names each bad one.

    Both doors use it: the export routes and the `export_pkpd` command.
    """

    format = ChoiceParameter(
        choices=exports.FORMATS, default="csv", error=lambda field, value: exports.format_error(value),
        help_text="csv (default), json, parquet or xpt (SAS transport v5, sdtm/* datasets only)",
    )  # fmt: skip
    subject = ListParameter(required=False, help_text="subject_id(s), comma-separated or repeated")
    analyte = ListParameter(required=False, help_text="analyte code(s), comma-separated or repeated")
    from_day = DaysParameter(required=False, allow_null=True, help_text="first actual day from infusion (inclusive)")
    to_day = DaysParameter(required=False, allow_null=True, help_text="last actual day from infusion (inclusive)")
    shape = ChoiceParameter(
        choices=exports.SHAPES, default="long", help_text="pkpd only: long (default) or wide",
        error=lambda field, value: exports.shape_error(field.parent.context["dataset"], value),
    )  # fmt: skip
    trailer = serializers.BooleanField(
        default=False, help_text="csv only: end with a line `# rows=N sha256=HEX` (HEX: the SHA-256 of every byte "
        "before it), written once the last row is; a file without it was cut short",
    )  # fmt: skip

    def validate(self, attrs):
        errors = exports.filter_errors(
            self.context["dataset"], shape=attrs["shape"], analytes=tuple(attrs.get("analyte", ())),
            from_day=attrs.get("from_day"), to_day=attrs.get("to_day"), export_format=attrs["format"],
        )  # fmt: skip
        if attrs["trailer"] and attrs["format"] != "csv":
            whole = "parses" if attrs["format"] == "json" else "opens"
            errors["trailer"] = [f"the trailer is for csv only; {attrs['format']} is complete when it {whole}"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def export_request(self, user) -> exports.ExportRequest:
        """The validated parameters as the request of `user` (a subject not at the user's sites: ExportNotFound)."""
        values = self.validated_data
        return exports.export_request(
            self.context["dataset"], user, format=values["format"], shape=values["shape"],
            subjects=tuple(values.get("subject", ())), analytes=tuple(values.get("analyte", ())),
            from_day=values.get("from_day"), to_day=values.get("to_day"), trailer=values["trailer"],
        )  # fmt: skip


# A JSON export is an array of row objects; the other formats are files (CSV text, Parquet, XPT).
JSON_ROWS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}
EXPORT_FILES = {
    (200, content_type): JSON_ROWS if content_type == "application/json" else OpenApiTypes.BINARY
    for content_type in exports.CONTENT_TYPES.values()
}
JOB_FILES = {
    key: schema
    for key, schema in EXPORT_FILES.items()
    if key[1] in {exports.CONTENT_TYPES[name] for name in export_jobs.JOB_FORMATS}
}


def dataset_or_404(name: str):
    try:
        return exports.dataset_named(name)
    except exports.ExportNotFound as missing:
        raise NotFound({missing.parameter: [str(missing)]}) from None


class ExportViewSet(ScopedViewSetMixin, viewsets.ViewSet):
    """PK/PD exports streamed as CSV, JSON or Parquet: `exports/pkpd/`, `exports/pk-parameters/`,
    `exports/sdtm/{dm,ex,lb,pc,pp,ae,suppae,cm,suppcm,dv}/` (also as SAS XPT v5), `exports/safety/`. Sponsor viewers
    get pseudonymised data; every export is logged."""

    read_roles = exports.EXPORT_ROLES
    route_basename = "exports"
    lookup_field = "dataset"
    lookup_value_regex = "[a-z0-9/-]+"

    def known_query_parameters(self) -> set[str]:
        known = super().known_query_parameters()
        return known | set(ExportParamsSerializer().fields) if self.action == "retrieve" else known

    def perform_content_negotiation(self, request, force=False):
        # `?format=csv|parquet` names the export's format, not a DRF renderer: errors are rendered as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(operation_id="v1_exports_list", responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        """The datasets and their columns."""
        return Response({name: [c.name for c in dataset.columns] for name, dataset in exports.DATASETS.items()})

    @extend_schema(
        operation_id="v1_exports_odm",
        parameters=[OpenApiParameter("subject", OpenApiTypes.STR, description="one subject_id (default: the study)")],
        responses={(200, odm.CONTENT_TYPE): OpenApiTypes.BINARY},
    )
    @action(detail=False, url_path="odm", read_roles=odm.ODM_ROLES, query_parameters=("subject",))
    def odm_casebook(self, request):
        """The casebook as CDISC ODM 1.3.2 (metadata, clinical data, audit trail, signatures), streamed; for
        investigators and data managers, logged. `?subject=` one subject's."""
        subject_id = odm_subject_parameter(request.query_params)
        try:
            odm_request = odm.odm_request(request.user, subject_id)
        except exports.ExportNotFound as missing:
            raise NotFound({missing.parameter: [str(missing)]}) from None
        response = StreamingHttpResponse(odm.start_odm_export(odm_request).chunks, content_type=odm.CONTENT_TYPE)
        name = f"casebook-{subject_id}" if subject_id else "casebook"
        response["Content-Disposition"] = f'attachment; filename="{name}.xml"'
        return response

    @extend_schema(
        operation_id="v1_exports_retrieve",
        parameters=[
            OpenApiParameter("dataset", OpenApiTypes.STR, OpenApiParameter.PATH, enum=tuple(exports.DATASETS)),
            ExportParamsSerializer,
        ],
        responses=EXPORT_FILES,
    )
    def retrieve(self, request, dataset=None):
        """One dataset, streamed in the format asked for."""
        params = ExportParamsSerializer(data=request.query_params, context={"dataset": dataset_or_404(dataset)})
        params.is_valid(raise_exception=True)
        try:
            export_request = params.export_request(request.user)
        except exports.ExportNotFound as missing:
            raise NotFound({missing.parameter: [str(missing)]}) from None
        try:
            return export_download(export_request)
        except exports.ValueTooLong as refused:
            raise serializers.ValidationError({"format": [str(refused)]}) from None


SUBJECT_ID_LENGTH = Subject._meta.get_field("subject_id").max_length


def odm_subject_parameter(query_params) -> str:
    """The one subject_id `?subject=` names ("": none); empty, several or too long is a 400 naming the limit."""
    if "subject" not in query_params:
        return ""
    values = query_params.getlist("subject")
    subject_id = values[0].strip()
    if len(values) > 1 or "," in subject_id:
        raise ValidationError({"subject": ["the ODM casebook takes one subject_id (or none: the whole study)"]})
    if not subject_id:
        raise ValidationError({"subject": ["expected a subject_id, got an empty value"]})
    if len(subject_id) > SUBJECT_ID_LENGTH:
        raise ValidationError({"subject": [f"a subject_id has at most {SUBJECT_ID_LENGTH} characters"]})
    return subject_id


def export_download(export_request: exports.ExportRequest, *, channel: str = "api") -> StreamingHttpResponse:
    """The export, logged and streamed as a file download: the export routes' answer and the admin's exports
    page's (`channel="admin"`). XPT is written whole first (`xpt_download`): it may raise ValueTooLong."""
    if export_request.format == "xpt":
        return xpt_download(export_request, channel=channel)
    export = exports.start_export(export_request, channel=channel)
    response = StreamingHttpResponse(
        exports.write(export_request.format, export_request.columns, export.rows, trailer=export_request.trailer),
        content_type=exports.CONTENT_TYPES[export_request.format],
    )
    filename = f"{export_request.dataset.name.replace('/', '-')}.{export_request.format}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xpt_download(export_request: exports.ExportRequest, *, channel: str) -> FileResponse:
    """The dataset as an XPT v5 file, written to a temporary file and sent from it; the characters written as "?"
    are counted in the export log, a refusal (a value over 200 bytes) is recorded there."""
    export = exports.start_export(export_request, channel=channel)
    with tempfile.TemporaryDirectory(prefix="xpt-") as scratch:
        path = Path(scratch) / f"{exports.domain_of(export_request.dataset).lower()}.xpt"
        try:
            xpt = exports.write_dataset_xpt(export_request, export.rows, path)
        except exports.ValueTooLong as refused:
            ExportLog.objects.filter(pk=export.log.pk).update(filters={**export.log.filters, "refused": str(refused)})
            raise
        handle = path.open("rb")  # the open file outlives its name, removed with the directory
    if xpt.replaced:
        filters = {**export.log.filters, "non_ascii_replaced": xpt.replaced_counts}
        ExportLog.objects.filter(pk=export.log.pk).update(filters=filters)
    return FileResponse(handle, as_attachment=True, filename=path.name, content_type=exports.CONTENT_TYPES["xpt"])


class ExportJobRequestSerializer(serializers.Serializer):
    """`POST exports/jobs/`: a dataset, a format and the export routes' filters."""

    dataset = serializers.ChoiceField(choices=tuple(exports.DATASETS), help_text="one of the export datasets")
    format = serializers.CharField(default="csv", help_text="csv (default), json or parquet")
    filters = serializers.DictField(
        required=False, default=dict,
        help_text=f"the export routes' filters: {', '.join(export_jobs.JOB_PARAMETERS)} (as in their query strings)",
    )  # fmt: skip

    def validate_format(self, value):
        if refused := export_jobs.job_format_error(value):
            raise serializers.ValidationError(refused)
        return value

    def validate_filters(self, filters):
        unknown = sorted(set(filters) - set(export_jobs.JOB_PARAMETERS))
        if unknown:
            raise serializers.ValidationError(
                f"unknown filter {', '.join(unknown)}; a job takes {', '.join(export_jobs.JOB_PARAMETERS)}"
            )
        return filters

    def export_params(self) -> dict:
        return export_jobs.export_params(self.validated_data["format"], self.validated_data["filters"])


class ExportJobSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="get_status_display", help_text="queued, running, complete or failed")
    filters = serializers.SerializerMethodField(help_text="the filters asked for")
    download = serializers.SerializerMethodField(help_text="the file's address, once complete")

    class Meta:
        model = ExportJob
        fields = ("id", "dataset", "format", "filters", "status", "rows_written", "size", "sha256", "requested_at",
                  "started_at", "finished_at", "error", "download")  # fmt: skip

    def get_filters(self, job) -> dict:
        return {name: value for name, value in job.params.items() if name != "format"}

    def get_download(self, job) -> str | None:
        if job.status != ExportJob.Status.COMPLETE:
            return None
        return reverse("exportjob-download", args=[job.pk], request=self.context.get("request"))


class ExportJobViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Large exports as jobs: `POST` a dataset, format and filters (202); a Celery worker writes the file; `GET` the
    job for its status and rows written so far; `download/` once complete, with its SHA-256 (`Content-Digest`,
    `X-Export-SHA256`). Roles, sites and pseudonymisation as the export routes; each user sees their own jobs."""

    queryset = ExportJob.objects.all()
    serializer_class = ExportJobSerializer
    read_roles = write_roles = exports.EXPORT_ROLES
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return ExportJob.objects.filter(user=self.request.user)  # a user's jobs; no site column to scope by

    @extend_schema(request=ExportJobRequestSerializer, responses={202: ExportJobSerializer})
    def create(self, request, *args, **kwargs):
        asked = ExportJobRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        params = asked.export_params()
        dataset = exports.dataset_named(asked.validated_data["dataset"])
        checked = ExportParamsSerializer(data=params, context={"dataset": dataset})
        if not checked.is_valid():
            raise serializers.ValidationError(_job_errors(checked.errors))
        try:
            export_request = checked.export_request(request.user)
        except exports.ExportNotFound as missing:
            raise NotFound({missing.parameter: [str(missing)]}) from None
        job = export_jobs.request_job(export_request)
        body = ExportJobSerializer(job, context=self.get_serializer_context()).data
        location = reverse("exportjob-detail", args=[job.pk], request=request)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(responses=JOB_FILES)
    @action(detail=True)
    def download(self, request, pk=None):
        """The complete job's file; `Content-Digest` (RFC 9530) and `X-Export-SHA256` carry its SHA-256."""
        job = self.get_object()
        if job.status != ExportJob.Status.COMPLETE:
            raise Conflict({"status": [f"the job is {job.get_status_display()}; its file is ready once complete"]})
        try:
            opened = export_jobs.open_file(job)
        except export_jobs.StorageUnavailable:
            raise StorageDown(
                {"file": ["the job's file could not be read from the exports storage; try again later"]}
            ) from None
        response = FileResponse(opened, as_attachment=True, filename=export_jobs.file_name(job),
                                content_type=exports.CONTENT_TYPES[job.format])  # fmt: skip
        response["Content-Length"] = str(job.size)
        response["Content-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(job.sha256)).decode()}:"
        response["X-Export-SHA256"] = job.sha256
        response["X-Export-Rows"] = str(job.rows_written)
        return response


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "not ready"


class StorageDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the exports storage did not answer"


def _job_errors(errors: dict) -> dict:
    """The export parameters' errors as the job request names them: `format`, or `filters` by filter."""
    named = {name: messages for name, messages in errors.items() if name in ("format", "non_field_errors")}
    filters = {name: messages for name, messages in errors.items() if name not in named}
    return {**named, **({"filters": filters} if filters else {})}


ROUTES = [
    ("adverse-events", AdverseEventViewSet),
    ("adverse-event-treatments", AdverseEventTreatmentViewSet),
    ("prednisone-doses", PrednisoneDoseViewSet),
    ("milestones", MilestoneViewSet),
    ("exports/jobs", ExportJobViewSet),  # before `exports/<dataset>/`, which would take `jobs` for a dataset
    ("exports", ExportViewSet),
]
