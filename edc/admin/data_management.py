"""Data queries, signatures, source verification and locks: what each is about named as site staff name it."""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles, services
from edc.admin.base import ScopedHistoryAdmin, change_url
from edc.models import DataQuery, Lock, Signature, SourceVerification, Visit


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

    @admin.display(description=_("about"))
    def about(self, item):
        target = getattr(item, "target", None) or services.describe_targets([item])[(item.target_model, item.target_id)]
        field = getattr(item, "target_field", "")
        words = " · ".join(w for w in (target.visit, target.record) if w)
        if field:
            words = f"{words} · {target.field_label(field)} = {target.field_value(field)}"
        if target.row is None:
            return words
        anchor = f"#id_{field}" if field else ""
        return format_html('<a href="{}{}">{}</a>', change_url(target.row), anchor, words)


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
    list_display = ("subject", "about", "query_text", "status", "raised_by", "age_days", "answer")
    list_select_related = ("subject", "raised_by")
    list_filter = ("status", "auto", "subject__site")
    search_fields = ("subject__subject_id", "text")
    fields = (
        "subject", "about", "query_text", "status", "auto", "raised_by", "created", "answer", "answered_by",
        "answered_at", "closed_by", "closed_at",
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
            messages.success(
                request, gettext("Query closed.") if transition == "_close" else gettext("Query re-opened.")
            )
        return redirect(request.path)

    @admin.display(description=_("text"), ordering="text")
    def query_text(self, query):
        return i18n.translated_query_text(query.text)

    @admin.display(description=_("age (days)"))
    def age_days(self, query):
        return (timezone.now() - query.created).days

    def save_model(self, request, obj, form, change):
        try:
            services.answer_query(obj, form.cleaned_data.get("answer", ""), user=request.user)
        except (PermissionDenied, ValidationError) as error:  # shown to the user, nothing saved
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))

    @admin.action(description=_("Close the selected queries"))
    def close_queries(self, request, queryset):
        self._each(request, queryset, services.close_query, _("{count} query(ies) closed."))

    @admin.action(description=_("Re-open the selected queries"))
    def reopen_queries(self, request, queryset):
        self._each(request, queryset, services.reopen_query, _("{count} query(ies) re-opened."))

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
            messages.success(request, str(done).format(count=count))


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


def _site_time(moment, lock: Lock) -> str:
    """A lock's moment in its subject's site time; a study lock's in the study's (settings.TIME_ZONE)."""
    tz = ZoneInfo(lock.subject.site.timezone) if lock.subject_id else timezone.get_default_timezone()
    return f"{timezone.localtime(moment, tz):%Y-%m-%d %H:%M}"


def visit_words(visit: Visit, site_timezone: str) -> str:
    """A visit as site staff name it: its name, and the day it was done (site calendar) or is planned."""
    name = i18n.visit_name(visit.code)
    if visit.status == Visit.Status.DONE and visit.visit_datetime:
        local = timezone.localtime(visit.visit_datetime, ZoneInfo(site_timezone))
        return gettext("{name}, done {date}").format(name=name, date=f"{local:%Y-%m-%d}")
    if visit.planned_date:
        planned = gettext("planned {date}").format(date=f"{visit.planned_date:%Y-%m-%d}")
    else:
        planned = gettext("no planned date")
    if visit.status == Visit.Status.MISSED:
        return gettext("{name}, missed, {planned}").format(name=name, planned=planned)
    return gettext("{name}, {planned}").format(name=name, planned=planned)


def locked_words(lock: Lock) -> str:
    """What a lock covers, in words: "M1019-01-001 · visit D7, done 2026-11-02 (…)", "M1019-01-001's casebook"."""
    if lock.level == Lock.Level.STUDY:
        return gettext("the whole study (every subject at every site)")
    if lock.level == Lock.Level.SUBJECT:
        return gettext("{subject}'s casebook (every visit and record)").format(subject=lock.subject)
    visit = visit_words(lock.visit, lock.subject.site.timezone)
    return gettext("{subject} · visit {visit} (the visit and its results)").format(subject=lock.subject, visit=visit)


class VisitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, visit):
        return visit_words(visit, visit.subject.site.timezone)


class LockForm(forms.ModelForm):
    """A lock: its level, then the subject (searched by subject id), then one of that subject's visits; on an
    existing lock, the reason to unlock it. The visits offered are the chosen subject's only (at the user's sites,
    as every related row of the admin), never the study's."""

    class Meta:
        model = Lock
        fields = ("level", "subject", "visit", "reason", "unlock_reason")
        field_classes = {"visit": VisitChoiceField}

    # On the fields, not in Meta: a lock's read-only page would show them beside what was chosen.
    HELP = {
        "level": _("Visit: one visit and its results. Subject: the whole casebook. Study: every subject."),
        "reason": _("Why the data is locked (kept in the history)."),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, text in self.HELP.items():
            if name in self.fields:
                self.fields[name].help_text = text
        if "reason" in self.fields:
            self.fields["reason"].error_messages["required"] = _("a reason is required to lock")
        if "visit" in self.fields:
            self._offer_the_subjects_visits()
        if "unlock_reason" in self.fields:
            self.fields["unlock_reason"].required = True
            self.fields["unlock_reason"].help_text = _("Why the data is unlocked; saving with it unlocks the data.")

    def _offer_the_subjects_visits(self):
        subject = self.chosen_subject()
        visits = self.fields["visit"].queryset.filter(voided=False).select_related("subject__site")
        self.fields["visit"].queryset = visits.filter(subject=subject) if subject else visits.none()
        self.fields["visit"].empty_label = (
            gettext("— choose a visit —") if subject else gettext("— choose the subject first —")
        )
        self.fields["visit"].error_messages["invalid_choice"] = (
            gettext("choose one of {subject}'s visits").format(subject=subject)
            if subject
            else gettext("choose the subject first, then one of its visits")
        )

    def chosen_subject(self):
        """The subject posted, or named in the address (`?subject=` after "Show the subject's visits"), if it is one
        of the user's; an address naming no such subject is dropped, not shown."""
        raw = self.data.get("subject") if self.is_bound else self.initial.get("subject")
        try:
            return self.fields["subject"].clean(raw) if raw else None
        except ValidationError:
            self.initial.pop("subject", None)
            return None

    def clean(self):
        data = super().clean()
        if "level" not in data:
            return data
        try:
            services.check_lock(data["level"], subject=data.get("subject"), visit=data.get("visit"),
                                reason=data.get("reason", ""))  # fmt: skip
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, messages_)
        return data


CHOOSE_SUBJECT = "_choose_subject"


@admin.register(Lock)
class LockAdmin(ScopedHistoryAdmin):
    """Data managers lock here (the level, the subject, one of its visits); an existing lock's page says what is
    locked, by whom, when and why, read-only, with the unlock reason for data managers while it is active."""

    form = LockForm
    list_display = ("locked_what", "level", "reason", "locked_by_name", "locked_when", "state")
    list_filter = ("level", "active")
    list_select_related = ("subject__site", "visit", "locked_by", "unlocked_by")
    search_fields = ("subject__subject_id", "reason")
    autocomplete_fields = ("subject",)
    write_roles = frozenset({roles.DATA_MANAGER})
    readonly_fields = ("locked_what", "locked_by_name", "locked_when", "state")

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return roles.scope(queryset, request.user) | queryset.filter(level=Lock.Level.STUDY)

    def has_change_permission(self, request, obj=None):
        """Only an active lock changes, and only by being unlocked."""
        return super().has_change_permission(request, obj) and (obj is None or obj.active)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            choose = format_html(
                '<button type="submit" name="{}" class="button">{}</button> {}',
                CHOOSE_SUBJECT,
                gettext("Show the subject's visits"),
                gettext("after choosing the subject above; the visit list holds that subject's visits only."),
            )
            return [(None, {"fields": ("level", "subject")}),
                    (_("Visit"), {"fields": ("visit",), "description": choose}),
                    (None, {"fields": ("reason",)})]  # fmt: skip
        lock_fields = ("level", "locked_what", "reason", "locked_by_name", "locked_when", "state")
        fieldsets = [(None, {"fields": lock_fields})]
        if self.has_change_permission(request, obj):
            fieldsets.append((_("Unlock"), {"fields": ("unlock_reason",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("level", "reason", *self.readonly_fields)

    def add_view(self, request, form_url="", extra_context=None):
        """ "Show the subject's visits" comes back to the form with the level and subject chosen (nothing stored)."""
        if request.method == "POST" and CHOOSE_SUBJECT in request.POST:
            if not self.has_add_permission(request):
                raise PermissionDenied(gettext("only data managers lock data"))
            chosen = {name: request.POST[name] for name in ("level", "subject") if request.POST.get(name)}
            return redirect(f"{request.path}?{urlencode(chosen)}")
        return super().add_view(request, form_url, extra_context)

    @admin.display(description=_("locked"))
    def locked_what(self, lock):
        return locked_words(lock)

    @admin.display(description=_("locked by"))
    def locked_by_name(self, lock):
        return lock.locked_by.get_full_name() or lock.locked_by.username

    @admin.display(description=_("locked at (site time)"), ordering="locked_at")
    def locked_when(self, lock):
        return _site_time(lock.locked_at, lock)

    @admin.display(description=_("state"))
    def state(self, lock):
        if lock.active:
            return gettext("locked")
        unlocker = lock.unlocked_by.get_full_name() or lock.unlocked_by.username
        return gettext("unlocked by {name} on {when}: {reason}").format(
            name=unlocker, when=_site_time(lock.unlocked_at, lock), reason=lock.unlock_reason
        )

    def save_model(self, request, obj, form, change):
        if change:
            services.unlock(obj, reason=form.cleaned_data["unlock_reason"], user=request.user)
        else:
            data = form.cleaned_data
            services.lock(data["level"], subject=data.get("subject"), visit=data.get("visit"), reason=data["reason"],
                          user=request.user)  # fmt: skip
