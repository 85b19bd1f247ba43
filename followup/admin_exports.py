"""The export log (read-only), the exports page (a form that downloads through the API's export stream) and the
investigator's PK/PD pages: a plot on each subject's page and a cohort overlay."""

import hashlib
import tempfile
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles
from edc.admin import AdminPagesMixin
from followup import admin_outcomes, export_jobs, exports
from followup.api import ExportParamsSerializer, export_download
from followup.exports import sdtm_metadata as metadata
from followup.exports import submission
from followup.exports.params import FULL_EXPORT_ROLES
from followup.models import ExportJob, ExportLog

PLOT_READERS = roles.CLINICAL_READERS | exports.EXPORT_ROLES
# The submission package is the full data of every site the user sees: data managers build it.
SUBMISSION_ROLES = frozenset({roles.DATA_MANAGER})

# What each dataset holds, in the words of the exports page (the columns are the README's and the API's).
DATASET_LABELS = {
    "pkpd": _("pkpd: PK/PD results, one row per result (or per visit, wide)"),
    "pk-parameters": _("pk-parameters: NCA per subject and analyte"),
    "sdtm/dm": _("sdtm/dm: SDTM demographics"),
    "sdtm/ex": _("sdtm/ex: SDTM exposure (lymphodepletion, infusion)"),
    "sdtm/lb": _("sdtm/lb: SDTM laboratory results"),
    "sdtm/pc": _("sdtm/pc: SDTM PK concentrations"),
    "sdtm/pp": _("sdtm/pp: SDTM PK parameters"),
    "sdtm/ae": _("sdtm/ae: SDTM adverse events"),
    "sdtm/suppae": _("sdtm/suppae: SDTM supplemental AE qualifiers (the infection fields)"),
    "sdtm/cm": _("sdtm/cm: SDTM concomitant medications (the medication log)"),
    "sdtm/suppcm": _("sdtm/suppcm: SDTM supplemental CM qualifiers (the adverse event treated)"),
    "sdtm/dv": _("sdtm/dv: SDTM protocol deviations (confirmed)"),
    "sdtm/rs": _("sdtm/rs: SDTM disease response (DORIS, treatment-free DORIS, LLDAS, flare index)"),
    "sdtm/qs": _("sdtm/qs: SDTM questionnaires (SELENA-SLEDAI descriptors and PGA)"),
    "safety": _("safety: CAR-T safety summary per treated subject"),
    "outcomes": _("outcomes: lupus outcomes per SELENA-SLEDAI assessment"),
    "outcome-summary": _("outcome-summary: lupus outcomes per subject (first DORIS and LLDAS, sustained, days)"),
}
ANALYTES = tuple(dict.fromkeys(a for dataset in exports.DATASETS.values() for a in dataset.analytes))
JOBS_SHOWN = 10  # the user's latest export jobs on the exports page
DAYS = forms.NumberInput(attrs={"step": "any", "style": "width: 7em"})


class ExportForm(forms.Form):
    """The export routes' parameters as a form; `clean` hands them to the routes' own ExportParamsSerializer, so
    a value the API refuses is refused here too, with the same message, on its field."""

    dataset = forms.ChoiceField(choices=[(name, DATASET_LABELS.get(name, name)) for name in exports.DATASETS],
                                label=_("Dataset"))  # fmt: skip
    # Not given (a link rather than the form): the routes' defaults, csv and long.
    format = forms.ChoiceField(choices=[(f, f) for f in exports.FORMATS], initial="csv", required=False,
                               label=_("Format"))  # fmt: skip
    shape = forms.ChoiceField(choices=[(s, s) for s in exports.SHAPES], initial="long", required=False,
                              label=_("Shape"), help_text=_("pkpd only"))  # fmt: skip
    subject = forms.CharField(
        required=False, max_length=2000, label=_("Subject"),
        help_text=_("subject id(s), comma-separated; empty: every subject of your sites"),
    )  # fmt: skip
    analyte = forms.MultipleChoiceField(required=False, choices=[(a, a) for a in ANALYTES], label=_("Analyte"),
                                        help_text=_("none ticked: every one"),
                                        widget=forms.CheckboxSelectMultiple)  # fmt: skip
    from_day = forms.CharField(required=False, max_length=30, label=_("from day"), widget=DAYS,
                               help_text=_("actual days from infusion, both ends included"))  # fmt: skip
    to_day = forms.CharField(required=False, max_length=30, label=_("to day"), widget=DAYS)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        params = {name: cleaned[name] for name in ("format", "shape", "subject", "analyte", "from_day", "to_day")
                  if cleaned[name] not in ("", [])}  # fmt: skip
        dataset = exports.dataset_named(cleaned["dataset"])
        self.params = ExportParamsSerializer(data=params, context={"dataset": dataset})
        if not self.params.is_valid():
            for name, messages in self.params.errors.items():
                self.add_error(name if name in self.fields else None, [str(m) for m in messages])
        return cleaned

    def export_request(self, user) -> exports.ExportRequest | None:
        """The valid form as the user's request; None, with the error on its field, for a subject not at the
        user's sites."""
        try:
            return self.params.export_request(user)
        except exports.ExportNotFound as missing:
            self.add_error(missing.parameter if missing.parameter in self.fields else None, str(missing))
            return None


@admin.register(ExportLog)
class ExportLogAdmin(AdminPagesMixin, admin.ModelAdmin):
    list_display = ("started_at", "user", "dataset", "format", "filters", "pseudonymised", "status", "row_count",
                    "channel")  # fmt: skip
    list_filter = ("status", "dataset", "format", "pseudonymised", "channel")
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
        # A download is a read: the sponsor viewer, who writes nothing, exports too, and asks for export jobs (POST).
        download = self.admin_page("exports/", self.exports_view, "followup_exports", read_roles=exports.EXPORT_ROLES,
                                   write_roles=exports.EXPORT_ROLES)  # fmt: skip
        package = self.admin_page("submission/", self.submission_view, "followup_submission",
                                  read_roles=SUBMISSION_ROLES)  # fmt: skip
        return [cohort, download, package, *super().get_urls()]

    def exports_view(self, request):
        """The form and the user's export jobs; submitted (POST, or GET with a dataset) the file, streamed as the
        export routes stream it, or with "prepare as a job" a job for the worker, whose status the page shows."""
        data = request.POST if request.method == "POST" else request.GET if "dataset" in request.GET else None
        form = ExportForm(data)
        if form.is_valid() and (export_request := form.export_request(request.user)) is not None:
            if "as_job" not in data:
                try:
                    return export_download(export_request, channel="admin")
                except exports.ValueTooLong as refused:
                    form.add_error("format", str(refused))
            elif refused := export_jobs.job_format_error(export_request.format):
                form.add_error("format", refused)
            else:
                job = export_jobs.request_job(export_request)
                queued = gettext("Export job {job} queued: {dataset} ({format}). Its status is below.")
                messages.success(request, queued.format(job=job.pk, dataset=job.dataset, format=job.format))
                return HttpResponseRedirect(reverse("admin:followup_exports"), status=303)
        jobs = list(ExportJob.objects.filter(user=request.user)[:JOBS_SHOWN])
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Exports"),
            "form": form,
            "pseudonymised": not roles.has_any_role(request.user, FULL_EXPORT_ROLES),
            "datasets": [(DATASET_LABELS.get(d.name, d.name), d) for d in exports.DATASETS.values()],
            "cohort_url": reverse("admin:followup_investigator"),
            "submission_url": reverse("admin:followup_submission")
            if roles.has_any_role(request.user, SUBMISSION_ROLES) else "",
            "jobs": [(job, DATASET_LABELS.get(job.dataset, job.dataset), _filters_text(job.params)) for job in jobs],
            "jobs_running": any(job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING) for job in jobs),
        }  # fmt: skip
        status = 400 if form.is_bound else 200
        return TemplateResponse(request, "admin/followup/exports.html", context, status=status)

    def submission_view(self, request):
        """What the package holds; with `?download=1`, the package built (logged, channel admin) as a zip."""
        if request.GET.get("download"):
            return submission_download(request.user)
        datasets = [(metadata.domain_of(d), metadata.dataset_label(metadata.domain_of(d)), len(d.columns))
                    for d in metadata.sdtm_datasets()]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Submission package"),
            "datasets": datasets,
            "package_files": [(name, i18n.translated(what)) for name, what, _ in submission.PACKAGE_FILES],
            "exports_url": reverse("admin:followup_exports"),
        }
        return TemplateResponse(request, "admin/followup/submission.html", context)

    def cohort_view(self, request):
        from followup import plots  # matplotlib is loaded by the pages that draw, not by every process

        svg = plots.cohort_svg(exports.cohort_car_profiles(request.user))
        context = {**self.admin_site.each_context(request), "svg": svg,
                   "title": gettext("Cohort PK overlay and swimmer plot"),
                   "swimmer_svg": admin_outcomes.cohort_swimmer_svg(request.user),
                   "exports_url": reverse("admin:followup_exports")
                   if roles.has_any_role(request.user, exports.EXPORT_ROLES) else ""}  # fmt: skip
        return TemplateResponse(request, "admin/followup/investigator_cohort.html", context)


# A subject's profile and plot are kept until its data change (the fingerprint is in the key), a day at most.
PLOT_CACHE_SECONDS = 24 * 3600


def _filters_text(params: dict) -> str:
    """A job's filters as the page shows them: `analyte CARPCR, CD19; from day 0`."""
    shown = []
    for name, value in params.items():
        if name != "format" and value not in ("", [], None):
            values = ", ".join(value) if isinstance(value, list) else str(value)
            shown.append(f"{name.replace('_', ' ')} {values}")
    return "; ".join(shown) or gettext("none")


def _cached(kind: str, subject, fingerprint: str, compute):
    # The active language is in the key: a plot's words are the reader's, one picture per language.
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
    return cache.get_or_set(f"pkpd-{kind}:{subject.pk}:{get_language()}:{digest}", compute, PLOT_CACHE_SECONDS)


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
    # The language is in the ETag too: a browser that switched language must not be told its old picture is current.
    etag = f'"{hashlib.sha256(fingerprint.encode()).hexdigest()[:24]}-{get_language()}"'
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


def submission_download(user) -> FileResponse:
    """The submission package of `user`'s sites, built into a temporary zip file and sent from it."""
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        path = Path(scratch) / f"{submission.STUDY_ID}-submission.zip"
        submission.build_zip(path, user=user, channel="admin")
        handle = path.open("rb")  # the open file outlives its name, removed with the directory
    return FileResponse(handle, as_attachment=True, filename=path.name, content_type="application/zip")
