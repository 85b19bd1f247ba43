"""Parsing of bulk lab-result rows at the API edge.

A DRF serializer per row costs more than the database writes themselves at 5,000 rows, so rows are
read with plain conversions here; the clinical checks stay in `services.import_lab_results`.
Subjects and visits are resolved with one query each for the whole batch.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from edc import input_guard, roles, services
from edc.models import LabResult, Subject

TEXT_FIELDS = {"analyte", "result_text", "unit", "lab_name"}
DECIMAL_FIELDS = {"value", "lln", "uln", "lloq"}
KNOWN_FIELDS = {"subject", "visit", "not_detected", "sample_datetime", *TEXT_FIELDS, *DECIMAL_FIELDS}
REQUIRED_FIELDS = ("subject", "analyte", "sample_datetime")
MAX_LENGTHS = {field: LabResult._meta.get_field(field).max_length for field in TEXT_FIELDS}
STORED_DECIMALS = LabResult._meta.get_field("value").decimal_places
STORED_INTEGER_DIGITS = LabResult._meta.get_field("value").max_digits - STORED_DECIMALS


def parse(rows: list, user) -> tuple[list[LabResult], list[dict]]:
    """LabResult objects ready to validate, and the errors of rows that could not even be read."""
    subjects = _subjects_by_id(rows, user)
    visits = _visits_by_pk(rows, user)
    results, errors = [], []
    for index, row in enumerate(rows):
        row_errors = {}
        result = _parse_row(row, subjects, visits, row_errors)
        errors += [{"index": index, "field": f, "message": m} for f, m in row_errors.items()]
        results.append(result)
    return results, errors


def _subject_id(row) -> str | None:
    subject_id = row.get("subject") if isinstance(row, dict) else None
    return subject_id if isinstance(subject_id, str) else None


def _visit_id(row) -> int | None:
    visit_id = row.get("visit") if isinstance(row, dict) else None
    return visit_id if isinstance(visit_id, int) and not isinstance(visit_id, bool) else None


def _subjects_by_id(rows, user) -> dict[str, Subject]:
    wanted = {_subject_id(row) for row in rows}
    queryset = roles.scope(Subject.objects.filter(subject_id__in=wanted - {None}), user).select_related("site")
    return {s.subject_id: s for s in queryset}


def _visits_by_pk(rows, user) -> dict[int, object]:
    wanted = {_visit_id(row) for row in rows} - {None}
    if not wanted:
        return {}
    return {v.pk: v for v in roles.scope(services.visits_with_infusion_start().filter(pk__in=wanted), user)}


def _parse_row(row, subjects, visits, errors: dict) -> LabResult | None:
    if not isinstance(row, dict):
        errors["row"] = "each row is a JSON object"
        return None
    for field in sorted(set(row) - KNOWN_FIELDS):
        errors[field] = "unknown field"
    for field in REQUIRED_FIELDS:
        if row.get(field) in (None, ""):
            errors[field] = "this field is required"
    values = {field: _text(row.get(field), field, errors) for field in TEXT_FIELDS}
    for field in DECIMAL_FIELDS:
        values[field] = _decimal(row.get(field), field, errors)
    values["not_detected"] = _boolean(row.get("not_detected", False), errors)
    values["sample_datetime"] = _aware_datetime(row.get("sample_datetime"), errors)
    subject = subjects.get(_subject_id(row))
    if row.get("subject") not in (None, "") and subject is None:
        errors["subject"] = _not_found("subject", row["subject"], _subject_id(row) is not None)
    visit = visits.get(_visit_id(row))
    if row.get("visit") is not None and visit is None:
        errors["visit"] = _not_found("visit", row["visit"], _visit_id(row) is not None)
    if errors:
        return None
    return LabResult(subject=subject, visit=visit, **values)


def _not_found(field: str, raw, well_formed: bool) -> str:
    if well_formed:
        return f"no {field} {raw!r} at your sites"
    expected = "the subject_id as text" if field == "subject" else "the visit's id, a whole number"
    return f"expected {expected}, got {input_guard.json_type(raw)}"


def _text(raw, field, errors) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors[field] = f"expected text, got {input_guard.json_type(raw)}"
        return ""
    text = raw.strip()
    if len(text) > MAX_LENGTHS[field]:
        errors[field] = f"at most {MAX_LENGTHS[field]} characters; got {len(text)}"
    return text


def _decimal(raw, field, errors) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        errors[field] = "a number is required"
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[field] = f"{raw!r} is not a number"
        return None
    if not value.is_finite():
        errors[field] = "a finite number is required"
        return None
    # The same storage limits the single-row API applies (DecimalField(max_digits=20, decimal_places=6)).
    sign, digits, exponent = value.as_tuple()
    if exponent < -STORED_DECIMALS:
        errors[field] = f"at most {STORED_DECIMALS} decimal places"
    elif len(digits) + exponent > STORED_INTEGER_DIGITS:
        errors[field] = f"at most {STORED_INTEGER_DIGITS} digits before the decimal point"
    return value


def _boolean(raw, errors) -> bool:
    if isinstance(raw, bool):
        return raw
    errors["not_detected"] = "must be true or false"
    return False


def _aware_datetime(raw, errors):
    if not raw:
        return None
    try:
        moment = parse_datetime(str(raw))
    except ValueError:
        moment = None
    if moment is None:
        errors["sample_datetime"] = f"{raw!r} is not an ISO 8601 timestamp"
    elif moment.tzinfo is None:
        errors["sample_datetime"] = "the timestamp needs its UTC offset (e.g. +08:00)"
        moment = None
    return moment
