"""Sites, subjects, visits and lab results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from edc import roles, rules, services
from edc.admin.base import (
    CrfAdmin,
    ScopedAdminMixin,
    change_url,
    subject_inlines,
    subject_pages,
    subject_panels,
    visit_page_url,
    visit_pages,
)
from edc.models import LabResult, Site, Subject, Visit
from edc.services import dashboard


@admin.register(Site)
class SiteAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Every role sees its own sites; only a superuser adds or changes one (its users)."""

    list_display = ("code", "name", "timezone")
    filter_horizontal = ("users",)
    read_roles = roles.ALL_ROLES
    write_roles = frozenset()


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
    change_form_template = "admin/edc/subject/change_form.html"
    signable = True

    def get_inlines(self, request, obj):
        """The registered inlines, on an existing subject's page only. Visits and lab results are not inlines: a
        form per visit and every result would grow the page with the follow-up (`visit_rows`, `lab_results_link`)."""
        return [*self.inlines, *subject_inlines()] if obj is not None else list(self.inlines)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("site")  # its timezone dates every panel

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        """The subject's own screens under its form (the row Django loaded and checked: no second query)."""
        if obj is not None and obj.pk:
            version = services.data_version(obj)
            context.update(panels=cached_panels(request, obj, version), visit_rows=visit_rows(obj),
                           lab_results_link=lab_results_link(obj, version.rows[LabResult]))  # fmt: skip
        return super().render_change_form(request, context, add, change, form_url, obj)

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
        pages = [self.admin_page(f"<int:pk>/{slug}/", view, f"edc_subject_{slug.replace('-', '_')}",
                                 write_roles=frozenset())
                 for slug, view in subject_pages()]  # fmt: skip
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
        context = {
            **self.admin_site.each_context(request),
            "title": f"Audit trail of {subject}",
            "subject": subject,
            "opts": self.model._meta,
            "events": services.audit_trail(subject),
            "site_timezone": subject.site.timezone,
            "csv_url": reverse("subject-audit-trail", kwargs={"subject_id": subject.subject_id}),
        }
        return TemplateResponse(request, "admin/edc/audit_trail.html", context)


@dataclass(frozen=True)
class VisitRow:
    """A line of the subject page's visit grid, as site staff read it (site dates, labels, not codes)."""

    name: str
    url: str
    planned: str
    window: str
    done_at: str
    status: str
    state: str
    window_mark: str


def visit_rows(subject: Subject) -> list[VisitRow]:
    """The subject's visits, read-only, each linked to its CRF page: one query for any length of follow-up."""
    tz = ZoneInfo(subject.site.timezone)
    rows = []
    for cell in dashboard.subject_visits(subject):
        visit = cell.visit
        window = f"{visit.window_start} – {visit.window_end}" if visit.window_start and visit.window_end else "—"
        done_at = visit.visit_datetime.astimezone(tz).strftime("%Y-%m-%d %H:%M") if visit.visit_datetime else "—"
        planned = str(visit.planned_date) if visit.planned_date else "—"
        rows.append(VisitRow(rules.visit_name(visit.code), visit_page_url(visit.pk), planned, window,
                             done_at, visit.get_status_display(), cell.label, window_mark(visit)))  # fmt: skip
    return rows


# The panels are kept until the subject's data change (the data version is in the key), a day at most.
PANEL_CACHE_SECONDS = 24 * 3600


def cached_panels(request, subject: Subject, version: services.DataVersion) -> list[tuple[str, str]]:
    """The registered panels' HTML, rendered once per version of the subject's data and site day (panels read only
    the subject's rows, and today at its site; none shows what depends on who reads it)."""
    # Today at the site and at the server (a panel may count days in either).
    today = f"{dashboard.site_today(subject.site.timezone)}|{timezone.localdate()}"
    digest = hashlib.sha256(f"{version.key}|{subject.site.timezone}|{today}".encode()).hexdigest()[:32]

    def render_all():
        return [(title, render(request, subject)) for title, render in subject_panels()]

    return cache.get_or_set(f"subject-panels:{subject.pk}:{digest}", render_all, PANEL_CACHE_SECONDS)


def lab_results_link(subject: Subject, count: int) -> str:
    """ "lab results (N)" to the subject's results on their own paged list (all of them, voided ones too)."""
    url = f"{reverse('admin:edc_labresult_changelist')}?subject__id__exact={subject.pk}"
    return format_html('<a href="{}">lab results ({})</a>', url, count)


def window_mark(visit: Visit) -> str:
    """In window, or early/late by so many days, for a done visit with a window; "—" otherwise."""
    window = visit.window
    if window is None:
        return "—"
    if window.status == "IN_WINDOW":
        return format_html('<span style="color:#2e7d32">{}</span>', "✔ in window")
    return format_html('<span style="color:#ba2121">✘ {} by {} d</span>', window.status.lower(), window.days_outside)


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


@admin.register(Visit)
class VisitAdmin(CrfAdmin):
    signable = True
    list_display = (
        "subject", "code", "planned_date", "window_start", "window_end", "visit_datetime", "window_mark", "status",
    )  # fmt: skip
    list_filter = ("code", "status", "subject__site")
    list_select_related = ("subject__site",)

    # Computed by the schedule from the infusion date: never typed.
    readonly_fields = (*CrfAdmin.readonly_fields, "planned_date", "window_start", "window_end")

    @admin.display(description="window")
    def window_mark(self, visit):
        return window_mark(visit)

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
        return [status, *pages, *super().get_urls()]

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
        pages = [(text, reverse(f"admin:edc_visit_{slug}", args=[object_id])) for slug, text, _ in visit_pages()]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "visit_pages": pages})


def typed_or_dash(value) -> str:
    return "—" if value is None else rules.as_typed(value)


@admin.register(LabResult)
class LabResultAdmin(CrfAdmin):
    """Results on their own paged list (the subject page links here, filtered by its subject)."""

    list_display = ("subject", "analyte", "value_shown", "result_text", "unit", "lln_shown", "uln_shown",
                    "sample_datetime", "voided")  # fmt: skip
    list_select_related = ("subject",)

    @admin.display(description="value", ordering="value")
    def value_shown(self, result):
        return "not detected" if result.not_detected else typed_or_dash(result.value)

    @admin.display(description="LLN", ordering="lln")
    def lln_shown(self, result):
        return typed_or_dash(result.lln)

    @admin.display(description="ULN", ordering="uln")
    def uln_shown(self, result):
        return typed_or_dash(result.uln)

    list_filter = ("analyte", "voided", "subject__site")
    search_fields = ("subject__subject_id", "lab_name")
    date_hierarchy = "sample_datetime"
