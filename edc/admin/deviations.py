"""The protocol deviation log: its list and form, the confirmation or dismissal of a proposed deviation, the
proposals on the home page of investigators and data managers, and the subject page's deviations panel."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles, services
from edc.admin.base import CrfAdmin, WorkItem, WorkList, change_url, register_subject_panel, register_work_list
from edc.models import Deviation, Visit
from edc.services.deviations import DECIDERS, RECORDERS

SHOWN = 15  # proposals drawn on the home page; the total says how many there are
EXCERPT = 60  # characters of a description in a list


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else f"{text[: EXCERPT - 1].rstrip()}…"


def reported(deviation: Deviation) -> str:
    if not deviation.reported_to_ec:
        return gettext("no")
    if deviation.reported_to_ec_date:
        return gettext("yes, {date}").format(date=f"{deviation.reported_to_ec_date:%Y-%m-%d}")
    return gettext("yes")


class VisitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, visit):
        return f"{visit.subject} · {i18n.visit_name(visit.code)}"


class DismissForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("why this is not a protocol deviation (kept in its history)"),
    )


class ConfirmForm(forms.Form):
    """Nothing to fill in: the proposal's details are edited on its page before or after."""


@admin.register(Deviation)
class DeviationAdmin(CrfAdmin):
    list_display = ("subject", "deviation_date", "category", "severity", "status", "description_excerpt",
                    "reported_to_ethics_committee")  # fmt: skip
    list_filter = ("category", "severity", "status", "auto", "subject__site")
    search_fields = ("subject__subject_id", "description")
    list_select_related = ("subject",)
    fields = (
        "subject", "visit", "category", "severity", "deviation_date", "description", "corrective_action",
        "reported_to_ec", "reported_to_ec_date", "status", "auto", "decided_by", "decided_at", "dismiss_reason",
        "voided", "void_reason", "version", "created", "modified", "change_reason", "opened_version",
    )  # fmt: skip
    readonly_fields = ("status", "auto", "decided_by", "decided_at", "dismiss_reason", *CrfAdmin.readonly_fields)
    change_form_template = "admin/edc/deviation/change_form.html"
    change_list_template = "admin/edc/deviation/change_list.html"
    write_roles = RECORDERS

    @admin.display(description=_("description"))
    def description_excerpt(self, deviation):
        return excerpt(deviation.description)

    @admin.display(description=_("ethics committee"))
    def reported_to_ethics_committee(self, deviation):
        return reported(deviation)

    def get_fields(self, request, obj=None):
        """A new deviation is recorded, not decided: its decision and bookkeeping show once it exists."""
        fields = super().get_fields(request, obj)
        if obj is not None:
            return fields
        return [f for f in fields if f not in {*self.readonly_fields, "voided", "void_reason"}]

    def get_changeform_initial_data(self, request):
        """`?subject=<pk>` from the subject page's panel opens the form for that subject."""
        return {**super().get_changeform_initial_data(request), "deviation_date": timezone.localdate()}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "visit":
            visits = roles.scope(Visit.objects.filter(voided=False), request.user).select_related("subject")
            subject_pk = getattr(request, "_deviation_subject_pk", None) or request.GET.get("subject")
            if subject_pk and str(subject_pk).isdigit():
                visits = visits.filter(subject_id=subject_pk)
            kwargs["queryset"] = visits.order_by("subject__subject_id", "planned_date", "id")
            kwargs["form_class"] = VisitChoiceField
            return db_field.formfield(**kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        request._deviation_subject_pk = obj.subject_id if obj is not None else None  # its own subject's visits
        return super().get_form(request, obj, change=change, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        deviation = self.get_object(request, object_id)
        decides = deviation is not None and deviation.status == Deviation.Status.PROPOSED
        decides = decides and roles.has_any_role(request.user, DECIDERS)
        extra = {"can_decide": decides, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        pages = [
            self.admin_page("<int:pk>/confirm/", self.confirm_view, "edc_deviation_confirm", read_roles=DECIDERS,
                            write_roles=DECIDERS),
            self.admin_page("<int:pk>/dismiss/", self.dismiss_view, "edc_deviation_dismiss", read_roles=DECIDERS,
                            write_roles=DECIDERS),
        ]  # fmt: skip
        return [*pages, *super().get_urls()]

    def confirm_view(self, request, deviation):
        return self._decision_page(request, deviation, ConfirmForm, _("Confirm the proposed deviation: {description}"),
                                   _("{deviation}: confirmed."),
                                   lambda data: services.confirm_deviation(deviation, user=request.user))  # fmt: skip

    def dismiss_view(self, request, deviation):
        return self._decision_page(request, deviation, DismissForm, _("Dismiss the proposed deviation: {description}"),
                                   _("{deviation}: dismissed."),
                                   lambda data: services.dismiss_deviation(deviation, reason=data["reason"],
                                                                           user=request.user))  # fmt: skip

    def _decision_page(self, request, deviation, form_class, title, done, decide):
        form = form_class(request.POST or None)
        if request.method == "GET" and deviation.status != Deviation.Status.PROPOSED:
            messages.warning(
                request,
                gettext("This deviation is {status}: only a proposal is decided.").format(
                    status=deviation.get_status_display()
                ),
            )
        if request.method == "POST" and form.is_valid():
            try:
                decide(form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(request, str(done).format(deviation=deviation))
                return redirect(change_url(deviation))
        return self._action_page(request, deviation, form, str(title).format(description=deviation.description))

    def save_model(self, request, obj, form, change):
        services.record_deviation(obj, user=request.user, reason=form.cleaned_data.get("change_reason", ""),
                                  expected_version=form.cleaned_data.get("opened_version"))  # fmt: skip


# --- The home page's proposals and the subject page's panel -------------------------------------


def proposals(request) -> WorkList:
    """Proposed deviations of the user's sites, oldest first (two queries: the items and the total)."""
    proposed = roles.scope(Deviation.objects.filter(voided=False, status=Deviation.Status.PROPOSED), request.user)
    proposed = proposed.select_related("subject").order_by("deviation_date", "id")
    items = [WorkItem(str(d.subject), _named(d), change_url(d), excerpt(d.description)) for d in proposed[:SHOWN]]
    more = f"{reverse('admin:edc_deviation_changelist')}?status__exact={Deviation.Status.PROPOSED}"
    return WorkList(items, proposed.count(), more_url=more)


def _named(deviation: Deviation) -> str:
    return (
        f"{deviation.get_category_display()} · {deviation.get_severity_display()} · {deviation.deviation_date:%Y-%m-%d}"
    )


def deviations_panel(request, subject) -> str:
    deviations = Deviation.objects.filter(subject=subject, voided=False).order_by("deviation_date", "id")
    rows = [(d, reported(d), excerpt(d.description)) for d in deviations]
    may_record = roles.has_any_role(request.user, RECORDERS)
    add_url = f"{reverse('admin:edc_deviation_add')}?subject={subject.pk}" if may_record else ""
    return render_to_string("admin/edc/deviation/panel.html", {"rows": rows, "add_url": add_url}, request=request)


register_work_list(roles.INVESTIGATOR, _("Proposed deviations to confirm or dismiss"), proposals)
register_work_list(roles.DATA_MANAGER, _("Proposed deviations to confirm or dismiss"), proposals)
register_subject_panel(_("Protocol deviations"), deviations_panel)
