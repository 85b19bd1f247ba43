"""The language follows the user's choice, remembered per user (issue #19): the header switch stores it, the next
sign-in applies it over the browser's Accept-Language, and a choice made on the sign-in page becomes the user's."""

import pytest
from django.test import Client
from django.urls import reverse

from edc.models import UserPreference
from tests import factories

pytestmark = pytest.mark.django_db

CHINESE_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def switch(client, language):
    return client.post(reverse("set_language"), {"language": language, "next": "/admin/"})


def sign_in(client, user):
    response = client.post(reverse("admin:login"), {"username": user.username, "password": factories.PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def page_language(client, **headers) -> str:
    return client.get(reverse("admin:index"), **headers).content.decode().split('<html lang="')[1].split('"')[0]


def test_the_header_switch_remembers_the_choice_for_the_next_sign_in_on_another_browser(client, staff):
    client.force_login(staff)
    assert switch(client, "zh-hans").status_code == 302
    assert UserPreference.objects.get(user=staff).language == "zh-hans"
    other_browser = Client()  # no language cookie; its Accept-Language asks for English
    sign_in(other_browser, staff)
    assert page_language(other_browser, HTTP_ACCEPT_LANGUAGE="en-GB") == "zh-hans"


def test_without_a_choice_the_browser_decides(client, staff):
    sign_in(client, staff)
    assert page_language(client, **CHINESE_BROWSER) == "zh-hans"
    assert page_language(client, HTTP_ACCEPT_LANGUAGE="en-GB") == "en-gb"
    assert not UserPreference.objects.exists()


def test_a_choice_on_the_sign_in_page_becomes_the_users(client, staff, investigator):
    switch(client, "zh-hans")
    assert not UserPreference.objects.exists()  # nobody signed in yet
    sign_in(client, staff)
    assert UserPreference.objects.get(user=staff).language == "zh-hans"
    assert not UserPreference.objects.filter(user=investigator).exists()


def test_an_unknown_language_is_not_remembered(client, staff):
    client.force_login(staff)
    switch(client, "xx")
    assert not UserPreference.objects.exists()
    assert page_language(client) == "en-gb"
