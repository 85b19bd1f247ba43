"""The safety dataset (DOMAIN.md §9, CRF.md `exports/safety/`): one row per treated subject, each summary
computed by `followup.services.safety_rows` (the subject page's panel reads the same), streamed one subject at a
time."""

from __future__ import annotations

from collections.abc import Iterator

from edc.models import Subject
from followup import services
from followup.exports.params import ExportRequest
from followup.exports.sources import scoped, usubjid
from followup.exports.text import normalised


def safety_rows(request: ExportRequest) -> Iterator[tuple]:
    """In the order of the dataset's columns; pseudonymised exports leave the PCR negativity date empty (its day
    is not a column: the sponsor reads the study days of the other columns)."""
    for row in services.safety_rows(scoped(Subject.objects.all(), request, subject_path="")):
        s = row.summary
        negative = None if s.pcr_negative_date is None or request.pseudonymised else s.pcr_negative_date.isoformat()
        yield (
            usubjid(row.site_code, row.number), s.crs_max_grade, s.crs_onset_day, s.icans_max_grade,
            s.icans_onset_day, s.icaht_early_grade, s.icaht_late_grade, s.anc_le_0_5_days, normalised(s.igg_min),
            s.igg_min_day, s.ivig_given, s.infections, s.infections_grade3plus, negative,
        )  # fmt: skip
