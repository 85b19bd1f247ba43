"""REST for the screening CRFs, the stored eligibility evaluation, its confirmation and the pre-screening dry run."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response

from edc import roles
from edc.api import CrfSerializer, CrfViewSet, ScopedViewSetMixin, crf_fields
from edc.api_fields import AwareDateTimeField, CheckedModelSerializer, PlausibleDateField
from edc.models import LabResult, Subject
from screening import filtersets, rules, services
from screening.models import (
    Consent,
    EligibilityDecision,
    Medication,
    ScreeningExam,
    SledaiAssessment,
    SleHistory,
)

CONSENT_FIELDS = ("consent_date", "icf_version", "signed_by")
HISTORY_FIELDS = ("diagnosis_date", "active_on_regimen_since", "slicc_criteria", "biopsy_lupus_nephritis")
MEDICATION_FIELDS = (
    "drug", "category", "indication", "dose_mg_per_day", "route", "start_date", "dose_stable_since", "stop_date",
)  # fmt: skip
SLEDAI_FIELDS = ("assessment_date", "descriptors", "pga")
EXAM_FIELDS = rules.EXAM_FIELDS
DECIMALS_AS_NUMBERS = {"coerce_to_string": False}


def _decimal_kwargs(model, names) -> dict:
    decimal_names = [name for name in names if model._meta.get_field(name).get_internal_type() == "DecimalField"]
    return dict.fromkeys(decimal_names, DECIMALS_AS_NUMBERS)


# --- The CRFs ------------------------------------------------------------------------------------------


class ConsentSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = Consent
        fields = crf_fields(*CONSENT_FIELDS)
        validators = []  # one row per subject: the service's validator names the field


class SleHistorySerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = SleHistory
        fields = crf_fields(*HISTORY_FIELDS)
        validators = []


class MedicationSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = Medication
        fields = crf_fields(*MEDICATION_FIELDS)
        extra_kwargs = _decimal_kwargs(Medication, MEDICATION_FIELDS)


class SledaiSerializer(CrfSerializer):
    activity = serializers.CharField(read_only=True, help_text="NONE (0), MILD (1–4), MODERATE (5–10), HIGH (> 10)")

    class Meta(CrfSerializer.Meta):
        model = SledaiAssessment
        fields = crf_fields("visit", *SLEDAI_FIELDS, "total", "clinical", "serological", "activity")
        read_only_fields = (*CrfSerializer.Meta.read_only_fields, "total", "clinical", "serological")
        extra_kwargs = _decimal_kwargs(SledaiAssessment, SLEDAI_FIELDS)


class ScreeningExamSerializer(CrfSerializer):
    class Meta(CrfSerializer.Meta):
        model = ScreeningExam
        fields = crf_fields(*EXAM_FIELDS)
        validators = []
        extra_kwargs = _decimal_kwargs(ScreeningExam, EXAM_FIELDS)


class ConsentViewSet(CrfViewSet):
    queryset = Consent.objects.select_related("subject")
    serializer_class = ConsentSerializer
    filterset_class = filtersets.ConsentFilterSet


class SleHistoryViewSet(CrfViewSet):
    queryset = SleHistory.objects.select_related("subject")
    serializer_class = SleHistorySerializer
    filterset_class = filtersets.SleHistoryFilterSet


class MedicationViewSet(CrfViewSet):
    queryset = Medication.objects.select_related("subject")
    serializer_class = MedicationSerializer
    filterset_class = filtersets.MedicationFilterSet


class SuggestionSerializer(serializers.Serializer):
    descriptor = serializers.CharField()
    reason = serializers.CharField()


class SledaiViewSet(CrfViewSet):
    queryset = SledaiAssessment.objects.select_related("subject")
    serializer_class = SledaiSerializer
    filterset_class = filtersets.SledaiFilterSet

    @extend_schema(
        parameters=[
            OpenApiParameter("subject", OpenApiTypes.STR, required=True, description="subject_id"),
            OpenApiParameter("assessment_date", OpenApiTypes.DATE, required=True),
        ],
        responses=SuggestionSerializer(many=True),
    )
    # A plain list: neither paged nor filtered like the assessments themselves.
    @action(detail=False, query_parameters=("subject", "assessment_date"), pagination_class=None, filter_backends=[])
    def suggestions(self, request):
        """Lab-backed descriptors suggested from the results of the 10 days before the assessment date."""
        subject = get_object_or_404(
            roles.scope(Subject.objects.select_related("site"), request.user),
            subject_id=request.query_params.get("subject", ""),
        )
        on = _date_param(request, "assessment_date", required=True)
        found = services.sledai_suggestions(subject, on)
        return Response(SuggestionSerializer(found, many=True).data)


class ScreeningExamViewSet(CrfViewSet):
    queryset = ScreeningExam.objects.select_related("subject")
    serializer_class = ScreeningExamSerializer
    filterset_class = filtersets.ScreeningExamFilterSet


def _date_param(request, name: str, *, required: bool = False) -> dt.date | None:
    raw = request.query_params.get(name)
    if not raw:
        if required:
            raise DrfValidationError({name: ["this query parameter is required (YYYY-MM-DD)"]})
        return None
    try:
        return PlausibleDateField().run_validation(raw)
    except DrfValidationError as error:
        raise DrfValidationError({name: error.detail}) from None


# --- Eligibility ----------------------------------------------------------------------------------------


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField()
    outcome = serializers.ChoiceField(choices=[rules.MET, rules.NOT_MET, rules.MISSING])
    reason = serializers.CharField()
    missing = serializers.ListField(child=serializers.CharField(), help_text="inputs still needed (route.field)")


@extend_schema_serializer(many=False)  # the route's `list` answers one evaluation, not a page
class EligibilitySerializer(serializers.Serializer):
    evaluation_date = serializers.DateField(help_text="the screening date the criteria count back from")
    apheresis_start = serializers.DateTimeField(allow_null=True)
    eligible = serializers.BooleanField(allow_null=True, help_text="null while a criterion is MISSING")
    criteria = CriterionSerializer(many=True)


class ConfirmSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"}, help_text="asked again")
    evaluation_date = PlausibleDateField(required=False, help_text="screening date (default: today in site time)")


class EligibilityDecisionSerializer(serializers.ModelSerializer):
    subject = serializers.SlugRelatedField(slug_field="subject_id", read_only=True)
    subject_status = serializers.CharField(source="subject.status", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    signed_at = serializers.DateTimeField(source="signature.signed_at", read_only=True)

    class Meta:
        model = EligibilityDecision
        fields = (
            "id", "subject", "subject_status", "evaluation_date", "eligible", "criteria", "decided_by", "signature",
            "signed_at",
        )  # fmt: skip
        read_only_fields = fields


class EligibilityViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    """`subjects/{subject_id}/eligibility/`: every criterion on the stored data, and the investigator's confirmation."""

    route_basename = "subject-eligibility"
    queryset = Subject.objects.select_related("site")
    serializer_class = EligibilitySerializer
    query_parameters = ("evaluation_date",)
    write_roles = roles.SIGNERS

    def get_subject(self) -> Subject:
        return get_object_or_404(self.get_queryset(), subject_id=self.kwargs["subject_id"])

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "evaluation_date", OpenApiTypes.DATE, description="screening date (default: today in site time)"
            )
        ],
        responses=EligibilitySerializer,
    )
    def list(self, request, subject_id=None):
        """Evaluate every inclusion and exclusion criterion on the subject's stored data."""
        result = services.evaluate_subject(self.get_subject(), _date_param(request, "evaluation_date"))
        return Response(result.as_dict())

    @extend_schema(request=ConfirmSerializer, responses={201: EligibilityDecisionSerializer})
    @action(detail=False, methods=["post"])
    def confirm(self, request, subject_id=None):
        """An investigator signs the decision (password re-entered): the subject becomes ENROLLED or SCREEN_FAILED.

        Refused (400) while any criterion is MISSING, with a wrong password, or when the subject is not in SCREENING.
        """
        body = ConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.confirm_eligibility(
            self.get_subject(),
            user=request.user,
            password=body.validated_data["password"],
            evaluation_date=body.validated_data.get("evaluation_date"),
        )
        return Response(EligibilityDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


# --- The pre-screening dry run ----------------------------------------------------------------------------


def _body_serializer(model, names, **kwargs):
    meta = type("Meta", (), {"model": model, "fields": names, "extra_kwargs": _decimal_kwargs(model, names)})
    return type(f"DryRun{model.__name__}Serializer", (CheckedModelSerializer,), {"Meta": meta})(**kwargs)


class ApheresisStartSerializer(serializers.Serializer):
    start_datetime = AwareDateTimeField()


class DryRunSerializer(serializers.Serializer):
    subject = _body_serializer(Subject, ("sex", "date_of_birth", "childbearing_potential"))
    consent = _body_serializer(Consent, CONSENT_FIELDS, required=False, allow_null=True)
    sle_history = _body_serializer(SleHistory, HISTORY_FIELDS, required=False, allow_null=True)
    medications = _body_serializer(Medication, MEDICATION_FIELDS, many=True, required=False)
    sledai = _body_serializer(SledaiAssessment, SLEDAI_FIELDS, required=False, allow_null=True)
    screening_exam = _body_serializer(ScreeningExam, EXAM_FIELDS, required=False, allow_null=True)
    lab_results = _body_serializer(
        LabResult,
        ("analyte", "value", "result_text", "unit", "lln", "uln", "not_detected", "sample_datetime"),
        many=True,
        required=False,
    )
    apheresis = ApheresisStartSerializer(required=False, allow_null=True, help_text="null: not recorded yet")
    evaluation_date = PlausibleDateField(help_text="the screening date the criteria count back from")


DRY_RUN_EXAMPLE = {
    "subject": {"sex": "F", "date_of_birth": "1990-05-17", "childbearing_potential": True},
    "consent": {"consent_date": "2025-03-01", "icf_version": "2.0", "signed_by": "SUBJECT"},
    "sle_history": {
        "diagnosis_date": "2020-01-15",
        "active_on_regimen_since": "2024-06-01",
        "slicc_criteria": ["ACUTE_CUTANEOUS", "SYNOVITIS", "ANA", "ANTI_DSDNA"],
        "biopsy_lupus_nephritis": False,
    },
    "medications": [
        {"drug": "hydroxychloroquine", "category": "IMMUNOMODULATOR", "dose_mg_per_day": 400,
         "start_date": "2023-01-01", "dose_stable_since": None, "stop_date": None},
        {"drug": "prednisone", "category": "CORTICOSTEROID", "dose_mg_per_day": 15,
         "start_date": "2024-06-01", "dose_stable_since": "2024-12-01", "stop_date": None},
    ],
    "sledai": {"assessment_date": "2025-03-05", "descriptors": ["ARTHRITIS", "RASH", "PROTEINURIA", "LOW_COMPLEMENT",
                                                               "DNA_BINDING"], "pga": 1.5},
    "screening_exam": {
        "exam_date": "2025-03-05", "weight_kg": 60, "height_cm": 165, "dyspnoea_grade": 0, "sao2_room_air_pct": 98,
        "lvef_pct": 60, "lvef_method": "ECHO", "cd19_positive": True, "bridging_chemotherapy": False,
        "transfusion_or_growth_factor_7d": False, "gilbert_syndrome": False, "bone_or_liver_metastasis": False,
        "haemodialysis": False, "high_dose_steroid_14d_in_8w": False,
        "active_nephritis_prohibited_drug": False, "lupus_crises": [],
        "non_lupus_cns_disease": False, "other_autoimmune_systemic": False, "transplant_history": False,
        "contraception_agreed": True, "investigator_exclusion": False, "investigator_exclusion_reason": "",
    },
    "lab_results": [
        {"analyte": "ANA", "result_text": "1:320", "sample_datetime": "2025-03-04T08:00:00+08:00"},
        {"analyte": "DSDNA", "value": 120, "unit": "IU/mL", "uln": 100, "sample_datetime": "2025-03-04T08:00:00+08:00"},
        {"analyte": "PLAT", "value": 180, "unit": "10^9/L", "lln": 125, "uln": 350,
         "sample_datetime": "2025-03-04T08:00:00+08:00"},
        {"analyte": "ALT", "value": 30, "unit": "U/L", "lln": 7, "uln": 40,
         "sample_datetime": "2025-03-04T08:00:00+08:00"},
    ],
    "apheresis": None,
    "evaluation_date": "2025-03-10",
}  # fmt: skip


def flatten_errors(errors, prefix: str = "") -> dict:
    """Nested serializer errors as `route.field` / `route[i].field` keys, like the engine's own refusals."""
    if isinstance(errors, dict):
        flat = {}
        for key, value in errors.items():
            if isinstance(key, int):  # a list's errors keyed by index
                flat.update(flatten_errors(value, f"{prefix}[{key}]"))
            else:
                flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(errors, list) and any(isinstance(item, dict | list) for item in errors):
        flat = {}
        for index, value in enumerate(errors):
            flat.update(flatten_errors(value, f"{prefix}[{index}]"))
        return flat
    return {prefix: errors} if errors else {}


class EligibilityDryRunViewSet(ScopedViewSetMixin, viewsets.GenericViewSet):
    """`eligibility/evaluate/`: the pre-screening dry run (nothing is stored)."""

    route_basename = "eligibility"
    serializer_class = DryRunSerializer
    write_roles = roles.CLINICAL_READERS  # nothing is written

    @extend_schema(
        request=DryRunSerializer,
        responses=EligibilitySerializer,
        examples=[OpenApiExample("A pre-screened candidate", value=DRY_RUN_EXAMPLE, request_only=True)],
    )
    @action(detail=False, methods=["post"])
    def evaluate(self, request):
        """Evaluate every criterion on the CRF data in the body, nested by route; the answer is the GET's format.

        Hard limits of CRF.md are refused (400) naming `route.field` or `route[i].field`; soft limits are
        ignored since nothing is stored.
        """
        body = DryRunSerializer(data=request.data)
        if not body.is_valid():
            raise DrfValidationError(flatten_errors(body.errors))
        return Response(services.dry_run(body.validated_data).as_dict())


ROUTES = [
    ("consents", ConsentViewSet),
    ("sle-history", SleHistoryViewSet),
    ("medications", MedicationViewSet),
    ("sledai", SledaiViewSet),
    ("screening-exams", ScreeningExamViewSet),
    (r"subjects/(?P<subject_id>[^/.]+)/eligibility", EligibilityViewSet),
    ("eligibility", EligibilityDryRunViewSet),
]
