"""The SDTM domains: DM, EX, LB, PC, PP, AE, CM and DV, each numbered (--SEQ) per subject as its rows stream, and
the supplemental qualifiers SUPPAE (the infection fields) and SUPPCM (the adverse event a medication treats)."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

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
from followup.models import AdverseEvent, AdverseEventTreatment
from infusion.models import Infusion, LymphodepletionDose
from screening.models import Medication


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


# CDISC controlled terms of the CRF's codes: AE outcome (C66768), route of administration (C66729).
AEOUT_TERMS = {
    "RECOVERED": "RECOVERED/RESOLVED",
    "RECOVERING": "RECOVERING/RESOLVING",
    "NOT_RECOVERED": "NOT RECOVERED/NOT RESOLVED",
    "RECOVERED_WITH_SEQUELAE": "RECOVERED/RESOLVED WITH SEQUELAE",
    "FATAL": "FATAL",
    "UNKNOWN": "UNKNOWN",
}
CMROUTE_TERMS = {
    "ORAL": "ORAL",
    "IV": "INTRAVENOUS",
    "SC": "SUBCUTANEOUS",
    "IM": "INTRAMUSCULAR",
    "TOPICAL": "TOPICAL",
    "INHALED": "RESPIRATORY (INHALATION)",
}  # OTHER has no CDISC term: CMROUTE is left empty
# SUPPAE: the infection fields SDTM AE has no variable for (QNAM ≤ 8 characters, QLABEL ≤ 40).
SUPPAE_QUALIFIERS = (
    ("pathogen_class", "PATHCLAS", "Pathogen Class"),
    ("organism", "ORGANISM", "Organism"),
    ("infection_site", "INFSITE", "Infection Site"),
    ("opportunistic", "OPPORT", "Opportunistic Infection"),
    ("viral_reactivation", "VIRREACT", "Viral Reactivation"),
)
AE_ORDER = ("subject_id", "onset_date", "id")  # AESEQ: a subject's events in this order, numbered from 1


def _adverse_events(request: ExportRequest):
    return with_infusion_start(scoped(AdverseEvent.objects.all(), request)).order_by(*AE_ORDER)


def _numbered(rows: Iterator[tuple]) -> Iterator[tuple[int, tuple]]:
    """(--SEQ, row) for rows ordered by subject (their first item), numbered from 1 per subject."""
    seq, current = 0, None
    for row in rows:
        if row[0] != current:
            seq, current = 0, row[0]
        seq += 1
        yield seq, row


def sdtm_ae_rows(request: ExportRequest) -> Iterator[tuple]:
    events = _adverse_events(request).values_list(
        *SUBJECT_COLUMNS, "term", "category", "serious", "relatedness", "outcome", "astct_grade", "ctcae_grade",
        "onset_date", "resolution_date",
    )  # fmt: skip
    for seq, row in _numbered(events.iterator(chunk_size=CHUNK_SIZE)):
        pk, site, number, tz, start, term, category, serious, related, outcome, astct, ctcae, onset, end = row
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        yield (STUDY_ID, "AE", usubjid(site, number), seq, term, category, "Y" if serious else "N", related,
               AEOUT_TERMS.get(outcome), astct if astct is not None else ctcae, _dtc(onset, tz, request),
               _dtc(end, tz, request), _dy(onset, infusion_date), _dy(end, infusion_date))  # fmt: skip


def _qval(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def sdtm_suppae_rows(request: ExportRequest) -> Iterator[tuple]:
    """One row per infection field given, keyed to its event by AESEQ (numbered over all events, as in AE)."""
    names = [name for name, _, _ in SUPPAE_QUALIFIERS]
    events = _adverse_events(request).values_list("subject_id", "subject__site__code", "subject__number", *names)
    for seq, (_, site, number, *values) in _numbered(events.iterator(chunk_size=CHUNK_SIZE)):
        for (_, qnam, qlabel), value in zip(SUPPAE_QUALIFIERS, values, strict=True):
            if (qval := _qval(value)) is not None:
                yield STUDY_ID, "AE", usubjid(site, number), "AESEQ", str(seq), qnam, qlabel, qval, "CRF"


def _aeseq_by_subject(request: ExportRequest) -> Iterator[tuple[int, dict[int, int]]]:
    """(subject pk, {adverse event pk: AESEQ}) per subject with events, in subject order: one subject's at a time."""
    events = _adverse_events(request).values_list("subject_id", "pk")
    current, seqs = None, {}
    for seq, (subject_pk, event_pk) in _numbered(events.iterator(chunk_size=CHUNK_SIZE)):
        if subject_pk != current:
            if current is not None:
                yield current, seqs
            current, seqs = subject_pk, {}
        seqs[event_pk] = seq
    if current is not None:
        yield current, seqs


def _medications(request: ExportRequest):
    """The medication log by subject (CMSEQ order), each entry with the adverse event it treats, if any."""
    treated = AdverseEventTreatment.objects.filter(medication=OuterRef("pk"), voided=False, adverse_event__voided=False)
    return (
        with_infusion_start(scoped(Medication.objects.all(), request))
        .annotate(treated_event=Subquery(treated.values("adverse_event_id")[:1]))
        .order_by("subject_id", "start_date", "id")
    )


def sdtm_cm_rows(request: ExportRequest) -> Iterator[tuple]:
    """The medication log (DOMAIN.md §6): daily doses in mg, once a day; the event treated is in SUPPCM."""
    log = _medications(request).values_list(
        *SUBJECT_COLUMNS, "drug", "category", "indication", "dose_mg_per_day", "route", "start_date", "stop_date"
    )
    for seq, row in _numbered(log.iterator(chunk_size=CHUNK_SIZE)):
        pk, site, number, tz, start, drug, category, indication, dose, route, started, stopped = row
        infusion_date = start.astimezone(ZoneInfo(tz)).date() if start else None
        daily = dose is not None
        yield (STUDY_ID, "CM", usubjid(site, number), seq, drug, category, indication or None,
               normalised(dose) if daily else None, "mg" if daily else None, "QD" if daily else None,
               CMROUTE_TERMS.get(route), _dtc(started, tz, request), _dtc(stopped, tz, request),
               _dy(started, infusion_date), _dy(stopped, infusion_date))  # fmt: skip


def sdtm_suppcm_rows(request: ExportRequest) -> Iterator[tuple]:
    """CMAENO: the AESEQ of the adverse event a medication treats (SDTM CM has no variable for it)."""
    log = _medications(request).values_list("subject_id", "subject__site__code", "subject__number", "treated_event")
    aeseqs = _aeseq_by_subject(request)
    subject_seqs = next(aeseqs, None)
    for seq, (subject_pk, site, number, event_pk) in _numbered(log.iterator(chunk_size=CHUNK_SIZE)):
        if event_pk is None:
            continue
        while subject_seqs is not None and subject_seqs[0] < subject_pk:
            subject_seqs = next(aeseqs, None)
        aeseq = subject_seqs[1].get(event_pk) if subject_seqs and subject_seqs[0] == subject_pk else None
        if aeseq is not None:
            yield (STUDY_ID, "CM", usubjid(site, number), "CMSEQ", str(seq), "CMAENO", "Related Adverse Event Seq",
                   str(aeseq), "CRF")  # fmt: skip


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
