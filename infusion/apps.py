from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InfusionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "infusion"
    verbose_name = _("Treatment")
