"""Demo step: the treatment of every subject that is ENROLLED when the step runs.

Apheresis → released lot → lymphodepletion days −5, −4, −3 → infusion, eleven to thirteen weeks after the
subject's consent (the screening step spreads consents over the enrolment period). Doses are Meta10-19's
very low range (2 × 10^3 to 2 × 10^4 CAR+ cells/kg, DOMAIN.md §6). A creatinine is drawn the day before
lymphodepletion; the pharmacy reduces fludarabine to 80 % (24 mg/m²) when Cockcroft-Gault is below 70 mL/min
(DOMAIN.md §9), as it does for the one subject (the second treated) whose kidney function is reduced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from edc import roles
from edc import rules as edc_rules
from edc.demo import DemoCohort
from edc.models import LabResult, Subject
from edc.services import save_crf
from infusion import rules, services
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot
from screening.models import Consent

FLUDARABINE_MG_PER_M2 = Decimal(30)
CYCLOPHOSPHAMIDE_MG_PER_M2 = Decimal(300)
FLUDARABINE_REDUCED_MG_PER_M2 = rules.FLUDARABINE_REDUCED_MAX_MG_PER_M2
REDUCED_KIDNEY_FUNCTION_NUMBER = 2  # the treated subject whose creatinine is raised
LATEST_DAYS_AGO = 7
PREMEDICATION = "paracetamol 650 mg PO, diphenhydramine 25 mg IV, 30 min before infusion"


def seed_treatment(cohort: DemoCohort) -> None:
    enrolled = list(
        Subject.objects.filter(pk__in=[s.pk for s in cohort.subjects], status=Subject.Status.ENROLLED)
        .select_related("site")
        .order_by("subject_id")
    )
    consented = dict(Consent.objects.filter(subject__in=enrolled, voided=False).values_list("subject", "consent_date"))
    treated = 0
    for index, subject in enumerate(cohort.progress(enrolled, "treatment")):
        # Infusion some eleven to thirteen weeks after consent (screening, then apheresis and manufacturing);
        # those consented lately wait, still ENROLLED.
        day0 = consented[subject.pk] + dt.timedelta(days=cohort.rng.randint(75, 90))
        if day0 <= cohort.today - dt.timedelta(days=LATEST_DAYS_AGO):
            treat(cohort, subject, day0, number=index + 1)
            treated += 1
    cohort.log(f"Treated {treated} of {len(enrolled)} enrolled subjects: apheresis, lot, lymphodepletion, infusion.")


def _pre_apheresis_cbc(subject: Subject, drawn: dt.datetime, rng, staff) -> None:
    """INC_CBC: the blood count drawn within 24 h before apheresis start."""
    for analyte, value, lln, uln in (
        ("LYM", rng.uniform(0.8, 1.8), "1.1", "3.2"),
        ("PLAT", rng.uniform(150, 280), "125", "350"),
        ("HGB", rng.uniform(105, 135), "115", "150"),
    ):
        save_crf(
            LabResult(subject=subject, analyte=analyte, value=Decimal(f"{value:.1f}"), lln=Decimal(lln),
                      uln=Decimal(uln), sample_datetime=drawn, lab_name="FAH central lab"),
            user=staff,
        )  # fmt: skip


def _fludarabine_for_kidney_function(subject: Subject, number: int, weight, drawn: dt.datetime, rng, staff) -> Decimal:
    """The creatinine drawn before lymphodepletion, and the fludarabine dose the pharmacy gives for it."""
    age = edc_rules.age_in_years(subject.date_of_birth, drawn.date())
    sex_factor = Decimal("0.85") if subject.sex == Subject.Sex.FEMALE else 1
    if number == REDUCED_KIDNEY_FUNCTION_NUMBER:  # a creatinine for a clearance of 45–60 mL/min
        target = Decimal(rng.randint(45, 60))
        creatinine = ((140 - age) * weight * sex_factor / (72 * target) * Decimal("88.4")).quantize(Decimal(1))
    else:
        creatinine = Decimal(rng.randint(50, 80))
    save_crf(
        LabResult(subject=subject, analyte="CREAT", value=creatinine, lln=Decimal("45"), uln=Decimal("84"),
                  sample_datetime=drawn, lab_name="FAH central lab"),
        user=staff,
    )  # fmt: skip
    crcl = rules.lymphodepletion_clearance(
        date_of_birth=subject.date_of_birth, female=subject.sex == Subject.Sex.FEMALE, weight_kg=weight,
        creatinine_umol_l=creatinine, creatinine_date=drawn.date(),
    )  # fmt: skip
    return FLUDARABINE_REDUCED_MG_PER_M2 if crcl < rules.CRCL_REDUCE_BELOW else FLUDARABINE_MG_PER_M2


def treat(cohort: DemoCohort, subject: Subject, day0: dt.date, *, number: int) -> Infusion:
    rng, staff = cohort.rng, cohort.users[roles.SITE_STAFF]
    tz = ZoneInfo(subject.site.timezone)

    def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)

    collected_on = day0 - dt.timedelta(days=rng.randint(24, 35))
    start = at(collected_on, 8, rng.randrange(0, 60, 5))
    _pre_apheresis_cbc(subject, start - dt.timedelta(hours=rng.randint(10, 20)), rng, staff)
    apheresis = services.record_apheresis(
        Apheresis(
            subject=subject,
            start_datetime=start,
            end_datetime=start + dt.timedelta(minutes=rng.randint(180, 300)),
            processed_volume_l=Decimal(rng.randint(100, 150)) / 10,
            product_id=f"AP-{number:04d}",
            cd3_cells=Decimal(rng.randint(20, 80)) * Decimal("1e8"),
        ),
        user=staff,
    )
    manufactured = collected_on + dt.timedelta(days=rng.randint(1, 2))
    lot = services.record_product_lot(
        ProductLot(
            lot_number=f"L-{number:04d}",
            apheresis=apheresis,
            manufactured_date=manufactured,
            viability_pct=Decimal(rng.randint(850, 970)) / 10,
            car_positive_pct=Decimal(rng.randint(200, 500)) / 10,
            sterility_pass=True,
            endotoxin_pass=True,
            released=True,
            release_date=day0 - dt.timedelta(days=rng.randint(6, 12)),
        ),
        user=staff,
    )
    height = Decimal(rng.randint(1500, 1750)) / 10
    weight = Decimal(rng.randint(450, 800)) / 10
    bsa = rules.body_surface_area(height, weight)
    fludarabine = _fludarabine_for_kidney_function(
        subject, number, weight, at(day0 - dt.timedelta(days=6), 8), rng, staff
    )
    for day in rules.LYMPHODEPLETION_DAYS:
        services.record_lymphodepletion_dose(
            LymphodepletionDose(
                subject=subject,
                day=day,
                date=day0 + dt.timedelta(days=day),
                height_cm=height,
                weight_kg=weight,
                fludarabine_mg_per_m2=fludarabine,
                fludarabine_mg=(fludarabine * bsa).quantize(Decimal("0.1")),
                cyclophosphamide_mg_per_m2=CYCLOPHOSPHAMIDE_MG_PER_M2,
                cyclophosphamide_mg=(CYCLOPHOSPHAMIDE_MG_PER_M2 * bsa).quantize(Decimal("1")),
            ),
            user=staff,
        )
    dose = Decimal(rng.randint(20, 200)) * 100  # 2 × 10^3 … 2 × 10^4 CAR+ cells/kg
    return services.record_infusion(
        Infusion(
            subject=subject,
            lot=lot,
            infusion_start=at(day0, rng.randint(9, 11), rng.randrange(0, 60, 5)),
            weight_kg=weight,
            dose_car_cells_per_kg=dose,
            total_car_cells=dose * weight,
            premedication=PREMEDICATION,
        ),
        user=staff,
    )
