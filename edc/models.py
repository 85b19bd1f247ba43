"""The trial kernel's tables: sites, subjects, visits, lab results, data queries, signatures; past password hashes."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from edc import rules


class AuditedModel(models.Model):
    """Every clinical row: optimistic version, timestamps, void instead of delete, full history.

    Writes go through `edc.services.save_crf`, which sets the user and reason that history records.
    """

    version = models.PositiveIntegerField(default=1, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)
    voided = models.BooleanField(default=False)
    void_reason = models.TextField(blank=True)

    history = HistoricalRecords(inherit=True, history_change_reason_field=models.TextField(null=True))

    # The lookup from this model to its Site, used to scope every queryset to a user's sites.
    site_lookup = "subject__site"
    # Field limits of CRF.md declared by the CRF (`rules.Limit` per field name).
    field_limits: dict[str, rules.Limit] = {}
    # Clinical data is what locks protect, signatures attest and monitors verify; the data
    # management records about it (queries, signatures, locks, verifications) are not.
    is_clinical_data = True

    class Meta:
        abstract = True

    @property
    def subject_pk(self):
        return self.subject_id

    @property
    def visit_pk(self):
        """The visit this row belongs to, for visit locks and visit signatures."""
        return getattr(self, "visit_id", None)


class CrfModel(AuditedModel):
    subject = models.ForeignKey("edc.Subject", on_delete=models.PROTECT)

    class Meta:
        abstract = True


class Site(models.Model):
    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="Asia/Shanghai")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="edc_sites", blank=True)
    history = HistoricalRecords(excluded_fields=["users"])

    site_lookup = "pk"

    def __str__(self):
        return f"{self.code} {self.name}"


class Subject(AuditedModel):
    class Sex(models.TextChoices):
        FEMALE = "F", "female"
        MALE = "M", "male"

    class Status(models.TextChoices):
        SCREENING = "SCREENING", _("Screening")
        SCREEN_FAILED = "SCREEN_FAILED", _("Screen Failed")
        ENROLLED = "ENROLLED", _("Enrolled")
        TREATED = "TREATED", _("Treated")
        OFF_STUDY = "OFF_STUDY", _("Off Study")

    subject_id = models.CharField(max_length=20, unique=True, editable=False)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="subjects")
    number = models.PositiveIntegerField(editable=False)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    date_of_birth = models.DateField()
    childbearing_potential = models.BooleanField(default=False)
    initials = models.CharField(max_length=4)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCREENING)
    # Set by `services.take_off_study` only (the investigator's decision, with its reason).
    off_study_date = models.DateField(null=True, blank=True, editable=False)
    off_study_reason = models.TextField(blank=True, editable=False)

    site_lookup = "site"

    class Meta:
        ordering = ["subject_id"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="subject_number_per_site")]

    def __str__(self):
        return self.subject_id

    @property
    def subject_pk(self):
        return self.pk


# The schedule's visit codes, each shown by its name (the API's VisitCodeEnum names this set).
VISIT_CODE_CHOICES = [(code, _(rules.visit_name(code))) for code in rules.SCHEDULE]


class Visit(CrfModel):
    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED", _("Scheduled")
        DONE = "DONE", _("Done")
        MISSED = "MISSED", _("Missed")

    code = models.CharField(max_length=8, choices=VISIT_CODE_CHOICES)
    planned_date = models.DateField(null=True, blank=True)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    visit_datetime = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)

    class Meta:
        ordering = ["subject", "planned_date", "visit_datetime", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "code"],
                condition=~models.Q(code="UNS") & models.Q(voided=False),
                name="one_scheduled_visit_per_code",
            )
        ]
        indexes = [
            models.Index(fields=["status", "window_end"]),
            models.Index(fields=["subject", "id"], name="visit_keyset_idx"),  # a subject's visits by cursor
        ]

    def __str__(self):
        return f"{self.subject} {self.code}"

    @property
    def visitnum(self):
        return rules.SCHEDULE[self.code].visitnum

    @property
    def visit_pk(self):
        return self.pk

    @property
    def window(self) -> rules.WindowStatus | None:
        """In window, early or late, by the site's calendar date of the visit."""
        if not (self.visit_datetime and self.window_start and self.window_end):
            return None
        visit_date = self.visit_datetime.astimezone(ZoneInfo(self.subject.site.timezone)).date()
        return rules.window_status(visit_date, self.window_start, self.window_end)


class LabResult(CrfModel):
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="lab_results")
    analyte = models.CharField(max_length=10, choices=[(code, _(name)) for code, name in rules.ANALYTE_CHOICES])
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    result_text = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    lln = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    uln = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    lloq = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    not_detected = models.BooleanField(default=False)
    sample_datetime = models.DateTimeField()
    lab_name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["subject", "sample_datetime", "id"]
        indexes = [
            models.Index(fields=["subject", "analyte", "sample_datetime"]),
            models.Index(fields=["subject", "id"], name="labresult_keyset_idx"),  # a subject's results by cursor
        ]

    def __str__(self):
        shown = self.result_text or ("not detected" if self.not_detected else self._value_as_typed)
        return f"{self.get_analyte_display()} {shown} {self.unit}".strip()

    @property
    def _value_as_typed(self) -> str:
        return "" if self.value is None else rules.as_typed(self.value)


class DataQuery(AuditedModel):
    class Status(models.TextChoices):
        OPEN = "OPEN", _("Open")
        ANSWERED = "ANSWERED", _("Answered")
        CLOSED = "CLOSED", _("Closed")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="queries")
    target_model = models.CharField(max_length=60, help_text="app_label.model of the queried row")
    target_id = models.PositiveBigIntegerField()
    target_field = models.CharField(max_length=60)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    auto = models.BooleanField(default=False)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    site_lookup = "subject__site"
    is_clinical_data = False

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "data queries"
        indexes = [
            models.Index(fields=["target_model", "target_id", "status"]),
            models.Index(fields=["subject", "id"], name="dataquery_keyset_idx"),  # a subject's queries by cursor
        ]

    def __str__(self):
        return f"query on {self.target_field}: {self.text[:40]}"  # what it is about: `about` in the admin


class Signature(AuditedModel):
    class Meaning(models.TextChoices):
        REVIEWED = "REVIEWED"
        APPROVED = "APPROVED"
        ELIGIBILITY_CONFIRMED = "ELIGIBILITY_CONFIRMED", "Eligibility confirmed"

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="signatures")
    target_model = models.CharField(max_length=60)
    target_id = models.PositiveBigIntegerField()
    meaning = models.CharField(max_length=24, choices=Meaning.choices)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    is_clinical_data = False

    class Meta:
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["target_model", "target_id", "voided"])]

    def __str__(self):
        return f"{self.meaning} by {self.signed_by} at {self.signed_at:%Y-%m-%d %H:%M}"


class SourceVerification(AuditedModel):
    """A monitor's source data verification of one row at one version; a later change voids it."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="verifications")
    target_model = models.CharField(max_length=60)
    target_id = models.PositiveBigIntegerField()
    verified_version = models.PositiveIntegerField()
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()

    is_clinical_data = False

    class Meta:
        ordering = ["-verified_at"]
        indexes = [models.Index(fields=["target_model", "target_id", "voided"])]

    def __str__(self):
        return f"SDV of version {self.verified_version} by {self.verified_by}"


class Lock(AuditedModel):
    """A data manager's lock of a visit, a subject or the whole study; unlocking needs a reason."""

    class Level(models.TextChoices):
        VISIT = "VISIT"
        SUBJECT = "SUBJECT"
        STUDY = "STUDY"

    level = models.CharField(max_length=8, choices=Level.choices)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, null=True, blank=True, related_name="locks")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="locks")
    reason = models.TextField()
    active = models.BooleanField(default=True)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    locked_at = models.DateTimeField()
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlock_reason = models.TextField(blank=True)

    is_clinical_data = False

    class Meta:
        ordering = ["-locked_at"]
        indexes = [models.Index(fields=["active", "level"])]

    def __str__(self):
        what = {"VISIT": self.visit, "SUBJECT": self.subject, "STUDY": "the study"}[self.level]
        return f"lock of {what}"


class Deviation(CrfModel):
    """A protocol deviation: recorded by a person, or proposed by the system (a visit outside its window, a
    treatment step out of order) for an investigator or data manager to confirm or dismiss."""

    class Category(models.TextChoices):
        ELIGIBILITY = "ELIGIBILITY", "eligibility"
        CONSENT = "CONSENT", "informed consent"
        VISIT_WINDOW = "VISIT_WINDOW", "visit window"
        DOSING = "DOSING", "dosing"
        PROCEDURE = "PROCEDURE", "procedure"
        OTHER = "OTHER", "other"

    class Severity(models.TextChoices):
        MAJOR = "MAJOR", "major"
        MINOR = "MINOR", "minor"

    class Status(models.TextChoices):
        PROPOSED = "PROPOSED", "proposed"
        CONFIRMED = "CONFIRMED", "confirmed"
        DISMISSED = "DISMISSED", "dismissed"

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="deviations")
    category = models.CharField(max_length=16, choices=Category.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    deviation_date = models.DateField(help_text="the day the deviation happened (site calendar)")
    description = models.TextField()
    corrective_action = models.TextField(blank=True)
    reported_to_ec = models.BooleanField("reported to the ethics committee", default=False)
    reported_to_ec_date = models.DateField("reported to the ethics committee on", null=True, blank=True)
    # Set by the services only: who raised it, and the confirmation or dismissal of a proposal.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED, editable=False)
    auto = models.BooleanField("raised by the system", default=False, editable=False)
    # What raised a proposal ("visit-window:<visit pk>", "order:<subject pk>:infusion"): one proposal per cause.
    source = models.CharField(max_length=60, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    dismiss_reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["subject", "deviation_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "source"],
                condition=~models.Q(source="") & models.Q(voided=False),
                name="one_proposal_per_cause",
            )
        ]
        indexes = [models.Index(fields=["status", "deviation_date"])]

    def __str__(self):
        return f"{self.get_category_display()} deviation of {self.deviation_date:%Y-%m-%d}"


class PasswordHistory(models.Model):
    """A password a user has had, as its hash (21 CFR 11.300(b)): the validator refuses reusing one of the last
    few, and the newest row's time is the password's age, which the expiry setting bounds."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)  # the hash, as in auth.User.password
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"])]
        verbose_name_plural = "password history"

    def __str__(self):
        return f"password of {self.user} set {self.created:%Y-%m-%d}"


class UserPreference(models.Model):
    """What a user chose for themselves and keeps from one sign-in to the next: the language of the pages
    (README, "Languages"). Not trial data, so not audited."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="edc_preference")
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)

    def __str__(self):
        return f"{self.user}: {self.language}"
