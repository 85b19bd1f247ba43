"""Sites, subjects, visits and lab results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles, rules, services
from edc.admin.base import (
    CrfAdmin,
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


class OffStudyForm(forms.Form):
    date = forms.DateField(
        label=_("Date"), widget=widgets.AdminDateWidget, help_text=_("the day the subject left the study")
    )
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("withdrawal of consent, lost to follow-up, investigator's decision, death…"),
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

    def signatures_of(self, request, object_id):
        return None  # the Signatures panel lists the casebook's with its visits' and the eligibility decision's

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            services.register_subject(obj, user=request.user)

    @admin.display(description=_("audit trail"))
    def audit_trail_link(self, subject):
        url = reverse("admin:edc_subject_audit_trail", args=[subject.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("audit trail"))

    def get_urls(self):
        audit_trail = self.admin_page("<int:pk>/audit-trail/", self.audit_trail_view, "edc_subject_audit_trail",
                                      write_roles=frozenset())  # fmt: skip
        off_study = self.admin_page("<int:pk>/off-study/", self.off_study_view, "edc_subject_off_study",
                                    read_roles=roles.SIGNERS, write_roles=roles.SIGNERS)  # fmt: skip
        pages = [self.admin_page(f"<int:pk>/{slug}/", view, f"edc_subject_{slug.replace('-', '_')}",
                                 read_roles=read, write_roles=write)
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
                messages.success(request, gettext("{subject} taken off study.").format(subject=subject))
                return redirect(change_url(subject))
        return self._action_page(request, subject, form, gettext("Take {subject} off study").format(subject=subject))

    def audit_trail_view(self, request, subject):
        """The subject's trail, filtered (CRF, field, user, site dates) and paginated; values readable."""
        form = AuditTrailFilter(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Audit trail of {subject}").format(subject=subject),
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
            form.add_error(
                "page",
                gettext("page {number} is past the last page ({last})").format(number=number, last=paginator.num_pages),
            )
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
        return gettext("Nothing signed yet.")
    described = services.describe_targets(signatures)
    lines = signature_lines(signatures, site_zone(subject))
    over = (_signed_record(described[(s.target_model, s.target_id)]) for s in signatures)
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", zip(over, lines, strict=True))


def _signed_record(target: services.Target) -> str:
    visit = gettext("visit {name}").format(name=i18n.visit_name(target.visit)) if target.visit else ""
    return " ".join(part for part in (visit, target.record) if part) or gettext("a record no longer at your sites")


register_subject_panel(_("Signatures"), signatures_panel)
AUDIT_EVENTS_PER_PAGE = 50


class AuditTrailFilter(forms.Form):
    """The audit-trail page's filters (dates are the site's calendar days, both ends included) and its page,
    which the pagination links carry."""

    model = forms.ChoiceField(label=_("CRF"), required=False)
    field = forms.CharField(label=_("Field"), required=False, max_length=60, help_text=_("part of its name"))
    user = forms.CharField(label=_("User"), required=False, max_length=150, help_text=_("part of a username or name"))
    date_from = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        crfs = sorted((str(model._meta.verbose_name), model._meta.label_lower)
                      for model, _ in services.audited_models_of_subject())  # fmt: skip
        self.fields["model"].choices = [("", gettext("every CRF")), *((name, label) for label, name in crfs)]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error(
                "date_to",
                gettext("{end} is before the from date {start}").format(
                    end=f"{end:%Y-%m-%d}", start=f"{start:%Y-%m-%d}"
                ),
            )
        return cleaned

    def criteria(self) -> services.AuditFilter:
        values = self.cleaned_data
        return services.AuditFilter(model=values["model"], field=values["field"].strip(),
                                    user=values["user"].strip(), date_from=values["date_from"],
                                    date_to=values["date_to"])  # fmt: skip


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
        rows.append(VisitRow(i18n.visit_name(visit.code), visit_page_url(visit.pk), planned, window,
                             done_at, visit.get_status_display(), cell.label, window_mark(visit)))  # fmt: skip
    return rows


# The panels are kept until the subject's data change (the data version is in the key), a day at most.
PANEL_CACHE_SECONDS = 24 * 3600


def cached_panels(request, subject: Subject, version: services.DataVersion) -> list[tuple[str, str]]:
    """The registered panels' HTML, rendered once per version of the subject's data, site day and reader's roles
    (panels read only the subject's rows and today at its site; what they offer, such as "Confirm eligibility",
    depends on the reader's roles, never on the reader otherwise)."""
    # Today at the site and at the server (a panel may count days in either).
    today = f"{dashboard.site_today(subject.site.timezone)}|{timezone.localdate()}"
    # The reader's roles and language: the panels' offers and words depend on nothing else of the reader.
    reader = f"{','.join(sorted(roles.roles_of(request.user)))}|{get_language()}"
    digest = hashlib.sha256(f"{version.key}|{subject.site.timezone}|{today}|{reader}".encode()).hexdigest()[:32]

    def render_all():
        return [(str(title), render(request, subject)) for title, render in subject_panels()]

    return cache.get_or_set(f"subject-panels:{subject.pk}:{digest}", render_all, PANEL_CACHE_SECONDS)


def lab_results_link(subject: Subject, count: int) -> str:
    """ "lab results (N)" to the subject's results on their own paged list (all of them, voided ones too)."""
    url = f"{reverse('admin:edc_labresult_changelist')}?subject__id__exact={subject.pk}"
    return format_html('<a href="{}">{}</a>', url, gettext("lab results ({count})").format(count=count))


def window_mark(visit: Visit) -> str:
    """In window, or early/late by so many days, for a done visit with a window; "—" otherwise."""
    window = visit.window
    if window is None:
        return "—"
    if window.status == "IN_WINDOW":
        return format_html('<span style="color:#2e7d32">{}</span>', gettext("✔ in window"))
    words = gettext("early") if window.status == "EARLY" else gettext("late")
    late_by = gettext("✘ {early_or_late} by {days} d").format(early_or_late=words, days=window.days_outside)
    return format_html('<span style="color:#ba2121">{}</span>', late_by)


class DashboardFilter(forms.Form):
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, label=_("Site"), empty_label=_("all your sites")
    )
    status = forms.ChoiceField(choices=[("", _("every status")), *Subject.Status.choices], required=False,
                               label=_("subject status"))  # fmt: skip

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites


# What a dashboard cell shows besides its colour (the legend says it in words too).
CELL_TEXT = {"SCHEDULED": _("sched"), "DUE": _("due"), "OVERDUE": _("late"), "MISSED": _("missed"),
             "DONE": _("done"), "QUERIES": _("query"), "VERIFIED": _("SDV"), "SIGNED": _("signed"),
             "LOCKED": _("locked")}  # fmt: skip


class VisitChangeList(ChangeList):
    """The visit list, each visit with its SDV counts (correlated subqueries of the one list query)."""

    def get_queryset(self, request, exclude_parameters=None):
        return dashboard.with_sdv(super().get_queryset(request, exclude_parameters))


@admin.register(Visit)
class VisitAdmin(CrfAdmin):
    signable = True
    list_display = (
        "subject", "code", "planned_date", "window_dates", "visit_datetime", "window_mark", "status", "sdv_mark",
    )  # fmt: skip
    list_filter = ("code", "status", "subject__site")
    list_select_related = ("subject__site",)

    def get_changelist(self, request, **kwargs):
        return VisitChangeList

    @admin.display(description=_("SDV"))
    def sdv_mark(self, visit):
        """How many of the visit's rows (the visit and its results) stand verified: "✔ all 5", "2 of 5", "—"."""
        verified, rows = int(visit.visit_verified) + visit.results_verified, 1 + visit.result_rows
        if verified == rows:
            return format_html('<span style="color:#2e7d32">{}</span>', gettext("✔ all {rows}").format(rows=rows))
        return gettext("{verified} of {rows}").format(verified=verified, rows=rows) if verified else "—"

    @admin.action(description=_("Verify the selected visits with their results (SDV)"), permissions=["sdv"])
    def mark_source_verified(self, request, queryset):
        """On visits, SDV covers each visit and its results (`services.verify_visit`)."""
        visits = list(queryset)
        records = sum(len(services.verify_visit(visit, user=request.user)) for visit in visits)
        done = gettext("{visits} visit(s) verified with their results ({records} record(s)).")
        messages.success(request, done.format(visits=len(visits), records=records))

    # Computed by the schedule from the infusion date: never typed.
    readonly_fields = (*CrfAdmin.readonly_fields, "planned_date", "window_start", "window_end")

    @admin.display(description=_("window"), ordering="window_start")
    def window_dates(self, visit):
        """The window around the planned date in days, "±1 d" or "−2 / +7 d" (its dates when pointed at): one
        short column where two columns of dates pushed the status off the page."""
        if not (visit.window_start and visit.window_end and visit.planned_date):
            return "—"
        before, after = (visit.planned_date - visit.window_start).days, (visit.window_end - visit.planned_date).days
        if before == after == 0:
            days = gettext("that day")
        elif before == after:
            days = gettext("±{days} d").format(days=before)
        else:
            days = gettext("−{before} / +{after} d").format(before=before, after=after)
        dates = f"{formats.date_format(visit.window_start)} – {formats.date_format(visit.window_end)}"
        return format_html('<span title="{}">{}</span>', dates, days)

    @admin.display(description=_("in window"))
    def window_mark(self, visit):
        return window_mark(visit)

    search_fields = ("subject__subject_id",)

    def get_list_display(self, request):
        return (*super().get_list_display(request), *(["page_links"] if visit_pages() else []))

    @admin.display(description=_("pages"))
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
            done = gettext("{visit} verified against source: the visit and its results, {records} record(s).")
            messages.success(request, done.format(visit=visit, records=len(verified)))
            return redirect(back or visit_page_url(visit.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Verify {visit} against source").format(visit=visit),
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
        legend = [(state, i18n.translated(label), i18n.translated(meaning), CELL_TEXT[state], grid.counts[state])
                  for state, label, meaning in rules.VISIT_STATES]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Study status"),
            "opts": self.model._meta,
            "form": form,
            "codes": [(code, i18n.visit_name(code)) for code in grid.codes],
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


def typed_or_dash(value) -> str:
    return "—" if value is None else rules.as_typed(value)


@admin.register(LabResult)
class LabResultAdmin(CrfAdmin):
    """Results on their own paged list (the subject page links here, filtered by its subject)."""

    list_display = ("subject", "analyte", "value_shown", "result_text", "unit", "lln_shown", "uln_shown",
                    "sample_datetime", "voided")  # fmt: skip
    list_select_related = ("subject",)

    @admin.display(description=_("value"), ordering="value")
    def value_shown(self, result):
        return gettext("not detected") if result.not_detected else typed_or_dash(result.value)

    @admin.display(description=_("LLN"), ordering="lln")
    def lln_shown(self, result):
        return typed_or_dash(result.lln)

    @admin.display(description=_("ULN"), ordering="uln")
    def uln_shown(self, result):
        return typed_or_dash(result.uln)

    list_filter = ("analyte", "voided", "subject__site")
    search_fields = ("subject__subject_id", "lab_name")
    date_hierarchy = "sample_datetime"
