"""Screening screens: each CRF's admin, inlines and the eligibility panel on the subject page.

The subject page reads like the paper screening form: the eligibility panel, then consent, SLE
history, medications, SELENA-SLEDAI and the screening exam, in that order.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join

from edc import admin as edc_admin
from edc import roles
from edc import rules as edc_rules
from edc.admin import WorkItem, WorkList
from edc.models import Subject
from screening import rules, services
from screening.models import (
    Consent,
    EligibilityDecision,
    Medication,
    ScreeningExam,
    SledaiAssessment,
    SleHistory,
    code_choices,
)

CODE_LISTS = {
    "slicc_criteria": code_choices(rules.SLICC_CODES),
    "descriptors": rules.descriptor_choices(),  # by organ, with their weights
    "lupus_crises": code_choices(rules.LUPUS_CRISES),
}
STACKED = "admin/edit_inline/stacked.html"
CHANGE_FIELDSET = ("Reason for change", {"fields": ("change_reason", "opened_version")})


class CodeListMixin:
    """Code lists (JSON lists of codes) are ticked on checkboxes rather than typed as JSON."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in CODE_LISTS:
            return forms.MultipleChoiceField(
                choices=CODE_LISTS[db_field.name],
                widget=forms.CheckboxSelectMultiple,
                required=False,
                label=db_field.verbose_name.capitalize(),
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ScreeningInline(CodeListMixin, edc_admin.CrfInline):
    """Screening CRFs are entered on an existing subject (the subject page shows registered inlines only there).

    No permission here may depend on the subject: Django empties an inline's rows when its view permission
    without a row is refused, so screening CRFs once never showed on the subject page."""


class ConsentInline(ScreeningInline):
    model = Consent
    fields = ("consent_date", "icf_version", "signed_by", "version")
    max_num = 1


class SleHistoryInline(ScreeningInline):
    model = SleHistory
    template = STACKED
    fields = ("diagnosis_date", "active_on_regimen_since", "slicc_criteria", "biopsy_lupus_nephritis", "version")
    max_num = 1


class MedicationInline(ScreeningInline):
    model = Medication
    fields = (
        "drug",
        "category",
        "indication",
        "dose_mg_per_day",
        "start_date",
        "dose_stable_since",
        "stop_date",
        "version",
    )


class SledaiInline(ScreeningInline):
    """The assessments of screening and baseline only: those of follow-up visits are entered on the visit's CRF
    page and shown in the follow-up grid (a form each here would grow the subject page with the follow-up)."""

    model = SledaiAssessment
    template = STACKED
    verbose_name_plural = "SELENA-SLEDAI assessments before the infusion"
    # The visit is chosen on the assessment's own page: a select per row would cost a query per row here.
    fields = ("assessment_date", "descriptors", "pga", "total", "clinical", "serological", "version")
    readonly_fields = ("total", "clinical", "serological", "version")

    def get_queryset(self, request):
        follow_up = [visit.code for visit in edc_rules.FOLLOW_UP]
        return super().get_queryset(request).exclude(visit__code__in=follow_up)


EXAM_FIELDSETS = (
    ("Examination", {"fields": ("subject", "exam_date", "weight_kg", "height_cm")}),
    ("Pulmonary and cardiac (INC_PULMONARY, INC_CARDIAC)", {
        "fields": ("dyspnoea_grade", "sao2_room_air_pct", "lvef_pct", "lvef_method")}),
    ("CD19 and blood count (INC_CD19, INC_CBC)", {
        "fields": ("cd19_positive", "bridging_chemotherapy", "transfusion_or_growth_factor_7d")}),
    ("Liver and kidney (INC_HEPATIC, EXC_NEPHRITIS)", {
        "fields": ("gilbert_syndrome", "bone_or_liver_metastasis", "haemodialysis", "high_dose_steroid_14d_in_8w",
                   "active_nephritis_prohibited_drug")}),
    ("Exclusions", {
        "fields": ("lupus_crises", "non_lupus_cns_disease", "other_autoimmune_systemic", "transplant_history")}),
    ("Contraception (INC_CONTRACEPTION)", {"fields": ("contraception_agreed",)}),
    ("Investigator's judgement (EXC_INVESTIGATOR)", {
        "fields": ("investigator_exclusion", "investigator_exclusion_reason")}),
    ("Record", {"fields": ("voided", "void_reason", "version", "created", "modified")}),
)  # fmt: skip


class ScreeningExamInline(ScreeningInline):
    model = ScreeningExam
    template = STACKED
    fieldsets = tuple(
        (title, {"fields": [f for f in opts["fields"] if f != "subject"]}) for title, opts in EXAM_FIELDSETS[:-1]
    )
    max_num = 1


OUTCOME_MARKS = {
    rules.MET: ("✔", "#2e7d32", "met"),
    rules.NOT_MET: ("✘", "#c62828", "not met"),
    rules.MISSING: ("?", "#757575", "missing"),
}


def eligibility_panel(request, subject) -> str:
    """Each criterion with a green, red or grey mark and its reason; the signed decision when there is one.

    Once decided, the criteria are shown as of the decision's screening date, not as today's data
    (months of follow-up later) would judge them."""
    decision = EligibilityDecision.objects.filter(subject=subject, voided=False).select_related("decided_by").first()
    evaluation = services.evaluate_subject(subject, decision.evaluation_date if decision else None)
    rows = [(c, *OUTCOME_MARKS[c.outcome]) for c in evaluation.criteria]
    return render_to_string(
        "admin/screening/eligibility_panel.html",
        {"evaluation": evaluation, "rows": rows, "decision": decision, "subject": subject},
        request=request,
    )


class ScreeningCrfAdmin(CodeListMixin, edc_admin.CrfAdmin):
    search_fields = ("subject__subject_id",)


@admin.register(Consent)
class ConsentAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "consent_date", "icf_version", "signed_by", "voided")
    list_filter = ("icf_version", "signed_by", "voided", "subject__site")


@admin.register(SleHistory)
class SleHistoryAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "diagnosis_date", "active_on_regimen_since", "slicc_classified", "voided")
    list_filter = ("biopsy_lupus_nephritis", "voided", "subject__site")

    @admin.display(description="SLICC 2012", boolean=True)
    def slicc_classified(self, history):
        return rules.slicc_classification(history.slicc_criteria, history.biopsy_lupus_nephritis)[0]


@admin.register(Medication)
class MedicationAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "drug", "category", "dose_mg_per_day", "start_date", "dose_stable_since", "stop_date")
    list_filter = ("category", "voided", "subject__site")
    search_fields = ("subject__subject_id", "drug")


@admin.register(SledaiAssessment)
class SledaiAssessmentAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "assessment_date", "visit", "total", "clinical", "serological", "activity", "pga")
    list_filter = ("voided", "subject__site")
    list_select_related = ("subject", "visit__subject")
    readonly_fields = (*edc_admin.CrfAdmin.readonly_fields, "total", "clinical", "serological", "activity",
                       "lab_suggestions")  # fmt: skip
    date_hierarchy = "assessment_date"

    @admin.display(description="suggested from labs (10 days before)")
    def lab_suggestions(self, assessment):
        if not assessment.pk:
            return "—"
        found = services.sledai_suggestions(assessment.subject, assessment.assessment_date)
        return format_html_join("", "<div><b>{}</b>: {}</div>", ((s.descriptor, s.reason) for s in found)) or "none"


@admin.register(ScreeningExam)
class ScreeningExamAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "exam_date", "lvef_pct", "sao2_room_air_pct", "cd19_positive", "voided")
    list_filter = ("cd19_positive", "voided", "subject__site")

    def get_fieldsets(self, request, obj=None):
        return [*EXAM_FIELDSETS, CHANGE_FIELDSET] if obj else list(EXAM_FIELDSETS)


@admin.register(EligibilityDecision)
class EligibilityDecisionAdmin(edc_admin.CrfAdmin):
    """Decisions are made by the investigator's signed confirmation (API), never typed here."""

    list_display = ("subject", "eligible", "evaluation_date", "decided_by", "created")
    list_filter = ("eligible", "subject__site")
    list_select_related = ("subject", "decided_by")
    write_roles = frozenset()
    readonly_fields = ("subject", "evaluation_date", "eligible", "criteria", "decided_by", "signature", "version")

    def has_view_permission(self, request, obj=None):
        return roles.has_any_role(request.user, roles.CLINICAL_READERS)


# The screening CRFs that eligibility is evaluated from; a subject with all of them recorded is ready for the
# investigator's confirmation (the eligibility panel on the subject page shows each criterion).
SCREENING_CRFS = (("consent", Consent), ("SLE history", SleHistory), ("screening exam", ScreeningExam),
                  ("SELENA-SLEDAI", SledaiAssessment))  # fmt: skip


def eligibility_to_confirm(request) -> WorkList:
    """Subjects in screening with every screening CRF recorded and no eligibility decision yet, in two queries
    (the criteria themselves are evaluated on the subject page, a fixed number of queries per subject)."""
    live = {"subject": OuterRef("pk"), "voided": False}
    subjects = (
        roles.scope(Subject.objects.filter(status=Subject.Status.SCREENING, voided=False), request.user)
        .filter(*(Exists(model.objects.filter(**live)) for _, model in SCREENING_CRFS))
        .exclude(Exists(EligibilityDecision.objects.filter(**live)))
        .order_by("subject_id")
    )
    items = [WorkItem(str(s), "eligibility", reverse("admin:edc_subject_change", args=[s.pk]),
                      f"{', '.join(name for name, _ in SCREENING_CRFS)} recorded") for s in subjects[:15]]  # fmt: skip
    return WorkList(items, subjects.count())
