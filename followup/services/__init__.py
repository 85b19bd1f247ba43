"""Follow-up use cases, one module per job; callers import them from here.

- `adverse_events`: grading CRS and ICANS (ASTCT) from the event and the medication log, and re-grading when
  the log changes.
- `milestones`: the milestone scan (jobs and operators) and the subject page's milestone status.
- `visit_pages`: the visit CRF saved all at once, and the follow-up grid.
- `safety`: the CAR-T safety summaries that the subject page and `exports/safety/` read.
"""

from followup.services.adverse_events import (
    fever_masked,
    regrade_crs_after_medication,
    treated_events,
    validate_adverse_event,
    validate_prednisone_dose,
    validate_treatment,
)
from followup.services.milestones import ScanResult, scan_milestones, subject_status
from followup.services.safety import SafetyRow, safety_rows, subject_safety
from followup.services.visit_pages import (
    GRID_ANALYTES,
    MedicationLine,
    follow_up_grid,
    medications_on,
    record_visit_crf,
    visit_crf_rows,
)

__all__ = [
    "GRID_ANALYTES",
    "MedicationLine",
    "SafetyRow",
    "ScanResult",
    "fever_masked",
    "follow_up_grid",
    "medications_on",
    "record_visit_crf",
    "regrade_crs_after_medication",
    "safety_rows",
    "scan_milestones",
    "subject_safety",
    "subject_status",
    "treated_events",
    "validate_adverse_event",
    "validate_prednisone_dose",
    "validate_treatment",
    "visit_crf_rows",
]
