"""The lupus outcome datasets (DOMAIN.md §10, CRF.md `exports/outcomes/` and `exports/outcome-summary/`): each
row computed by `followup.services` (the visit CRF, the subject page and the swimmer plot read the same), streamed
one subject at a time."""

from __future__ import annotations

from collections.abc import Iterator

from edc.models import Subject
from followup import services
from followup.exports.params import ExportRequest
from followup.exports.sources import scoped, usubjid
from followup.exports.text import normalised
from followup.rules.outcomes import StateCourse, as_number


def outcome_rows(request: ExportRequest) -> Iterator[tuple]:
    """One row per subject × SELENA-SLEDAI assessment, in date order; `actual_day` is whole site days from the
    infusion date (empty before any infusion)."""
    for subject in services.subject_outcomes(scoped(Subject.objects.all(), request, subject_path="")):
        subject_key = usubjid(subject.site_code, subject.number)
        for o in subject.outcomes:
            f = o.facts
            yield (
                subject_key, f.visit, None if o.day is None else float(o.day), f.total, f.clinical, f.serological,
                normalised(f.pga), as_number(o.prednisone.value), o.flare.value, o.doris.value,
                o.doris_treatment_free.value, o.lldas.value, o.change_from_baseline.value,
            )  # fmt: skip


def _state(course: StateCourse) -> tuple:
    return course.first_day, course.sustained, course.days


def outcome_summary_rows(request: ExportRequest) -> Iterator[tuple]:
    """One row per treated subject: its outcomes after infusion beside its safety summary; pseudonymised exports
    leave the PCR negativity date empty, as the safety dataset does."""
    for row in services.outcome_summary_rows(scoped(Subject.objects.all(), request, subject_path="")):
        s, o, b = row.safety.summary, row.outcomes, row.b_cells
        negative = None if s.pcr_negative_date is None or request.pseudonymised else s.pcr_negative_date.isoformat()
        yield (
            usubjid(row.safety.site_code, row.safety.number), o.baseline_sledai, *_state(o.doris),
            *_state(o.doris_treatment_free), *_state(o.lldas), s.crs_max_grade, s.icans_max_grade,
            s.icaht_early_grade, s.icaht_late_grade, b.aplasia_onset_day, b.reconstitution_day, negative,
            normalised(s.igg_min), s.infections, s.infections_grade3plus,
        )  # fmt: skip
