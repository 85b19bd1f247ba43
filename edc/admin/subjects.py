"""Sites, subjects, visits and lab results."""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from edc import roles, rules, services
from edc.admin.base import (
    CrfAdmin,
    CrfInline,
    ScopedAdminMixin,
    change_url,
    register_subject_panel,
    signature_lines,
    site_zone,
    subject_inlines,
    subject_pages,
    subject_panels,
    visit_page_url,
    visit_pages,
)
from edc.models import LabResult, Signature, Site, Subject, Visit
from edc.services import dashboard


@admin.register(Site)
class SiteAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Every role sees its own sites; only a superuser adds or changes one (its users)."""

    list_display = ("code", "name", "timezone")
    filter_horizontal = ("users",)
    read_roles = roles.ALL_ROLES
    write_roles = frozenset()


class VisitInline(CrfInline):
    model = Visit
    fields = ("code", "planned_date", "window_start", "window_end", "visit_datetime", "status", "version")


class LabResultInline(CrfInline):
    """Read-only under the subject (results are keyed on their own page or by the visit form): a
    visit dropdown per row would cost one query per result."""

    model = LabResult
    fields = ("analyte", "value", "result_text", "unit", "lln", "uln", "sample_datetime", "visit", "version")
    readonly_fields = fields
    ordering = ("sample_datetime",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("visit__subject")

    def has_add_permission(self, request, obj=None):
        return False


class OffStudyForm(forms.Form):
    date = forms.DateField(widget=widgets.AdminDateWidget, help_text="the day the subject left the study")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="withdrawal of consent, lost to follow-up, investigator's decision, death…",
    )


@admin.register(Subject)
class SubjectAdmin(CrfAdmin):
    list_display = ("subject_id", "site", "sex", "date_of_birth", "status", "audit_trail_link")
    list_filter = ("site", "status", "sex")
    search_fields = ("subject_id", "initials")
    list_select_related = ("site",)
    # The status changes only through its services (eligibility confirmation, the infusion, off study), never typed.
    readonly_fields = ("subject_id", "status", "off_study_date", "off_study_reason", *CrfAdmin.readonly_fields)
    fields = (
        "subject_id", "site", "sex", "date_of_birth", "childbearing_potential", "initials", "status",
        "off_study_date", "off_study_reason", "voided", "void_reason", "version", "created", "modified",
        "change_reason", "opened_version",
    )  # fmt: skip
    inlines = [VisitInline, LabResultInline]
    change_form_template = "admin/edc/subject/change_form.html"
    signable = True

    def get_inlines(self, request, obj):
        return [*self.inlines, *subject_inlines()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subject = self.get_object(request, object_id)
        readable = subject is not None and self.has_view_or_change_permission(request, subject)
        panels = [(title, render(request, subject)) for title, render in subject_panels()] if readable else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "panels": panels})

    def signatures_of(self, request, object_id):
        return None  # the Signatures panel lists the casebook's with its visits' and the eligibility decision's

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.register_subject(obj, user=request.user)

    @admin.display(description="audit trail")
    def audit_trail_link(self, subject):
        return format_html('<a href="{}">audit trail</a>', reverse("admin:edc_subject_audit_trail", args=[subject.pk]))

    def get_urls(self):
        audit_trail = self.admin_page("<int:pk>/audit-trail/", self.audit_trail_view, "edc_subject_audit_trail",
                                      write_roles=frozenset())  # fmt: skip
        off_study = self.admin_page("<int:pk>/off-study/", self.off_study_view, "edc_subject_off_study",
                                    read_roles=roles.SIGNERS, write_roles=roles.SIGNERS)  # fmt: skip
        pages = [self.admin_page(f"<int:pk>/{slug}/", view, f"edc_subject_{slug}", read_roles=read, write_roles=write)
                 for slug, view, read, write in subject_pages()]  # fmt: skip
        return [audit_trail, off_study, *pages, *super().get_urls()]

    def off_study_view(self, request, subject):
        form = OffStudyForm(request.POST or None, initial={"date": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                services.take_off_study(subject, user=request.user, on=form.cleaned_data["date"],
                                        reason=form.cleaned_data["reason"])  # fmt: skip
            except ValidationError as error:
                for field, messages_ in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages_)
            else:
                messages.success(request, f"{subject} taken off study.")
                return redirect(change_url(subject))
        return self._action_page(request, subject, form, f"Take {subject} off study")

    def audit_trail_view(self, request, subject):
        """The subject's trail, filtered (CRF, field, user, site dates) and paginated; values readable."""
        form = AuditTrailFilter(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Audit trail of {subject}",
            "subject": subject,
            "opts": self.model._meta,
            "form": form,
            "site_timezone": subject.site.timezone,
            "csv_url": reverse("subject-audit-trail", kwargs={"subject_id": subject.subject_id}),
        }
        if not form.is_valid():
            return TemplateResponse(request, "admin/edc/audit_trail.html", context, status=400)
        paginator = Paginator(services.filtered_audit_trail(subject, form.criteria()), AUDIT_EVENTS_PER_PAGE)
        number = form.cleaned_data["page"] or 1
        if number > paginator.num_pages:
            form.add_error("page", f"page {number} is past the last page ({paginator.num_pages})")
            return TemplateResponse(request, "admin/edc/audit_trail.html", context, status=400)
        page = paginator.page(number)
        filters = request.GET.copy()
        filters.pop("page", None)
        rows = services.readable(page.object_list, subject.site.timezone)
        numbers = paginator.get_elided_page_range(number, on_each_side=2, on_ends=1)
        context.update(page=page, page_numbers=list(numbers), rows=rows, filters=filters.urlencode())
        return TemplateResponse(request, "admin/edc/audit_trail.html", context)


def signatures_panel(request, subject) -> str:
    """Every live signature of the subject: what it is over, then its manifestation (meaning, printed name, date
    and time in site time)."""
    signatures = list(Signature.objects.filter(subject=subject, voided=False).select_related("signed_by"))
    if not signatures:
        return "Nothing signed yet."
    described = services.describe_targets(signatures)
    lines = signature_lines(signatures, site_zone(subject))
    over = (_signed_record(described[(s.target_model, s.target_id)]) for s in signatures)
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", zip(over, lines, strict=True))


def _signed_record(target: services.Target) -> str:
    parts = (f"visit {rules.visit_name(target.visit)}" if target.visit else "", target.record)
    return " ".join(part for part in parts if part) or "a record no longer at your sites"


register_subject_panel("Signatures", signatures_panel)
AUDIT_EVENTS_PER_PAGE = 50


class AuditTrailFilter(forms.Form):
    """The audit-trail page's filters (dates are the site's calendar days, both ends included) and its page,
    which the pagination links carry."""

    model = forms.ChoiceField(label="CRF", required=False)
    field = forms.CharField(required=False, max_length=60, help_text="part of its name")
    user = forms.CharField(required=False, max_length=150, help_text="part of a username or name")
    date_from = forms.DateField(label="from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        crfs = sorted((str(model._meta.verbose_name), model._meta.label_lower)
                      for model, _ in services.audited_models_of_subject())  # fmt: skip
        self.fields["model"].choices = [("", "every CRF"), *((name, label) for label, name in crfs)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", f"{end:%Y-%m-%d} is before the from date {start:%Y-%m-%d}")
        return cleaned

    def criteria(self) -> services.AuditFilter:
        values = self.cleaned_data
        return services.AuditFilter(model=values["model"], field=values["field"].strip(),
                                    user=values["user"].strip(), date_from=values["date_from"],
                                    date_to=values["date_to"])  # fmt: skip


class DashboardFilter(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="all your sites")
    status = forms.ChoiceField(choices=[("", "every status"), *Subject.Status.choices], required=False,
                               label="subject status")  # fmt: skip

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites


# What a dashboard cell shows besides its colour (the legend says it in words too).
CELL_TEXT = {"SCHEDULED": "sched", "DUE": "due", "OVERDUE": "late", "MISSED": "missed", "DONE": "done",
             "QUERIES": "query", "VERIFIED": "SDV", "SIGNED": "signed", "LOCKED": "locked"}  # fmt: skip


class VisitChangeList(ChangeList):
    """The visit list, each visit with its SDV counts (correlated subqueries of the one list query)."""

    def get_queryset(self, request, exclude_parameters=None):
        return dashboard.with_sdv(super().get_queryset(request, exclude_parameters))


@admin.register(Visit)
class VisitAdmin(CrfAdmin):
    signable = True
    list_display = (
        "subject", "code", "planned_date", "window_start", "window_end", "visit_datetime", "window_mark", "status",
        "sdv_mark",
    )  # fmt: skip
    list_filter = ("code", "status", "subject__site")
    list_select_related = ("subject__site",)

    def get_changelist(self, request, **kwargs):
        return VisitChangeList

    @admin.display(description="SDV")
    def sdv_mark(self, visit):
        """How many of the visit's rows (the visit and its results) stand verified: "✔ all 5", "2 of 5", "—"."""
        verified, rows = int(visit.visit_verified) + visit.results_verified, 1 + visit.result_rows
        if verified == rows:
            return format_html('<span style="color:#2e7d32">✔ all {}</span>', rows)
        return f"{verified} of {rows}" if verified else "—"

    @admin.action(description="Verify the selected visits with their results (SDV)", permissions=["sdv"])
    def mark_source_verified(self, request, queryset):
        """On visits, SDV covers each visit and its results (`services.verify_visit`)."""
        visits = list(queryset)
        records = sum(len(services.verify_visit(visit, user=request.user)) for visit in visits)
        messages.success(request, f"{len(visits)} visit(s) verified with their results ({records} record(s)).")

    @admin.display(description="window")
    def window_mark(self, visit):
        window = visit.window
        if window is None:
            return "—"
        if window.status == "IN_WINDOW":
            return format_html('<span style="color:#2e7d32">{}</span>', "✔ in window")
        return format_html(
            '<span style="color:#ba2121">✘ {} by {} d</span>', window.status.lower(), window.days_outside
        )

    search_fields = ("subject__subject_id",)

    def get_list_display(self, request):
        return (*super().get_list_display(request), *(["page_links"] if visit_pages() else []))

    @admin.display(description="pages")
    def page_links(self, visit):
        links = ((text, reverse(f"admin:edc_visit_{slug}", args=[visit.pk])) for slug, text, _ in visit_pages())
        return format_html_join(" ", '<a href="{1}">{0}</a>', links)

    def get_urls(self):
        pages = [self.admin_page(f"<int:pk>/{slug}/", partial(view, self), f"edc_visit_{slug}")
                 for slug, _, view in visit_pages()]  # fmt: skip
        status = self.admin_page("dashboard/", self.dashboard_view, "edc_visit_dashboard", write_roles=frozenset())
        monitors = frozenset({roles.MONITOR})
        verify = self.admin_page("<int:pk>/verify/", self.verify_view, "edc_visit_verify", read_roles=monitors,
                                 write_roles=monitors)  # fmt: skip
        return [status, verify, *pages, *super().get_urls()]

    def verify_view(self, request, visit):
        """ "Verify this visit (SDV)": a POST verifies the visit and its results and goes back to the page it came
        from; a GET asks for that POST, saying what it covers."""
        back = request.POST.get("next") or request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        if request.method == "POST":
            verified = services.verify_visit(visit, user=request.user)
            messages.success(request, f"{visit} verified against source: the visit and its results, "
                                      f"{len(verified)} record(s).")  # fmt: skip
            return redirect(back or visit_page_url(visit.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Verify {visit} against source",
            "opts": self.model._meta,
            "original": visit,
            "attestation": services.visit_attestation(visit),
            "next": back,
        }
        return TemplateResponse(request, "admin/edc/visit/verify.html", context)

    def dashboard_view(self, request):
        """The study status dashboard: subjects × visit codes, each cell the visit's state, linked to its page."""
        sites = roles.scope(Site.objects.all(), request.user).order_by("code")
        form = DashboardFilter(request.GET or None, sites=sites)
        subjects = roles.scope(Subject.objects.filter(voided=False), request.user)
        if form.is_valid():
            if form.cleaned_data["site"] is not None:
                subjects = subjects.filter(site=form.cleaned_data["site"])
            if form.cleaned_data["status"]:
                subjects = subjects.filter(status=form.cleaned_data["status"])
        grid = dashboard.study_grid(subjects)
        table = [
            (row.subject, change_url(row.subject), [
                None if cell is None else (cell, CELL_TEXT[cell.state], visit_page_url(cell.visit.pk))
                for cell in row.cells
            ])
            for row in grid.rows
        ]  # fmt: skip
        legend = [(state, label, meaning, CELL_TEXT[state], grid.counts[state])
                  for state, label, meaning in rules.VISIT_STATES]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": "Study status",
            "opts": self.model._meta,
            "form": form,
            "codes": [(code, rules.visit_name(code)) for code in grid.codes],
            "table": table,
            "legend": legend,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/edc/visit/dashboard.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():  # no such visit: Django's 404, not a link to a page that cannot exist
            return super().change_view(request, object_id, form_url, extra_context)
        pages = [(text, reverse(f"admin:edc_visit_{slug}", args=[object_id])) for slug, text, _ in visit_pages()]
        extra = {"visit_pages": pages, **(extra_context or {})}
        if self.has_sdv_permission(request):
            extra["verify_url"] = reverse("admin:edc_visit_verify", args=[object_id])
        return super().change_view(request, object_id, form_url, extra)


@admin.register(LabResult)
class LabResultAdmin(CrfAdmin):
    list_display = ("subject", "analyte", "value", "result_text", "unit", "lln", "uln", "sample_datetime", "voided")
    list_filter = ("analyte", "voided", "subject__site")
    search_fields = ("subject__subject_id", "lab_name")
    date_hierarchy = "sample_datetime"
