"""What every screen of the trial is built from: the kernel's extension points (later apps fill them from their
`hooks` module), the one page policy (role, then site), and the CRF admin whose saves go through `edc.services`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from edc import i18n, roles, rules, services
from edc.models import Signature, Subject, Visit

# The extension points of the kernel's screens: later apps fill them from their `hooks` module (layers: edc may
# not import them), in the order of INSTALLED_APPS.
SubjectPanel = Callable[[HttpRequest, Subject], str]
VisitPageView = Callable[[admin.ModelAdmin, HttpRequest, Visit], HttpResponse]  # the visit admin, request, visit
SubjectPageView = Callable[[HttpRequest, Subject], HttpResponse]
_subject_inlines: list[type[admin.options.InlineModelAdmin]] = []
_subject_panels: list[tuple[str, SubjectPanel]] = []
_visit_pages: list[tuple[str, str, VisitPageView]] = []
SubjectPageView = Callable[[HttpRequest, Subject], HttpResponse]
_subject_pages: list[tuple[str, SubjectPageView, frozenset, frozenset]] = []


@dataclass(frozen=True)
class WorkItem:
    """One thing to do on a home page's work list: whose, what (by the names site staff use) and where."""

    subject: str
    what: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class WorkList:
    """What a work-list provider answers: the first items, how many there are in all, and an optional summary
    line (counts by band) and link to the full list."""

    items: list[WorkItem]
    total: int
    summary: str = ""
    more_url: str = ""


WorkListProvider = Callable[[HttpRequest], WorkList]  # the request (its user's sites and roles) -> the list
_work_lists: list[tuple[str, str, WorkListProvider]] = []


@dataclass(frozen=True)
class HomeLink:
    """A page linked from the top of the home page, for the roles that may open it."""

    text: str
    url_name: str  # reversed without arguments
    note: str
    read_roles: frozenset[str]


_home_links: list[HomeLink] = []


def register_subject_inlines(*inlines: type[admin.options.InlineModelAdmin]) -> None:
    """Inlines shown on the subject page after the kernel's own (visits, lab results)."""
    _subject_inlines.extend(inlines)


def register_subject_panel(title: str, render: SubjectPanel) -> None:
    """A function (request, subject) -> HTML shown as a titled panel on the subject page. Panels are cached until
    the subject's data change (`services.data_version`) or its site's day does, one copy per set of reader's roles: a
    panel reads only the subject's own rows and today's date, and depends on the reader by their roles only."""
    _subject_panels.append((title, render))


def register_visit_page(slug: str, link_text: str, view: VisitPageView) -> None:
    """A page of one visit at `<pk>/<slug>/` (url name `edc_visit_<slug>`), linked from the visit list and form;
    `view(model_admin, request, visit)` answers it, with the visit admin's roles and site scope already checked
    (`AdminPagesMixin.admin_page`): reads need its read roles, a POST its write roles."""
    _visit_pages.append((slug, link_text, view))


def register_subject_page(slug: str, view: SubjectPageView, *, read_roles: frozenset, write_roles: frozenset) -> None:
    """A page of one subject at `edc/subject/<pk>/<slug>/` (url name `edc_subject_<slug>`): `view(request,
    subject)` answers it once the roles (reads `read_roles`, a POST `write_roles`) and the site are checked."""
    _subject_pages.append((slug, view, read_roles, write_roles))


def register_work_list(role: str, title: str, provider: WorkListProvider) -> None:
    """A titled work list on the home page (the admin index) of users with `role`; `provider(request)` answers a
    `WorkList` of the user's sites in a fixed number of queries (the home page asserts no query per item)."""
    _work_lists.append((role, title, provider))


def register_home_link(read_roles, text: str, url_name: str, note: str = "") -> None:
    """A button on the home page to the page `url_name`, shown to users with one of `read_roles` (the page's
    own, so that no one is shown a link to a 403), with a line saying what is there."""
    _home_links.append(HomeLink(text, url_name, note, frozenset(read_roles)))


# What the kernel's screens read back; through these, so that what is registered at call time is what shows.
def subject_inlines() -> list[type[admin.options.InlineModelAdmin]]:
    return _subject_inlines


def subject_panels() -> list[tuple[str, SubjectPanel]]:
    return _subject_panels


def visit_pages() -> list[tuple[str, str, VisitPageView]]:
    return _visit_pages


def subject_pages() -> list[tuple[str, SubjectPageView, frozenset, frozenset]]:
    return _subject_pages


def work_lists() -> list[tuple[str, str, WorkListProvider]]:
    return _work_lists


def home_links() -> list[HomeLink]:
    return _home_links


def visit_page_url(visit_pk: int) -> str:
    """Where a visit is opened from a list: its CRF page when an app registered one (`register_visit_page("crf",
    …)`), else the visit's change page."""
    if any(slug == "crf" for slug, _, _ in visit_pages()):
        return reverse("admin:edc_visit_crf", args=[visit_pk])
    return reverse("admin:edc_visit_change", args=[visit_pk])


STALE_FORM = _(
    "This record was changed by someone else (now version {current}, you opened version {opened}). "
    "Reload the page, check their change and enter yours again."
)


class CrfAdminForm(forms.ModelForm):
    """Adds the reason for change and the version the form was opened at; runs the CRF's rules."""

    change_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Change reason"),
        help_text=_("Required for every change."),
    )
    opened_version = forms.IntegerField(label=_("Opened version"), required=False, widget=forms.HiddenInput)

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
                self.add_error(None, str(STALE_FORM).format(current=current, opened=opened))
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
            raise PermissionDenied(
                gettext("your role does not allow this page ({method} {path})").format(
                    method=request.method, path=request.path
                )
            )

    def scoped_object(self, request, pk):
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django's change, delete and history pages redirect to the index for a row they cannot load.
        raise Http404(gettext("no {name} {pk} at your sites").format(name=opts.verbose_name, pk=object_id))


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


def is_locked_for(request, row) -> bool:
    """`services.is_locked(row)`, read once per request: Django asks for the change permission half a dozen times
    a page."""
    seen = request.__dict__.setdefault("_edc_locked", {})
    key = (row._meta.label, row.pk)
    if key not in seen:
        seen[key] = services.is_locked(row)
    return seen[key]


class CrfInline(ScopedAdminMixin, admin.TabularInline):
    form = CrfInlineForm
    extra = 0
    show_change_link = True
    readonly_fields = ("version",)

    def get_queryset(self, request):
        # Each row's label names its subject: loaded with the rows, not once per row.
        return super().get_queryset(request).select_related("subject")

    def has_add_permission(self, request, obj=None):
        # `obj` is the page's row (the subject): its rows are read-only while it is locked, as it is.
        return not (obj is not None and is_locked_for(request, obj)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and is_locked_for(request, obj)) and super().has_change_permission(request, obj)


class RaiseQueryForm(forms.Form):
    target_field = forms.ChoiceField(label=_("Field"))
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, field_names, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_field"].choices = [(name, name) for name in field_names]


class SignForm(forms.Form):
    """The meanings that fit what is signed, the password asked again, and when queries are not closed over it an
    explicit "sign despite" (the service refuses without it, as the API does)."""

    meaning = forms.ChoiceField(label=_("Meaning"))
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        help_text=_("Your password, asked again for every signature."),
    )

    def __init__(self, *args, meanings, open_queries: int, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Signature.Meaning.choices)
        self.fields["meaning"].choices = [(meaning, labels[meaning]) for meaning in meanings]
        if open_queries:
            self.fields["over_open_queries"] = forms.BooleanField(
                label=gettext("Sign despite 1 open query")
                if open_queries == 1
                else gettext("Sign despite {count} open queries").format(count=open_queries),
                help_text=_("The queries listed above are not closed; your signature covers the data as they stand."),
            )


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
        if obj is not None and is_locked_for(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_sdv_permission(self, request):
        return roles.has_any_role(request.user, {roles.MONITOR})

    @admin.action(description=_("Mark source data verified (SDV)"), permissions=["sdv"])
    def mark_source_verified(self, request, queryset):
        for row in queryset:
            services.verify_source(row, user=request.user)
        messages.success(request, gettext("{count} record(s) marked verified.").format(count=queryset.count()))

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
                        'border-radius:8px">{} {}: {}</span>',
                        gettext("query"),
                        query.get_status_display().lower(),
                        i18n.translated_query_text(query.text),
                    )
                    field.help_text = format_html("{} {}", field.help_text, badge)
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "can_raise_query": roles.has_any_role(request.user, roles.QUERY_RAISERS),
            "can_sign": self.signable and roles.has_any_role(request.user, roles.SIGNERS),
            "signatures": self.signatures_of(request, object_id),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def signatures_of(self, request, object_id) -> list[str] | None:
        """The signatures over a signable row, shown on its page (None: the row is not signed on its own)."""
        row = self.get_object(request, object_id) if self.signable else None
        if row is None:
            return None
        return signature_lines(services.signatures_over(row).select_related("signed_by"), site_zone(row))

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
            messages.success(request, gettext("Query raised."))
            return redirect(change_url(row))
        return self._action_page(request, row, form, gettext("Raise a query on {row}").format(row=row))

    def sign_view(self, request, row):
        summary = services.signing_summary(row)
        form = SignForm(request.POST or None, meanings=summary.meanings, open_queries=len(summary.queries))
        if request.method == "POST" and form.is_valid():
            try:
                services.sign(row, form.cleaned_data["meaning"], user=request.user,
                              password=form.cleaned_data["password"],
                              over_open_queries=form.cleaned_data.get("over_open_queries", False))  # fmt: skip
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, gettext("{row} signed.").format(row=row))
                return redirect(change_url(row))
        zone = site_zone(row)
        signed_at = f"{timezone.localtime(timezone=zone):%Y-%m-%d %H:%M} ({zone.key})"
        signer = services.printed_name(request.user)
        attestations = [(label, i18n.translated(rules.attestation_text(meaning, printed_name=signer, what=summary.what,
                                                                       signed_at=signed_at)))
                        for meaning, label in form.fields["meaning"].choices]  # fmt: skip
        title = gettext("Sign {row}").format(row=row)
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "opts": self.model._meta,
                   "original": row, "summary": summary, "attestations": attestations,
                   "signatures": signature_lines(summary.signatures, zone)}  # fmt: skip
        return TemplateResponse(request, "admin/edc/sign_form.html", context)

    def _action_page(self, request, row, form, title):
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "opts": self.model._meta,
                   "original": row}  # fmt: skip
        return TemplateResponse(request, "admin/edc/action_form.html", context)

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        inline_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        for inline_formset in inline_formsets:
            # An inline at its maximum (the one consent) has nothing to add: no blank form in the page.
            if inline_formset.formset.initial_form_count() >= inline_formset.formset.max_num:
                inline_formset.has_add_permission = False
        return inline_formsets

    def get_fields(self, request, obj=None):
        """A new record has no reason for a change yet; a reader who cannot change the record is asked for none (a
        read-only page would show the form's own fields as empty rows under their field names)."""
        fields = list(super().get_fields(request, obj))
        if obj is None:
            return [f for f in fields if f != "change_reason"]
        if not self.has_change_permission(request, obj):
            return [f for f in fields if f not in ("change_reason", "opened_version")]
        return fields

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


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal on the form: beside its field when the form has one, else above the form."""
    by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, field_messages in by_field.items():
        form.add_error(field if field in form.fields else None, field_messages)


def site_zone(row) -> ZoneInfo:
    """The time zone of the row's site (a subject's own, another row's subject's)."""
    site = row.site if isinstance(row, Subject) else row.subject.site
    return ZoneInfo(site.timezone)


def signature_lines(signatures, zone: ZoneInfo) -> list[str]:
    """Each signature's manifestation (21 CFR 11.50): meaning, printed name, date and time in site time."""
    line = gettext("{meaning} by {name}, {signed_at} ({zone})")
    return [line.format(meaning=s.get_meaning_display(), name=services.printed_name(s.signed_by),
                        signed_at=f"{timezone.localtime(s.signed_at, zone):%Y-%m-%d %H:%M}", zone=zone.key)
            for s in signatures]  # fmt: skip


def change_url(row) -> str:
    return reverse(f"admin:{row._meta.app_label}_{row._meta.model_name}_change", args=[row.pk])
