"""The screening CRFs of CRF.md and the investigator's eligibility decision."""

from django.conf import settings
from django.db import models

from edc.models import CrfModel, Signature
from edc.rules import as_typed
from screening import rules


def one_per_subject(name: str) -> models.UniqueConstraint:
    """Consent, SLE history and the screening exam are recorded once: one non-voided row per subject."""
    return models.UniqueConstraint(fields=["subject"], condition=models.Q(voided=False), name=name)


def code_choices(codes) -> list[tuple[str, str]]:
    return [(code, code.replace("_", " ").capitalize()) for code in codes]


class Consent(CrfModel):
    class SignedBy(models.TextChoices):
        SUBJECT = "SUBJECT"
        GUARDIAN = "GUARDIAN"

    consent_date = models.DateField()
    icf_version = models.CharField("ICF version", max_length=20)
    signed_by = models.CharField(max_length=10, choices=SignedBy.choices, default=SignedBy.SUBJECT)

    class Meta:
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_consent_per_subject")]

    def __str__(self):
        return f"{self.subject} consent {self.consent_date} (ICF {self.icf_version})"


class SleHistory(CrfModel):
    diagnosis_date = models.DateField()
    active_on_regimen_since = models.DateField(null=True, blank=True)
    slicc_criteria = models.JSONField(default=list, blank=True, help_text="2012 SLICC criteria ever met")
    biopsy_lupus_nephritis = models.BooleanField(default=False)

    class Meta:
        verbose_name = "SLE history"
        verbose_name_plural = "SLE histories"
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_sle_history_per_subject")]

    def __str__(self):
        return f"{self.subject} SLE diagnosed {self.diagnosis_date}"


class Medication(CrfModel):
    class Category(models.TextChoices):
        CORTICOSTEROID = rules.CORTICOSTEROID
        IMMUNOMODULATOR = rules.IMMUNOMODULATOR, "Immunomodulator (antimalarial)"
        IMMUNOSUPPRESSANT = rules.IMMUNOSUPPRESSANT
        BIOLOGIC = "BIOLOGIC"
        ANTI_IL6 = "ANTI_IL6", "Anti-IL-6 (tocilizumab, siltuximab)"
        ANAKINRA = "ANAKINRA"
        IVIG = "IVIG", "IVIG"
        G_CSF = "G_CSF", "G-CSF"
        ANTI_INFECTIVE = "ANTI_INFECTIVE", "Anti-infective"
        OTHER = rules.OTHER

    class Indication(models.TextChoices):
        SLE = "SLE", "SLE"
        CRS = "CRS", "CRS"
        ICANS = "ICANS", "ICANS"
        INFECTION = "INFECTION"
        PROPHYLAXIS = "PROPHYLAXIS"
        OTHER = "OTHER"

    class Route(models.TextChoices):
        ORAL = "ORAL"
        IV = "IV", "Intravenous"
        SC = "SC", "Subcutaneous"
        IM = "IM", "Intramuscular"
        TOPICAL = "TOPICAL"
        INHALED = "INHALED"
        OTHER = "OTHER"

    drug = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=Category.choices)
    indication = models.CharField(
        max_length=12, choices=Indication.choices, blank=True, help_text="what it is given for (CRS: masks fever)"
    )
    # Every drug's daily dose in mg, IVIG's too (40 g a day is 40000): one unit, so no unit field to get wrong.
    dose_mg_per_day = models.DecimalField("dose (mg/day)", max_digits=9, decimal_places=3, null=True, blank=True)
    route = models.CharField(max_length=8, choices=Route.choices, blank=True)
    start_date = models.DateField()
    dose_stable_since = models.DateField(null=True, blank=True, help_text="empty: unchanged since the start")
    stop_date = models.DateField(null=True, blank=True)

    @property
    def field_limits(self):
        return rules.medication_limits(self.category)

    class Meta:
        ordering = ["subject", "start_date", "id"]

    def __str__(self):
        dose = f" {as_typed(self.dose_mg_per_day)} mg/day" if self.dose_mg_per_day is not None else ""
        return f"{self.drug}{dose} from {self.start_date}"


class SledaiAssessment(CrfModel):
    visit = models.ForeignKey(
        "edc.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="sledai_assessments"
    )
    assessment_date = models.DateField()
    descriptors = models.JSONField(default=list, blank=True, help_text="SELENA-SLEDAI descriptors present")
    pga = models.DecimalField("PGA (0–3)", max_digits=2, decimal_places=1, null=True, blank=True)
    # Computed from the descriptors at every save (DOMAIN.md §4: never typed).
    total = models.PositiveSmallIntegerField(default=0, editable=False)
    clinical = models.PositiveSmallIntegerField(default=0, editable=False)
    serological = models.PositiveSmallIntegerField(default=0, editable=False)

    field_limits = rules.SLEDAI_LIMITS

    class Meta:
        verbose_name = "SELENA-SLEDAI assessment"
        ordering = ["subject", "assessment_date", "id"]

    def __str__(self):
        return f"{self.subject} SELENA-SLEDAI {self.total} on {self.assessment_date}"

    @property
    def activity(self) -> str:
        return rules.activity_band(self.total)


class ScreeningExam(CrfModel):
    class LvefMethod(models.TextChoices):
        ECHO = "ECHO", "echocardiography"
        MUGA = "MUGA", "MUGA scan"

    exam_date = models.DateField(help_text="date of the screening examination (after consent)")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    dyspnoea_grade = models.PositiveSmallIntegerField("dyspnoea CTCAE grade (0–5)", null=True, blank=True)
    sao2_room_air_pct = models.DecimalField(
        "SaO2 on room air (%)", max_digits=4, decimal_places=1, null=True, blank=True
    )
    lvef_pct = models.DecimalField("LVEF (%)", max_digits=4, decimal_places=1, null=True, blank=True)
    lvef_method = models.CharField("LVEF method", max_length=4, choices=LvefMethod.choices, blank=True)
    cd19_positive = models.BooleanField("CD19 positive by flow", null=True, blank=True)
    bridging_chemotherapy = models.BooleanField(null=True, blank=True)
    transfusion_or_growth_factor_7d = models.BooleanField(
        "transfusion or growth factor (not EPO) in the 7 days before the CBC", null=True, blank=True
    )
    gilbert_syndrome = models.BooleanField("Gilbert-Meulengracht syndrome", null=True, blank=True)
    bone_or_liver_metastasis = models.BooleanField(null=True, blank=True)
    haemodialysis = models.BooleanField(null=True, blank=True)
    high_dose_steroid_14d_in_8w = models.BooleanField(
        "prednisone-equivalent ≥ 100 mg/day for ≥ 14 days within 8 weeks", null=True, blank=True
    )
    active_nephritis_prohibited_drug = models.BooleanField(
        "active nephritis treated with a drug the protocol prohibits", null=True, blank=True
    )
    lupus_crises = models.JSONField(default=list, blank=True)
    non_lupus_cns_disease = models.BooleanField("CNS disease not caused by lupus", null=True, blank=True)
    other_autoimmune_systemic = models.BooleanField(
        "other autoimmune disease needing systemic treatment", null=True, blank=True
    )
    transplant_history = models.BooleanField("organ or stem cell transplant", null=True, blank=True)
    contraception_agreed = models.BooleanField(null=True, blank=True)
    investigator_exclusion = models.BooleanField("investigator judges unsuitable", null=True, blank=True)
    investigator_exclusion_reason = models.TextField(blank=True)

    field_limits = rules.EXAM_LIMITS

    class Meta:
        ordering = ["subject", "id"]
        constraints = [one_per_subject("one_screening_exam_per_subject")]

    def __str__(self):
        return f"{self.subject} screening exam {self.exam_date}"


class EligibilityDecision(CrfModel):
    """An investigator's signed eligibility decision with the criteria as evaluated when signing."""

    evaluation_date = models.DateField()
    eligible = models.BooleanField()
    criteria = models.JSONField(default=list)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signature = models.ForeignKey(Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["subject", "-created"]
        constraints = [one_per_subject("one_eligibility_decision_per_subject")]

    def __str__(self):
        return f"{self.subject} {'eligible' if self.eligible else 'not eligible'} ({self.evaluation_date})"
