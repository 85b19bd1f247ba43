"""Settings from the environment (twelve-factor).

DATABASE_URL     default: SQLite under var/ (the embedded default)
REDIS_URL        Celery broker and result backend; default: kombu's filesystem transport under var/
SECRET_KEY       required when DEBUG is off
DEBUG            "1"/"true" for development only
EDC_BACKUP_DIR   where `manage.py backup` writes; default var/backups
EDC_BACKUP_KEEP  how many backups to keep (a count, at least 1); default 14
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EDC_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_count(name: str, default: int) -> int:
    """A whole number of at least 1, or a start-up error naming the variable."""
    value = os.environ.get(name, str(default)).strip()
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "development-only-insecure-key"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# The trial's own apps, in layer order; their tables are the ones a backup checksums row by row.
EDC_PROJECT_APPS = ["edc", "screening", "infusion", "followup"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc from the package (no CDN)
    "simple_history",
    # django-axes: failed sign-ins recorded, accounts locked out (21 CFR 11.300(d)); its admin: edc.admin.security
    "edc.apps.SignInRecordsConfig",
    *EDC_PROJECT_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "edc.input_guard.UnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the header switch's choice (its cookie), else the browser's Accept-Language, else en-gb.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's remembered language (edc.UserPreference, copied to the session at sign-in) wins.
    "edc.language_preference.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "edc.security.IdleSessionMiddleware",
    "edc.security.PasswordExpiryMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a sign-in refused for a locked-out account into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own overrides of Django's templates by name (admin/base_site.html: the language switch).
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'edc.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the embedded file: wait for locks, don't fail.
    # WAL: a reader (an export streaming for minutes) blocks no writer, and no writer a reader.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL"}  # fmt: skip
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- 21 CFR 11.300: passwords, sign-in lockout, sessions, API tokens (README, "Part 11") -------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("EDC_PASSWORD_MIN_LENGTH", "8"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # 11.300(b): a new password may not be one of the user's last N (their hashes in edc.PasswordHistory).
    {
        "NAME": "edc.security.PasswordHistoryValidator",
        "OPTIONS": {"remember": int(os.environ.get("EDC_PASSWORD_HISTORY", "5"))},
    },
]
# 11.300(b): a password older than this must be changed at the next sign-in (0: passwords do not expire).
EDC_PASSWORD_EXPIRY_DAYS = int(os.environ.get("EDC_PASSWORD_EXPIRY_DAYS", "90"))

# 11.300(d): 5 failed sign-ins to one account lock it for 15 minutes, wherever they come from (the admin
# form and the token endpoint); every failure is kept in axes' tables, which data managers read in the admin.
AXES_FAILURE_LIMIT = int(os.environ.get("EDC_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("EDC_LOCKOUT_MINUTES", "15")))
# By account, not by address: one hospital's users often share an address, and a lock is on an account. The
# failures of an account are summed over the addresses and browsers they came from (axes' database handler), so
# the check W006 warns of a bypass that does not apply; the token endpoint is also throttled per address.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True  # "5 failed attempts" in a row: a successful sign-in starts the count again
# A try while locked is recorded too, and the 15 minutes count again from it (axes' default, said here).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure as a row, not only the count per account
AXES_ENABLE_ADMIN = False  # edc.admin.security registers the lists under the trial's roles
AXES_LOCKOUT_CALLABLE = "edc.security.lockout_response"
AXES_VERBOSE = False  # no version banner on the standard output of every management command

# Admin sessions end after 30 idle minutes: every request pushes the expiry on by the full age.
SESSION_COOKIE_AGE = 60 * int(os.environ.get("EDC_SESSION_IDLE_MINUTES", "30"))

# API tokens expire this long after they were issued (`POST auth/token/` then issues a new one).
EDC_API_TOKEN_TTL = timedelta(hours=int(os.environ.get("EDC_API_TOKEN_HOURS", "8")))

LANGUAGE_CODE = "en-gb"
USE_I18N = True
# What people read, in English or Simplified Chinese (README, "Languages"); stored codes, the API's field names,
# CDISC content and audit-trail values stay English. One catalog for the four apps: locale/ at the repo root.
LANGUAGES = [("en-gb", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The header switch's choice is kept a year in its cookie, not only for the browser's session.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"  # display and calendar rules; storage is UTC

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"


def exports_storage() -> dict:
    """The export jobs' files (followup.export_jobs): written by the worker, downloaded through web.

    EDC_EXPORTS_S3_BUCKET set: an S3-compatible bucket (django-storages), which web and worker reach without a
    shared volume. Unset: a folder under EDC_VAR_DIR, which both need (compose: the edcvar volume).
    """
    bucket = os.environ.get("EDC_EXPORTS_S3_BUCKET", "").strip()
    if not bucket:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(VAR_DIR / "exports" / "files")},
        }
    options = {
        "bucket_name": bucket,
        # Unset: AWS itself, and boto3's own credential chain (environment, instance or task role).
        "endpoint_url": os.environ.get("EDC_EXPORTS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("EDC_EXPORTS_S3_REGION") or None,
        "access_key": os.environ.get("EDC_EXPORTS_S3_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("EDC_EXPORTS_S3_SECRET_ACCESS_KEY") or None,
        "location": os.environ.get("EDC_EXPORTS_S3_PREFIX", "").strip("/"),
        # Path-style requests: what MinIO and most on-premises S3 servers answer without wildcard DNS.
        "addressing_style": os.environ.get("EDC_EXPORTS_S3_ADDRESSING_STYLE") or "path",
        # The objects are private: web streams them after its permission checks; no ACL, no public URL.
        "default_acl": None,
        "querystring_auth": True,
        # A job's name already taken (a job re-run after its row was restored) gets a new name, as on a folder.
        "file_overwrite": False,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "exports": exports_storage(),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "edc.security.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: one parser, which refuses what cannot be stored (edc.input_guard).
    "DEFAULT_PARSER_CLASSES": ["edc.input_guard.StrictJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "edc.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "edc.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "edc.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    # The token endpoint: guesses from one address slowed down before the per-account lockout (axes) is reached.
    "DEFAULT_THROTTLE_RATES": {"auth-token": os.environ.get("EDC_TOKEN_RATE", "10/min")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Meta10-19 EDC API",
    "DESCRIPTION": "Data capture for NCT06711146 (Meta10-19 CD19 CAR-T in SLE).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ and /api/redoc/ load their scripts from this server: a hospital network may block a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "VisitCodeEnum": "edc.models.VISIT_CODE_CHOICES",
        "AdverseEventCategoryEnum": "followup.models.AdverseEvent.Category",
        "MedicationCategoryEnum": "screening.models.Medication.Category",
    },
}

# --- Cache: what a page would otherwise compute at every view (the subject page's PK/PD profile and plot, keyed
# by a fingerprint of their data, so never stale). One per process: a worker that has not drawn a plot yet draws it.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "edc",
        "OPTIONS": {"MAX_ENTRIES": 2000},  # a plot is ~80 KB: at most ~160 MB per process
    }
}

# --- Celery -------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# The token endpoint's throttle counts: in Redis, shared by the web workers, when there is one; else per process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or None)
# Publishing gives up after one quick retry: a broker outage must not stall data entry (the daily
# scan catches up); the worker's own reconnection keeps its separate, patient policy.
BROKER_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}
if CELERY_BROKER_URL == "filesystem://":
    # The embedded broker: messages are files under var/, so web, worker and beat need no server.
    _queue_dir = VAR_DIR / "celery-broker"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_queue_dir / "control"),  # kombu's default is ./control, wherever the process runs
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = BROKER_PUBLISH_RETRY
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "health-check": {"task": "edc.tasks.health_check", "schedule": crontab(minute="*/15")},
    # CELERY_TIMEZONE is the site's: 02:00 in Hangzhou.
    "scan-milestones": {"task": "followup.tasks.scan_milestones", "schedule": crontab(hour=2, minute=0)},
    # The nightly backup before the scan; every Sunday, the newest one restored into a scratch database.
    "backup-database": {"task": "edc.tasks.backup_database", "schedule": crontab(hour=1, minute=30)},
    "drill-latest-backup": {
        "task": "edc.tasks.drill_latest_backup",
        "schedule": crontab(hour=4, minute=0, day_of_week="sunday"),
    },
}
# Compose runs the backups on a worker of their own (the one with the backup volume and the PostgreSQL client):
# EDC_BACKUP_QUEUE=backups there; the embedded default's one worker takes them from the default queue.
EDC_BACKUP_QUEUE = os.environ.get("EDC_BACKUP_QUEUE", "celery")
CELERY_TASK_ROUTES = {
    "edc.tasks.backup_database": {"queue": EDC_BACKUP_QUEUE},
    "edc.tasks.drill_latest_backup": {"queue": EDC_BACKUP_QUEUE},
}

# --- Backups (`manage.py backup`, `manage.py restore`; README "Backups") ------------------------------
EDC_BACKUP_DIR = Path(os.environ.get("EDC_BACKUP_DIR", VAR_DIR / "backups"))
EDC_BACKUP_KEEP = env_count("EDC_BACKUP_KEEP", 14)

# --- Demo cohort: the steps of `seed_demo`, in layer order ---------------------------------------
DEMO_STEPS = [
    "edc.demo.seed_subjects",
    "screening.demo.seed_screening",
    "infusion.demo.seed_treatment",
    "followup.demo.seed_follow_up",
    "followup.demo.raise_milestones",
    "edc.demo.seed_deviations",
    "edc.demo.spread_query_ages",
    "edc.demo.seed_monitoring",
    "edc.demo.scale_out",
]

# --- E-mail -------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "edc@localhost")

# --- Security when DEBUG is off -----------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refusal (403) is one warning line naming the path, not a traceback (edc.log_filters).
    "filters": {"refusal_without_traceback": {"()": "edc.log_filters.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["refusal_without_traceback"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
