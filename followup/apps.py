from django.apps import AppConfig


class FollowupConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "followup"
    verbose_name = "Follow-up"

    def ready(self):
        from followup import services  # noqa: F401 - registers validators and the recompute listener
