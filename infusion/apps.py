from django.apps import AppConfig


class InfusionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "infusion"
    verbose_name = "Treatment"
