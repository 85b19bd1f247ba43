"""Follow-up screens: adverse events, milestones, and the subject page's milestone panel."""

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from edc.admin import CrfAdmin, ScopedAdminMixin, subject_panel
from followup import services
from followup.models import AdverseEvent, Milestone


@admin.register(AdverseEvent)
class AdverseEventAdmin(CrfAdmin):
    list_display = ("subject", "term", "category", "onset_date", "resolution_date", "grade_shown", "serious_flag",
                    "relatedness")  # fmt: skip
    list_filter = ("category", "serious", "astct_grade", "ctcae_grade", "relatedness")
    search_fields = ("subject__subject_id", "term")
    readonly_fields = (*CrfAdmin.readonly_fields, "astct_grade")
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
                    "ctcae_grade",
                )
            },
        ),  # fmt: skip
        ("CRS (ASTCT)", {"fields": ("max_temperature_c", "hypotension", "hypoxia")}),
        ("ICANS (ASTCT)", {"fields": ("ice_score", "consciousness", "seizure", "motor_findings", "cerebral_oedema")}),
        ("Computed", {"fields": ("astct_grade", "version", "created", "modified")}),
        ("Void", {"fields": ("voided", "void_reason"), "classes": ("collapse",)}),
        ("Reason for change", {"fields": ("change_reason", "opened_version")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(name, {**opts, "fields": [f for f in opts["fields"] if f not in ("change_reason",)]})
                    for name, opts in self.fieldsets]  # fmt: skip
        return self.fieldsets

    @admin.display(description="grade", ordering="astct_grade")
    def grade_shown(self, event):
        return event.grade

    @admin.display(description="serious", boolean=False, ordering="serious")
    def serious_flag(self, event):
        if event.serious:
            return format_html('<strong style="color:#ba2121">SAE</strong>')
        return "—"


@admin.register(Milestone)
class MilestoneAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("subject", "kind", "date", "visit", "raised_at", "revoked_at", "detail")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("subject__subject_id",)
    list_select_related = ("subject", "visit")
    write_roles = frozenset()  # computed by the scan only


@subject_panel("Milestones")
def milestones_panel(request, subject):
    status = services.subject_status(subject, timezone.localdate())
    return render_to_string("admin/followup/milestones_panel.html", status)


from followup import admin_exports  # noqa: E402,F401
