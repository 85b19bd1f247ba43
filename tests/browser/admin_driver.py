"""The few gestures of a user in the Django admin, each waiting for the page it leads to (never a sleep)."""

import base64
from pathlib import Path

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from edc import services
from tests import factories

WAIT_SECONDS = 15
REFUSED = "This page is not open to your role (403)"  # the heading of edc/templates/403.html


class Admin:
    def __init__(self, driver, base_url, screenshot_dir):
        self.driver = driver
        self.base_url = base_url
        self.screenshot_dir = screenshot_dir
        self.shots = 0

    def wait(self, condition):
        # While a page is being replaced, Chromium may answer about nodes of the old document ("Node with given id
        # does not belong to the document"): such answers are polled past, not failed on.
        waiting = WebDriverWait(self.driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,))
        return waiting.until(condition)

    def visible(self, target):
        """The element a CSS selector, or a (By, value) locator, names, once it shows."""
        locator = (By.CSS_SELECTOR, target) if isinstance(target, str) else target
        return self.wait(ec.visibility_of_element_located(locator))

    def text(self, target) -> str:
        return self.visible(target).text

    def words(self, target) -> str:
        """The element's text on one line (a table's cells and rows each one space apart)."""
        return " ".join(self.text(target).split())

    def type(self, css, value):
        field = self.visible(css)
        field.clear()
        field.send_keys(value)

    def tick(self, css):
        box = self.visible(css)
        if not box.is_selected():
            box.click()

    def choose(self, css, visible_text):
        Select(self.visible(css)).select_by_visible_text(visible_text)

    def choose_value(self, css, value):
        Select(self.visible(css)).select_by_value(value)

    def search_choose(self, field_id, typed, option_text):
        """An autocomplete field (Django's select2): open it, type, and pick the option the server found."""
        self.visible(f"#{field_id} + .select2 .select2-selection").click()
        self.type(".select2-container--open .select2-search__field", typed)
        option = self.wait(ec.element_to_be_clickable((
            By.XPATH, f"//li[contains(@class,'select2-results__option') and normalize-space()='{option_text}']"
        )))  # fmt: skip
        option.click()
        self.wait(lambda driver: option_text in self.text(f"#select2-{field_id}-container"))

    def submit(self, target, then_css):
        """Click and wait until the next page shows `then_css`: the page being left is marked first, so an
        element of it still on screen is never taken for the next page's."""
        return self._leave(lambda: self.visible(target).click(), then_css)

    def follow(self, link_text, then_css, within="#content"):
        """Click the link reading `link_text` inside `within` (a CSS selector or a locator: a work list)."""
        link = self.visible(within).find_element(By.XPATH, f".//a[normalize-space()='{link_text}']")
        return self._leave(link.click, then_css)

    def _leave(self, gesture, then_css):
        self.driver.execute_script("document.documentElement.dataset.left = 'yes'")
        gesture()
        self.wait(lambda driver: driver.execute_script(
            "return document.readyState === 'complete' && !document.documentElement.dataset.left"))  # fmt: skip
        return self.visible(then_css)

    def open(self, path, then_css):
        self.driver.get(f"{self.base_url}{path}")
        return self.visible(then_css)

    def refused(self, path) -> bool:
        """Open a page and tell whether the admin answered with its 403 page."""
        return REFUSED in self.open(path, "#content").text

    def download(self, target, directory: Path) -> Path:
        """Click what asks for a file (an attachment: the page stays) and wait until Chromium has written it whole
        in `directory`."""
        before = set(directory.glob("*"))
        self.visible(target).click()

        def finished(driver):
            # While it writes, Chromium names the file `.org.chromium.Chromium.*` or `*.crdownload`.
            new = set(directory.glob("*")) - before
            whole = [p for p in new if not p.name.startswith(".") and not p.name.endswith(".crdownload")]
            return whole[0] if whole else False

        try:
            return self.wait(finished)
        except TimeoutException:  # the server answered with a page (the form's errors), not a file
            shown = self.driver.find_element(By.TAG_NAME, "body").text[:2000]
            raise AssertionError(f"no file was saved; the browser shows: {shown}") from None

    def screenshot(self, name):
        """The whole page, below the window's fold too (a CRF page's last sections, a list's last rows)."""
        self.shots += 1
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"clip": clip, "captureBeyondViewport": True})
        (self.screenshot_dir / f"{self.shots:02d}-{name}.png").write_bytes(base64.b64decode(shot["data"]))

    def log_in(self, user):
        self.open("/admin/login/", "#id_username")
        self.type("#id_username", user.username)
        self.type("#id_password", factories.PASSWORD)
        greeting = self.submit("#login-form input[type=submit]", "#user-tools")
        assert f"{user.first_name}".upper() in greeting.text.upper()

    def log_out(self):
        if not self.driver.find_elements(By.ID, "logout-form"):  # a 403 page, or a download's, has no user tools
            self.open("/admin/", "#logout-form")
        self.submit("#logout-form button[type=submit]", "#content")
        assert "Logged out" in self.text("#content")


def work_list(title) -> tuple[str, str]:
    """The home page's work list of that title (its heading reads "<title> (<total>) · <role>")."""
    return By.XPATH, f"//div[contains(@class, 'work-list')][h2[starts-with(normalize-space(), '{title} (')]]"


def site_clock(moment, site) -> tuple[str, str]:
    """The admin's split date and time inputs, in the site's time (the admin's time zone)."""
    local = services.site_time(moment, site)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
