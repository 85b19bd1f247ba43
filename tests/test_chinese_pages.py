"""The pages site users read, rendered in Chinese, show no English of the project's own (issue #19): every heading,
column title, form label, button, menu entry and help text of every admin list and form is in Chinese, and no text
on a page is an English string of the catalogue left untranslated. Data as typed (drug names, descriptions), codes,
units, subject ids and numbers stay as they are."""

import re

import lxml.html
import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import translation

from edc import roles, services
from edc.models import Visit
from tests import casebook, factories
from tests.followup.test_i18n import CATALOG, po_entries

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CJK = re.compile(r"[\u3400-\u9fff]")
# What a label may be without a Chinese character: the standards' and the lab sheet's own abbreviations, units.
NAMES_AS_THEY_ARE = re.compile(
    r"^(ALT|AST|SDV|SLEDAI|SELENA-SLEDAI|PGA|ICF|ID|ANC|IgG|IgA|CD19|CD3|CAR-T|qPCR|PCR|LVEF|SaO2|APTT|PT|BSA|"
    r"CRS|ICANS|ICAHT|CTCAE|ASTCT|DORIS|LLDAS|SDTM|ODM|CSV|JSON|XPT|Parquet|PK/PD|LLOQ|ULN|LLN|API|"
    r"\(?[A-Z0-9_]{1,20}\)?|[\d\s.,:/()%×^+−–-]*|[a-zA-Z]{0,3}/[a-zA-Z]{0,3}|[—-]|M1019-\d\d-\d\d\d)$"
)
# The elements whose words are the application's, never the data's.
LABELS = (
    "//label | //thead//th | //h1 | //h2 | //caption | //nav[@id='nav-sidebar']//a | //*[@class='help']"
    " | //input[@type='submit']/@value"
)


def english_of_the_catalogue() -> set[str]:
    """The English strings the catalogue translates (a Chinese page showing one of them missed its translation)."""
    return {msgid for msgid, msgstr, _ in po_entries(CATALOG / "django.po") if msgid and msgstr and msgid != msgstr}


def words(node) -> str:
    """Its text on one line, without a sorted column's priority number or a label's colon."""
    text = node if isinstance(node, str) else node.text_content()
    return re.sub(r"^\d+ ", "", " ".join(text.split())).strip(" :*")


def untranslated(html: str, catalogue: set[str]) -> list[str]:
    """The labels of `html` without a Chinese character, and any text that is an English string of the catalogue."""
    tree = lxml.html.fromstring(html)
    # Not read (scripts, a screen reader's column names of Django's own) or the data's (choices, values typed,
    # the user's name).
    unread = [
        "//script", "//style", "//option", "//textarea", "//*[@class='readonly']",
        "//*[contains(@class, 'visually-hidden')]", "//*[@id='user-tools']/strong",
    ]  # fmt: skip
    for hidden in tree.xpath(" | ".join(unread)):
        hidden.drop_tree()
    labels = [words(node) for node in tree.xpath(LABELS)]
    english = [label for label in labels if label and not CJK.search(label) and not NAMES_AS_THEY_ARE.match(label)]
    texts = {words(text) for text in tree.xpath("//body//text()")}
    return sorted({*english, *(text for text in texts if text in catalogue and len(text) > 3)})


@pytest.fixture
def casebook_of_a_treated_subject(site, staff):
    subject = factories.make_subject(site, staff)
    ids = casebook.treated_casebook(subject, staff)
    return subject, ids


def admin_pages(subject) -> list[str]:
    """Every registered model's list and add form, the home page, the subject's page, its D7 CRF and the dashboard."""
    pages = [reverse("admin:index"), reverse("admin:edc_subject_change", args=[subject.pk])]
    d7 = Visit.objects.get(subject=subject, code="D7")
    pages += [reverse("admin:edc_visit_crf", args=[d7.pk]), reverse("admin:edc_visit_dashboard")]
    for model in admin.site._registry:
        opts = model._meta
        pages += [reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}") for page in ("changelist", "add")]
    return pages


@pytest.mark.parametrize("role", roles.ALL_ROLES)
def test_every_page_in_chinese_shows_no_english_label(client, make_user, site, casebook_of_a_treated_subject, role):
    subject, _ = casebook_of_a_treated_subject
    client.force_login(make_user(role, site))
    catalogue = english_of_the_catalogue()
    found = {}
    for path in admin_pages(subject):
        response = client.get(path, **CHINESE)
        if response.status_code == 403:
            continue  # a page of another role: its own role's run reads it
        assert response.status_code == 200, path
        if missed := untranslated(response.content.decode(), catalogue):
            found[path] = missed
    assert found == {}, found


def test_the_query_answer_form_is_in_chinese(client, staff, monitor, casebook_of_a_treated_subject):
    subject, _ = casebook_of_a_treated_subject
    d7 = Visit.objects.get(subject=subject, code="D7")
    query = services.open_query(d7, "visit_datetime", "Please confirm the time of the visit.", user=monitor)
    client.force_login(staff)
    response = client.get(reverse("admin:edc_dataquery_change", args=[query.pk]), **CHINESE)
    assert response.status_code == 200
    assert untranslated(response.content.decode(), english_of_the_catalogue()) == []


def test_english_pages_stay_english(client, staff, casebook_of_a_treated_subject):
    subject, _ = casebook_of_a_treated_subject
    client.force_login(staff)
    with translation.override("en-gb"):
        page = client.get(reverse("admin:edc_subject_change", args=[subject.pk])).content.decode()
    assert not CJK.search(re.sub(r"<option[^>]*>[^<]*</option>", "", page))  # the language switch names 简体中文
