"""Follow-up screens: adverse events, milestones, and the subject page's milestone panel."""

from dataclasses import dataclass, replace
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles
from edc import rules as edc_rules
from edc import services as edc_services
from edc.admin import CrfAdmin, CrfInline, ScopedHistoryAdmin, visit_page_url
from edc.admin.base import CrfInlineForm
from edc.models import DataQuery, Visit
from followup import admin_outcomes, rules, services
from followup.models import AdverseEvent, AdverseEventTreatment, Milestone, PrednisoneDose
from followup.visit_crf import CRF_LINES, VISIT_CRF, CrfLine
from screening.admin import descriptor_choices  # organs and descriptors in the reader's language


class TreatmentInlineForm(CrfInlineForm):
    def _post_clean(self):
        # A link is its event's subject's: set before the rules check that the medication is the same subject's.
        if self.instance.adverse_event_id:
            self.instance.subject_id = self.instance.adverse_event.subject_id
        super()._post_clean()


class TreatmentInline(CrfInline):
    """The medication-log entries given for this event, chosen among its subject's medications."""

    model = AdverseEventTreatment
    fk_name = "adverse_event"
    fields = ("medication", "version")
    verbose_name = _("medication given for this event")
    verbose_name_plural = _("treated with (medication log)")
    form = TreatmentInlineForm

    def get_queryset(self, request):
        # Django's inline asks for the view permission without the event here (above: the add page, no rows).
        rows = roles.scope(AdverseEventTreatment.objects.select_related("medication"), request.user)
        return rows if super().has_view_permission(request) else rows.none()

    def get_formset(self, request, obj=None, **kwargs):
        self.event = obj  # the select offers this event's subject's medications only
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "medication":
            field.queryset = field.queryset.filter(subject_id=self.event.subject_id, voided=False)
        return field

    # Linked on a stored event (the add page has no event yet to choose its subject's medications).
    def has_view_permission(self, request, obj=None):
        return obj is not None and super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return obj is not None and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is not None and super().has_change_permission(request, obj)


@admin.register(AdverseEvent)
class AdverseEventAdmin(CrfAdmin):
    list_display = ("subject", "term", "category", "onset_date", "resolution_date", "grade_shown", "serious_flag",
                    "relatedness")  # fmt: skip
    list_filter = ("category", "serious", "astct_grade", "ctcae_grade", "relatedness", "outcome", "pathogen_class")
    search_fields = ("subject__subject_id", "term", "organism")
    readonly_fields = (*CrfAdmin.readonly_fields, "astct_grade")
    inlines = [TreatmentInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "subject",
                    "term",
                    "category",
                    "onset_date",
                    "resolution_date",
                    "serious",
                    "relatedness",
                    "outcome",
                    "ctcae_grade",
                )
            },
        ),  # fmt: skip
        (_("CRS (ASTCT)"), {"fields": ("max_temperature_c", "hypotension", "hypoxia")}),
        (
            _("ICANS (ASTCT)"),
            {"fields": ("ice_score", "consciousness", "seizure", "motor_findings", "cerebral_oedema")},
        ),
        (_("Infection"), {"fields": rules.INFECTION_FIELDS, "description": _("For category Infection only.")}),
        (_("Computed"), {"fields": ("astct_grade", "version", "created", "modified")}),
        (_("Void"), {"fields": ("voided", "void_reason"), "classes": ("collapse",)}),
        (_("Reason for change"), {"fields": ("change_reason", "opened_version")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(name, {**opts, "fields": [f for f in opts["fields"] if f not in ("change_reason",)]})
                    for name, opts in self.fieldsets]  # fmt: skip
        return self.fieldsets

    @admin.display(description=_("grade"), ordering="astct_grade")
    def grade_shown(self, event):
        return event.grade

    @admin.display(description=_("serious"), boolean=False, ordering="serious")
    def serious_flag(self, event):
        if event.serious:
            return format_html('<strong style="color:#ba2121">{}</strong>', gettext("SAE"))
        return "—"


@admin.register(AdverseEventTreatment)
class AdverseEventTreatmentAdmin(CrfAdmin):
    """The links one by one (their history, voiding); they are made on the adverse event's page."""

    list_display = ("subject", "medication", "adverse_event")
    list_select_related = ("subject", "medication", "adverse_event")
    search_fields = ("subject__subject_id", "medication__drug", "adverse_event__term")


@admin.register(PrednisoneDose)
class PrednisoneDoseAdmin(CrfAdmin):
    list_display = ("subject", "visit", "prednisone_mg_per_day")
    list_select_related = ("subject", "visit__subject")  # a visit is shown with its subject
    search_fields = ("subject__subject_id",)


@admin.register(Milestone)
class MilestoneAdmin(ScopedHistoryAdmin):
    list_display = ("subject", "kind", "date", "visit", "raised_at", "revoked_at", "detail")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("subject__subject_id",)
    list_select_related = ("subject", "visit__subject")  # a visit is shown with its subject
    write_roles = frozenset()  # computed by the scan only


# What the subject page calls each milestone (its code is for the API and exports).
MILESTONE_NAMES = {
    Milestone.Kind.PCR_NEGATIVE_CONFIRMED: _("qPCR negativity confirmed"),
    Milestone.Kind.PCR_REEMERGENCE: _("qPCR re-emergence"),
    Milestone.Kind.MONTH_12: _("month 12"),
    Milestone.Kind.CONTRACEPTION_END: _("end of contraception"),
    Milestone.Kind.VISIT_OVERDUE: _("visit overdue"),
}


def milestones_panel(request, subject):
    status = services.subject_status(subject, timezone.localdate())
    status["contraception"] = status["contraception"] and i18n.translated(status["contraception"])
    status["pcr"] = i18n.translated(status["pcr"])
    rows = [(m, MILESTONE_NAMES.get(m.kind, m.get_kind_display())) for m in status["milestones"]]
    return render_to_string("admin/followup/milestones_panel.html", {**status, "rows": rows})


def follow_up_panel(request, subject):
    rows = [
        (replace(row, url=visit_page_url(row.visit.pk)), [_grid_cell(result) for result in row.values])
        for row in services.follow_up_grid(subject)
    ]
    analytes = [i18n.translated(edc_rules.ANALYTE_NAMES[code]) for code in services.GRID_ANALYTES]
    return render_to_string("admin/followup/follow_up_grid.html", {"rows": rows, "analytes": analytes})


def _grid_cell(result) -> str:
    """A result in the grid: ND when not detected, else the text or the number as typed."""
    if result is None:
        return ""
    if result.not_detected:
        return gettext("ND")
    return result.result_text or ("" if result.value is None else as_typed(result.value))


RANGE_LABELS = {"lln": "LLN", "uln": "ULN", "lloq": "LLOQ"}
FLAG_MARKS = {"LOW": "L", "HIGH": "H"}


def as_typed(value):
    """A stored number as site staff typed it: 1500, not 1500.000000 (the column keeps six decimals)."""
    return edc_rules.as_typed(value) if isinstance(value, Decimal) else value


def _number_field(**kwargs) -> forms.DecimalField:
    # Text, not <input type=number>: the browser would round, and refuse a comma before the server names the field.
    return forms.DecimalField(
        required=False, widget=forms.TextInput(attrs={"size": 8, "inputmode": "decimal"}), **kwargs
    )


@dataclass(frozen=True)
class CrfRow:
    line: CrfLine
    result: forms.BoundField
    others: list[forms.BoundField]
    query: DataQuery | None  # the open query on the value, if any
    flag: str  # "H" or "L" against the stored result's own reference range

    @property
    def query_text(self) -> str:
        return i18n.translated_query_text(self.query.text) if self.query else ""


def safety_panel(request, subject):
    """CAR-T safety (DOMAIN.md §9): the numbers as typed, each code spelt out."""
    summary = services.subject_safety(subject)
    return render_to_string("admin/followup/safety_panel.html", {"lines": safety_lines(summary)})


def _grade(grade, onset_day, none_text) -> str:
    if not grade:
        return none_text
    if onset_day is None:
        return gettext("grade {grade}").format(grade=grade)
    return gettext("grade {grade}, onset day {day}").format(grade=grade, day=onset_day)


def _grade_or(grade, none_text) -> str:
    return none_text if grade is None else gettext("grade {grade}").format(grade=grade)


def safety_lines(summary) -> list[tuple[str, str]]:
    """(label, text) per line of the safety panel, in the reader's language; none before the infusion."""
    if summary is None:
        return []
    s = summary
    lowest_igg = (
        gettext("no IgG after infusion") if s.igg_min is None
        else gettext("{value} g/L on day {day}").format(value=as_typed(s.igg_min), day=s.igg_min_day)
    )  # fmt: skip
    infections = gettext("{count} ({severe} of grade ≥ 3)").format(count=s.infections, severe=s.infections_grade3plus)
    pcr = (gettext("confirmed on {date}").format(date=s.pcr_negative_date) if s.pcr_negative_date
           else gettext("not confirmed"))  # fmt: skip
    return [
        (gettext("CRS (ASTCT)"), _grade(s.crs_max_grade, s.crs_onset_day, gettext("no CRS"))),
        (gettext("ICANS (ASTCT)"), _grade(s.icans_max_grade, s.icans_onset_day, gettext("no ICANS"))),
        (gettext("Early ICAHT (days 0–30)"), _grade_or(s.icaht_early_grade, gettext("no ANC result in days 0–30"))),
        (gettext("Days with ANC ≤ 0.5 × 10^9/L"), "—" if s.anc_le_0_5_days is None else str(s.anc_le_0_5_days)),
        (gettext("Late ICAHT (after day 30)"), _grade_or(s.icaht_late_grade, gettext("no ANC result after day 30"))),
        (gettext("Lowest IgG"), lowest_igg),
        (gettext("IVIG given"), gettext("yes") if s.ivig_given else gettext("no")),
        (gettext("Infections"), infections),
        (gettext("PCR negativity"), pcr),
    ]


class VisitCrfForm(forms.Form):
    """One visit's paper CRF: the visit, each result with its reference range, SLEDAI, prednisone."""

    visit_datetime = forms.SplitDateTimeField(
        required=False, widget=widgets.AdminSplitDateTime, label=_("Visit date and time")
    )
    status = forms.ChoiceField(choices=Visit.Status.choices, label=_("Status"))
    descriptors = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=descriptor_choices(),
        label=_("SELENA-SLEDAI descriptors present"),
    )  # fmt: skip
    pga = _number_field(max_digits=2, decimal_places=1, label=_("PGA (0–3)"))
    prednisone_mg_per_day = _number_field(max_digits=6, decimal_places=2, label=_("Prednisone-equivalent (mg/day)"))
    change_reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Change reason"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for line in CRF_LINES:
            for field in line.fields:
                self.fields[f"{line.analyte}__{field}"] = self._line_field(line, field)

    @staticmethod
    def _line_field(line: CrfLine, field: str) -> forms.Field:
        if field == "not_detected":
            return forms.BooleanField(required=False, label=_("not detected"))
        if field == "result_text":
            return forms.CharField(required=False, max_length=20, label=line.label,
                                   widget=forms.TextInput(attrs={"size": 8}))  # fmt: skip
        return _number_field(max_digits=20, decimal_places=6, label=RANGE_LABELS.get(field, line.label))

    def sections(self, own: dict, queries: dict) -> list[tuple[str, list[CrfRow]]]:
        """(title, rows) in the paper form's order; a row's flag is its stored result's (not what was just typed)."""
        return [
            (title, [self._row(line, own.get(line.analyte), queries) for line in lines]) for title, lines in VISIT_CRF
        ]

    def _row(self, line, stored, queries) -> CrfRow:
        fields = [self[f"{line.analyte}__{field}"] for field in line.fields]
        flag = edc_rules.reference_flag(stored.value, stored.lln, stored.uln) if stored else None
        query = queries.get(stored.pk) if stored else None
        return CrfRow(line, fields[0], fields[1:], query, FLAG_MARKS.get(flag, ""))

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(field id, what, message) for each refused field, in the page's order, for the links at the top."""
        summary = []
        for name, errors in self.errors.items():
            if name == "__all__":
                continue
            field = self[name]
            line = next((line for line in CRF_LINES if name.startswith(f"{line.analyte}__")), None)
            what = f"{line.label} — {field.label}" if line and field.label != line.label else field.label
            summary.extend((field.auto_id or "", what, message) for message in errors)
        return summary


def visit_crf_view(visit_admin, request, visit):
    """The follow-up visit CRF (`<pk>/crf/` of the kernel's visit admin), where site staff key a whole visit at
    once; saving goes through the services like every other page. The kernel has checked role and site."""
    own, previous = services.visit_crf_rows(visit)
    can_edit = visit_admin.has_change_permission(request, visit)
    form = VisitCrfForm(request.POST if request.method == "POST" else None, initial=_initial(visit, own, previous))
    if not can_edit:  # a reader sees the values, not inputs that look as if they could be saved
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(gettext("your role, or a lock, does not allow changes to this visit"))
        if form.is_valid():
            try:
                services.record_visit_crf(visit, form.cleaned_data, user=request.user,
                                          reason=form.cleaned_data["change_reason"])  # fmt: skip
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, gettext("{visit} saved.").format(visit=visit))
                return redirect(request.path)
    open_queries = DataQuery.objects.filter(
        target_model="edc.labresult", target_id__in=[r.pk for r in own.values()], target_field="value"
    ).exclude(status=DataQuery.Status.CLOSED)
    is_signer = roles.has_any_role(request.user, roles.SIGNERS)
    context = {
        **visit_admin.admin_site.each_context(request),
        "title": gettext("{subject} — visit {visit}").format(subject=visit.subject, visit=i18n.visit_name(visit.code)),
        "opts": visit_admin.model._meta,
        "original": visit,
        "form": form,
        "window": visit.window,
        "can_edit": can_edit,
        "sections": form.sections(own, {q.target_id: q for q in open_queries}),
        "outcome_lines": admin_outcomes.visit_outcome_lines(visit),
        "error_summary": form.error_summary() if form.is_bound else [],
        "attestation": edc_services.visit_attestation(visit),
        "medications": services.medications_on(visit),
        "add_medication_url": f"{reverse('admin:screening_medication_add')}?subject={visit.subject_id}",
        "sign_url": reverse("admin:edc_visit_sign", args=[visit.pk]) if is_signer else "",
        "verify_url": reverse("admin:edc_visit_verify", args=[visit.pk])
        if visit_admin.has_sdv_permission(request)
        else "",
        "site_timezone": visit.subject.site.timezone,
    }
    return TemplateResponse(request, "admin/followup/visit_crf.html", context)


def _initial(visit, own, previous) -> dict:
    from screening.models import SledaiAssessment

    initial = {"visit_datetime": visit.visit_datetime, "status": visit.status}
    for line in CRF_LINES:
        source = own.get(line.analyte)
        for field in line.fields:
            if source is not None:
                initial[f"{line.analyte}__{field}"] = as_typed(getattr(source, field))
            elif field in ("lln", "uln", "lloq") and line.analyte in previous:
                initial[f"{line.analyte}__{field}"] = as_typed(getattr(previous[line.analyte], field))  # lab's last
    assessment = SledaiAssessment.objects.filter(visit=visit, voided=False).first()
    if assessment:
        initial.update(descriptors=assessment.descriptors, pga=as_typed(assessment.pga))
    dose = PrednisoneDose.objects.filter(visit=visit, voided=False).first()
    if dose:
        initial["prednisone_mg_per_day"] = as_typed(dose.prednisone_mg_per_day)
    return initial


from followup import admin_exports  # noqa: E402,F401
