from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class EdcConfig(AppConfig):
    default = True  # this module also holds django-axes' config: "edc" names this one
    default_auto_field = "django.db.models.BigAutoField"
    name = "edc"
    verbose_name = _("Trial kernel")

    def ready(self):
        # Each app's `hooks` module registers what it plugs into the kernel (validators, save listeners,
        # subject-page inlines and panels, visit pages), in the order of INSTALLED_APPS.
        autodiscover_modules("hooks")
        from django.contrib.auth.signals import user_logged_in

        from edc import language_preference, security

        user_logged_in.connect(security.flag_expired_password, dispatch_uid="edc-password-expiry")
        user_logged_in.connect(security.touch_new_session, dispatch_uid="edc-session-touched")
        user_logged_in.connect(language_preference.apply_on_sign_in, dispatch_uid="edc-language-preference")


class SignInRecordsConfig(AxesConfig):
    """django-axes under the name data managers see in the admin."""

    verbose_name = _("Sign-in records")


# django-axes names its tables and columns with these msgids but has no Chinese catalogue: translated in the
# project's.
AXES_NAMES = (
    gettext_noop("access attempt"), gettext_noop("access attempts"), gettext_noop("access failure"),
    gettext_noop("access failures"), gettext_noop("access log"), gettext_noop("access logs"),
    gettext_noop("Attempt Time"), gettext_noop("Logout Time"), gettext_noop("IP Address"), gettext_noop("Username"),
    gettext_noop("User Agent"), gettext_noop("Path"), gettext_noop("Failed Logins"), gettext_noop("Expires At"),
    gettext_noop("HTTP Accept"), gettext_noop("GET Data"), gettext_noop("POST Data"), gettext_noop("Access lock out"),
)  # fmt: skip
