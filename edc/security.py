"""The sign-in safeguards of 21 CFR 11.300 that Django and DRF leave to the project (README, "Part 11").

- 11.300(b) password history and age: `PasswordHistoryValidator` (one of AUTH_PASSWORD_VALIDATORS) keeps each new
  password's hash in `edc.PasswordHistory` and refuses one of the last few; a password older than
  EDC_PASSWORD_EXPIRY_DAYS must be changed at sign-in (`PasswordExpiryMiddleware`; the token endpoint refuses).
- 11.300(d) lockout: django-axes counts failed sign-ins; `lockout_response` is the page (or JSON) a locked-out
  account gets.
- API tokens: DRF's token, which expires EDC_API_TOKEN_TTL after it was issued (`ExpiringTokenAuthentication`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from edc.models import PasswordHistory

# Set on the session at sign-in when the password has expired; cleared once it has been changed.
PASSWORD_EXPIRED_KEY = "edc_password_expired"


# --- 11.300(b): password history and age -----------------------------------------------------------------------
class PasswordHistoryValidator:
    """A new password may not be the current one or one of the user's last `remember` passwords."""

    def __init__(self, remember: int = 5):
        self.remember = remember

    def validate(self, password, user=None):
        if user is None or user.pk is None or not self.remember:
            return
        recent = PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[: self.remember]
        if any(check_password(password, used) for used in [user.password, *recent] if used):
            raise ValidationError(
                f"This password was one of your last {self.remember}; choose one you have not used.",
                code="password_reused",
            )

    def password_changed(self, password, user):
        """Called by Django after every save of a new password (`set_password` then `save`, forms included)."""
        if not user.has_usable_password():
            return
        PasswordHistory.objects.create(user=user, password=user.password)
        # The newest row is kept even when nothing is remembered: its time is the password's age.
        beyond = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[max(self.remember, 1) :]
        PasswordHistory.objects.filter(pk__in=list(beyond)).delete()

    def get_help_text(self):
        return f"Your password can't be one of your last {self.remember} passwords."


def password_changed_at(user) -> dt.datetime:
    """When the user's password was set: its history row, or for a user from before the history, joining."""
    newest = PasswordHistory.objects.filter(user=user).values_list("created", flat=True).first()
    return newest or user.date_joined


def password_expired(user, now: dt.datetime | None = None) -> bool:
    days = settings.EDC_PASSWORD_EXPIRY_DAYS
    if not days or not user.has_usable_password():
        return False
    return (now or timezone.now()) - password_changed_at(user) > dt.timedelta(days=days)


def flag_expired_password(sender, request, user, **kwargs):
    """`user_logged_in` receiver: the age is read once per sign-in, not on every page."""
    if request is not None and hasattr(request, "session") and password_expired(user):
        request.session[PASSWORD_EXPIRED_KEY] = True


# A signed-in session's expiry is moved on at most this often: an idle timeout to the minute, without a session
# write on every request.
SESSION_TOUCH_SECONDS = 60
SESSION_TOUCHED_KEY = "edc_touched"


def touch_session(session) -> None:
    session[SESSION_TOUCHED_KEY] = int(timezone.now().timestamp())


def touch_new_session(sender, request, user, **kwargs):
    """`user_logged_in` receiver: a new session starts touched (it is being saved anyway), so the first minute of
    pages writes nothing more."""
    touch_session(request.session)


class IdleSessionMiddleware:
    """A session idle for SESSION_COOKIE_AGE is signed out, an active one never is (21 CFR 11.300): a request
    marks the session touched when the last mark is a minute old, and the session middleware then saves it with
    its expiry SESSION_COOKIE_AGE from now."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        idle = timezone.now().timestamp() - session.get(SESSION_TOUCHED_KEY, 0)
        if session.session_key is not None and idle >= SESSION_TOUCH_SECONDS:
            touch_session(session)
        return self.get_response(request)


class PasswordExpiryMiddleware:
    """An admin session signed in with an expired password sees only the password change page until it is
    changed (and can sign out)."""

    ALLOWED_PAGES = ("admin:password_change", "admin:password_change_done", "admin:logout", "admin:jsi18n")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The API is not looked at here: the token endpoint refuses an expired password itself.
        if request.path.startswith("/admin/") and request.session.get(PASSWORD_EXPIRED_KEY):
            if not password_expired(request.user):
                del request.session[PASSWORD_EXPIRED_KEY]
            elif request.path not in {reverse(name) for name in self.ALLOWED_PAGES}:
                messages.warning(request, expired_password_message())
                return redirect("admin:password_change")
        return self.get_response(request)


def expired_password_message() -> str:
    days = settings.EDC_PASSWORD_EXPIRY_DAYS
    return f"Your password is more than {days} days old: choose a new one to go on."


# --- 11.300(d): lockout -----------------------------------------------------------------------------------------
def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"This account is locked after {settings.AXES_FAILURE_LIMIT} failed sign-ins in a row: try again in "
        f"{minutes} minutes, or ask an administrator to unlock it."
    )


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in of a locked-out account (AXES_LOCKOUT_CALLABLE): 429, as JSON under /api/,
    else a page of the admin."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": lockout_message()}, status=429)
    context = {**admin.site.each_context(request), "title": "Account locked", "message": lockout_message()}
    return TemplateResponse(request, "admin/edc/locked_out.html", context, status=429).render()


# --- API tokens ------------------------------------------------------------------------------------------------
def token_expires_at(token: Token) -> dt.datetime:
    return token.created + settings.EDC_API_TOKEN_TTL


def current_token(user) -> Token:
    """The user's token, a new one when the last has expired or was revoked."""
    token, _ = Token.objects.get_or_create(user=user)
    if token_expires_at(token) <= timezone.now():
        token.delete()
        token = Token.objects.create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token …` as DRF's, refused once the token is older than EDC_API_TOKEN_TTL."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expires_at(token) <= timezone.now():
            token.delete()
            raise AuthenticationFailed("Token expired: ask for a new one at POST /api/v1/auth/token/.")
        return user, token
