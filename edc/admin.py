"""The site staff's screens. Every save goes through `edc.services`, like the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from edc import roles, services
from edc.models import DataQuery, LabResult, Lock, Signature, Site, SourceVerification, Subject, Visit

# The extension points of the kernel's screens: later apps fill them from their `hooks` module (layers: edc may
# not import them), in the order of INSTALLED_APPS.
SubjectPanel = Callable[[HttpRequest, Subject], str]
VisitPageView = Callable[["VisitAdmin", HttpRequest, Visit], HttpResponse]
_subject_inlines: list[type[admin.options.InlineModelAdmin]] = []
_subject_panels: list[tuple[str, SubjectPanel]] = []
_visit_pages: list[tuple[str, str, VisitPageView]] = []


def register_subject_inlines(*inlines: type[admin.options.InlineModelAdmin]) -> None:
    """Inlines shown on the subject page after the kernel's own (visits, lab results)."""
    _subject_inlines.extend(inlines)


def register_subject_panel(title: str, render: SubjectPanel) -> None:
    """A function (request, subject) -> HTML shown as a titled panel on the subject page."""
    _subject_panels.append((title, render))


def register_visit_page(slug: str, link_text: str, view: VisitPageView) -> None:
    """A page of one visit at `<pk>/<slug>/` (url name `edc_visit_<slug>`), linked from the visit list and form;
    `view(model_admin, request, visit)` answers it, with the visit admin's roles and site scope already checked
    (`AdminPagesMixin.admin_page`): reads need its read roles, a POST its write roles."""
    _visit_pages.append((slug, link_text, view))


STALE_FORM = (
    "This record was changed by someone else (now version {current}, you opened version {opened}). "
    "Reload the page, check their change and enter yours again."
)


class CrfAdminForm(forms.ModelForm):
    """Adds the reason for change and the version the form was opened at; runs the CRF's rules."""

    change_reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required for every change."
    )
    opened_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["change_reason"].required = True
            self.fields["opened_version"].initial = self.instance.version

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        if self.instance.pk:
            current = type(self.instance).objects.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            opened = self.cleaned_data.get("opened_version")
            if opened is not None and current != opened:
                self.add_error(None, STALE_FORM.format(current=current, opened=opened))
                return
        try:
            services.validate_crf(self.instance)
        except ValidationError as error:
            self._update_errors(error)


class CrfInlineForm(forms.ModelForm):
    def _post_clean(self):
        super()._post_clean()
        if not self.errors and self.has_changed():
            try:
                services.validate_crf(self.instance)
            except ValidationError as error:
                self._update_errors(error)


class AdminPagesMixin:
    """The one policy of every admin page beyond Django's own, the API's: `roles.may_request` (reads need one of
    `read_roles`, writes one of `write_roles`, else 403), then the admin's site-scoped queryset (another site's
    row is a 404, as is a row that does not exist; Django's admin would redirect to the index)."""

    read_roles = roles.CLINICAL_READERS
    write_roles = roles.DATA_ENTRY

    def admin_page(self, route: str, view, name: str, *, read_roles=None, write_roles=None):
        """A custom page of this admin: `view(request, **kwargs)`, or `view(request, row, **kwargs)` when the route
        takes a `<pk>`; the admin's own `read_roles`/`write_roles` unless the page names its own."""
        return path(route, self.admin_site.admin_view(self.checked(view, read_roles, write_roles)), name=name)

    def checked(self, view, read_roles=None, write_roles=None):
        @wraps(view)
        def checked_view(request, pk=None, **kwargs):
            self.check_roles(request, read_roles, write_roles)
            if pk is None:
                return view(request, **kwargs)
            return view(request, self.scoped_object(request, pk), **kwargs)

        return checked_view

    def check_roles(self, request, read_roles=None, write_roles=None) -> None:
        read = self.read_roles if read_roles is None else read_roles
        write = self.write_roles if write_roles is None else write_roles
        if not roles.may_request(request.user, request.method, read, write):
            raise PermissionDenied(f"your role does not allow this page ({request.method} {request.path})")

    def scoped_object(self, request, pk):
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django's change, delete and history pages redirect to the index for a row they cannot load.
        raise Http404(f"no {opts.verbose_name} {object_id} at your sites")


class ScopedAdminMixin(AdminPagesMixin):
    """Site scoping and role checks shared by model admins and inlines."""

    def get_queryset(self, request):
        return roles.scope(super().get_queryset(request), request.user)

    def has_module_permission(self, request):
        # Roles are groups without Django model permissions: the default check would hide the
        # model from the admin index and sidebar (a monitor would not find the data queries).
        return roles.has_any_role(request.user, self.read_roles)

    def has_view_permission(self, request, obj=None):
        return roles.has_any_role(request.user, self.read_roles)

    def has_add_permission(self, request, obj=None):
        return roles.has_any_role(request.user, self.write_roles)

    def has_change_permission(self, request, obj=None):
        return roles.has_any_role(request.user, self.write_roles)

    def has_delete_permission(self, request, obj=None):
        return False  # clinical rows are voided, never deleted

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "site_lookup"):
            kwargs["queryset"] = roles.scope(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedHistoryAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """django-simple-history's pages read the history table directly (a row of another site, or one no longer
    in the queryset, would show): they first pass the same role and site check as every other page."""

    def history_view(self, request, object_id, extra_context=None):
        self.check_roles(request, write_roles=frozenset())
        self.scoped_object(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.check_roles(request, write_roles=frozenset())  # history is looked at, never restored here
        self.scoped_object(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class CrfInline(ScopedAdminMixin, admin.TabularInline):
    form = CrfInlineForm
    extra = 0
    show_change_link = True
    readonly_fields = ("version",)


class RaiseQueryForm(forms.Form):
    target_field = forms.ChoiceField(label="Field")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, field_names, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_field"].choices = [(name, name) for name in field_names]


class SignForm(forms.Form):
    meaning = forms.ChoiceField(choices=Signature.Meaning.choices)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Your password, asked again for every signature.")


class CrfAdmin(ScopedHistoryAdmin):
    form = CrfAdminForm
    readonly_fields = ("version", "created", "modified")
    list_select_related = ("subject",)
    change_form_template = "admin/edc/crf_change_form.html"
    actions = ["mark_source_verified"]
    # Visits and subjects are what an investigator signs (a visit, or the whole casebook).
    signable = False

    def has_change_permission(self, request, obj=None):
        """A locked row is shown read-only until a data manager unlocks it."""
        if obj is not None and services.is_locked(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_sdv_permission(self, request):
        return roles.has_any_role(request.user, {roles.MONITOR})

    @admin.action(description="Mark source data verified (SDV)", permissions=["sdv"])
    def mark_source_verified(self, request, queryset):
        for row in queryset:
            services.verify_source(row, user=request.user)
        messages.success(request, f"{queryset.count()} record(s) marked verified.")

    def get_form(self, request, obj=None, change=False, **kwargs):
        """Each field with an open query shows a badge with the query's text."""
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            for query in services.open_queries_of(obj):
                field = form.base_fields.get(query.target_field) or form.base_fields.get(
                    query.target_field.removesuffix("_id")
                )
                if field is not None:
                    badge = format_html(
                        '<span class="query-badge" style="background:#ba2121;color:#fff;padding:1px 6px;'
                        'border-radius:8px">query {}: {}</span>',
                        query.status.lower(),
                        query.text,
                    )
                    field.help_text = format_html("{} {}", field.help_text, badge)
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "can_raise_query": roles.has_any_role(request.user, roles.QUERY_RAISERS),
            "can_sign": self.signable and roles.has_any_role(request.user, roles.SIGNERS),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        raisers, signers = roles.QUERY_RAISERS, roles.SIGNERS
        pages = [self.admin_page("<int:pk>/raise-query/", self.raise_query_view, f"{prefix}_raise_query",
                                 read_roles=raisers, write_roles=raisers)]  # fmt: skip
        if self.signable:
            pages.append(self.admin_page("<int:pk>/sign/", self.sign_view, f"{prefix}_sign", read_roles=signers,
                                         write_roles=signers))  # fmt: skip
        return [*pages, *super().get_urls()]

    def raise_query_view(self, request, row):
        field_names = [f.name for f in row._meta.concrete_fields if f.name not in services.BOOKKEEPING_FIELDS]
        form = RaiseQueryForm(request.POST or None, field_names=field_names)
        if request.method == "POST" and form.is_valid():
            try:
                services.open_query(
                    row, form.cleaned_data["target_field"], form.cleaned_data["text"], user=request.user
                )
            except PermissionDenied as error:
                raise PermissionDenied(str(error)) from None
            messages.success(request, "Query raised.")
            return redirect(_change_url(row))
        return self._action_page(request, row, form, f"Raise a query on {row}")

    def sign_view(self, request, row):
        form = SignForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.sign(
                    row, form.cleaned_data["meaning"], user=request.user, password=form.cleaned_data["password"]
                )
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(request, f"{row} signed.")
                return redirect(_change_url(row))
        return self._action_page(request, row, form, f"Sign {row}")

    def _action_page(self, request, row, form, title):
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "opts": self.model._meta,
                   "original": row}  # fmt: skip
        return TemplateResponse(request, "admin/edc/action_form.html", context)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return fields if obj is not None else [f for f in fields if f != "change_reason"]

    def save_model(self, request, obj, form, change):
        services.save_crf(
            obj,
            user=request.user,
            reason=form.cleaned_data.get("change_reason", ""),
            expected_version=form.cleaned_data.get("opened_version"),
        )

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change):
        """Inline rows are saved one by one through the service, with the page's reason."""
        reason = form.cleaned_data.get("change_reason", "")
        # The admin's change message reads these lists, which formset.save() would have filled.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or inline_form in formset.deleted_forms:
                continue
            is_new = inline_form.instance.pk is None
            row = services.save_crf(inline_form.save(commit=False), user=request.user, reason=reason)
            if is_new:
                formset.new_objects.append(row)
            else:
                formset.changed_objects.append((row, inline_form.changed_data))


def _change_url(row) -> str:
    return reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_change", args=[row.pk])


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


@admin.register(Subject)
class SubjectAdmin(CrfAdmin):
    list_display = ("subject_id", "site", "sex", "date_of_birth", "status", "audit_trail_link")
    list_filter = ("site", "status", "sex")
    search_fields = ("subject_id", "initials")
    list_select_related = ("site",)
    # The status changes only through its services (eligibility confirmation, the infusion), never typed.
    readonly_fields = ("subject_id", "status", *CrfAdmin.readonly_fields)
    fields = (
        "subject_id", "site", "sex", "date_of_birth", "childbearing_potential", "initials", "status",
        "voided", "void_reason", "version", "created", "modified", "change_reason", "opened_version",
    )  # fmt: skip
    inlines = [VisitInline, LabResultInline]
    change_form_template = "admin/edc/subject/change_form.html"
    signable = True

    def get_inlines(self, request, obj):
        return [*self.inlines, *_subject_inlines]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        subject = self.get_object(request, object_id)
        readable = subject is not None and self.has_view_or_change_permission(request, subject)
        panels = [(title, render(request, subject)) for title, render in _subject_panels] if readable else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "panels": panels})

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
        return [audit_trail, *super().get_urls()]

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


@admin.register(Visit)
class VisitAdmin(CrfAdmin):
    signable = True
    list_display = (
        "subject", "code", "planned_date", "window_start", "window_end", "visit_datetime", "window_mark", "status",
    )  # fmt: skip
    list_filter = ("code", "status", "subject__site")
    list_select_related = ("subject__site",)

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
        return (*super().get_list_display(request), *(["page_links"] if _visit_pages else []))

    @admin.display(description="pages")
    def page_links(self, visit):
        links = ((text, reverse(f"admin:edc_visit_{slug}", args=[visit.pk])) for slug, text, _ in _visit_pages)
        return format_html_join(" ", '<a href="{1}">{0}</a>', links)

    def get_urls(self):
        pages = [self.admin_page(f"<int:pk>/{slug}/", partial(view, self), f"edc_visit_{slug}")
                 for slug, _, view in _visit_pages]  # fmt: skip
        return [*pages, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pages = [(text, reverse(f"admin:edc_visit_{slug}", args=[object_id])) for slug, text, _ in _visit_pages]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "visit_pages": pages})


@admin.register(LabResult)
class LabResultAdmin(CrfAdmin):
    list_display = ("subject", "analyte", "value", "result_text", "unit", "lln", "uln", "sample_datetime", "voided")
    list_filter = ("analyte", "voided", "subject__site")
    search_fields = ("subject__subject_id", "lab_name")
    date_hierarchy = "sample_datetime"


class DescribedTargetsChangeList(ChangeList):
    """A list of queries, signatures or verifications whose page names what each is about (one query per kind of
    row, whatever the page size)."""

    def get_results(self, request):
        super().get_results(request)
        targets = services.describe_targets(self.result_list)
        for item in self.result_list:
            item.target = targets[(item.target_model, item.target_id)]


class DescribedTargetsMixin:
    """`about` in a list or on a page: subject's visit, CRF or test, and for a query the field with its value,
    linked to the field on the record's page."""

    def get_changelist(self, request, **kwargs):
        return DescribedTargetsChangeList

    @admin.display(description="about")
    def about(self, item):
        target = getattr(item, "target", None) or services.describe_targets([item])[(item.target_model, item.target_id)]
        field = getattr(item, "target_field", "")
        words = " · ".join(w for w in (target.visit, target.record) if w)
        if field:
            words = f"{words} · {target.field_label(field)} = {target.field_value(field)}"
        if target.row is None:
            return words
        anchor = f"#id_{field}" if field else ""
        return format_html('<a href="{}{}">{}</a>', _change_url(target.row), anchor, words)


class QueryForm(forms.ModelForm):
    class Meta:
        model = DataQuery
        fields = ("answer",)
        widgets = {"answer": forms.Textarea(attrs={"rows": 3})}


@admin.register(DataQuery)
class DataQueryAdmin(DescribedTargetsMixin, ScopedHistoryAdmin):
    """Staff answer through an answer-only form; monitors and data managers close or re-open. Who answered or
    closed, and when, are the services' to set."""

    form = QueryForm
    list_display = ("subject", "about", "text", "status", "raised_by", "age_days", "answer")
    list_select_related = ("subject", "raised_by")
    list_filter = ("status", "auto", "subject__site")
    search_fields = ("subject__subject_id", "text")
    fields = (
        "subject", "about", "text", "status", "auto", "raised_by", "created", "answer", "answered_by", "answered_at",
        "closed_by", "closed_at",
    )  # fmt: skip
    actions = ["close_queries", "reopen_queries"]
    write_roles = roles.CLINICAL_READERS
    change_form_template = "admin/edc/dataquery/change_form.html"

    def has_add_permission(self, request, obj=None):
        return False  # queries are opened on a field (API or the CRF page), not from a blank form

    def may_answer(self, request, query) -> bool:
        return roles.has_any_role(request.user, roles.DATA_ENTRY) and query.status != DataQuery.Status.CLOSED

    def get_readonly_fields(self, request, obj=None):
        answerable = obj is not None and self.may_answer(request, obj)
        return [name for name in self.fields if not (answerable and name == "answer")]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        query = self.get_object(request, object_id)
        if query is None:
            return super().change_view(request, object_id, form_url, extra_context)
        transition = next((t for t in ("_close", "_reopen") if t in request.POST), None)
        if request.method == "POST" and transition:
            self.check_roles(request)
            return self._transition(request, query, transition)
        is_raiser = roles.has_any_role(request.user, roles.QUERY_RAISERS)
        extra = {
            "can_answer": self.may_answer(request, query),
            "can_close": is_raiser and query.status != DataQuery.Status.CLOSED,
            "can_reopen": is_raiser and query.status != DataQuery.Status.OPEN,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def _transition(self, request, query, transition):
        service = services.close_query if transition == "_close" else services.reopen_query
        try:
            service(query, user=request.user)
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, f"Query {'closed' if transition == '_close' else 're-opened'}.")
        return redirect(request.path)

    @admin.display(description="age (days)")
    def age_days(self, query):
        return (timezone.now() - query.created).days

    def save_model(self, request, obj, form, change):
        try:
            services.answer_query(obj, form.cleaned_data.get("answer", ""), user=request.user)
        except (PermissionDenied, ValidationError) as error:  # shown to the user, nothing saved
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))

    @admin.action(description="Close the selected queries")
    def close_queries(self, request, queryset):
        self._each(request, queryset, services.close_query, "closed")

    @admin.action(description="Re-open the selected queries")
    def reopen_queries(self, request, queryset):
        self._each(request, queryset, services.reopen_query, "re-opened")

    def _each(self, request, queryset, service, done):
        count = 0
        for query in queryset:
            try:
                service(query, user=request.user)
            except (PermissionDenied, ValidationError) as error:  # one refusal does not stop the others
                messages.error(request, f"{query}: {error}")
            else:
                count += 1
        if count:
            messages.success(request, f"{count} query(ies) {done}.")


@admin.register(Signature)
class SignatureAdmin(DescribedTargetsMixin, ScopedHistoryAdmin):
    list_display = ("subject", "about", "meaning", "signed_by", "signed_at")
    list_filter = ("meaning",)
    list_select_related = ("subject", "signed_by")
    write_roles = frozenset()


@admin.register(SourceVerification)
class SourceVerificationAdmin(DescribedTargetsMixin, ScopedHistoryAdmin):
    list_display = ("subject", "about", "verified_version", "verified_by", "verified_at", "voided")
    list_filter = ("voided",)
    list_select_related = ("subject", "verified_by")
    write_roles = frozenset()


class LockForm(forms.ModelForm):
    class Meta:
        model = Lock
        fields = ("level", "subject", "visit", "reason", "unlock_reason")


@admin.register(Lock)
class LockAdmin(ScopedHistoryAdmin):
    """Data managers lock here; unlocking is a change with the unlock reason filled in."""

    form = LockForm
    list_display = ("__str__", "level", "active", "reason", "locked_by", "locked_at", "unlocked_by", "unlock_reason")
    list_filter = ("level", "active")
    list_select_related = ("subject", "visit__subject", "locked_by", "unlocked_by")
    write_roles = frozenset({roles.DATA_MANAGER})

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return roles.scope(queryset, request.user) | queryset.filter(level=Lock.Level.STUDY)

    def get_readonly_fields(self, request, obj=None):
        return ("level", "subject", "visit", "reason") if obj else ("unlock_reason",)

    def save_model(self, request, obj, form, change):
        if change:
            services.unlock(obj, reason=form.cleaned_data.get("unlock_reason", ""), user=request.user)
        else:
            data = form.cleaned_data
            services.lock(data["level"], subject=data.get("subject"), visit=data.get("visit"), reason=data["reason"],
                          user=request.user)  # fmt: skip


admin.site.site_header = "Meta10-19 EDC"
admin.site.site_title = "Meta10-19 EDC"
admin.site.index_title = "NCT06711146 data capture"
admin.site.site_url = None  # no "View site" link: the admin is the site (the API has no pages to view)
