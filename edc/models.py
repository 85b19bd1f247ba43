"""The trial kernel's tables: sites, subjects, visits, lab results, data queries, signatures; past password hashes."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from edc import i18n, rules


class AuditedModel(models.Model):
    """Every clinical row: optimistic version, timestamps, void instead of delete, full history.

    Writes go through `edc.services.save_crf`, which sets the user and reason that history records.
    """

    version = models.PositiveIntegerField(default=1, editable=False, verbose_name=_("version"))
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    modified = models.DateTimeField(auto_now=True, verbose_name=_("modified"))
    voided = models.BooleanField(default=False, verbose_name=_("voided"))
    void_reason = models.TextField(blank=True, verbose_name=_("void reason"))

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
    subject = models.ForeignKey("edc.Subject", on_delete=models.PROTECT, verbose_name=_("subject"))

    class Meta:
        abstract = True


class Site(models.Model):
    code = models.CharField(max_length=8, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    timezone = models.CharField(max_length=64, default="Asia/Shanghai", verbose_name=_("timezone"))
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="edc_sites", blank=True, verbose_name=_("users")
    )
    history = HistoricalRecords(excluded_fields=["users"])

    site_lookup = "pk"

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return f"{self.code} {self.name}"


class Subject(AuditedModel):
    class Sex(models.TextChoices):
        FEMALE = "F", _("female")
        MALE = "M", _("male")

    class Status(models.TextChoices):
        SCREENING = "SCREENING", _("Screening")
        SCREEN_FAILED = "SCREEN_FAILED", _("Screen Failed")
        ENROLLED = "ENROLLED", _("Enrolled")
        TREATED = "TREATED", _("Treated")
        OFF_STUDY = "OFF_STUDY", _("Off Study")

    subject_id = models.CharField(max_length=20, unique=True, editable=False, verbose_name=_("subject id"))
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="subjects", verbose_name=_("site"))
    number = models.PositiveIntegerField(editable=False, verbose_name=_("number"))
    sex = models.CharField(max_length=1, choices=Sex.choices, verbose_name=_("sex"))
    date_of_birth = models.DateField(verbose_name=_("date of birth"))
    childbearing_potential = models.BooleanField(default=False, verbose_name=_("childbearing potential"))
    initials = models.CharField(max_length=4, verbose_name=_("initials"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCREENING, verbose_name=_("status"))
    # Set by `services.take_off_study` only (the investigator's decision, with its reason).
    off_study_date = models.DateField(null=True, blank=True, editable=False, verbose_name=_("off study date"))
    off_study_reason = models.TextField(blank=True, editable=False, verbose_name=_("off study reason"))

    site_lookup = "site"

    class Meta:
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")
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

    code = models.CharField(max_length=8, choices=VISIT_CODE_CHOICES, verbose_name=_("code"))
    planned_date = models.DateField(null=True, blank=True, verbose_name=_("planned date"))
    window_start = models.DateField(null=True, blank=True, verbose_name=_("window start"))
    window_end = models.DateField(null=True, blank=True, verbose_name=_("window end"))
    visit_datetime = models.DateTimeField(null=True, blank=True, verbose_name=_("visit datetime"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED, verbose_name=_("status"))

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
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
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="lab_results", verbose_name=_("visit")
    )
    analyte = models.CharField(
        max_length=10, choices=[(code, _(name)) for code, name in rules.ANALYTE_CHOICES], verbose_name=_("analyte")
    )
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, verbose_name=_("value"))
    result_text = models.CharField(max_length=20, blank=True, verbose_name=_("result text"))
    unit = models.CharField(max_length=20, blank=True, verbose_name=_("unit"))
    lln = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, verbose_name=_("lln"))
    uln = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, verbose_name=_("uln"))
    lloq = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, verbose_name=_("lloq"))
    not_detected = models.BooleanField(default=False, verbose_name=_("not detected"))
    sample_datetime = models.DateTimeField(verbose_name=_("sample datetime"))
    lab_name = models.CharField(max_length=100, blank=True, verbose_name=_("lab name"))

    class Meta:
        verbose_name = _("lab result")
        verbose_name_plural = _("lab results")
        ordering = ["subject", "sample_datetime", "id"]
        indexes = [
            models.Index(fields=["subject", "analyte", "sample_datetime"]),
            models.Index(fields=["subject", "id"], name="labresult_keyset_idx"),  # a subject's results by cursor
        ]

    def __str__(self):
        shown = self.result_text or (gettext("not detected") if self.not_detected else self._value_as_typed)
        return f"{self.get_analyte_display()} {shown} {self.unit}".strip()

    @property
    def _value_as_typed(self) -> str:
        return "" if self.value is None else rules.as_typed(self.value)


class DataQuery(AuditedModel):
    class Status(models.TextChoices):
        OPEN = "OPEN", _("Open")
        ANSWERED = "ANSWERED", _("Answered")
        CLOSED = "CLOSED", _("Closed")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="queries", verbose_name=_("subject"))
    target_model = models.CharField(
        max_length=60, help_text=_("app_label.model of the queried row"), verbose_name=_("target model")
    )
    target_id = models.PositiveBigIntegerField(verbose_name=_("target id"))
    target_field = models.CharField(max_length=60, verbose_name=_("target field"))
    text = models.TextField(verbose_name=_("text"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    auto = models.BooleanField(default=False, verbose_name=_("auto"))
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("raised by")
    )
    answer = models.TextField(blank=True, verbose_name=_("answer"))
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))

    site_lookup = "subject__site"
    is_clinical_data = False

    class Meta:
        verbose_name = _("data query")
        verbose_name_plural = _("data queries")
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["target_model", "target_id", "status"]),
            models.Index(fields=["subject", "id"], name="dataquery_keyset_idx"),  # a subject's queries by cursor
        ]

    def __str__(self):
        # What it is about: `about` in the admin.
        text = i18n.translated_query_text(self.text)  # an edit check's text in the reader's language
        return gettext("query on {field}: {text}").format(field=self.target_field, text=text[:40])


class Signature(AuditedModel):
    class Meaning(models.TextChoices):
        REVIEWED = "REVIEWED", _("Reviewed")
        APPROVED = "APPROVED", _("Approved")
        ELIGIBILITY_CONFIRMED = "ELIGIBILITY_CONFIRMED", _("Eligibility confirmed")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("subject"))
    target_model = models.CharField(max_length=60, verbose_name=_("target model"))
    target_id = models.PositiveBigIntegerField(verbose_name=_("target id"))
    meaning = models.CharField(max_length=24, choices=Meaning.choices, verbose_name=_("meaning"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("signed by")
    )
    signed_at = models.DateTimeField(verbose_name=_("signed at"))

    is_clinical_data = False

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["target_model", "target_id", "voided"])]

    def __str__(self):
        return gettext("{meaning} by {user} at {when}").format(
            meaning=self.meaning, user=self.signed_by, when=f"{self.signed_at:%Y-%m-%d %H:%M}"
        )


class SourceVerification(AuditedModel):
    """A monitor's source data verification of one row at one version; a later change voids it."""

    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="verifications", verbose_name=_("subject")
    )
    target_model = models.CharField(max_length=60, verbose_name=_("target model"))
    target_id = models.PositiveBigIntegerField(verbose_name=_("target id"))
    verified_version = models.PositiveIntegerField(verbose_name=_("verified version"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("verified by")
    )
    verified_at = models.DateTimeField(verbose_name=_("verified at"))

    is_clinical_data = False

    class Meta:
        verbose_name = _("source verification")
        verbose_name_plural = _("source verifications")
        ordering = ["-verified_at"]
        indexes = [models.Index(fields=["target_model", "target_id", "voided"])]

    def __str__(self):
        return gettext("SDV of version {version} by {user}").format(
            version=self.verified_version, user=self.verified_by
        )


class Lock(AuditedModel):
    """A data manager's lock of a visit, a subject or the whole study; unlocking needs a reason."""

    class Level(models.TextChoices):
        VISIT = "VISIT", _("Visit")
        SUBJECT = "SUBJECT", _("Subject")
        STUDY = "STUDY", _("Study")

    level = models.CharField(max_length=8, choices=Level.choices, verbose_name=_("level"))
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, null=True, blank=True, related_name="locks", verbose_name=_("subject")
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="locks", verbose_name=_("visit")
    )
    reason = models.TextField(verbose_name=_("reason"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("locked by")
    )
    locked_at = models.DateTimeField(verbose_name=_("locked at"))
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("unlocked by"),
    )
    unlocked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("unlocked at"))
    unlock_reason = models.TextField(blank=True, verbose_name=_("unlock reason"))

    is_clinical_data = False

    class Meta:
        verbose_name = _("lock")
        verbose_name_plural = _("locks")
        ordering = ["-locked_at"]
        indexes = [models.Index(fields=["active", "level"])]

    def __str__(self):
        what = {"VISIT": self.visit, "SUBJECT": self.subject, "STUDY": gettext("the study")}[self.level]
        return gettext("lock of {what}").format(what=what)


class Deviation(CrfModel):
    """A protocol deviation: recorded by a person, or proposed by the system (a visit outside its window, a
    treatment step out of order) for an investigator or data manager to confirm or dismiss."""

    class Category(models.TextChoices):
        ELIGIBILITY = "ELIGIBILITY", _("eligibility")
        CONSENT = "CONSENT", _("informed consent")
        VISIT_WINDOW = "VISIT_WINDOW", _("visit window")
        DOSING = "DOSING", _("dosing")
        PROCEDURE = "PROCEDURE", _("procedure")
        OTHER = "OTHER", _("other")

    class Severity(models.TextChoices):
        MAJOR = "MAJOR", _("major")
        MINOR = "MINOR", _("minor")

    class Status(models.TextChoices):
        PROPOSED = "PROPOSED", _("proposed")
        CONFIRMED = "CONFIRMED", _("confirmed")
        DISMISSED = "DISMISSED", _("dismissed")

    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="deviations", verbose_name=_("visit")
    )
    category = models.CharField(max_length=16, choices=Category.choices, verbose_name=_("category"))
    severity = models.CharField(max_length=8, choices=Severity.choices, verbose_name=_("severity"))
    deviation_date = models.DateField(
        help_text=_("the day the deviation happened (site calendar)"), verbose_name=_("deviation date")
    )
    description = models.TextField(verbose_name=_("description"))
    corrective_action = models.TextField(blank=True, verbose_name=_("corrective action"))
    reported_to_ec = models.BooleanField(_("reported to the ethics committee"), default=False)
    reported_to_ec_date = models.DateField(_("reported to the ethics committee on"), null=True, blank=True)
    # Set by the services only: who raised it, and the confirmation or dismissal of a proposal.
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CONFIRMED, editable=False, verbose_name=_("status")
    )
    auto = models.BooleanField(_("raised by the system"), default=False, editable=False)
    # What raised a proposal ("visit-window:<visit pk>", "order:<subject pk>:infusion"): one proposal per cause.
    source = models.CharField(max_length=60, blank=True, editable=False, verbose_name=_("source"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("decided at"))
    dismiss_reason = models.TextField(blank=True, editable=False, verbose_name=_("dismiss reason"))

    class Meta:
        verbose_name = _("deviation")
        verbose_name_plural = _("deviations")
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
        return gettext("{category} deviation of {date}").format(
            category=self.get_category_display(), date=f"{self.deviation_date:%Y-%m-%d}"
        )


class PasswordHistory(models.Model):
    """A password a user has had, as its hash (21 CFR 11.300(b)): the validator refuses reusing one of the last
    few, and the newest row's time is the password's age, which the expiry setting bounds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history", verbose_name=_("user")
    )
    password = models.CharField(max_length=128, verbose_name=_("password"))  # the hash, as in auth.User.password
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("password history")
        verbose_name_plural = _("password history")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"])]

    def __str__(self):
        return f"password of {self.user} set {self.created:%Y-%m-%d}"


class UserPreference(models.Model):
    """What a user chose for themselves and keeps from one sign-in to the next: the language of the pages
    (README, "Languages"). Not trial data, so not audited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="edc_preference", verbose_name=_("user")
    )
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, verbose_name=_("language"))

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self):
        return f"{self.user}: {self.language}"
