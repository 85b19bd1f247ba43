"""Demo step: realistic follow-up of every treated demo subject (DOMAIN.md §6 ranges).

CAR transgene expansion peaking on days 7–14 then contracting below the LLOQ over months; B-cell
aplasia within a week and return near day 110 ± 40; anti-dsDNA falling and C3/C4 normalising
within about three months; SELENA-SLEDAI falling from 8–20 to 0–4 by months 3–6 with a prednisone
taper; grade 1–2 CRS in most, ICANS rarely; neutrophils (ANC) falling after lymphodepletion to a nadir in week 1
and recovering by days 14–21 in most (later in some, a late neutropenia after day 30 in a few); IgG falling during
B-cell aplasia, below 4 g/L in some, a few of whom get IVIG (medication log); immunosuppressants stopped before
lymphodepletion and prednisone tapered off by months 4–5 in most (treatment-free DORIS by month 6), one severe flare
after B-cell return (prednisone restarted) and one mild flare. Deterministic for a given seed.
Everything is written through the services (lab results through the bulk import), so history, checks and queries apply.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from edc import roles
from edc import services as edc_services
from edc.demo import DemoCohort
from edc.models import LabResult, Subject, Visit
from edc.rules import SCHEDULE
from followup import services
from followup.models import AdverseEvent, AdverseEventTreatment, PrednisoneDose
from screening.models import Medication, SledaiAssessment

# Reference ranges the demo lab reports (LLN, ULN); CD19 and the CAR assays carry none.
RANGES = {
    "C3": ("0.9", "1.8"), "C4": ("0.1", "0.4"), "DSDNA": (None, "100"), "PROT24": (None, "0.15"),
    "LYM": ("1.1", "3.2"), "PLAT": ("125", "350"), "HGB": ("115", "150"), "WBC": ("3.5", "9.5"),
    "ANC": ("1.8", "6.3"), "IGG": ("7", "16"),
}  # fmt: skip
LLOQ = {"CARPCR": Decimal("50"), "CARFLOW": Decimal("0.5")}
CBC_CODES = {"D1", "D4", "D7", "D10", "D14", "D21", "D28", "M2", "M3", "M6", "M9", "M12"}
IGG_CODES = {"BL", "D28", "M2", "M3", "M6", "M9", "M12", "M15", "M18", "M21", "M24"}
SLEDAI_CODES = {"D28", "M3", "M6", "M9", "M12", "M15", "M18", "M21", "M24"}
# The cohort's flares, each given once, in this order, to the first subject followed long enough.
SEVERE_FLARE_DESCRIPTORS = ["ARTHRITIS", "PROTEINURIA", "HEMATURIA", "RASH", "LOW_COMPLEMENT", "DNA_BINDING"]  # 18
MILD_FLARE_DESCRIPTORS = ["ARTHRITIS", "ALOPECIA"]  # + 6 points
FLARE_PREDNISONE_MG, FLARE_PREDNISONE_DAYS = 20, 90
BASELINE_DESCRIPTORS = ["ARTHRITIS", "PROTEINURIA", "RASH", "ALOPECIA", "MUCOSAL_ULCERS", "LOW_COMPLEMENT",
                        "DNA_BINDING", "HEMATURIA", "PLEURISY"]  # fmt: skip
# The order descriptors resolve in: serosal and renal first, the milder ones, then the serological ones last.
RESOLUTION_ORDER = ["PLEURISY", "HEMATURIA", "PROTEINURIA", "ARTHRITIS", "MUCOSAL_ULCERS", "RASH", "ALOPECIA",
                    "LOW_COMPLEMENT", "DNA_BINDING"]  # fmt: skip


@dataclass
class Course:
    """One subject's simulated disease and cell kinetics, drawn once from the seed."""

    pcr_peak: float
    pcr_peak_day: float
    pcr_half_life: float
    flow_peak: float
    cd19_baseline: float
    b_cell_return_day: float
    dsdna_baseline: float
    dsdna_responder: bool
    c3_baseline: float
    c4_baseline: float
    protein_baseline: float
    descriptors: list[str]
    prednisone_baseline: float
    anc_baseline: float
    anc_nadir: float
    anc_recovery_day: float
    anc_late_neutropenia: bool
    igg_baseline: float
    igg_floor: float  # the fraction of baseline IgG reached during B-cell aplasia
    ivig_when_low: bool


def draw_course(rng) -> Course:
    return Course(
        pcr_peak=10 ** rng.uniform(3, 5),
        pcr_peak_day=rng.uniform(7, 14),
        pcr_half_life=rng.uniform(8, 20),
        flow_peak=rng.uniform(1, 30),
        cd19_baseline=rng.uniform(50, 300),
        b_cell_return_day=max(50.0, rng.gauss(110, 40)),
        dsdna_baseline=rng.uniform(120, 450),
        dsdna_responder=rng.random() < 0.8,
        c3_baseline=rng.uniform(0.45, 0.85),
        c4_baseline=rng.uniform(0.04, 0.09),
        protein_baseline=rng.uniform(0.3, 2.5),
        descriptors=BASELINE_DESCRIPTORS[: rng.randint(4, 8)],
        prednisone_baseline=rng.choice([10, 15, 20, 25, 30]),
        anc_baseline=rng.uniform(2.2, 5.5),
        anc_nadir=rng.uniform(0.05, 0.1) if rng.random() < 0.08 else rng.uniform(0.2, 1.0),
        anc_recovery_day=rng.uniform(8, 16) if rng.random() < 0.85 else rng.uniform(18, 26),
        anc_late_neutropenia=rng.random() < 0.15,
        igg_baseline=rng.uniform(8, 15),
        igg_floor=rng.uniform(0.2, 0.5),
        ivig_when_low=rng.random() < 0.6,
    )


def car_transgene(course: Course, day: float) -> float:
    if day <= course.pcr_peak_day:
        return course.pcr_peak * math.exp(-((day - course.pcr_peak_day) ** 2) / (2 * 3.0**2))
    return course.pcr_peak * 0.5 ** ((day - course.pcr_peak_day) / course.pcr_half_life)


def b_cells(course: Course, day: float) -> float:
    if day < course.b_cell_return_day:
        return course.cd19_baseline * math.exp(-day / 1.2) + 0.2
    recovered = 1 - math.exp(-(day - course.b_cell_return_day) / 45)
    return max(1.0, 0.7 * course.cd19_baseline * recovered)


def neutrophils(course: Course, day: float) -> float:
    """ANC × 10^9/L: lymphodepletion takes it to its nadir by day 3–7, recovery over a few days from the recovery day;
    a late neutropenia (ANC 0.6–1.4) from month 2 to month 4 in a few."""
    if day <= 0:
        return course.anc_baseline
    if day < 4:
        return course.anc_baseline + (course.anc_nadir - course.anc_baseline) * day / 4
    if day < course.anc_recovery_day:
        return course.anc_nadir
    if course.anc_late_neutropenia and 45 <= day <= 120:
        return 0.6 + 0.8 * (day - 45) / 75
    recovered = 1 - math.exp(-(day - course.anc_recovery_day) / 4)
    return course.anc_nadir + (max(2.0, 0.8 * course.anc_baseline) - course.anc_nadir) * recovered


def immunoglobulin_g(course: Course, day: float) -> float:
    """IgG g/L: falls towards its floor during B-cell aplasia (plasma cells wane over months), then recovers."""
    low = course.igg_baseline * course.igg_floor
    if day <= 0:
        return course.igg_baseline
    if day < course.b_cell_return_day:
        return towards(course.igg_baseline, low, day, tau=50)
    at_return = towards(course.igg_baseline, low, course.b_cell_return_day, tau=50)
    return towards(at_return, 0.85 * course.igg_baseline, day - course.b_cell_return_day, tau=90)


def towards(baseline: float, target: float, day: float, tau: float = 30) -> float:
    return target + (baseline - target) * math.exp(-max(day, 0) / tau)


def seed_follow_up(cohort: DemoCohort) -> None:
    treated = (
        Subject.objects.filter(pk__in=[s.pk for s in cohort.subjects], status=Subject.Status.TREATED)
        .select_related("site")
        .order_by("subject_id")
    )
    results, flares = 0, ["SEVERE", "MILD_MODERATE"]
    for subject in cohort.progress(list(treated), "follow-up"):
        results += follow_subject(cohort, subject, flares)
    cohort.log(f"Followed up {treated.count()} treated subjects: {results} lab results.")


def follow_subject(cohort: DemoCohort, subject: Subject, flares: list[str]) -> int:
    rng, staff = cohort.rng, cohort.users[roles.SITE_STAFF]
    course = draw_course(rng)
    screened = SledaiAssessment.objects.filter(subject=subject, visit__isnull=True, voided=False).last()
    if screened:  # the disease screening found, so that baseline does not look like a flare against it
        course.descriptors = list(screened.descriptors)
    course.descriptors.sort(key=RESOLUTION_ORDER.index)
    tz = ZoneInfo(subject.site.timezone)
    visits = {v.code: v for v in edc_services.visits_with_infusion_start().filter(subject=subject, voided=False)}
    infusion = visits["D0"].visit_datetime
    baseline_visit = _baseline_visit(subject, infusion, visits, staff)
    labs = _labs(subject, baseline_visit, -5, course, rng, tz)
    done = []
    for code, visit in sorted(visits.items(), key=lambda item: SCHEDULE[item[0]].visitnum):
        definition = SCHEDULE[code]
        if not definition.follow_up or visit.planned_date >= cohort.today:
            continue  # not due yet
        if rng.random() < 0.03:
            _missed(visit, definition, cohort.today, staff)
            continue
        late = (
            definition.window_after + 1
            if rng.random() < 0.04
            else rng.randint(-definition.window_before, definition.window_after)
        )
        day = min(visit.planned_date + dt.timedelta(days=late), cohort.today - dt.timedelta(days=1))
        visit_time = dt.datetime.combine(day, dt.time(9, rng.randrange(0, 60, 5)), tzinfo=tz)
        visit.visit_datetime = max(visit_time, infusion + dt.timedelta(hours=6))  # D1's window opens on day 0
        visit.status = Visit.Status.DONE
        visit = edc_services.save_crf(visit, user=staff, reason="visit performed")
        visit.infusion_start = infusion
        done.append(visit)
        actual_day = (visit.visit_datetime - infusion).total_seconds() / 86400
        labs += _labs(subject, visit, actual_day, course, rng, tz)
    edc_services.import_lab_results(labs, user=staff)
    _ivig_when_igg_low(subject, course, labs, tz, staff, cohort.today)
    _disease_activity(subject, baseline_visit, done, course, infusion, rng, staff, flares)
    _adverse_events(subject, infusion.astimezone(tz).date(), rng, staff, cohort.today)
    return len(labs)


# A visit not done is recorded as missed once its window has been closed this long; a more recent one is still
# overdue on the site's work list (the milestone scan flags it too).
MISSED_AFTER_DAYS = 30


def _missed(visit: Visit, definition, today: dt.date, staff) -> None:
    if visit.planned_date + dt.timedelta(days=definition.window_after + MISSED_AFTER_DAYS) < today:
        visit.status = Visit.Status.MISSED
        edc_services.save_crf(visit, user=staff, reason="the subject did not attend; the window has closed")


def _baseline_visit(subject, infusion, visits, staff) -> Visit:
    """BL: the day −5 sampling before lymphodepletion that anchors change from baseline."""
    when = infusion - dt.timedelta(days=5, hours=1)
    visit = visits.get("BL") or edc_services.save_crf(
        Visit(subject=subject, code="BL", planned_date=when.date(), visit_datetime=when, status=Visit.Status.DONE),
        user=staff,
    )
    visit.infusion_start = infusion
    return visit


def _labs(subject, visit, day: float, course: Course, rng, tz) -> list[LabResult]:
    sample = visit.visit_datetime
    post = day > 0

    def result(analyte, value=None, text="", not_detected=False):
        lln, uln = RANGES.get(analyte, (None, None))
        return LabResult(
            subject=subject, visit=visit, analyte=analyte, sample_datetime=sample, lab_name="FAH central lab",
            value=None if value is None else Decimal(f"{value:.4g}"), result_text=text, not_detected=not_detected,
            lln=Decimal(lln) if lln else None, uln=Decimal(uln) if uln else None, lloq=LLOQ.get(analyte),
        )  # fmt: skip

    noise = lambda: rng.lognormvariate(0, 0.15)  # noqa: E731 - assay variability
    rows = [result("CD19", b_cells(course, day) * noise() if post else course.cd19_baseline)]
    for analyte, level in (
        ("CARPCR", car_transgene(course, day)),
        ("CARFLOW", course.flow_peak * car_transgene(course, day) / course.pcr_peak),
    ):
        measured = level * noise() if post else 0
        if measured < float(LLOQ[analyte]) / 3:
            rows.append(result(analyte, not_detected=True))
        else:
            rows.append(result(analyte, measured))
    dsdna_target = 40 if course.dsdna_responder else course.dsdna_baseline * 0.7
    rows += [
        result("DSDNA", towards(course.dsdna_baseline, dsdna_target, day) * noise()),
        result("C3", towards(course.c3_baseline, rng.uniform(0.95, 1.3), day) * noise()),
        result("C4", towards(course.c4_baseline, rng.uniform(0.14, 0.3), day) * noise()),
    ]
    if visit.code in {"BL", "M3", "M6", "M12", "M24"}:
        rows.append(result("PROT24", towards(course.protein_baseline, 0.12, day, tau=45) * noise()))
        rows.append(result("ANA", text="1:320" if day < 90 else rng.choice(["1:160", "1:80", "NEGATIVE"])))
        rows.append(result("SM", text="POSITIVE" if day < 90 and rng.random() < 0.4 else "NEGATIVE"))
    if visit.code in CBC_CODES or visit.code == "BL":
        nadir = 0.35 if 0 < day < 10 else 1.0
        rows += [
            result("LYM", rng.uniform(1.1, 2.2) * nadir), result("WBC", rng.uniform(3.8, 7.5) * max(nadir, 0.6)),
            result("PLAT", rng.uniform(140, 300)), result("HGB", rng.uniform(108, 140)),
            result("ANC", max(0.01, neutrophils(course, day) * noise())),
        ]  # fmt: skip
    if visit.code in IGG_CODES:
        rows.append(result("IGG", immunoglobulin_g(course, day) * noise()))
    return rows


def _ivig_when_igg_low(subject, course: Course, labs: list[LabResult], tz, staff, today: dt.date) -> None:
    """A few subjects whose IgG falls below 4 g/L get IVIG replacement the week after (medication log), at
    0.4 g/kg: 24 g a day."""
    low = [r for r in labs if r.analyte == "IGG" and r.value < 4]
    if not (low and course.ivig_when_low):
        return
    given = low[0].sample_datetime.astimezone(tz).date() + dt.timedelta(days=7)
    if given >= today:
        return
    edc_services.save_crf(
        Medication(subject=subject, drug="intravenous immunoglobulin", category=Medication.Category.IVIG,
                   indication=Medication.Indication.PROPHYLAXIS, dose_mg_per_day=Decimal("24000"),
                   route=Medication.Route.IV, start_date=given, stop_date=given),
        user=staff,
    )  # fmt: skip


@dataclass
class Treatment:
    """The lupus treatment after CAR-T, drawn from the subject's own stream (the cohort's draws stay as they were):
    most stop their immunosuppressant before lymphodepletion and taper prednisone off by months 4–5."""

    stops: bool
    prednisone_stop_day: int
    flare: str = ""  # "SEVERE" or "MILD_MODERATE" at `flare_day`
    flare_day: int | None = None


def _disease_activity(subject, baseline_visit, done, course, infusion, rng, staff, flares: list[str]) -> None:
    """SELENA-SLEDAI with PGA and the prednisone taper at baseline and the assessment visits; the medication log's
    stops and the cohort's flares."""
    own = random.Random(subject.subject_id)
    treatment = Treatment(stops=own.random() < 0.8, prednisone_stop_day=own.randint(110, 150))
    assessed = [baseline_visit, *(v for v in done if v.code in SLEDAI_CODES)]
    _place_flare(treatment, [((v.visit_datetime - infusion).days, v) for v in assessed], course, flares)
    infusion_date = infusion.astimezone(ZoneInfo(subject.site.timezone)).date()
    _log_treatment_changes(subject, treatment, infusion_date, staff)
    for visit in assessed:
        day = (visit.visit_datetime - infusion).days
        remaining = len(course.descriptors) if day < 0 else round(len(course.descriptors) * math.exp(-day / 45))
        descriptors = course.descriptors[len(course.descriptors) - remaining :] if remaining else []
        if day == treatment.flare_day:
            flaring = SEVERE_FLARE_DESCRIPTORS if treatment.flare == "SEVERE" else MILD_FLARE_DESCRIPTORS
            descriptors = list(dict.fromkeys([*descriptors, *flaring]))
        pga = Decimal(str(round(min(3.0, max(0.0, 0.3 * len(descriptors) + rng.uniform(-0.2, 0.2))), 1)))
        edc_services.save_crf(
            SledaiAssessment(subject=subject, visit=visit, assessment_date=visit.visit_datetime.date(),
                             descriptors=descriptors, pga=pga),
            user=staff,
        )  # fmt: skip
        edc_services.save_crf(
            PrednisoneDose(subject=subject, visit=visit,
                           prednisone_mg_per_day=Decimal(str(_prednisone(course, treatment, day)))),
            user=staff,
        )  # fmt: skip


def _place_flare(treatment: Treatment, assessed: list[tuple[int, Visit]], course: Course, flares: list[str]) -> None:
    """The next flare of the cohort, when this subject is followed long enough: the severe one at the first
    assessment a month after B-cell return, the mild one at month 6 or later."""
    if not flares:
        return
    after = course.b_cell_return_day + 30 if flares[0] == "SEVERE" else 170
    day = next((day for day, _ in assessed if day >= after), None)
    if day is not None:
        treatment.flare, treatment.flare_day = flares.pop(0), day


def _prednisone(course: Course, treatment: Treatment, day: int) -> float:
    """The prednisone-equivalent dose keyed at the visit (mg/day, to 0.5 mg)."""
    if treatment.flare == "SEVERE" and 0 <= day - treatment.flare_day < FLARE_PREDNISONE_DAYS:
        return FLARE_PREDNISONE_MG
    if day < 0:
        return course.prednisone_baseline
    if treatment.stops and day >= treatment.prednisone_stop_day:
        return 0
    return round(max(2.5, course.prednisone_baseline * math.exp(-day / 40)) * 2) / 2


def _log_treatment_changes(subject, treatment: Treatment, infusion_date: dt.date, staff) -> None:
    """The medication log: immunosuppressants stopped the day before lymphodepletion and prednisone at the end of
    its taper (most subjects); prednisone restarted for the severe flare."""
    if treatment.stops:
        stops = {
            Medication.Category.IMMUNOSUPPRESSANT: infusion_date - dt.timedelta(days=6),
            Medication.Category.CORTICOSTEROID: infusion_date + dt.timedelta(days=treatment.prednisone_stop_day - 1),
        }
        for medication in Medication.objects.filter(subject=subject, category__in=stops, voided=False,
                                                    stop_date__isnull=True):  # fmt: skip
            medication.stop_date = max(medication.start_date, stops[medication.category])
            edc_services.save_crf(medication, user=staff, reason="stopped after CAR-T")
    if treatment.flare == "SEVERE":
        restart = infusion_date + dt.timedelta(days=treatment.flare_day)
        edc_services.save_crf(
            Medication(subject=subject, drug="prednisone", category=Medication.Category.CORTICOSTEROID,
                       indication=Medication.Indication.SLE, route=Medication.Route.ORAL,
                       dose_mg_per_day=Decimal(FLARE_PREDNISONE_MG), start_date=restart,
                       stop_date=restart + dt.timedelta(days=FLARE_PREDNISONE_DAYS - 1)),
            user=staff,
        )  # fmt: skip


def _adverse_events(subject, infusion_date: dt.date, rng, staff, today: dt.date) -> None:
    if rng.random() < 0.8:
        onset = infusion_date + dt.timedelta(days=rng.randint(1, 4))
        grade_2 = rng.random() < 0.3
        crs = edc_services.save_crf(
            AdverseEvent(
                subject=subject, term="Cytokine release syndrome", category=AdverseEvent.Category.CRS,
                onset_date=onset, resolution_date=onset + dt.timedelta(days=rng.randint(2, 6)),
                serious=False, relatedness=AdverseEvent.Relatedness.DEFINITE, outcome="RECOVERED",
                max_temperature_c=Decimal(str(round(rng.uniform(38.1, 39.6), 1))),
                hypotension="NO_VASOPRESSOR" if grade_2 else "NONE",
                hypoxia="LOW_FLOW" if grade_2 and rng.random() < 0.5 else "NONE",
            ),
            user=staff,
        )  # fmt: skip
        if grade_2:  # tocilizumab 8 mg/kg on the day of onset, for this CRS
            _treat(crs, "tocilizumab", Medication.Category.ANTI_IL6, "480", Medication.Route.IV, onset, staff)
    if rng.random() < 0.05:
        onset = infusion_date + dt.timedelta(days=rng.randint(4, 8))
        edc_services.save_crf(
            AdverseEvent(
                subject=subject, term="Immune effector cell-associated neurotoxicity", category="ICANS",
                onset_date=onset, resolution_date=onset + dt.timedelta(days=rng.randint(1, 3)), serious=False,
                relatedness=AdverseEvent.Relatedness.PROBABLE, ice_score=rng.randint(7, 9),
                consciousness="AWAKENS_SPONTANEOUSLY", outcome="RECOVERED",
            ),
            user=staff,
        )  # fmt: skip
    infection_day = infusion_date + dt.timedelta(days=rng.randint(20, 200))
    if rng.random() < 0.3 and infection_day < today:
        severe = rng.random() < 0.25
        # A pneumococcal pneumonia treated with ceftriaxone, or a rhinovirus cold (no anti-infective).
        pathogen = ("BACTERIAL", "Streptococcus pneumoniae", "RESPIRATORY_LOWER") if severe else (
            "VIRAL", "Rhinovirus", "RESPIRATORY_UPPER")  # fmt: skip
        infection = edc_services.save_crf(
            AdverseEvent(
                subject=subject, term="Pneumonia" if severe else "Upper respiratory tract infection",
                category=AdverseEvent.Category.INFECTION, onset_date=infection_day, ctcae_grade=3 if severe else 2,
                serious=severe, relatedness=AdverseEvent.Relatedness.POSSIBLE, outcome="RECOVERED",
                pathogen_class=pathogen[0], organism=pathogen[1], infection_site=pathogen[2], opportunistic=False,
            ),
            user=staff,
        )  # fmt: skip
        if severe:
            stop = infection_day + dt.timedelta(days=7)
            _treat(infection, "ceftriaxone", Medication.Category.ANTI_INFECTIVE, "2000", Medication.Route.IV,
                   infection_day, staff, stop=stop if stop < today else None)  # fmt: skip


def _treat(
    event: AdverseEvent,
    drug: str,
    category: str,
    mg_per_day: str,
    route: str,
    start: dt.date,
    staff,
    *,
    stop: dt.date | None = None,
) -> None:
    """A medication-log entry given for the event (indication: the event's category), linked to it."""
    given = edc_services.save_crf(
        Medication(subject=event.subject, drug=drug, category=category, indication=event.category,
                   dose_mg_per_day=Decimal(mg_per_day), route=route, start_date=start, stop_date=stop or start),
        user=staff,
    )  # fmt: skip
    link = AdverseEventTreatment(subject=event.subject, adverse_event=event, medication=given)
    edc_services.save_crf(link, user=staff)


def raise_milestones(cohort: DemoCohort) -> None:
    result = services.scan_milestones(cohort.today)
    cohort.log(f"Milestone scan: {len(result.raised)} milestones raised for {result.subjects} treated subjects.")
