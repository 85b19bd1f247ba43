"""The export log (read-only) and the investigator's PK/PD pages: a plot on each subject's page and a cohort overlay."""

import hashlib

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control

from edc import roles
from edc.admin import AdminPagesMixin
from followup import exports
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
        context = {**self.admin_site.each_context(request), "title": "Investigator: cohort PK overlay", "svg": svg}
        return TemplateResponse(request, "admin/followup/investigator_cohort.html", context)


# A subject's profile and plot are kept until its data change (the fingerprint is in the key), a day at most.
PLOT_CACHE_SECONDS = 24 * 3600


def _cached(kind: str, subject, fingerprint: str, compute):
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return cache.get_or_set(f"pkpd-{kind}:{subject.pk}:{digest}", compute, PLOT_CACHE_SECONDS)


def cached_profile(subject, fingerprint: str) -> exports.SubjectProfile:
    return _cached("profile", subject, fingerprint, lambda: exports.subject_profile(subject))


def pkpd_panel(request, subject):
    """The CD19 summary and the plot as an image of its own URL: the subject page stays small, and the plot is
    drawn once per change of the data (`pkpd_plot_view`)."""
    profile = cached_profile(subject, exports.profile_fingerprint(subject))
    context = {"plot_url": reverse("admin:edc_subject_pkpd_plot", args=[subject.pk]), "cd19": profile.cd19,
               "usubjid": profile.usubjid, "cohort_url": reverse("admin:followup_investigator")}  # fmt: skip
    return render_to_string("admin/followup/investigator_subject_panel.html", context)


def pkpd_plot_view(request, subject):
    """The subject's PK/PD plot (SVG), drawn only when its data changed since it was last drawn; a browser that has
    this version (its ETag) gets a 304 after the one fingerprint query."""
    fingerprint = exports.profile_fingerprint(subject)
    etag = f'"{hashlib.sha256(fingerprint.encode()).hexdigest()[:24]}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return not_modified
    svg = _cached("svg", subject, fingerprint, lambda: _draw(cached_profile(subject, fingerprint)))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)  # revalidated each view: cheap, never stale
    return response


def _draw(profile) -> str:
    from followup import plots  # matplotlib is loaded by the pages that draw, not by every process

    return plots.subject_svg(profile)
