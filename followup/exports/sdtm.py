"""The SDTM domains: DM, EX, LB, PC, PP, AE and DV, each numbered (--SEQ) per subject as its rows stream."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from edc import rules as edc_rules
from edc.models import Deviation, Subject
from followup import rules
from followup.exports.copy_reader import CHUNK_SIZE
from followup.exports.datasets import LB_ANALYTES, PK_ANALYTES
from followup.exports.params import ExportRequest
from followup.exports.pkpd import pk_parameters
from followup.exports.sources import (
    STUDY_ID,
    SUBJECT_COLUMNS,
    Sample,
    in_days,
    samples,
    scoped,
    usubjid,
    with_infusion_start,
)
from followup.exports.text import float_text, normalised
from followup.models import AdverseEvent
from infusion.models import Infusion, LymphodepletionDose


def _dtc(moment: dt.datetime | dt.date | None, tz: str, request: ExportRequest) -> str | None:
    """ISO 8601 in site time; none at all in pseudonymised exports (their dates are the --DY study days)."""
    if moment is None or request.pseudonymised:
        return None
    if isinstance(moment, dt.datetime):
        return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")
    return moment.isoformat()


def _dy(on: dt.date | None, infusion_date: dt.date | None) -> int | None:
    return rules.study_day(on, infusion_date) if on is not None and infusion_date is not None else None


def _nrind(sample: Sample) -> str | None:
    return edc_rules.reference_flag(sample.value, sample.lln, sample.uln)


def _orres(sample: Sample, blq_as_text: bool) -> str:
    if sample.not_detected:
        return "NOT DETECTED"
    if blq_as_text and sample.blq:
        return "BLQ"
    if sample.value is None:
        return sample.result_text
    return f"{normalised(sample.value):f}"


def _sdtm_result_rows(request: ExportRequest, domain: str, analytes: tuple[str, ...]) -> Iterator[tuple]:
    is_pc = domain == "PC"
    seq, current = 0, None
    for sample in samples(request, analytes):
        if sample.subject_pk != current:
            seq, current = 0, sample.subject_pk
        seq += 1  # numbered before the day filter, so a filtered export keeps the full dataset's --SEQ
        if not in_days(request, sample.actual_day):
            continue
        visit = edc_rules.SCHEDULE.get(sample.visit)
        stresn = None if sample.value is None or (is_pc and sample.blq) else normalised(sample.value)
        yield (
            STUDY_ID, domain, sample.usubjid, seq, sample.analyte, sample.analyte, _orres(sample, is_pc),
            sample.unit or None, stresn, sample.unit or None, None if is_pc else _nrind(sample),
            *((normalised(sample.lloq),) if is_pc else ()), sample.visit or None, visit.visitnum if visit else None,
            _dtc(sample.taken, sample.tz, request), _dy(sample.site_date, sample.infusion_date),
        )  # fmt: skip


def sdtm_lb_rows(request: ExportRequest) -> Iterator[tuple]:
    return _sdtm_result_rows(request, "LB", request.analytes or LB_ANALYTES)


def sdtm_pc_rows(request: ExportRequest) -> Iterator[tuple]:
    return _sdtm_result_rows(request, "PC", request.analytes or PK_ANALYTES)


# PPTESTCD → (PPTEST, the NcaResult attribute, unit: None for the analyte's own, interval)
PP_TESTS = {
    "CMAX": ("Max Conc", "cmax", None, None),
    "TMAX": ("Time of CMAX", "tmax", "day", None),
    "AUCINT": ("AUC from T1 to T2", "auc0_28", "day*{unit}", ("P0D", "P28D")),
    "CLST": ("Last Nonzero Conc", "clast", None, None),
    "TLST": ("Time of Last Nonzero Conc", "tlast", "day", None),
}


def sdtm_pp_rows(request: ExportRequest) -> Iterator[tuple]:
    seq, current = 0, None
    for p in pk_parameters(request):
        if p.usubjid != current:
            seq, current = 0, p.usubjid
        for code, (test, attribute, unit, interval) in PP_TESTS.items():
            seq += 1
            value = getattr(p.nca, attribute)
            unit = (unit or "{unit}").format(unit=p.unit)
            start, end = interval or (None, None)
            orres = None if value is None else float_text(value)
            yield STUDY_ID, "PP", p.usubjid, seq, p.analyte, code, test, orres, unit, value, unit, start, end


def sdtm_dm_rows(request: ExportRequest) -> Iterator[tuple]:
    subjects = with_infusion_start(scoped(Subject.objects.all(), request, subject_path=""), subject_path="")
    rows = subjects.order_by("pk").values_list(
        "subject_id", "site__code", "number", "site__timezone", "date_of_birth", "sex", "d0_start"
    )
    for subject_id, site, number, tz, birth, sex, start in rows.iterator(chunk_size=CHUNK_SIZE):
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        age = edc_rules.age_in_years(birth, infusion_date) if infusion_date else None
        yield (STUDY_ID, "DM", usubjid(site, number), subject_id, _dtc(start, tz, request), site,
               _dtc(birth, tz, request), age, "YEARS" if age is not None else None, sex)  # fmt: skip


def sdtm_ex_rows(request: ExportRequest) -> Iterator[tuple]:
    """Lymphodepletion (fludarabine, cyclophosphamide, mg) and the CAR-T infusion (CAR+ cells/kg)."""
    doses = (
        with_infusion_start(scoped(LymphodepletionDose.objects.all(), request))
        .order_by("subject_id", "day", "id")
        .values_list(*SUBJECT_COLUMNS, "date", "fludarabine_mg", "cyclophosphamide_mg")
    )
    infusions = (
        with_infusion_start(scoped(Infusion.objects.all(), request))
        .order_by("subject_id", "id")
        .values_list(*SUBJECT_COLUMNS, "infusion_start", "dose_car_cells_per_kg")
    )
    dose_rows = (
        (pk, site, number, tz, start, date, drug, mg, "mg")
        for pk, site, number, tz, start, date, fludarabine, cyclophosphamide in doses.iterator(chunk_size=CHUNK_SIZE)
        for drug, mg in (("FLUDARABINE", fludarabine), ("CYCLOPHOSPHAMIDE", cyclophosphamide))
    )
    infusion_rows = (
        (pk, site, number, tz, start, when, "META10-19", dose, "CAR+ cells/kg")
        for pk, site, number, tz, start, when, dose in infusions.iterator(chunk_size=CHUNK_SIZE)
    )
    seq, current = 0, None
    for pk, site, number, tz, start, when, treatment, dose, unit in heapq.merge(
        dose_rows, infusion_rows, key=lambda r: (r[0], r[6] == "META10-19")
    ):
        if pk != current:
            seq, current = 0, pk
        seq += 1
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        on = when.astimezone(ZoneInfo(tz)).date() if isinstance(when, dt.datetime) else when
        yield (STUDY_ID, "EX", usubjid(site, number), seq, treatment, normalised(dose), unit, _dtc(when, tz, request),
               _dy(on, infusion_date))  # fmt: skip


def sdtm_ae_rows(request: ExportRequest) -> Iterator[tuple]:
    events = (
        with_infusion_start(scoped(AdverseEvent.objects.all(), request))
        .order_by("subject_id", "onset_date", "id")
        .values_list(
            *SUBJECT_COLUMNS,
            "term",
            "category",
            "serious",
            "relatedness",
            "astct_grade",
            "ctcae_grade",
            "onset_date",
            "resolution_date",
        )  # fmt: skip
    )
    seq, current = 0, None
    for pk, site, number, tz, start, term, category, serious, related, astct, ctcae, onset, end in events.iterator(
        chunk_size=CHUNK_SIZE
    ):
        if pk != current:
            seq, current = 0, pk
        seq += 1
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        yield (STUDY_ID, "AE", usubjid(site, number), seq, term, category, "Y" if serious else "N", related,
               astct if astct is not None else ctcae, _dtc(onset, tz, request), _dtc(end, tz, request),
               _dy(onset, infusion_date), _dy(end, infusion_date))  # fmt: skip


def sdtm_dv_rows(request: ExportRequest) -> Iterator[tuple]:
    """Confirmed protocol deviations (proposals and dismissed ones are not deviations yet, or not at all).

    DVTERM is the site's free text, which names dates and may name people: pseudonymised exports leave it out
    (their DVDECOD, DVCAT and DVSCAT say what kind of deviation it was, DVSTDY when)."""
    deviations = (
        with_infusion_start(scoped(Deviation.objects.filter(status=Deviation.Status.CONFIRMED), request))
        .order_by("subject_id", "deviation_date", "id")
        .values_list(*SUBJECT_COLUMNS, "description", "category", "severity", "deviation_date")
    )
    labels = dict(Deviation.Category.choices)
    seq, current = 0, None
    for pk, site, number, tz, start, description, category, severity, on in deviations.iterator(chunk_size=CHUNK_SIZE):
        if pk != current:
            seq, current = 0, pk
        seq += 1
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        term = None if request.pseudonymised else description
        yield (STUDY_ID, "DV", usubjid(site, number), seq, term, category, labels[category].upper(), severity,
               _dtc(on, tz, request), _dy(on, infusion_date))  # fmt: skip
