"""21 CFR 11.300 safeguards (README, "Part 11"): lockout after 5 failed sign-ins for 15 minutes, the attempts shown
to data managers, 30-minute idle sessions, API tokens that expire and can be revoked, the token endpoint's
throttle, and password history and expiry. Production settings throughout (config.settings_test keeps them)."""

import datetime as dt
from unittest import mock

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from edc.models import PasswordHistory
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN, HOME, TOKEN = reverse("admin:login"), reverse("admin:index"), "/api/v1/auth/token/"


def sign_in(client, user, password=PASSWORD):
    return client.post(LOGIN, {"username": user.username, "password": password, "next": HOME})


def ask_token(api, user, password=PASSWORD):
    return api.post(TOKEN, {"username": user.username, "password": password}, format="json")


def is_signed_in(client) -> bool:
    return client.get(HOME).status_code == 200


# --- lockout (11.300(d)) ---------------------------------------------------------------------------------------
def test_five_failed_sign_ins_lock_the_account_for_15_minutes_even_with_the_right_password(staff):
    client = Client()
    answers = [sign_in(client, staff, "wrong-guess").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # the form again four times, then the lockout page
    locked = sign_in(client, staff)
    assert locked.status_code == 429 and "locked after 5 failed sign-ins" in locked.content.decode()
    assert "try again in 15 minutes" in locked.content.decode()
    assert not is_signed_in(client)
    # Every try is recorded, the one refused while locked included.
    assert AccessFailureLog.objects.filter(username=staff.username).count() == 6
    assert AccessFailureLog.objects.filter(username=staff.username, locked_out=True).count() == 2
    # 15 minutes after the last try the right password signs in again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=15, seconds=1))
    assert sign_in(client, staff).status_code == 302 and is_signed_in(client)


def test_a_successful_sign_in_starts_the_count_again(staff):
    client = Client()
    for _ in range(4):
        sign_in(client, staff, "wrong-guess")
    assert sign_in(client, staff).status_code == 302
    client.post(reverse("admin:logout"))
    for _ in range(4):
        assert sign_in(client, staff, "wrong-guess").status_code == 200
    assert sign_in(client, staff).status_code == 302


def test_failures_from_other_browsers_and_addresses_count_towards_one_accounts_lock(staff):
    for n in range(5):
        Client(HTTP_USER_AGENT=f"browser {n}", REMOTE_ADDR=f"10.0.0.{n}").post(
            LOGIN, {"username": staff.username, "password": "wrong-guess"}
        )
    assert sign_in(Client(), staff).status_code == 429


def test_the_token_endpoint_counts_towards_the_same_lock(staff):
    api = APIClient()
    answers = [ask_token(api, staff, "wrong-guess") for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]
    assert "locked after 5 failed sign-ins" in answers[-1].json()["detail"]
    assert ask_token(api, staff).status_code == 429  # the right password, locked
    assert sign_in(Client(), staff).status_code == 429  # and the admin too
    assert AccessFailureLog.objects.filter(username=staff.username, path_info=TOKEN).count() == 6


def test_data_managers_read_the_sign_in_records_and_no_one_else(staff, data_manager, monitor):
    sign_in(Client(), staff, "wrong-guess")
    sign_in(Client(), monitor)
    pages = {
        "axes_accessattempt_changelist": [staff.username, "4 attempt(s) left", "admin sign-in page"],
        "axes_accessfailurelog_changelist": [staff.username],
        "axes_accesslog_changelist": [monitor.username],
    }
    reader, other = Client(), Client()
    reader.force_login(data_manager)
    other.force_login(monitor)
    for name, shown in pages.items():
        page = reader.get(reverse(f"admin:{name}"))
        assert page.status_code == 200, name
        assert all(text in page.content.decode() for text in shown), name
        assert other.get(reverse(f"admin:{name}")).status_code == 403, name
    assert AccessLog.objects.filter(username=monitor.username).exists()


# --- throttle --------------------------------------------------------------------------------------------------
def test_the_token_endpoint_is_throttled_per_address(staff):
    api = APIClient()
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth-token"].split("/")[0])
    # Different (unknown) accounts: the throttle, not an account's lockout, is what stops these.
    answers = [api.post(TOKEN, {"username": f"guess{n}", "password": "x"}).status_code for n in range(rate)]
    assert answers == [400] * rate
    throttled = ask_token(api, staff)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert ask_token(APIClient(REMOTE_ADDR="10.0.0.9"), staff).status_code == 200  # another address


# --- idle sessions ---------------------------------------------------------------------------------------------
def later(minutes: int):
    return mock.patch("django.utils.timezone.now", return_value=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes))


def test_a_session_idle_31_minutes_is_signed_out(staff):
    client = Client()
    client.force_login(staff)
    assert is_signed_in(client)
    with later(31):
        response = client.get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_an_active_session_is_not_signed_out(staff):
    client = Client()
    client.force_login(staff)
    for minutes in (20, 40, 60):  # each request within 30 minutes of the last
        with later(minutes):
            assert is_signed_in(client), minutes


# --- API tokens ------------------------------------------------------------------------------------------------
def test_a_token_expires_after_its_lifetime_and_a_new_one_is_issued(staff):
    api = APIClient()
    issued = ask_token(api, staff).json()
    assert set(issued) == {"token", "expires"}
    token = Token.objects.get(key=issued["token"])
    assert dt.datetime.fromisoformat(issued["expires"]) == token.created + settings.EDC_API_TOKEN_TTL
    assert ask_token(api, staff).json()["token"] == issued["token"]  # the same until it expires
    reader = APIClient(HTTP_AUTHORIZATION=f"Token {issued['token']}")
    assert reader.get("/api/v1/sites/").status_code == 200
    Token.objects.update(created=timezone.now() - settings.EDC_API_TOKEN_TTL - dt.timedelta(seconds=1))
    expired = reader.get("/api/v1/sites/")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert not Token.objects.filter(key=issued["token"]).exists()
    assert ask_token(api, staff).json()["token"] != issued["token"]


def test_a_revoked_token_is_refused(staff):
    key = ask_token(APIClient(), staff).json()["token"]
    holder = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert holder.post("/api/v1/auth/token/revoke/").status_code == 204
    assert holder.get("/api/v1/sites/").status_code == 401
    assert not Token.objects.filter(user=staff).exists()
    assert APIClient().post("/api/v1/auth/token/revoke/").status_code == 401


# --- password history and expiry (11.300(b)) -------------------------------------------------------------------
def change_password(user, new: str) -> None:
    password_validation.validate_password(new, user)
    user.set_password(new)
    user.save()


def test_a_password_cannot_be_one_of_the_last_five(staff):
    used = [PASSWORD, *(f"another-long-phrase-{n}" for n in range(1, 5))]
    for password in used[1:]:
        change_password(staff, password)
    assert PasswordHistory.objects.filter(user=staff).count() == 5
    for password in used:
        with pytest.raises(ValidationError, match="one of your last 5"):
            password_validation.validate_password(password, staff)
    change_password(staff, "another-long-phrase-5")
    password_validation.validate_password(PASSWORD, staff)  # now the sixth back: allowed again
    assert PasswordHistory.objects.filter(user=staff).count() == 5  # the oldest hash is not kept


def test_the_admin_password_change_form_refuses_a_recent_password(staff):
    client = Client()
    client.force_login(staff)
    page = client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert page.status_code == 200 and "one of your last 5" in page.content.decode()


def age_password(user, days: int) -> None:
    PasswordHistory.objects.filter(user=user).update(created=timezone.now() - dt.timedelta(days=days))


def test_an_expired_password_must_be_changed_at_sign_in(staff):
    age_password(staff, settings.EDC_PASSWORD_EXPIRY_DAYS + 1)
    client = Client()
    assert sign_in(client, staff).status_code == 302
    forced = client.get(HOME)
    assert forced.status_code == 302 and forced["Location"] == reverse("admin:password_change")
    page = client.get(reverse("admin:password_change"))
    assert page.status_code == 200 and "more than 90 days old" in page.content.decode()
    new = "a-fresh-long-passphrase"
    changed = client.post(
        reverse("admin:password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert changed.status_code == 302
    assert is_signed_in(client)


def test_a_password_within_its_age_is_not_asked_for(staff):
    age_password(staff, settings.EDC_PASSWORD_EXPIRY_DAYS - 1)
    client = Client()
    sign_in(client, staff)
    assert is_signed_in(client)


def test_the_token_endpoint_refuses_an_expired_password(staff):
    age_password(staff, settings.EDC_PASSWORD_EXPIRY_DAYS + 1)
    refused = ask_token(APIClient(), staff)
    assert refused.status_code == 400 and "more than 90 days old" in refused.json()["password"][0]
    assert not Token.objects.filter(user=staff).exists()
