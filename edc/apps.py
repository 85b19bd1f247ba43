from axes.apps import AppConfig as AxesConfig
from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


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
