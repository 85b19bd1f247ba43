"""Follow-up rules: pure functions over plain values (no ORM, no request, no clock: `today` is passed in),
one module per job.

- `pkpd`: the PK/PD derivations of the exports (DOMAIN.md §8): percent change from baseline, BLQ,
  the baselines, NCA, the CD19 PD summary, complement normalisation, the SDTM study day.
- `astct`: ASTCT grading of CRS and ICANS, with the codes of each finding.
- `infections`: the infection fields of an adverse event, and which medication may treat which event.
- `milestones`: qPCR negativity, month 12, the end of contraception, overdue visits (DOMAIN.md §7); the kinds of
  the outcome milestones (first DORIS remission, first LLDAS, severe flare).
- `outcomes`: a subject's SELENA-SLEDAI assessments over time (DOMAIN.md §10): each one's flare, DORIS,
  treatment-free DORIS, LLDAS and change from baseline, the per-subject summary and the outcome milestones.
- `safety`: the CAR-T safety derivations (DOMAIN.md §9): early and late ICAHT, hypogammaglobulinaemia and the IgG
  nadir, IVIG given, the worst CRS/ICANS grade and its onset, infections, one subject's safety summary.

The rules of one SELENA-SLEDAI assessment (flare, DORIS remission, LLDAS) are not here: they have one home,
`screening.rules.sledai`, imported from there; `outcomes` lines them up over time. Visit windows are the
kernel's (`edc.rules`).

The names below are the ones callers use as `rules.X`; anything else is imported from its module.
"""

from followup.rules.astct import (
    AE_OUTCOME_LABELS,
    AE_OUTCOMES,
    CEREBRAL_OEDEMA_CODES,
    CONSCIOUSNESS_CODES,
    FINDING_LABELS,
    HYPOTENSION_CODES,
    HYPOXIA_CODES,
    ICE_SCORE_MAX,
    MOTOR_FINDINGS_CODES,
    SEIZURE_CODES,
    CrsTreatment,
    astct_grade,
    crs_fever_masked,
    crs_grade,
    icans_grade,
)
from followup.rules.infections import (
    INFECTION_FIELDS,
    INFECTION_SITE_LABELS,
    INFECTION_SITES,
    PATHOGEN_CLASS_LABELS,
    PATHOGEN_CLASSES,
    VIRAL_REACTIVATIONS,
    check_infection_fields,
    treatment_errors,
)
from followup.rules.milestones import (
    CONTRACEPTION_END,
    DORIS_REMISSION,
    LLDAS,
    MILESTONE_KINDS,
    MONTH_12,
    PCR_NEGATIVE_CONFIRMED,
    PCR_REEMERGENCE,
    SEVERE_FLARE,
    VISIT_OVERDUE,
    MilestoneFact,
    NegativityEpisode,
    PcrResult,
    VisitState,
    contraception_end,
    contraception_required_until,
    is_pcr_detected,
    is_pcr_negative,
    month_12_date,
    overdue_visits,
    pcr_milestones,
    pcr_negativity_episodes,
    subject_milestones,
)
from followup.rules.pkpd import (
    PERCENT_CHANGE_ANALYTES,
    CD19Summary,
    Concentration,
    NcaResult,
    cd19_pd,
    change_from,
    complement_normalised,
    is_blq,
    nca,
    study_day,
    with_baselines,
)
from followup.rules.safety import (
    EarlyIcaht,
    GradedEvent,
    LabPoint,
    SafetySummary,
    daily_anc,
    early_icaht,
    hypogammaglobulinaemia,
    igg_nadir,
    infection_counts,
    ivig_given,
    late_icaht,
    safety_summary,
    severe_hypogammaglobulinaemia,
    worst_grade,
)

__all__ = [
    # pkpd
    "PERCENT_CHANGE_ANALYTES",
    "CD19Summary",
    "Concentration",
    "NcaResult",
    "cd19_pd",
    "change_from",
    "complement_normalised",
    "is_blq",
    "nca",
    "study_day",
    "with_baselines",
    # astct
    "CEREBRAL_OEDEMA_CODES",
    "CONSCIOUSNESS_CODES",
    "HYPOTENSION_CODES",
    "HYPOXIA_CODES",
    "ICE_SCORE_MAX",
    "MOTOR_FINDINGS_CODES",
    "SEIZURE_CODES",
    "AE_OUTCOMES",
    "AE_OUTCOME_LABELS",
    "FINDING_LABELS",
    "CrsTreatment",
    "astct_grade",
    "crs_fever_masked",
    "crs_grade",
    "icans_grade",
    # infections
    "INFECTION_FIELDS",
    "INFECTION_SITES",
    "INFECTION_SITE_LABELS",
    "PATHOGEN_CLASSES",
    "PATHOGEN_CLASS_LABELS",
    "VIRAL_REACTIVATIONS",
    "check_infection_fields",
    "treatment_errors",
    # milestones
    "CONTRACEPTION_END",
    "DORIS_REMISSION",
    "LLDAS",
    "MILESTONE_KINDS",
    "SEVERE_FLARE",
    "MONTH_12",
    "PCR_NEGATIVE_CONFIRMED",
    "PCR_REEMERGENCE",
    "VISIT_OVERDUE",
    "MilestoneFact",
    "NegativityEpisode",
    "PcrResult",
    "VisitState",
    "contraception_end",
    "contraception_required_until",
    "is_pcr_detected",
    "is_pcr_negative",
    "month_12_date",
    "overdue_visits",
    "pcr_milestones",
    "pcr_negativity_episodes",
    "subject_milestones",
    # safety
    "EarlyIcaht",
    "GradedEvent",
    "LabPoint",
    "SafetySummary",
    "daily_anc",
    "early_icaht",
    "hypogammaglobulinaemia",
    "igg_nadir",
    "infection_counts",
    "ivig_given",
    "late_icaht",
    "safety_summary",
    "severe_hypogammaglobulinaemia",
    "worst_grade",
]
