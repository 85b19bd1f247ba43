from django.apps import AppConfig


class EdcConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "edc"
    verbose_name = "Trial kernel"

    def ready(self):
        from edc import services  # noqa: F401 - registers the kernel's CRF validators
