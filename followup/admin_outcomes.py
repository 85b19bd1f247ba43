"""Where staff see the lupus outcomes (DOMAIN.md §10): the visit CRF's computed block after saving, the subject
page's disease-activity panel and the investigator's swimmer plot. Codes are spelt out; reasons are the rules'."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles
from edc.models import Subject
from followup import services
from followup.rules.outcomes import AssessmentOutcome, OutcomeSummary, StateCourse, as_number, outcome_summary
from screening.rules.calculations import num
from screening.rules.sledai import Outcome, activity_band

FLARE_LABELS = {"NONE": _("no flare"), "MILD_MODERATE": _("mild/moderate flare"), "SEVERE": _("severe flare")}
BAND_LABELS = {"NONE": _("no activity"), "MILD": _("mild activity"), "MODERATE": _("moderate activity"),
               "HIGH": _("high activity")}  # fmt: skip


def verdict(outcome: Outcome, labels: dict | None = None) -> str:
    """yes / no / a flare level, or what is missing to judge it, in the reader's language."""
    if outcome.value is None:
        if not outcome.missing:
            return gettext("not judged")
        missing = gettext(", no ").join(outcome.missing)
        return gettext("not judged: no {missing}").format(missing=missing)
    if labels:
        return str(labels[outcome.value])
    return gettext("yes") if outcome.value else gettext("no")


def outcome_lines(o: AssessmentOutcome) -> list[tuple[str, str, str]]:
    """(what, verdict, why) for the visit CRF's computed block."""
    f = o.facts
    dose = as_number(o.prednisone.value)
    change = o.change_from_baseline
    return [
        ("SELENA-SLEDAI", f"{f.total} — {BAND_LABELS[activity_band(f.total)]}",
         gettext("clinical {clinical}, serological {serological}").format(clinical=f.clinical,
                                                                          serological=f.serological)),
        ("PGA", "—" if f.pga is None else num(f.pga, 1), ""),
        (gettext("Prednisone-equivalent"),
         verdict(o.prednisone) if dose is None else gettext("{dose} mg/day").format(dose=num(dose)),
         gettext("keyed at this visit") if f.recorded_prednisone is not None else gettext("from the medication log")),
        (gettext("Flare (SELENA Flare Index)"), verdict(o.flare, FLARE_LABELS), _reasons(o.flare)),
        (gettext("DORIS remission"), verdict(o.doris), _reasons(o.doris)),
        (gettext("Treatment-free DORIS"), verdict(o.doris_treatment_free), _reasons(o.doris_treatment_free)),
        ("LLDAS", verdict(o.lldas), _reasons(o.lldas)),
        (gettext("Change from baseline"),
         verdict(change) if change.value is None else gettext("{change} points").format(change=f"{change.value:+d}"),
         ""),
    ]  # fmt: skip


def _reasons(outcome: Outcome) -> str:
    """Why the outcome is what it is: the rules' words, translated where the catalogue has them."""
    return "; ".join(i18n.translated(reason) for reason in outcome.reasons)


def visit_outcome_lines(visit) -> list[tuple[str, str, str]]:
    """The visit's assessment with its outcomes (two queries); none while it has no assessment."""
    subject = services.subject_outcome(visit.subject)
    found = next((o for o in subject.outcomes if o.facts.visit_id == visit.pk), None) if subject else None
    return outcome_lines(found) if found else []


def _course_text(course: StateCourse) -> str:
    if course.first_day is None:
        return gettext("not reached")
    held = {True: gettext("sustained"), False: gettext("not sustained"),
            None: gettext("sustained unless an empty assessment says otherwise")}  # fmt: skip
    return gettext("from day {day}, {held}, {days} days in all").format(
        day=course.first_day, held=held[course.sustained], days=course.days
    )


def summary_lines(summary: OutcomeSummary) -> list[tuple[str, str]]:
    return [
        (gettext("Baseline SELENA-SLEDAI"), "—" if summary.baseline_sledai is None else str(summary.baseline_sledai)),
        ("LLDAS", _course_text(summary.lldas)),
        (gettext("DORIS remission"), _course_text(summary.doris)),
        (gettext("Treatment-free DORIS"), _course_text(summary.doris_treatment_free)),
    ]


def disease_activity_panel(request, subject) -> str:
    """SLEDAI and PGA over time, the prednisone dose and the remission states as a band (an image of its own URL,
    `disease_activity_plot_view`: the subject page stays small), and the summary after infusion: two queries
    whatever the number of assessments."""
    found = services.subject_outcome(subject)
    if found is None:
        return render_to_string("admin/followup/disease_activity_panel.html", {})
    context = {
        "plot_url": reverse("admin:edc_subject_activity_plot", args=[subject.pk]),
        "lines": summary_lines(outcome_summary(found.outcomes, found.infusion_date)),
    }
    return render_to_string("admin/followup/disease_activity_panel.html", context)


def disease_activity_plot_view(request, subject) -> HttpResponse:
    """The disease-activity plot (SVG), drawn once per version of the assessments (`outcome_plots` caches it)."""
    from followup import outcome_plots  # matplotlib is loaded by the pages that draw

    found = services.subject_outcome(subject)
    if found is None:
        raise Http404(gettext("{subject} has no SELENA-SLEDAI assessment").format(subject=subject))
    response = HttpResponse(outcome_plots.disease_activity_svg(found.outcomes), content_type="image/svg+xml")
    patch_cache_control(response, private=True, no_cache=True)
    return response


def cohort_swimmer_svg(user) -> str:
    """The swimmer plot of the treated subjects at the user's sites (every site for a superuser)."""
    from followup import outcome_plots

    subjects = Subject.objects.all()
    if not user.is_superuser:
        subjects = subjects.filter(site_id__in=roles.site_ids_of(user))
    return outcome_plots.swimmer_svg(services.swimmer_lanes(subjects))
