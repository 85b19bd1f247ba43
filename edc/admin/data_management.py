"""Data queries, signatures, source verification and locks: what each is about named as site staff name it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.html import format_html

from edc import roles, services
from edc.admin.base import ScopedHistoryAdmin, change_url
from edc.models import DataQuery, Lock, Signature, SourceVerification


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
