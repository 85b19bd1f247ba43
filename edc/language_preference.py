"""The language a signed-in user chose, remembered per user (README, "Languages").

The header switch (`set_language`, Django's view wrapped) stores the choice on the user (`edc.UserPreference`);
a choice made on the sign-in page is stored when that person signs in. Each sign-in copies the stored choice into
the session, and `UserLanguageMiddleware` applies the session's language on every request, so reading it costs no
query. A user without a stored choice reads the language cookie, else the browser's Accept-Language (Django's
LocaleMiddleware).
"""

from __future__ import annotations

from django.utils import translation
from django.views.i18n import set_language as django_set_language

from edc.models import UserPreference

SESSION_KEY = "edc_language"
# A choice made before signing in, kept in the anonymous session until the sign-in stores it on the user.
CHOSEN_BEFORE_SIGN_IN = "edc_language_chosen"


def stored_language(user) -> str | None:
    """The user's remembered language, or None when they never chose one."""
    return UserPreference.objects.filter(user=user).values_list("language", flat=True).first()


def remember(user, language: str) -> None:
    UserPreference.objects.update_or_create(user=user, defaults={"language": language})


def set_language(request):
    """Django's `set_language`, which also remembers a valid choice: on the user when signed in, else in the
    session until they sign in."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.method != "POST" or not translation.check_for_language(language):
        return response
    if request.user.is_authenticated:
        remember(request.user, language)
        request.session[SESSION_KEY] = language
    else:
        request.session[CHOSEN_BEFORE_SIGN_IN] = language
    return response


def apply_on_sign_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: a choice made on the sign-in page is this person's; otherwise their stored one
    applies from now on in this session."""
    chosen = request.session.pop(CHOSEN_BEFORE_SIGN_IN, None)
    if chosen:
        remember(user, chosen)
    language = chosen or stored_language(user)
    if language:
        request.session[SESSION_KEY] = language
    else:
        request.session.pop(SESSION_KEY, None)


class UserLanguageMiddleware:
    """After LocaleMiddleware and AuthenticationMiddleware: a signed-in user's remembered language wins over the
    cookie and the browser's Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request.session.get(SESSION_KEY) if request.user.is_authenticated else None
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
