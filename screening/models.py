"""The screening CRFs of CRF.md and the investigator's eligibility decision."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc.models import CrfModel, Signature
from edc.rules import as_typed
from screening import rules


def one_per_subject(name: str) -> models.UniqueConstraint:
    """Consent, SLE history and the screening exam are recorded once: one non-voided row per subject."""
    return models.UniqueConstraint(fields=["subject"], condition=models.Q(voided=False), name=name)


def code_choices(codes) -> list[tuple[str, str]]:
    """Each code with its label ("ANTI_DSDNA" → "Anti dsdna"), in the reader's language."""
    return [(code, CODE_LABELS.get(code, code.replace("_", " ").capitalize())) for code in codes]


# The labels of the SLICC criteria and the lupus crises: the words derived from each code, for the catalogue.
CODE_LABELS = {
    "ACUTE_CUTANEOUS": _("Acute cutaneous"), "CHRONIC_CUTANEOUS": _("Chronic cutaneous"),
    "ORAL_ULCERS": _("Oral ulcers"), "ALOPECIA": _("Alopecia"), "SYNOVITIS": _("Synovitis"),
    "SEROSITIS": _("Serositis"), "RENAL": _("Renal"), "NEUROLOGIC": _("Neurologic"),
    "HAEMOLYTIC_ANAEMIA": _("Haemolytic anaemia"), "LEUKOPENIA": _("Leukopenia"),
    "THROMBOCYTOPENIA": _("Thrombocytopenia"), "ANA": _("Ana"), "ANTI_DSDNA": _("Anti dsdna"),
    "ANTI_SM": _("Anti sm"), "ANTIPHOSPHOLIPID": _("Antiphospholipid"), "LOW_COMPLEMENT": _("Low complement"),
    "DIRECT_COOMBS": _("Direct coombs"), "CNS_LUPUS": _("Cns lupus"),
    "THROMBOCYTOPENIC_PURPURA": _("Thrombocytopenic purpura"), "AGRANULOCYTOSIS": _("Agranulocytosis"),
    "MYOCARDIAL": _("Myocardial"), "PNEUMONITIS_OR_HAEMORRHAGE": _("Pneumonitis or haemorrhage"),
    "HEPATITIS": _("Hepatitis"), "VASCULITIS": _("Vasculitis"),
}  # fmt: skip


class Consent(CrfModel):
    class SignedBy(models.TextChoices):
        SUBJECT = "SUBJECT", _("Subject")
        GUARDIAN = "GUARDIAN", _("Guardian")

    consent_date = models.DateField(_("consent date"))
    icf_version = models.CharField(_("ICF version"), max_length=20)
    signed_by = models.CharField(_("signed by"), max_length=10, choices=SignedBy.choices, default=SignedBy.SUBJECT)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_consent_per_subject")]

    def __str__(self):
        return gettext("{subject} consent {date} (ICF {version})").format(
            subject=self.subject, date=self.consent_date, version=self.icf_version
        )


class SleHistory(CrfModel):
    diagnosis_date = models.DateField(_("diagnosis date"))
    active_on_regimen_since = models.DateField(_("active on regimen since"), null=True, blank=True)
    slicc_criteria = models.JSONField(
        _("slicc criteria"), default=list, blank=True, help_text=_("2012 SLICC criteria ever met")
    )
    biopsy_lupus_nephritis = models.BooleanField(_("biopsy lupus nephritis"), default=False)

    class Meta:
        verbose_name = _("SLE history")
        verbose_name_plural = _("SLE histories")
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_sle_history_per_subject")]

    def __str__(self):
        return gettext("{subject} SLE diagnosed {date}").format(subject=self.subject, date=self.diagnosis_date)


class Medication(CrfModel):
    class Category(models.TextChoices):
        CORTICOSTEROID = rules.CORTICOSTEROID, _("Corticosteroid")
        IMMUNOMODULATOR = rules.IMMUNOMODULATOR, _("Immunomodulator (antimalarial)")
        IMMUNOSUPPRESSANT = rules.IMMUNOSUPPRESSANT, _("Immunosuppressant")
        BIOLOGIC = "BIOLOGIC", _("Biologic")
        ANTI_IL6 = "ANTI_IL6", _("Anti-IL-6 (tocilizumab, siltuximab)")
        ANAKINRA = "ANAKINRA", _("Anakinra")
        IVIG = "IVIG", _("IVIG")
        G_CSF = "G_CSF", _("G-CSF")
        ANTI_INFECTIVE = "ANTI_INFECTIVE", _("Anti-infective")
        OTHER = rules.OTHER, _("Other")

    class Indication(models.TextChoices):
        SLE = "SLE", _("SLE")
        CRS = "CRS", _("CRS")
        ICANS = "ICANS", _("ICANS")
        INFECTION = "INFECTION", _("Infection")
        PROPHYLAXIS = "PROPHYLAXIS", _("Prophylaxis")
        OTHER = "OTHER", _("Other")

    class Route(models.TextChoices):
        ORAL = "ORAL", _("Oral")
        IV = "IV", _("Intravenous")
        SC = "SC", _("Subcutaneous")
        IM = "IM", _("Intramuscular")
        TOPICAL = "TOPICAL", _("Topical")
        INHALED = "INHALED", _("Inhaled")
        OTHER = "OTHER", _("Other")

    drug = models.CharField(_("drug"), max_length=100)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    indication = models.CharField(
        _("indication"),
        max_length=12,
        choices=Indication.choices,
        blank=True,
        help_text=_("what it is given for (CRS: masks fever)"),
    )
    # Every drug's daily dose in mg, IVIG's too (40 g a day is 40000): one unit, so no unit field to get wrong.
    dose_mg_per_day = models.DecimalField(_("dose (mg/day)"), max_digits=9, decimal_places=3, null=True, blank=True)
    route = models.CharField(_("route"), max_length=8, choices=Route.choices, blank=True)
    start_date = models.DateField(_("start date"))
    dose_stable_since = models.DateField(
        _("dose stable since"), null=True, blank=True, help_text=_("empty: unchanged since the start")
    )
    stop_date = models.DateField(_("stop date"), null=True, blank=True)

    @property
    def field_limits(self):
        return rules.medication_limits(self.category)

    class Meta:
        verbose_name = _("medication")
        verbose_name_plural = _("medications")
        ordering = ["subject", "start_date", "id"]

    def __str__(self):
        dose = f" {as_typed(self.dose_mg_per_day)} mg/day" if self.dose_mg_per_day is not None else ""
        return gettext("{drug}{dose} from {date}").format(drug=self.drug, dose=dose, date=self.start_date)


class SledaiAssessment(CrfModel):
    visit = models.ForeignKey(
        "edc.Visit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sledai_assessments",
        verbose_name=_("visit"),
    )
    assessment_date = models.DateField(_("assessment date"))
    descriptors = models.JSONField(
        _("descriptors"), default=list, blank=True, help_text=_("SELENA-SLEDAI descriptors present")
    )
    pga = models.DecimalField(_("PGA (0–3)"), max_digits=2, decimal_places=1, null=True, blank=True)
    # Computed from the descriptors at every save (DOMAIN.md §4: never typed).
    total = models.PositiveSmallIntegerField(_("total"), default=0, editable=False)
    clinical = models.PositiveSmallIntegerField(_("clinical"), default=0, editable=False)
    serological = models.PositiveSmallIntegerField(_("serological"), default=0, editable=False)

    field_limits = rules.SLEDAI_LIMITS

    class Meta:
        verbose_name = _("SELENA-SLEDAI assessment")
        verbose_name_plural = _("SELENA-SLEDAI assessments")
        ordering = ["subject", "assessment_date", "id"]

    def __str__(self):
        return gettext("{subject} SELENA-SLEDAI {total} on {date}").format(
            subject=self.subject, total=self.total, date=self.assessment_date
        )

    @property
    def activity(self) -> str:
        return rules.activity_band(self.total)


class ScreeningExam(CrfModel):
    class LvefMethod(models.TextChoices):
        ECHO = "ECHO", _("echocardiography")
        MUGA = "MUGA", _("MUGA scan")

    exam_date = models.DateField(_("exam date"), help_text=_("date of the screening examination (after consent)"))
    weight_kg = models.DecimalField(_("weight kg"), max_digits=5, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(_("height cm"), max_digits=5, decimal_places=1, null=True, blank=True)
    dyspnoea_grade = models.PositiveSmallIntegerField(_("dyspnoea CTCAE grade (0–5)"), null=True, blank=True)
    sao2_room_air_pct = models.DecimalField(
        _("SaO2 on room air (%)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    lvef_pct = models.DecimalField(_("LVEF (%)"), max_digits=4, decimal_places=1, null=True, blank=True)
    lvef_method = models.CharField(_("LVEF method"), max_length=4, choices=LvefMethod.choices, blank=True)
    cd19_positive = models.BooleanField(_("CD19 positive by flow"), null=True, blank=True)
    bridging_chemotherapy = models.BooleanField(_("bridging chemotherapy"), null=True, blank=True)
    transfusion_or_growth_factor_7d = models.BooleanField(
        _("transfusion or growth factor (not EPO) in the 7 days before the CBC"), null=True, blank=True
    )
    gilbert_syndrome = models.BooleanField(_("Gilbert-Meulengracht syndrome"), null=True, blank=True)
    bone_or_liver_metastasis = models.BooleanField(_("bone or liver metastasis"), null=True, blank=True)
    haemodialysis = models.BooleanField(_("haemodialysis"), null=True, blank=True)
    high_dose_steroid_14d_in_8w = models.BooleanField(
        _("prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks"), null=True, blank=True
    )
    active_nephritis_prohibited_drug = models.BooleanField(
        _("active nephritis treated with a drug the protocol prohibits"), null=True, blank=True
    )
    lupus_crises = models.JSONField(_("lupus crises"), default=list, blank=True)
    non_lupus_cns_disease = models.BooleanField(_("CNS disease not caused by lupus"), null=True, blank=True)
    other_autoimmune_systemic = models.BooleanField(
        _("other autoimmune disease needing systemic treatment"), null=True, blank=True
    )
    transplant_history = models.BooleanField(_("organ or stem cell transplant"), null=True, blank=True)
    contraception_agreed = models.BooleanField(_("contraception agreed"), null=True, blank=True)
    investigator_exclusion = models.BooleanField(_("investigator judges unsuitable"), null=True, blank=True)
    investigator_exclusion_reason = models.TextField(_("investigator exclusion reason"), blank=True)

    field_limits = rules.EXAM_LIMITS

    class Meta:
        verbose_name = _("screening exam")
        verbose_name_plural = _("screening exams")
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_screening_exam_per_subject")]

    def __str__(self):
        return gettext("{subject} screening exam {date}").format(subject=self.subject, date=self.exam_date)


class EligibilityDecision(CrfModel):
    """An investigator's signed eligibility decision with the criteria as evaluated when signing."""

    evaluation_date = models.DateField(_("evaluation date"))
    eligible = models.BooleanField(_("eligible"))
    criteria = models.JSONField(_("criteria"), default=list)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by")
    )
    signature = models.ForeignKey(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("signature")
    )

    class Meta:
        verbose_name = _("eligibility decision")
        verbose_name_plural = _("eligibility decisions")
        ordering = ["subject", "-created"]
        constraints = [one_per_subject("one_eligibility_decision_per_subject")]

    def __str__(self):
        decision = gettext("eligible") if self.eligible else gettext("not eligible")
        return f"{self.subject} {decision} ({self.evaluation_date})"
