"""Field checks of the screening CRFs, shared by the stored CRFs and the dry run (pure: no ORM, no request,
no clock).

Each `check_*` returns {field: message} for what the field's own limits do not say: unknown codes, dates
in the wrong order, a corticosteroid without a prednisone equivalent, a missing reason. Also the
screening procedures dated before the consent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from edc.rules import N_, Message
from screening.rules.calculations import canonical_drug
from screening.rules.codes import (
    CORTICOSTEROID,
    LUPUS_CRISES,
    MEDICATION_CATEGORIES,
    PREDNISONE_EQUIVALENTS,
    SLICC_CODES,
)
from screening.rules.inputs import EligibilityInputs
from screening.rules.sledai import SLEDAI_WEIGHTS


def check_codes(field_name: str, codes, allowed: Sequence[str], what: str) -> dict[str, str]:
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        return {field_name: Message("must be a list of {what} codes", what=what)}
    unknown = [code for code in codes if code not in allowed]
    if unknown:
        return {field_name: Message("unknown {what} code(s) {unknown}; expected one of {allowed}", what=what,
                                    unknown=", ".join(unknown), allowed=", ".join(allowed))}  # fmt: skip
    return {}


def check_consent_fields(consent_date: dt.date | None, date_of_birth: dt.date | None) -> dict[str, str]:
    if consent_date and date_of_birth and consent_date < date_of_birth:
        return {"consent_date": Message("{consent} is before the date of birth {born} (hard limit)",
                                        consent=consent_date, born=date_of_birth)}  # fmt: skip
    return {}


def check_history_fields(slicc_criteria) -> dict[str, str]:
    return check_codes("slicc_criteria", slicc_criteria, SLICC_CODES, "SLICC")


def check_medication_fields(
    category: str, drug: str, start_date: dt.date | None, dose_stable_since: dt.date | None, stop_date: dt.date | None
) -> dict[str, str]:
    errors = {}
    if category not in MEDICATION_CATEGORIES:
        errors["category"] = Message("unknown category {category}; expected one of {allowed}", category=repr(category),
                                     allowed=", ".join(MEDICATION_CATEGORIES))  # fmt: skip
    elif category == CORTICOSTEROID and canonical_drug(drug) not in PREDNISONE_EQUIVALENTS:
        errors["drug"] = Message("{drug} has no prednisone equivalent; a corticosteroid is one of {allowed}",
                                 drug=repr(drug), allowed=", ".join(PREDNISONE_EQUIVALENTS))  # fmt: skip
    if start_date and stop_date and stop_date < start_date:
        errors["stop_date"] = Message("{date} is before the start date {start}", date=stop_date, start=start_date)
    if start_date and dose_stable_since and dose_stable_since < start_date:
        errors["dose_stable_since"] = Message("{date} is before the start date {start}", date=dose_stable_since,
                                              start=start_date)  # fmt: skip
    return errors


def check_sledai_fields(descriptors) -> dict[str, str]:
    return check_codes("descriptors", descriptors, tuple(SLEDAI_WEIGHTS), N_("SELENA-SLEDAI descriptor"))


def check_exam_fields(values: dict) -> dict[str, str]:
    errors = check_codes("lupus_crises", values.get("lupus_crises", []), LUPUS_CRISES, N_("lupus crisis"))
    if values.get("investigator_exclusion") and not (values.get("investigator_exclusion_reason") or "").strip():
        errors["investigator_exclusion_reason"] = N_("a reason is required when the investigator excludes the subject")
    if values.get("lvef_pct") is not None and not values.get("lvef_method"):
        errors["lvef_method"] = N_("say how LVEF was measured (ECHO or MUGA)")
    return errors


def procedures_before_consent(consent_date: dt.date, procedures: Iterable[tuple[str, dt.date]]) -> list[str]:
    """The screening procedures dated before the consent, each as 'what on date'."""
    return [Message("{what} on {day}", what=what, day=day) for what, day in sorted(procedures, key=lambda p: p[1])
            if day < consent_date]  # fmt: skip


def screening_procedures(inputs: EligibilityInputs) -> list[tuple[str, dt.date]]:
    """The dated screening procedures of the inputs (lab samples, the exam, the SLEDAI assessment)."""
    procedures = [(Message("{analyte} sample", analyte=lab.analyte), lab.sample_date) for lab in inputs.lab_results]
    if inputs.screening_exam and inputs.screening_exam.exam_date:
        procedures.append((N_("screening exam"), inputs.screening_exam.exam_date))
    if inputs.sledai:
        procedures.append((N_("SELENA-SLEDAI assessment"), inputs.sledai.assessment_date))
    return procedures
