"""Screening code lists and the limits of the screening CRFs (pure: no ORM, no request, no clock).

The SLICC criteria and the lupus crises (DOMAIN.md §3), the medication categories and prednisone
equivalents, the analytes the eligibility criteria read, and the hard and soft limits of the exam and
medication CRFs (CRF.md). SELENA-SLEDAI's descriptors, weights and limits are in `sledai`.
"""

from __future__ import annotations

from fractions import Fraction

from edc.rules import N_, D, Limit

SLICC_CLINICAL = (
    "ACUTE_CUTANEOUS", "CHRONIC_CUTANEOUS", "ORAL_ULCERS", "ALOPECIA", "SYNOVITIS", "SEROSITIS", "RENAL",
    "NEUROLOGIC", "HAEMOLYTIC_ANAEMIA", "LEUKOPENIA", "THROMBOCYTOPENIA",
)  # fmt: skip
SLICC_IMMUNOLOGICAL = ("ANA", "ANTI_DSDNA", "ANTI_SM", "ANTIPHOSPHOLIPID", "LOW_COMPLEMENT", "DIRECT_COOMBS")
SLICC_CODES = SLICC_CLINICAL + SLICC_IMMUNOLOGICAL

LUPUS_CRISES = (
    "CNS_LUPUS", "HAEMOLYTIC_ANAEMIA", "THROMBOCYTOPENIC_PURPURA", "AGRANULOCYTOSIS", "MYOCARDIAL",
    "PNEUMONITIS_OR_HAEMORRHAGE", "HEPATITIS", "VASCULITIS",
)  # fmt: skip

# The crises in the words of DOMAIN.md §3, as the eligibility reasons name them.
LUPUS_CRISIS_WORDS = {
    "CNS_LUPUS": N_("active CNS lupus"),
    "HAEMOLYTIC_ANAEMIA": N_("severe haemolytic anaemia"),
    "THROMBOCYTOPENIC_PURPURA": N_("severe thrombocytopenic purpura"),
    "AGRANULOCYTOSIS": N_("severe agranulocytosis"),
    "MYOCARDIAL": N_("severe myocardial damage"),
    "PNEUMONITIS_OR_HAEMORRHAGE": N_("severe lupus pneumonitis or pulmonary haemorrhage"),
    "HEPATITIS": N_("severe lupus hepatitis"),
    "VASCULITIS": N_("severe vasculitis"),
}

# Each eligibility criterion in words (DOMAIN.md §3), shown beside its code wherever a criterion is listed.
CRITERION_TITLES = {
    "INC_CONSENT": N_("informed consent signed before every screening procedure"),
    "INC_AGE": N_("18 years or older at consent"),
    "INC_SLICC": N_("SLE classified by the 2012 SLICC criteria"),
    "INC_HISTORY": N_("SLE diagnosed 6 months or more, active 2 months or more on a stable regimen"),
    "INC_REGIMEN": N_("on a standard regimen (immunomodulator or immunosuppressant, oral corticosteroid)"),
    "INC_SEROLOGY": N_("ANA, anti-dsDNA or anti-Smith positive"),
    "INC_SLEDAI": N_("SELENA-SLEDAI 8 or more (clinical part 6 or more)"),
    "INC_CONTRACEPTION": N_("agrees to effective contraception"),
    "INC_CD19": N_("CD19 positive by flow cytometry"),
    "INC_CBC": N_("blood count: lymphocytes, platelets, haemoglobin"),
    "INC_RENAL": N_("kidney function: creatinine or creatinine clearance"),
    "INC_HEPATIC": N_("liver function: ALT, AST, ALP, bilirubin"),
    "INC_PANCREAS": N_("pancreas: lipase and amylase"),
    "INC_COAG": N_("coagulation: PT, fibrinogen, APTT"),
    "INC_PULMONARY": N_("lungs: dyspnoea grade 1 or less, SaO2 above 91 %"),
    # xgettext:no-python-format ("45 % or" is no %-placeholder)
    "INC_CARDIAC": N_("heart: LVEF 45 % or more"),
    "EXC_NEPHRITIS": N_("no severe lupus nephritis"),
    "EXC_CRISIS": N_("no lupus crisis"),
    "EXC_CNS": N_("no CNS disease not caused by lupus"),
    "EXC_AUTOIMMUNE": N_("no other autoimmune disease needing systemic treatment"),
    "EXC_TRANSPLANT": N_("no organ or stem cell transplant"),
    "EXC_IGA": N_("serum IgA 10 mg/dL or more"),
    "EXC_INVESTIGATOR": N_("not judged unsuitable by the investigator"),
}

CORTICOSTEROID, IMMUNOMODULATOR, IMMUNOSUPPRESSANT, OTHER = (
    "CORTICOSTEROID", "IMMUNOMODULATOR", "IMMUNOSUPPRESSANT", "OTHER",
)  # fmt: skip
# The medication log is carried through the whole trial (DOMAIN.md §6): the follow-up categories too.
IVIG = "IVIG"
MEDICATION_CATEGORIES = (
    CORTICOSTEROID, IMMUNOMODULATOR, IMMUNOSUPPRESSANT, "BIOLOGIC", "ANTI_IL6", "ANAKINRA", IVIG, "G_CSF",
    "ANTI_INFECTIVE", OTHER,
)  # fmt: skip
MEDICATION_INDICATIONS = ("SLE", "CRS", "ICANS", "INFECTION", "PROPHYLAXIS", "OTHER")

# mg of prednisone per mg of drug (DOMAIN.md §3): exact fractions, never rounded decimals
# (dexamethasone 0.75 mg = betamethasone 0.6 mg = 5 mg prednisone).
PREDNISONE_EQUIVALENTS: dict[str, Fraction] = {
    "prednisone": Fraction(1),
    "prednisolone": Fraction(1),
    "methylprednisolone": Fraction(5, 4),
    "triamcinolone": Fraction(5, 4),
    "hydrocortisone": Fraction(1, 4),
    "cortisone": Fraction(1, 5),
    "dexamethasone": Fraction(20, 3),
    "betamethasone": Fraction(25, 3),
}

# Analytes the eligibility criteria read.
ELIGIBILITY_ANALYTES = (
    "ANA", "DSDNA", "SM", "LYM", "PLAT", "HGB", "CREAT", "ALT", "AST", "ALP", "BILI", "BILDIR", "LIPASE",
    "AMYLASE", "PT", "FIBRINO", "APTT", "PROT24", "IGA",
)  # fmt: skip

# --- Limits of the screening CRFs (CRF.md) -------------------------------------------------------

EXAM_LIMITS = {
    "weight_kg": Limit(D(25), D(300), D(35), D(150), "kg"),
    "height_cm": Limit(D(100), D(230), unit="cm"),
    "dyspnoea_grade": Limit(D(0), D(5)),
    "sao2_room_air_pct": Limit(D(50), D(100), D(85), unit="%"),
    "lvef_pct": Limit(D(5), D(90), D(30), unit="%"),
}
# mg/day. IVIG is given in grams a day (0.4–2 g/kg: up to 200 g for a 100 kg adult); any other drug of the log is
# expected below 10 g a day, and a dose above that is stored with a query rather than refused.
MEDICATION_DOSE_MAX = D(200000)
MEDICATION_LIMITS = {
    "dose_mg_per_day": Limit(D(0), MEDICATION_DOSE_MAX, soft_max=D(10000), unit="mg/day", hard_min_exclusive=True)
}
IVIG_LIMITS = {"dose_mg_per_day": Limit(D(0), MEDICATION_DOSE_MAX, unit="mg/day", hard_min_exclusive=True)}


def medication_limits(category: str) -> dict[str, Limit]:
    """The dose limits of a medication-log row, by its category (IVIG is dosed in grams)."""
    return IVIG_LIMITS if category == IVIG else MEDICATION_LIMITS
