"""Follow-up tables: adverse events (CRS/ICANS graded by ASTCT) and the milestones jobs raise."""

from django.conf import settings
from django.db import models

from edc.models import AuditedModel, CrfModel, Subject, Visit
from edc.rules import D, Limit
from followup import rules


def _choices(codes):
    return [(code, code.replace("_", " ").lower()) for code in codes]


INFECTION_SITE_LABELS = {"RESPIRATORY_UPPER": "Upper respiratory", "RESPIRATORY_LOWER": "Lower respiratory",
                         "SKIN_SOFT_TISSUE": "Skin and soft tissue", "CNS": "CNS"}  # fmt: skip


def _labelled(codes):
    return [(code, INFECTION_SITE_LABELS.get(code, code.replace("_", " ").capitalize())) for code in codes]


class AdverseEvent(CrfModel):
    class Category(models.TextChoices):
        CRS = "CRS"
        ICANS = "ICANS"
        INFECTION = "INFECTION"
        CYTOPENIA = "CYTOPENIA"
        OTHER = "OTHER"

    class Relatedness(models.TextChoices):
        UNRELATED = "UNRELATED"
        UNLIKELY = "UNLIKELY"
        POSSIBLE = "POSSIBLE"
        PROBABLE = "PROBABLE"
        DEFINITE = "DEFINITE"

    term = models.CharField(max_length=200)
    category = models.CharField(max_length=10, choices=Category.choices)
    onset_date = models.DateField()
    resolution_date = models.DateField(null=True, blank=True)
    ctcae_grade = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="CTCAE grade 1–5, typed for events other than CRS and ICANS"
    )
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=10, choices=Relatedness.choices)
    outcome = models.CharField(
        max_length=24, choices=_choices(rules.AE_OUTCOMES), blank=True, help_text="FATAL: CRS and ICANS are grade 5"
    )
    # CRS (ASTCT)
    max_temperature_c = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    hypotension = models.CharField(max_length=24, choices=_choices(rules.HYPOTENSION_CODES), default="NONE")
    hypoxia = models.CharField(max_length=24, choices=_choices(rules.HYPOXIA_CODES), default="NONE")
    # ICANS (ASTCT)
    ice_score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="ICE score 0–10")
    consciousness = models.CharField(max_length=24, choices=_choices(rules.CONSCIOUSNESS_CODES), default="AWAKE")
    seizure = models.CharField(max_length=32, choices=_choices(rules.SEIZURE_CODES), default="NONE")
    motor_findings = models.CharField(max_length=24, choices=_choices(rules.MOTOR_FINDINGS_CODES), default="NONE")
    cerebral_oedema = models.CharField(max_length=24, choices=_choices(rules.CEREBRAL_OEDEMA_CODES), default="NONE")
    astct_grade = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Infections (category INFECTION only)
    pathogen_class = models.CharField(max_length=10, choices=_labelled(rules.PATHOGEN_CLASSES), blank=True)
    organism = models.CharField(max_length=100, blank=True, help_text="e.g. Escherichia coli, CMV")
    infection_site = models.CharField(max_length=20, choices=_labelled(rules.INFECTION_SITES), blank=True)
    opportunistic = models.BooleanField(null=True, blank=True, help_text="empty: not assessed")
    viral_reactivation = models.CharField(
        max_length=4, choices=[(code, code) for code in rules.VIRAL_REACTIVATIONS], blank=True,
        help_text="pathogen class VIRAL only; empty: not a reactivation",
    )  # fmt: skip

    field_limits = {
        "ctcae_grade": Limit(D(1), D(5)),
        "max_temperature_c": Limit(D(30), D(45), unit="°C"),
        "ice_score": Limit(D(0), D(rules.ICE_SCORE_MAX)),
    }

    class Meta:
        ordering = ["subject", "onset_date", "id"]

    def __str__(self):
        return f"{self.subject} {self.term} ({self.category})"

    @property
    def grade(self) -> int | None:
        """The grade that counts: ASTCT for CRS and ICANS, CTCAE otherwise."""
        return self.astct_grade if self.astct_grade is not None else self.ctcae_grade


class AdverseEventTreatment(CrfModel):
    """A medication-log entry given for an adverse event (DOMAIN.md §6: for CRS, ICANS and infections, the event it
    treats). The link is kept here, not on the medication: screening owns the log and may not know adverse events.
    A CRF row of its own, so that every link and unlink is audited and voided like the rest."""

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="treatments")
    medication = models.ForeignKey("screening.Medication", on_delete=models.PROTECT, related_name="adverse_event_links")

    class Meta:
        ordering = ["subject", "adverse_event", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["medication"], condition=models.Q(voided=False), name="one_adverse_event_per_medication"
            )
        ]

    def __str__(self):
        return f"{self.medication.drug} for {self.adverse_event.term}"


class Milestone(AuditedModel):
    """A milestone raised by the scan; re-raising changes nothing, revoking keeps the row."""

    class Kind(models.TextChoices):
        PCR_NEGATIVE_CONFIRMED = rules.PCR_NEGATIVE_CONFIRMED
        PCR_REEMERGENCE = rules.PCR_REEMERGENCE
        MONTH_12 = rules.MONTH_12
        CONTRACEPTION_END = rules.CONTRACEPTION_END
        VISIT_OVERDUE = rules.VISIT_OVERDUE
        DORIS_REMISSION = rules.DORIS_REMISSION, "DORIS remission"
        LLDAS = rules.LLDAS, "LLDAS"
        SEVERE_FLARE = rules.SEVERE_FLARE

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="milestones")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    date = models.DateField()
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="milestones")
    raised_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    is_clinical_data = False

    class Meta:
        ordering = ["subject", "date", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "kind"], condition=models.Q(visit__isnull=True), name="one_milestone_per_kind"
            ),
            models.UniqueConstraint(
                fields=["subject", "kind", "visit"],
                condition=models.Q(visit__isnull=False),
                name="one_milestone_per_kind_and_visit",
            ),
        ]

    def __str__(self):
        revoked = " (revoked)" if self.revoked_at else ""
        return f"{self.subject} {self.kind} {self.date}{revoked}"


class PrednisoneDose(CrfModel):
    """The prednisone-equivalent dose at a follow-up visit (the taper DORIS and LLDAS read)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="prednisone_doses")
    prednisone_mg_per_day = models.DecimalField("prednisone-equivalent mg/day", max_digits=6, decimal_places=2)

    field_limits = {"prednisone_mg_per_day": Limit(D(0), D(1000), None, D(60), "mg/day")}

    class Meta:
        ordering = ["subject", "visit__planned_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit"], condition=models.Q(voided=False), name="one_prednisone_dose_per_visit"
            )
        ]

    def __str__(self):
        return f"{self.subject} {self.visit.code}: {self.prednisone_mg_per_day} mg/day"


class ExportLog(models.Model):
    """Who exported which dataset, when, with which filters, how many rows were sent, and whether all were.

    Written STARTED when the export starts; COMPLETE with `row_count` and `finished_at` once its last row has been
    sent; INCOMPLETE with the rows sent so far when the stream ended before (the client went away, an error, the
    server worker stopped). A row left STARTED whose export is not running any more was cut short by a worker that
    was killed outright (SIGKILL, a crash): it never became COMPLETE.
    """

    class Status(models.TextChoices):
        STARTED = "STARTED", "started, not finished"
        COMPLETE = "COMPLETE", "complete"
        INCOMPLETE = "INCOMPLETE", "incomplete (ended early)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    dataset = models.CharField(max_length=20)
    format = models.CharField(max_length=10)
    filters = models.JSONField(default=dict, blank=True)
    pseudonymised = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    row_count = models.PositiveBigIntegerField(null=True, blank=True, help_text="rows sent (so far, if incomplete)")
    channel = models.CharField(max_length=10, default="api", help_text="api, admin, job or command")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.dataset} ({self.format}) by {self.user} at {self.started_at:%Y-%m-%d %H:%M}"


class ExportJob(models.Model):
    """An export written to a file by a Celery worker (`followup.tasks.run_export_job`), then downloaded.

    `params` are the export routes' parameters as given (format, shape, subject, analyte, from_day, to_day): the
    worker checks them again, with the user's role and sites as they are when it runs.
    """

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "queued"
        RUNNING = "RUNNING", "running"
        COMPLETE = "COMPLETE", "complete"
        FAILED = "FAILED", "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dataset = models.CharField(max_length=20)
    format = models.CharField(max_length=10)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_written = models.PositiveBigIntegerField(default=0, help_text="rows in the file so far")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="bytes, once complete")
    sha256 = models.CharField(max_length=64, blank=True, help_text="hex digest of the file, once complete")
    file_name = models.CharField(max_length=200, blank=True, help_text="in the exports storage")
    error = models.TextField(blank=True)
    log = models.ForeignKey(ExportLog, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["user", "-requested_at"], name="exportjob_user_requested")]

    def __str__(self):
        return f"export job {self.pk}: {self.dataset} ({self.format}) {self.get_status_display()}"
