"""Debian's headless Chromium driven by Selenium against pytest-django's live server."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from edc import roles

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1050",
)


def _require_browser() -> None:
    """Absent → skip; asked for by `make test-services` (which apt-installs it first) → fail."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if not missing:
        return
    if os.environ.get("EDC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"EDC_REQUIRE_SERVICES=1 but {', '.join(missing)} missing: run `bash .ci/ensure-browser`")
    pytest.skip(f"needs Debian's chromium and chromium-driver ({', '.join(missing)} missing)")


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    # An earlier transactional test's flush removed the role groups that a data migration created.
    for role in roles.ALL_ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def http_cookies(settings):
    """The live server speaks plain http: secure-only cookies would never come back from the browser."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def people(make_user, site):
    """One user per role at the site, named after the role: the admin greets them by it (seen on the screenshots)."""
    users = {}
    for role in roles.ALL_ROLES:
        user = make_user(role, site, username=role)
        user.first_name = role.replace("_", " ").capitalize()
        user.last_name = "Tester"
        user.save(update_fields=["first_name", "last_name"])
        users[role] = user
    return users


@pytest.fixture
def screenshots(request):
    """The test's own folder of the artifacts (`test-artifacts/browser/<test name>/`), emptied of an earlier run's."""
    folder = ARTIFACTS / request.node.name.removeprefix("test_")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture
def downloads(tmp_path):
    """Where Chromium saves what the test downloads."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(tmp_path, monkeypatch, http_cookies, downloads):
    """One fresh headless Chromium per test (own profile), quit whatever the outcome."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or driver
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
