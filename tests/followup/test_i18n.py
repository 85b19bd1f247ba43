"""中文 and English (README, "Languages"): the catalog is complete and compiled, the site staff's pages are in
Chinese when the browser asks for it, an API hard-limit error is too, and English stays the default."""

import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from edc.models import Visit
from tests import factories

pytestmark = pytest.mark.django_db

CATALOG = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def po_entries(path: Path) -> list[tuple[str, str, set[str]]]:
    """(msgid, msgstr, flags) of each entry of a .po file (the header included, as msgid ""); an entry with a context
    is keyed as gettext keys it, "context\x04msgid"."""
    entries, flags, current, field = [], set(), {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith(("msgctxt ", "msgid ", "msgstr ")):
            field, _, text = line.partition(" ")
            current[field] = ast.literal_eval(text)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        elif not line.strip() and current:
            context = f"{current['msgctxt']}\x04" if "msgctxt" in current else ""
            entries.append((context + current["msgid"], current.get("msgstr", ""), flags))
            flags, current, field = set(), {}, None
    return entries


def test_every_message_has_a_chinese_translation_neither_empty_nor_fuzzy():
    entries = po_entries(CATALOG / "django.po")
    assert len(entries) > 100
    assert [msgid for msgid, msgstr, _ in entries if msgid and not msgstr] == []
    assert [msgid for msgid, _, flags in entries if "fuzzy" in flags] == []


def test_the_committed_mo_file_is_the_po_file_compiled():
    """`make run` serves the committed .mo: it holds exactly the .po's translations (recompile after an edit)."""
    with (CATALOG / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog
    expected = {msgid: msgstr for msgid, msgstr, _ in po_entries(CATALOG / "django.po") if msgid}
    assert {msgid: msgstr for msgid, msgstr in compiled.items() if msgid} == expected


HOME_ENGLISH = ["Visits due this week", "Overdue visits", "Queries to answer", "Nothing to do.", "site staff"]
HOME_CHINESE = ["本周到期的访视", "逾期访视", "待回复的质疑", "研究中心人员", "语言"]


def test_the_home_page_is_in_chinese_when_the_browser_asks(client, staff, treated):
    client.force_login(staff)
    page = client.get(reverse("admin:index"), **CHINESE).content.decode()
    assert all(words in page for words in HOME_CHINESE), page
    assert [words for words in HOME_ENGLISH if words in page] == []


CRF_ENGLISH = ["CAR transgene (qPCR)", "Serology and complement", "Reference range, LLOQ", "Save visit",
               "Medications taken on the visit day", "Reason for change", "Source data verified", "not signed",
               "SELENA-SLEDAI descriptors present", "Prednisone-equivalent", "white cells", "haemoglobin"]  # fmt: skip
CRF_CHINESE = ["CAR 转基因（qPCR）", "血清学与补体", "参考范围", "保存访视", "访视当日的合并用药", "修改原因",
               "源数据核查", "未签名", "存在的 SELENA-SLEDAI 条目", "泼尼松等效剂量", "白细胞", "血红蛋白",
               "访视 D7"]  # fmt: skip


def test_the_visit_crf_page_is_in_chinese_and_english_by_default(client, staff, treated):
    d7 = Visit.objects.get(subject=treated, code="D7")
    client.force_login(staff)
    url = reverse("admin:edc_visit_crf", args=[d7.pk])
    chinese = client.get(url, **CHINESE).content.decode()
    assert [words for words in CRF_CHINESE if words not in chinese] == []
    assert [words for words in CRF_ENGLISH if words in chinese] == []
    english = client.get(url).content.decode()
    assert all(words in english for words in CRF_ENGLISH)
    assert [words for words in CRF_CHINESE if words in english] == []


def test_the_language_switch_is_remembered_in_its_cookie(client, staff):
    client.force_login(staff)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("admin:index")})
    assert response.status_code == 302 and client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "本周到期的访视" in client.get(reverse("admin:index")).content.decode()


def test_an_api_hard_limit_error_in_chinese_names_the_field(staff_api, treated):
    response = staff_api.post("/api/v1/lab-results/", factories.lab_payload(treated, lloq=-1), **CHINESE)
    assert response.status_code == 400, response.content
    assert response.json()["lloq"] == ["必须 ≥ 0（硬性限值）；输入值为 -1"]
    english = staff_api.post("/api/v1/lab-results/", factories.lab_payload(treated, lloq=-1))
    assert english.json()["lloq"] == ["must be ≥ 0 (hard limit); got -1"]
