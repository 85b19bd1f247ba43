"""Follow-up tables: adverse events (CRS/ICANS graded by ASTCT) and the milestones jobs raise."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from edc.models import AuditedModel, CrfModel, Subject, Visit
from edc.rules import D, Limit
from followup import rules


def _choices(codes, labels):
    """Each code with its label, translated when shown (the rules' `N_` words: the catalogue holds them)."""
    return [(code, _(labels[code])) for code in codes]


class AdverseEvent(CrfModel):
    class Category(models.TextChoices):
        CRS = "CRS", _("Crs")
        ICANS = "ICANS", _("Icans")
        INFECTION = "INFECTION", _("Infection")
        CYTOPENIA = "CYTOPENIA", _("Cytopenia")
        OTHER = "OTHER", _("Other")

    class Relatedness(models.TextChoices):
        UNRELATED = "UNRELATED", _("Unrelated")
        UNLIKELY = "UNLIKELY", _("Unlikely")
        POSSIBLE = "POSSIBLE", _("Possible")
        PROBABLE = "PROBABLE", _("Probable")
        DEFINITE = "DEFINITE", _("Definite")

    term = models.CharField(_("term"), max_length=200)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices)
    onset_date = models.DateField(_("onset date"))
    resolution_date = models.DateField(_("resolution date"), null=True, blank=True)
    ctcae_grade = models.PositiveSmallIntegerField(
        _("ctcae grade"), null=True, blank=True,
        help_text=_("CTCAE grade 1–5, typed for events other than CRS and ICANS"),
    )  # fmt: skip
    serious = models.BooleanField(_("serious"), default=False)
    relatedness = models.CharField(_("relatedness"), max_length=10, choices=Relatedness.choices)
    outcome = models.CharField(
        _("outcome"), max_length=24, choices=_choices(rules.AE_OUTCOMES, rules.AE_OUTCOME_LABELS), blank=True,
        help_text=_("FATAL: CRS and ICANS are grade 5"),
    )  # fmt: skip
    # CRS (ASTCT)
    max_temperature_c = models.DecimalField(_("max temperature c"), max_digits=4, decimal_places=1, null=True,
                                            blank=True)  # fmt: skip
    hypotension = models.CharField(_("hypotension"), max_length=24, default="NONE",
                                   choices=_choices(rules.HYPOTENSION_CODES, rules.FINDING_LABELS))  # fmt: skip
    hypoxia = models.CharField(_("hypoxia"), max_length=24, default="NONE",
                               choices=_choices(rules.HYPOXIA_CODES, rules.FINDING_LABELS))  # fmt: skip
    # ICANS (ASTCT)
    ice_score = models.PositiveSmallIntegerField(_("ice score"), null=True, blank=True, help_text=_("ICE score 0–10"))
    consciousness = models.CharField(_("consciousness"), max_length=24, default="AWAKE",
                                     choices=_choices(rules.CONSCIOUSNESS_CODES, rules.FINDING_LABELS))  # fmt: skip
    seizure = models.CharField(_("seizure"), max_length=32, default="NONE",
                               choices=_choices(rules.SEIZURE_CODES, rules.FINDING_LABELS))  # fmt: skip
    motor_findings = models.CharField(_("motor findings"), max_length=24, default="NONE",
                                      choices=_choices(rules.MOTOR_FINDINGS_CODES, rules.FINDING_LABELS))  # fmt: skip
    cerebral_oedema = models.CharField(_("cerebral oedema"), max_length=24, default="NONE",
                                       choices=_choices(rules.CEREBRAL_OEDEMA_CODES, rules.FINDING_LABELS))  # fmt: skip
    astct_grade = models.PositiveSmallIntegerField(_("astct grade"), null=True, blank=True, editable=False)
    # Infections (category INFECTION only)
    pathogen_class = models.CharField(
        _("pathogen class"), max_length=10, blank=True,
        choices=_choices(rules.PATHOGEN_CLASSES, rules.PATHOGEN_CLASS_LABELS),
    )  # fmt: skip
    organism = models.CharField(_("organism"), max_length=100, blank=True, help_text=_("e.g. Escherichia coli, CMV"))
    infection_site = models.CharField(_("infection site"), max_length=20, blank=True,
                                      choices=_choices(rules.INFECTION_SITES, rules.INFECTION_SITE_LABELS))  # fmt: skip
    opportunistic = models.BooleanField(_("opportunistic"), null=True, blank=True, help_text=_("empty: not assessed"))
    viral_reactivation = models.CharField(
        _("viral reactivation"), max_length=4, choices=[(code, code) for code in rules.VIRAL_REACTIVATIONS],
        blank=True, help_text=_("pathogen class VIRAL only; empty: not a reactivation"),
    )  # fmt: skip

    field_limits = {
        "ctcae_grade": Limit(D(1), D(5)),
        "max_temperature_c": Limit(D(30), D(45), unit="°C"),
        "ice_score": Limit(D(0), D(rules.ICE_SCORE_MAX)),
    }

    class Meta:
        ordering = ["subject", "onset_date", "id"]
        verbose_name = _("adverse event")
        verbose_name_plural = _("adverse events")

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

    adverse_event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="treatments",
                                      verbose_name=_("adverse event"))  # fmt: skip
    medication = models.ForeignKey("screening.Medication", on_delete=models.PROTECT, related_name="adverse_event_links",
                                   verbose_name=_("medication"))  # fmt: skip

    class Meta:
        ordering = ["subject", "adverse_event", "id"]
        verbose_name = _("adverse event treatment")
        verbose_name_plural = _("adverse event treatments")
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
        PCR_NEGATIVE_CONFIRMED = rules.PCR_NEGATIVE_CONFIRMED, _("Pcr Negative Confirmed")
        PCR_REEMERGENCE = rules.PCR_REEMERGENCE, _("Pcr Reemergence")
        MONTH_12 = rules.MONTH_12, _("Month 12")
        CONTRACEPTION_END = rules.CONTRACEPTION_END, _("Contraception End")
        VISIT_OVERDUE = rules.VISIT_OVERDUE, _("Visit Overdue")
        DORIS_REMISSION = rules.DORIS_REMISSION, _("DORIS remission")
        LLDAS = rules.LLDAS, "LLDAS"
        SEVERE_FLARE = rules.SEVERE_FLARE, _("Severe Flare")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="milestones",
                                verbose_name=_("subject"))  # fmt: skip
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    date = models.DateField(_("date"))
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="milestones",
                              verbose_name=_("visit"))  # fmt: skip
    raised_at = models.DateTimeField(_("raised at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    is_clinical_data = False

    class Meta:
        ordering = ["subject", "date", "kind"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
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

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="prednisone_doses", verbose_name=_("visit"))
    prednisone_mg_per_day = models.DecimalField(_("prednisone-equivalent mg/day"), max_digits=6, decimal_places=2)

    field_limits = {"prednisone_mg_per_day": Limit(D(0), D(1000), None, D(60), "mg/day")}

    class Meta:
        ordering = ["subject", "visit__planned_date"]
        verbose_name = _("prednisone dose")
        verbose_name_plural = _("prednisone doses")
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
        STARTED = "STARTED", _("started, not finished")
        COMPLETE = "COMPLETE", _("complete")
        INCOMPLETE = "INCOMPLETE", _("incomplete (ended early)")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                             verbose_name=_("user"))  # fmt: skip
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    dataset = models.CharField(_("dataset"), max_length=20)
    format = models.CharField(_("format"), max_length=10)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    pseudonymised = models.BooleanField(_("pseudonymised"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.STARTED)
    row_count = models.PositiveBigIntegerField(_("row count"), null=True, blank=True,
                                               help_text=_("rows sent (so far, if incomplete)"))  # fmt: skip
    channel = models.CharField(_("channel"), max_length=10, default="api", help_text=_("api, admin, job or command"))

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("export log")
        verbose_name_plural = _("export logs")

    def __str__(self):
        return f"{self.dataset} ({self.format}) by {self.user} at {self.started_at:%Y-%m-%d %H:%M}"


class ExportJob(models.Model):
    """An export written to a file by a Celery worker (`followup.tasks.run_export_job`), then downloaded.

    `params` are the export routes' parameters as given (format, shape, subject, analyte, from_day, to_day): the
    worker checks them again, with the user's role and sites as they are when it runs.
    """

    class Status(models.TextChoices):
        QUEUED = "QUEUED", _("queued")
        RUNNING = "RUNNING", _("running")
        COMPLETE = "COMPLETE", _("complete")
        FAILED = "FAILED", _("failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("user"))  # fmt: skip
    requested_at = models.DateTimeField(_("requested at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    dataset = models.CharField(_("dataset"), max_length=20)
    format = models.CharField(_("format"), max_length=10)
    params = models.JSONField(_("params"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0, help_text=_("rows in the file so far"))
    size = models.PositiveBigIntegerField(_("size"), null=True, blank=True, help_text=_("bytes, once complete"))
    sha256 = models.CharField(_("sha256"), max_length=64, blank=True,
                              help_text=_("hex digest of the file, once complete"))  # fmt: skip
    file_name = models.CharField(_("file name"), max_length=200, blank=True, help_text=_("in the exports storage"))
    error = models.TextField(_("error"), blank=True)
    log = models.ForeignKey(ExportLog, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                            verbose_name=_("log"))  # fmt: skip

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
        indexes = [models.Index(fields=["user", "-requested_at"], name="exportjob_user_requested")]

    def __str__(self):
        return f"export job {self.pk}: {self.dataset} ({self.format}) {self.get_status_display()}"
