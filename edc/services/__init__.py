"""The kernel's use cases, one module per job; callers import them from here.

- `crf`: the write path every clinical row takes (`save_crf`, `void_crf`), its validators and save listeners
  (the extension points other apps fill from their `hooks` module), and its effects on data management.
- `subjects`: registration, the visit schedule, the kernel CRFs' validators, the bulk lab-result import.
- `data_management`: data queries, signatures, source verification and locks.
- `audit`: the audit trail, and a subject's data version (what a cache of its screens is keyed by).
"""

from edc.services.audit import (
    AuditEvent,
    DataVersion,
    audit_trail,
    audited_models_of_subject,
    data_version,
    study_audit_trail,
)
from edc.services.crf import (
    BOOKKEEPING_FIELDS,
    REASON_REQUIRED,
    Locked,
    StaleVersion,
    label_of,
    open_auto_queries,
    register_save_listener,
    register_validator,
    save_crf,
    system_user,
    validate_crf,
    void_crf,
)
from edc.services.data_management import (
    Target,
    VisitAttestation,
    answer_query,
    close_query,
    describe_targets,
    is_locked,
    lock,
    open_queries_of,
    open_query,
    reopen_query,
    resolve_target,
    sign,
    unlock,
    verify_source,
    visit_attestation,
)
from edc.services.subjects import (
    BULK_LIMIT,
    BulkImport,
    BulkRejected,
    import_lab_results,
    register_subject,
    schedule_follow_up,
    site_time,
    take_off_study,
    visits_with_infusion_start,
)

__all__ = [
    "AuditEvent",
    "BOOKKEEPING_FIELDS",
    "BULK_LIMIT",
    "BulkImport",
    "BulkRejected",
    "DataVersion",
    "Locked",
    "REASON_REQUIRED",
    "StaleVersion",
    "Target",
    "VisitAttestation",
    "answer_query",
    "audit_trail",
    "audited_models_of_subject",
    "close_query",
    "data_version",
    "describe_targets",
    "import_lab_results",
    "is_locked",
    "label_of",
    "lock",
    "open_auto_queries",
    "open_queries_of",
    "open_query",
    "register_save_listener",
    "register_subject",
    "register_validator",
    "reopen_query",
    "resolve_target",
    "save_crf",
    "schedule_follow_up",
    "sign",
    "site_time",
    "study_audit_trail",
    "system_user",
    "take_off_study",
    "unlock",
    "validate_crf",
    "verify_source",
    "visit_attestation",
    "visits_with_infusion_start",
    "void_crf",
]
