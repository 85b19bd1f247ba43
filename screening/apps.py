from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class ScreeningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "screening"
    # Its own context: the subject status "Screening" is 筛选中 (being screened), the app 筛选.
    verbose_name = pgettext_lazy("app", "Screening")
