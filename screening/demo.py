"""Demo screening data: consent, history, regimen, SELENA-SLEDAI, exam and labs for every subject.

Most subjects are eligible; every seventh fails one criterion, a different one each time. The
investigator then confirms each decision, so subjects end ENROLLED or SCREEN_FAILED.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from edc import demo, roles
from edc.models import LabResult, Subject
from edc.rules import ANALYTE_UNITS
from edc.services import save_crf
from screening import rules, services
from screening.models import Consent, Medication, ScreeningExam, SledaiAssessment, SleHistory

# (value, lln, uln) of a screening panel within every limit of the protocol.
NORMAL_LABS = {
    "LYM": ("1.3", "1.1", "3.2"), "PLAT": ("190", "125", "350"), "HGB": ("118", "115", "150"),
    "WBC": ("4.8", "3.5", "9.5"), "CREAT": ("68", "45", "84"), "ALT": ("24", "7", "40"), "AST": ("26", "13", "35"),
    "ALP": ("78", "35", "100"), "BILI": ("9.5", "0", "21"), "BILDIR": ("2.8", "0", "7"),
    "LIPASE": ("38", "13", "60"), "AMYLASE": ("62", "35", "135"), "PT": ("11.8", "10", "13.5"),
    "FIBRINO": ("2.6", "2", "4"), "APTT": ("31", "25", "37"), "IGA": ("2.1", "0.7", "4"),
    "PROT24": ("1.1", None, "0.15"), "C3": ("0.55", "0.9", "1.8"), "C4": ("0.08", "0.1", "0.4"),
    "DSDNA": ("180", None, "100"),
}  # fmt: skip
TEXT_LABS = {"ANA": "1:320", "SM": "NEGATIVE"}

# Each failing subject breaks one criterion: (what changes, the criterion it breaks).
FAILURES = [
    ({"exam": {"lvef_pct": Decimal("40")}}, "INC_CARDIAC"),
    ({"descriptors": ["ARTHRITIS", "LOW_COMPLEMENT", "DNA_BINDING"]}, "INC_SLEDAI"),
    ({"labs": {"IGA": ("0.05", "0.7", "4")}}, "EXC_IGA"),
    ({"labs": {"ALT": ("130", "7", "40")}}, "INC_HEPATIC"),
    ({"exam": {"lupus_crises": ["CNS_LUPUS"]}}, "EXC_CRISIS"),
]
EVERY = 7


def seed_screening(cohort: demo.DemoCohort) -> None:
    staff, investigator = cohort.users[roles.SITE_STAFF], cohort.users[roles.INVESTIGATOR]
    password = demo.DEMO_USERS[investigator.username][1]
    failed = 0
    for index, subject in enumerate(cohort.subjects):
        failure = FAILURES[(index // EVERY) % len(FAILURES)][0] if index % EVERY == EVERY - 1 else {}
        # Screening spread over the enrolment period so that treatment and follow-up have history.
        screened_on = max(
            cohort.today - dt.timedelta(days=cohort.rng.randint(45, 520)),
            _eighteenth_birthday(subject.date_of_birth) + dt.timedelta(days=40),
        )
        _seed_subject(cohort, subject, staff, failure, screened_on)
        decided_on = screened_on + dt.timedelta(days=3)
        decision = services.confirm_eligibility(
            subject, user=investigator, password=password, evaluation_date=decided_on
        )
        _signed_at_screening(decision, subject, decided_on)
        failed += not decision.eligible
    cohort.log(f"Screened {len(cohort.subjects)} subjects: {len(cohort.subjects) - failed} enrolled, {failed} failed.")


def _signed_at_screening(decision, subject: Subject, decided_on: dt.date) -> None:
    """The investigator signs on the screening date, weeks before apheresis and the infusion: the decision, its
    signature and the subject's move to ENROLLED or SCREEN_FAILED are dated then, not at seeding time."""
    # The hour from the subject's number, not the cohort's random draws (the later steps' data stay as seeded).
    signed = dt.datetime.combine(decided_on, dt.time(9 + subject.number % 8, 5 * (subject.number % 12)),
                                 tzinfo=ZoneInfo(subject.site.timezone))  # fmt: skip
    demo.backdate(decision, signed)
    demo.backdate(decision.signature, signed, signed_at=signed)
    subject.history.filter(history_change_reason__startswith="eligibility confirmed").update(history_date=signed)


def _seed_subject(cohort: demo.DemoCohort, subject: Subject, staff, failure: dict, today: dt.date) -> None:
    rng = cohort.rng
    # The youngest demo subjects turned 18 only days ago: they consent on or after that birthday.
    consented = max(today - dt.timedelta(days=rng.randint(14, 35)), _eighteenth_birthday(subject.date_of_birth))
    save_crf(Consent(subject=subject, consent_date=consented, icf_version="2.0"), user=staff)
    diagnosed = rules.months_before(today, rng.randint(12, 120))
    clinical = rng.sample(rules.SLICC_CLINICAL, rng.randint(2, 4))
    save_crf(
        SleHistory(
            subject=subject,
            diagnosis_date=diagnosed,
            active_on_regimen_since=rules.months_before(today, rng.randint(3, 10)),
            slicc_criteria=[*clinical, "ANA", "ANTI_DSDNA", *rng.sample(["LOW_COMPLEMENT", "ANTI_SM"], 1)],
            biopsy_lupus_nephritis="RENAL" in clinical,
        ),
        user=staff,
    )
    for medication in _regimen(rng, today, diagnosed):
        save_crf(Medication(subject=subject, **medication), user=staff)
    _seed_labs(subject, staff, consented, failure.get("labs", {}))
    descriptors = failure.get("descriptors") or [
        "ARTHRITIS", "RASH", *rng.sample(["PROTEINURIA", "ALOPECIA", "MUCOSAL_ULCERS", "PLEURISY"], 2),
        "LOW_COMPLEMENT", "DNA_BINDING",
    ]  # fmt: skip
    examined = consented + dt.timedelta(days=2)
    save_crf(
        SledaiAssessment(subject=subject, assessment_date=examined, descriptors=descriptors, pga=Decimal("1.8")),
        user=staff,
    )
    save_crf(ScreeningExam(subject=subject, **_exam(rng, subject, examined, failure.get("exam", {}))), user=staff)


def _eighteenth_birthday(born: dt.date) -> dt.date:
    try:
        return born.replace(year=born.year + 18)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + 18, day=28)


FOR_SLE = {"indication": "SLE", "route": "ORAL"}  # the screening regimen, by mouth


def _regimen(rng, today: dt.date, diagnosed: dt.date) -> list[dict]:
    steroid_start = rules.months_before(today, rng.randint(4, 24))
    regimen = [
        {"drug": "hydroxychloroquine", "category": rules.IMMUNOMODULATOR, "dose_mg_per_day": Decimal(400),
         "start_date": max(diagnosed, rules.months_before(today, 30)), **FOR_SLE},
        {"drug": "prednisone", "category": rules.CORTICOSTEROID, "dose_mg_per_day": Decimal(rng.choice([10, 15, 20])),
         "start_date": steroid_start, "dose_stable_since": max(steroid_start, today - dt.timedelta(days=60)),
         **FOR_SLE},
    ]  # fmt: skip
    if rng.random() < 0.5:
        regimen.append(
            {"drug": "mycophenolate mofetil", "category": rules.IMMUNOSUPPRESSANT, "dose_mg_per_day": Decimal(1500),
             "start_date": rules.months_before(today, rng.randint(7, 20)), **FOR_SLE}
        )  # fmt: skip
    return regimen


def _seed_labs(subject: Subject, staff, consented: dt.date, overrides: dict) -> None:
    drawn = dt.datetime.combine(consented + dt.timedelta(days=1), dt.time(8, 0), ZoneInfo(subject.site.timezone))
    for analyte, (value, lln, uln) in {**NORMAL_LABS, **overrides}.items():
        lab = LabResult(
            subject=subject,
            analyte=analyte,
            value=Decimal(value),
            lln=None if lln is None else Decimal(lln),
            uln=None if uln is None else Decimal(uln),
            unit=ANALYTE_UNITS[analyte],
            sample_datetime=drawn,
            lab_name="FAH central lab",
        )
        save_crf(lab, user=staff)
    for analyte, text in TEXT_LABS.items():
        save_crf(LabResult(subject=subject, analyte=analyte, result_text=text, sample_datetime=drawn), user=staff)


def _exam(rng, subject: Subject, examined: dt.date, overrides: dict) -> dict:
    needs_contraception = subject.sex == Subject.Sex.MALE or subject.childbearing_potential
    return {
        "exam_date": examined,
        "weight_kg": Decimal(rng.randint(45, 80)),
        "height_cm": Decimal(rng.randint(150, 178)),
        "dyspnoea_grade": rng.choice([0, 0, 1]),
        "sao2_room_air_pct": Decimal(rng.randint(95, 99)),
        "lvef_pct": Decimal(rng.randint(55, 68)),
        "lvef_method": ScreeningExam.LvefMethod.ECHO,
        "cd19_positive": True,
        "bridging_chemotherapy": False,
        "transfusion_or_growth_factor_7d": False,
        "gilbert_syndrome": False,
        "bone_or_liver_metastasis": False,
        "haemodialysis": False,
        "high_dose_steroid_14d_in_8w": False,
        "active_nephritis_prohibited_drug": False,
        "lupus_crises": [],
        "non_lupus_cns_disease": False,
        "other_autoimmune_systemic": False,
        "transplant_history": False,
        "contraception_agreed": True if needs_contraception else None,
        "investigator_exclusion": False,
        **overrides,
    }
