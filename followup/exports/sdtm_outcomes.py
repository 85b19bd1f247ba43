"""The SDTM domains of the lupus outcomes: RS (the response states of each SELENA-SLEDAI assessment: `DORIS`,
`DORISTF`, `LLDAS`, `SFI`) and QS (SELENA-SLEDAI, each descriptor, the total and the PGA), numbered (--SEQ) per
subject as the rows stream from `followup.services.subject_outcomes`."""

from __future__ import annotations

from collections.abc import Iterator

from edc import rules as edc_rules
from edc.models import Subject
from followup import services
from followup.exports.params import ExportRequest
from followup.exports.sdtm import _dy
from followup.exports.sources import STUDY_ID, scoped, usubjid
from followup.exports.text import normalised
from followup.rules.outcomes import AssessmentOutcome
from screening.rules.sledai import SLEDAI_ORGANS, SLEDAI_WEIGHTS, Outcome

# RSTESTCD → (RSTEST, the AssessmentOutcome field)
RS_TESTS = {
    "DORIS": ("DORIS Remission", "doris"),
    "DORISTF": ("Treatment-Free DORIS Remission", "doris_treatment_free"),
    "LLDAS": ("Lupus Low Disease Activity State", "lldas"),
    "SFI": ("SELENA Flare Index", "flare"),
}
RS_CATEGORY = "SLE RESPONSE"
QS_CATEGORY = "SELENA-SLEDAI"
# QSTESTCD is at most 8 characters: the descriptors are numbered in the form's order, QSTEST names them.
QS_DESCRIPTORS = [(f"SLED{n:02d}", code, label) for n, (code, label) in
                  enumerate((d for _, descriptors in SLEDAI_ORGANS for d in descriptors), 1)]  # fmt: skip
NOT_DONE = "NOT DONE"


def _where(request: ExportRequest, subject, o: AssessmentOutcome) -> tuple:
    """VISIT, VISITNUM, --DTC, --DY of an assessment (no date in pseudonymised exports: the study day says it)."""
    visit = edc_rules.SCHEDULE.get(o.facts.visit)
    when = None if request.pseudonymised else o.facts.assessment_date.isoformat()
    return (o.facts.visit or None, visit.visitnum if visit else None, when,
            _dy(o.facts.assessment_date, subject.infusion_date))  # fmt: skip


def _result(outcome: Outcome) -> tuple:
    """RSORRES, RSSTRESC, RSSTAT, RSREASND: Y/N or the flare level; NOT DONE naming what is missing."""
    if outcome.value is None:
        return None, None, NOT_DONE, f"no {', no '.join(outcome.missing)}"
    shown = outcome.value if isinstance(outcome.value, str) else "Y" if outcome.value else "N"
    return shown, shown, None, None


def sdtm_rs_rows(request: ExportRequest) -> Iterator[tuple]:
    for subject in services.subject_outcomes(scoped(Subject.objects.all(), request, subject_path="")):
        key, seq = usubjid(subject.site_code, subject.number), 0
        for o in subject.outcomes:
            for code, (test, field) in RS_TESTS.items():
                seq += 1
                yield (STUDY_ID, "RS", key, seq, code, test, RS_CATEGORY, *_result(getattr(o, field)),
                       *_where(request, subject, o))  # fmt: skip


def sdtm_qs_rows(request: ExportRequest) -> Iterator[tuple]:
    for subject in services.subject_outcomes(scoped(Subject.objects.all(), request, subject_path="")):
        key, seq = usubjid(subject.site_code, subject.number), 0
        for o in subject.outcomes:
            where = _where(request, subject, o)
            items = [
                (code, label, "Y" if descriptor in o.facts.descriptors else "N",
                 SLEDAI_WEIGHTS[descriptor] if descriptor in o.facts.descriptors else 0)
                for code, descriptor, label in QS_DESCRIPTORS
            ]  # fmt: skip
            items.append(("SLEDTOT", "SELENA-SLEDAI Total Score", str(o.facts.total), o.facts.total))
            pga = normalised(o.facts.pga)
            items.append(("PGA", "Physician's Global Assessment", None if pga is None else f"{pga:f}", pga))
            for code, test, orres, stresn in items:
                seq += 1
                yield (STUDY_ID, "QS", key, seq, QS_CATEGORY, code, test, orres, orres, stresn,
                       NOT_DONE if orres is None else None, *where)  # fmt: skip
