"""Screening screens: each CRF's admin, inlines and the eligibility panel on the subject page.

The subject page reads like the paper screening form: the eligibility panel, then consent, SLE
history, medications, SELENA-SLEDAI and the screening exam, in that order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import admin as edc_admin
from edc import i18n, roles
from edc import rules as edc_rules
from edc import services as edc_services
from edc.admin import WorkItem, WorkList
from edc.models import Subject
from edc.rules import as_typed
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

# The rules' words built once at import, said in the language of each request that shows them.
translated_lazily = lazy(i18n.translated, str)


def descriptor_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The SELENA-SLEDAI descriptors by organ, with their weights, in the reader's language."""
    return [
        (translated_lazily(organ), [(code, translated_lazily(label)) for code, label in descriptors])
        for organ, descriptors in rules.descriptor_choices()
    ]


CODE_LISTS = {
    "slicc_criteria": code_choices(rules.SLICC_CODES),
    "descriptors": descriptor_choices(),
    "lupus_crises": code_choices(rules.LUPUS_CRISES),
}
STACKED = "admin/edit_inline/stacked.html"
CHANGE_FIELDSET = (_("Reason for change"), {"fields": ("change_reason", "opened_version")})


class CodeListMixin:
    """Code lists (JSON lists of codes) are ticked on checkboxes rather than typed as JSON."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in CODE_LISTS:
            return forms.MultipleChoiceField(
                choices=CODE_LISTS[db_field.name],
                widget=forms.CheckboxSelectMultiple,
                required=False,
                label=capfirst(db_field.verbose_name),
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


class AsTypedDecimalField(forms.DecimalField):
    """A stored dose shown as typed (400, not 400.000)."""

    def prepare_value(self, value):
        return as_typed(value) if isinstance(value, Decimal) else value


class DoseAsTypedMixin:
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "dose_mg_per_day":
            kwargs.update(form_class=AsTypedDecimalField, widget=forms.TextInput(attrs={"size": 7}))
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class MedicationInline(DoseAsTypedMixin, ScreeningInline):
    """The medication log through the whole trial; what each entry treats is linked on the adverse event's page."""

    # Narrow inputs: the log's ten columns fit the page (with the sidebar collapsed).
    formfield_overrides = {models.CharField: {"widget": forms.TextInput(attrs={"size": 18})}}

    model = Medication
    fields = ("drug", "category", "indication", "dose_mg_per_day", "route", "start_date", "dose_stable_since",
              "stop_date", "treats", "version")  # fmt: skip
    readonly_fields = ("treats", "version")

    def get_formset(self, request, obj=None, **kwargs):
        # Read once for the page (the inline is built per request): a lookup per row would cost a query per row.
        self.treated = services.treated_events(obj.pk) if obj is not None else {}
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description=_("adverse event treated"))
    def treats(self, medication):
        return self.treated.get(medication.pk, "—")


class SledaiInline(ScreeningInline):
    """The assessments of screening and baseline only: those of follow-up visits are entered on the visit's CRF
    page and shown in the follow-up grid (a form each here would grow the subject page with the follow-up)."""

    model = SledaiAssessment
    template = STACKED
    verbose_name_plural = _("SELENA-SLEDAI assessments before the infusion")
    # The visit is chosen on the assessment's own page: a select per row would cost a query per row here.
    fields = ("assessment_date", "descriptors", "pga", "total", "clinical", "serological", "version")
    readonly_fields = ("total", "clinical", "serological", "version")

    def get_queryset(self, request):
        follow_up = [visit.code for visit in edc_rules.FOLLOW_UP]
        return super().get_queryset(request).exclude(visit__code__in=follow_up)


EXAM_FIELDSETS = (
    (_("Examination"), {"fields": ("subject", "exam_date", "weight_kg", "height_cm")}),
    (_("Pulmonary and cardiac (INC_PULMONARY, INC_CARDIAC)"), {
        "fields": ("dyspnoea_grade", "sao2_room_air_pct", "lvef_pct", "lvef_method")}),
    (_("CD19 and blood count (INC_CD19, INC_CBC)"), {
        "fields": ("cd19_positive", "bridging_chemotherapy", "transfusion_or_growth_factor_7d")}),
    (_("Liver and kidney (INC_HEPATIC, EXC_NEPHRITIS)"), {
        "fields": ("gilbert_syndrome", "bone_or_liver_metastasis", "haemodialysis", "high_dose_steroid_14d_in_8w",
                   "active_nephritis_prohibited_drug")}),
    (_("Exclusions"), {
        "fields": ("lupus_crises", "non_lupus_cns_disease", "other_autoimmune_systemic", "transplant_history")}),
    (_("Contraception (INC_CONTRACEPTION)"), {"fields": ("contraception_agreed",)}),
    (_("Investigator's judgement (EXC_INVESTIGATOR)"), {
        "fields": ("investigator_exclusion", "investigator_exclusion_reason")}),
    (_("Record"), {"fields": ("voided", "void_reason", "version", "created", "modified")}),
)  # fmt: skip


class ScreeningExamInline(ScreeningInline):
    model = ScreeningExam
    template = STACKED
    fieldsets = tuple(
        (title, {"fields": [f for f in opts["fields"] if f != "subject"]}) for title, opts in EXAM_FIELDSETS[:-1]
    )
    max_num = 1


OUTCOME_MARKS = {
    rules.MET: ("✔", "#2e7d32", _("met")),
    rules.NOT_MET: ("✘", "#c62828", _("not met")),
    rules.MISSING: ("?", "#757575", _("missing")),
}


@dataclass(frozen=True)
class CriterionRow:
    """One criterion as the screens show it: its code and words, the outcome by its mark and label, the reason in
    words."""

    code: str
    title: str
    outcome: str
    mark: str
    colour: str
    label: str
    reason: str


def criterion_rows(evaluation: rules.Evaluation) -> list[CriterionRow]:
    return [
        CriterionRow(c.code, i18n.translated(rules.CRITERION_TITLES.get(c.code, "")), c.outcome,
                     *OUTCOME_MARKS[c.outcome], i18n.translated(services.reason_in_words(c)))
        for c in evaluation.criteria
    ]  # fmt: skip


def eligibility_panel(request, subject) -> str:
    """Each criterion with a green, red or grey mark and its reason; the signed decision when there is one, else
    for an investigator the way to confirm it.

    Once decided, the criteria are shown as of the decision's screening date, not as today's data
    (months of follow-up later) would judge them."""
    decision = (
        EligibilityDecision.objects.filter(subject=subject, voided=False)
        .select_related("decided_by", "signature")
        .first()
    )
    evaluation = services.evaluate_subject(subject, decision.evaluation_date if decision else None)
    may_confirm = decision is None and subject.status == Subject.Status.SCREENING
    context = {"evaluation": evaluation, "rows": criterion_rows(evaluation), "decision": decision,
               "subject": subject, "signed": _decision_signed(decision, subject),
               "confirm_url": reverse("admin:edc_subject_eligibility", args=[subject.pk]) if may_confirm else "",
               "can_confirm": roles.has_any_role(request.user, roles.SIGNERS)}  # fmt: skip
    return render_to_string("admin/screening/eligibility_panel.html", context, request=request)


def _decision_signed(decision: EligibilityDecision | None, subject: Subject) -> str:
    if decision is None or decision.signature is None:
        return ""
    return edc_admin.signature_lines([decision.signature], edc_admin.site_zone(subject))[0]


# --- The investigator's confirmation (the same service as the API's `eligibility/confirm/`) ---------------


class ConfirmEligibilityForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        help_text=_("Your password, asked again for every signature."),
    )
    # The criteria the page showed: signing is refused when the data changed since (the investigator signs what
    # was shown, not what someone entered meanwhile).
    shown = forms.CharField(widget=forms.HiddenInput)


CRITERIA_CHANGED = _("The criteria changed since this page was opened; check them again below before you sign.")


def snapshot_key(evaluation: rules.Evaluation) -> str:
    shown = json.dumps(evaluation.as_dict(), sort_keys=True, default=str)
    return hashlib.sha256(shown.encode()).hexdigest()


def confirm_eligibility_view(request, subject):
    """The criteria snapshot, the attestation and the password; an investigator's signature records the decision
    and moves the subject to ENROLLED or SCREEN_FAILED (`services.confirm_eligibility`)."""
    evaluation = services.evaluate_subject(subject)
    form = ConfirmEligibilityForm(request.POST or None, initial={"shown": snapshot_key(evaluation)})
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["shown"] != snapshot_key(evaluation):
            form.add_error(None, CRITERIA_CHANGED)
        else:
            try:
                services.confirm_eligibility(subject, user=request.user, password=form.cleaned_data["password"],
                                             evaluation_date=evaluation.evaluation_date)  # fmt: skip
            except ValidationError as error:
                _refusal_on_form(form, error, evaluation)
            else:
                confirmed = gettext("Eligibility of %(subject)s confirmed: %(status)s.")
                messages.success(request, confirmed % {"subject": subject, "status": subject.get_status_display()})
                return redirect(reverse("admin:edc_subject_change", args=[subject.pk]))
    return TemplateResponse(request, "admin/screening/confirm_eligibility.html",
                            _confirm_context(request, subject, evaluation, form))  # fmt: skip


def _refusal_on_form(form, error: ValidationError, evaluation: rules.Evaluation) -> None:
    if "criteria" in error.message_dict:  # the API's message names codes; the page shows the criteria in words
        missing = len(evaluation.missing_criteria)
        # One message for each English number (the catalogue holds no plural forms; Chinese has one).
        one = gettext("%(count)d criterion is missing data (marked ? below); enter it on the screening CRFs first. "
                      "Nothing was signed.")  # fmt: skip
        more = gettext("%(count)d criteria are missing data (marked ? below); enter it on the screening CRFs first. "
                       "Nothing was signed.")  # fmt: skip
        refusal = one if missing == 1 else more
        form.add_error(None, refusal % {"count": missing})
        return
    edc_admin.add_errors(form, error)


# The evaluation's outcome in words (eligible True/False, None while criteria miss inputs).
OUTCOME_WORDS = {True: edc_rules.N_("eligible"), False: edc_rules.N_("not eligible"), None: edc_rules.N_("incomplete")}


def _confirm_context(request, subject, evaluation, form) -> dict:
    decision = EligibilityDecision.objects.filter(subject=subject, voided=False).first()
    zone = edc_admin.site_zone(subject)
    outcome = OUTCOME_WORDS[evaluation.eligible]
    what = edc_rules.Message("the eligibility of {subject} ({outcome}, screening date {date})", subject=str(subject),
                             outcome=outcome, date=f"{evaluation.evaluation_date:%Y-%m-%d}")  # fmt: skip
    signed_at = f"{timezone.localtime(timezone=zone):%Y-%m-%d %H:%M} ({zone.key})"
    signer = edc_services.printed_name(request.user)
    attestation = i18n.translated(edc_rules.attestation_text(edc_rules.ELIGIBILITY_CONFIRMED, what=what,
                                                             signed_at=signed_at, printed_name=signer))  # fmt: skip
    title = gettext("Confirm the eligibility of %(subject)s") % {"subject": subject}
    return {**admin.site.each_context(request), "title": title, "form": form,
            "subject": subject, "evaluation": evaluation, "rows": criterion_rows(evaluation), "decision": decision,
            "outcome": i18n.translated(outcome), "attestation": attestation, "opts": Subject._meta,
            "may_confirm": decision is None and subject.status == Subject.Status.SCREENING}  # fmt: skip


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

    @admin.display(description=_("SLICC 2012"), boolean=True)
    def slicc_classified(self, history):
        return rules.slicc_classification(history.slicc_criteria, history.biopsy_lupus_nephritis)[0]


@admin.register(Medication)
class MedicationAdmin(DoseAsTypedMixin, ScreeningCrfAdmin):
    list_display = ("subject", "drug", "category", "indication", "dose_shown", "route", "start_date", "stop_date")
    list_filter = ("category", "indication", "route", "voided", "subject__site")
    search_fields = ("subject__subject_id", "drug")
    readonly_fields = (*edc_admin.CrfAdmin.readonly_fields, "treats")
    fields = ("subject", "drug", "category", "indication", "dose_mg_per_day", "route", "start_date",
              "dose_stable_since", "stop_date", "treats", "voided", "void_reason", "version", "created", "modified",
              "change_reason", "opened_version")  # fmt: skip

    @admin.display(description=_("dose (mg/day)"), ordering="dose_mg_per_day")
    def dose_shown(self, medication):
        return "—" if medication.dose_mg_per_day is None else as_typed(medication.dose_mg_per_day)

    @admin.display(description=_("adverse event treated"))
    def treats(self, medication):
        if not medication.pk:
            return "—"
        treated = services.treated_events(medication.subject_id)
        return treated.get(medication.pk, gettext("— (linked on the adverse event's page)"))


# The SELENA-SLEDAI activity band by its code (the code itself in English, as the screens have always shown it).
ACTIVITY_BANDS = {"NONE": _("NONE"), "MILD": _("MILD"), "MODERATE": _("MODERATE"), "HIGH": _("HIGH")}


@admin.register(SledaiAssessment)
class SledaiAssessmentAdmin(ScreeningCrfAdmin):
    list_display = ("subject", "assessment_date", "visit", "total", "clinical", "serological", "activity", "pga")
    list_filter = ("voided", "subject__site")
    list_select_related = ("subject", "visit__subject")
    readonly_fields = (*edc_admin.CrfAdmin.readonly_fields, "total", "clinical", "serological", "activity",
                       "lab_suggestions")  # fmt: skip
    date_hierarchy = "assessment_date"

    @admin.display(description=_("activity"))
    def activity(self, assessment):
        return ACTIVITY_BANDS[assessment.activity]

    @admin.display(description=_("suggested from labs (10 days before)"))
    def lab_suggestions(self, assessment):
        if not assessment.pk:
            return "—"
        found = services.sledai_suggestions(assessment.subject, assessment.assessment_date)
        shown = ((s.descriptor, i18n.translated(s.reason)) for s in found)
        return format_html_join("", "<div><b>{}</b>: {}</div>", shown) or gettext("none")


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
SCREENING_CRFS = ((_("consent"), Consent), (_("SLE history"), SleHistory), (_("screening exam"), ScreeningExam),
                  (_("SELENA-SLEDAI"), SledaiAssessment))  # fmt: skip


def eligibility_to_confirm(request) -> WorkList:
    """Subjects in screening with every screening CRF recorded and no eligibility decision yet, in two queries
    (the criteria themselves are evaluated on the subject page, a fixed number of queries per subject)."""
    live = {"subject": OuterRef("pk"), "voided": False}
    subjects = (
        roles.scope(Subject.objects.filter(status=Subject.Status.SCREENING, voided=False), request.user)
        .filter(*(Exists(model.objects.filter(**live)) for _name, model in SCREENING_CRFS))
        .exclude(Exists(EligibilityDecision.objects.filter(**live)))
        .order_by("subject_id")
    )
    recorded = gettext("%(crfs)s recorded") % {"crfs": ", ".join(str(name) for name, _model in SCREENING_CRFS)}
    items = [WorkItem(str(s), "eligibility", reverse("admin:edc_subject_eligibility", args=[s.pk]),
                      recorded) for s in subjects[:15]]  # fmt: skip
    return WorkList(items, subjects.count())
