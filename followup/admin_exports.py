"""The export log (read-only) and the investigator's PK/PD pages: a plot on each subject's page and a cohort overlay."""

from django.contrib import admin
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse

from edc import roles
from edc.admin import AdminPagesMixin
from followup import admin_outcomes, exports
from followup.models import ExportLog

PLOT_READERS = roles.CLINICAL_READERS | exports.EXPORT_ROLES


@admin.register(ExportLog)
class ExportLogAdmin(AdminPagesMixin, admin.ModelAdmin):
    list_display = ("started_at", "user", "dataset", "format", "filters", "pseudonymised", "row_count", "channel")
    list_filter = ("dataset", "format", "pseudonymised", "channel")
    search_fields = ("user__username", "dataset")
    list_select_related = ("user",)
    date_hierarchy = "started_at"

    read_roles = frozenset({roles.DATA_MANAGER})
    write_roles = frozenset()  # the log is an audit record

    def has_view_permission(self, request, obj=None):
        return roles.has_any_role(request.user, self.read_roles)

    def has_module_permission(self, request):
        return roles.has_any_role(request.user, PLOT_READERS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is an audit record

    def get_urls(self):
        cohort = self.admin_page("investigator/", self.cohort_view, "followup_investigator", read_roles=PLOT_READERS)
        return [cohort, *super().get_urls()]

    def cohort_view(self, request):
        from followup import plots  # matplotlib is loaded by the pages that draw, not by every process

        svg = plots.cohort_svg(exports.cohort_car_profiles(request.user))
        context = {**self.admin_site.each_context(request), "title": "Investigator: cohort PK overlay", "svg": svg,
                   "swimmer_svg": admin_outcomes.cohort_swimmer_svg(request.user)}  # fmt: skip
        return TemplateResponse(request, "admin/followup/investigator_cohort.html", context)


def pkpd_panel(request, subject):
    from followup import plots

    profile = exports.subject_profile(subject)
    context = {"svg": plots.subject_svg(profile), "cd19": profile.cd19,
               "cohort_url": reverse("admin:followup_investigator")}  # fmt: skip
    return render_to_string("admin/followup/investigator_subject_panel.html", context)
