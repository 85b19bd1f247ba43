"""Sign-in records (21 CFR 11.300(d)), read by data managers: each account's failures and lockout, every failed
sign-in, and every sign-in. django-axes writes them; no one edits them, and a superuser unlocks an account by
deleting its attempts row (or `manage.py axes_reset_username`)."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import roles
from edc.admin.base import AdminPagesMixin


def signed_in_at(path: str) -> str:
    """Where the sign-in was tried, in the words of the README."""
    return gettext("API token") if path.startswith("/api/") else gettext("admin sign-in page")


class SignInRecordAdmin(AdminPagesMixin, admin.ModelAdmin):
    read_roles = frozenset({roles.DATA_MANAGER})
    write_roles = frozenset()  # records, not forms
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    list_per_page = 50

    def has_module_permission(self, request):
        return roles.has_any_role(request.user, self.read_roles)

    def has_view_permission(self, request, obj=None):
        return roles.has_any_role(request.user, self.read_roles)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("where"))
    def where(self, row):
        return signed_in_at(row.path_info)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(SignInRecordAdmin):
    """One row per account with failures since its last successful sign-in."""

    list_display = ("username", "failures_since_start", "status", "attempt_time", "ip_address", "where")
    fields = ("username", "failures_since_start", "status", "attempt_time", "ip_address", "user_agent", "where")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser  # unlocking an account

    @admin.display(description=_("status"))
    def status(self, row):
        limit = settings.AXES_FAILURE_LIMIT
        if row.failures_since_start < limit:
            return gettext("{count} attempt(s) left").format(count=limit - row.failures_since_start)
        until = timezone.localtime(row.attempt_time + settings.AXES_COOLOFF_TIME)
        if until > timezone.localtime():
            return gettext("locked until {when}").format(when=f"{until:%Y-%m-%d %H:%M}")
        return gettext("lock expired")


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(SignInRecordAdmin):
    """Every failed sign-in, including those refused because the account was already locked."""

    list_display = ("attempt_time", "username", "locked_out", "ip_address", "where")
    list_filter = ("locked_out",)
    fields = ("attempt_time", "username", "locked_out", "ip_address", "user_agent", "where")
    readonly_fields = fields


@admin.register(AccessLog)
class AccessLogAdmin(SignInRecordAdmin):
    """Every successful sign-in, with its sign-out."""

    list_display = ("attempt_time", "logout_time", "username", "ip_address", "where")
    fields = ("attempt_time", "logout_time", "username", "ip_address", "user_agent", "where")
    readonly_fields = fields
