"""中文 for the edc app (issue #19): every name of its models (verbose names, field names, help texts, choice
labels) is in the catalog, its admin pages and messages are in Chinese when the reader asks, and English is as it
was."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from edc import i18n, rules, services
from edc.models import DataQuery, Deviation, LabResult

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CJK = re.compile(r"[\u4e00-\u9fff]")

# The same in both languages: codes, abbreviations and names that a Chinese CRF writes as they are.
SAME_IN_BOTH = {"ALT", "AST", "APTT", "C3", "C4", "LLN", "ULN", "SDV", "English", "简体中文"}
# Follow-up visit codes are their own names (D7, M3, Y5).
VISIT_CODE = re.compile(r"^[DMY]\d+$")


def edc_models():
    """The edc app's own models (django-simple-history's historical copies name themselves from these)."""
    return [model for model in apps.get_app_config("edc").get_models() if not model.__name__.startswith("Historical")]


def words_of_models():
    """(where, lazy text) of every name the edc models show: model names, field names, help texts, choices."""
    for model in edc_models():
        meta = model._meta
        yield f"{meta.label} verbose_name", meta.verbose_name
        yield f"{meta.label} verbose_name_plural", meta.verbose_name_plural
        for field in [*meta.fields, *meta.many_to_many]:
            if field.auto_created:
                continue
            yield f"{meta.label}.{field.name}", field.verbose_name
            if field.help_text:
                yield f"{meta.label}.{field.name} help_text", field.help_text
            for value, label in field.flatchoices:
                yield f"{meta.label}.{field.name} choice {value}", label


def is_translated(english: str, chinese: str) -> bool:
    return chinese != english or bool(CJK.search(chinese)) or english in SAME_IN_BOTH or bool(VISIT_CODE.match(english))


def test_every_name_of_the_edc_models_is_translated_and_the_english_is_unchanged():
    words = list(words_of_models())
    with translation.override("en-gb"):
        english = {where: str(text) for where, text in words}
    with translation.override("zh-hans"):
        chinese = {where: str(text) for where, text in words}
    assert len(words) > 150
    assert [where for where in english if not is_translated(english[where], chinese[where])] == []
    # What Django derived before the fields were marked: the field name in words, the class name split.
    assert english["edc.Subject.date_of_birth"] == "date of birth"
    assert english["edc.DataQuery verbose_name_plural"] == "data queries"
    assert english["edc.Signature.meaning choice REVIEWED"] == "Reviewed"
    assert english["edc.Lock.level choice STUDY"] == "Study"


def test_the_glossary_terms_are_the_ones_the_catalog_uses():
    with translation.override("zh-hans"):
        assert str(Deviation._meta.verbose_name) == "方案偏离"
        assert str(apps.get_model("edc", "DataQuery")._meta.verbose_name) == "质疑"
        assert str(apps.get_model("edc", "SourceVerification")._meta.verbose_name) == "源数据核查"
        assert str(apps.get_model("edc", "Subject")._meta.get_field("date_of_birth").verbose_name) == "出生日期"


@pytest.fixture
def deviation(subject, staff):
    day = timezone.localdate() - dt.timedelta(days=3)
    row = Deviation(subject=subject, category=Deviation.Category.CONSENT, severity=Deviation.Severity.MAJOR,
                    deviation_date=day, description="ICF v2 signed after the v3 approval")  # fmt: skip
    return services.record_deviation(row, user=staff)


DEVIATION_CHINESE = ["方案偏离", "知情同意", "重大", "偏离日期", "已确认", "伦理委员会"]
DEVIATION_ENGLISH = ["Deviation date", "informed consent", "major", "Corrective action", "ethics committee"]


def test_the_deviation_list_and_form_are_in_chinese_when_the_browser_asks(client, staff, deviation):
    client.force_login(staff)
    pages = [reverse("admin:edc_deviation_changelist"), reverse("admin:edc_deviation_change", args=[deviation.pk])]
    for url in pages:
        chinese = client.get(url, **CHINESE).content.decode()
        assert [words for words in DEVIATION_CHINESE if words not in chinese] == [], url
        assert [words for words in DEVIATION_ENGLISH if words in chinese] == [], url
    english = client.get(pages[1]).content.decode()
    assert all(words in english for words in ["Deviation date", "informed consent", "Corrective action"])


def test_the_subject_page_and_its_audit_trail_are_in_chinese(client, staff, subject):
    client.force_login(staff)
    page = client.get(reverse("admin:edc_subject_change", args=[subject.pk]), **CHINESE).content.decode()
    assert [w for w in ["受试者", "出生日期", "访视", "稽查轨迹", "签名", "方案偏离"] if w not in page] == []
    assert [w for w in ["Date of birth", "No visits yet.", "Nothing signed yet."] if w in page] == []
    trail = client.get(reverse("admin:edc_subject_audit_trail", args=[subject.pk]), **CHINESE).content.decode()
    assert [w for w in ["稽查轨迹", "研究中心时间", "原值", "新值"] if w not in trail] == []
    assert "Download the whole trail as CSV" not in trail


def test_the_panels_are_cached_per_language(client, staff, subject):
    """A subject's panels are kept per reader's language: the Chinese page's panels never show to an English one."""
    client.force_login(staff)
    url = reverse("admin:edc_subject_change", args=[subject.pk])
    assert "尚无签名" in client.get(url, **CHINESE).content.decode()
    assert "Nothing signed yet." in client.get(url).content.decode()


def test_a_rules_refusal_is_english_and_said_in_chinese_where_shown():
    refusal = rules.dismissal_errors("")["dismiss_reason"]
    assert refusal == "a reason is required to dismiss a proposed deviation"
    in_the_future = rules.not_in_future("date", dt.date(2031, 1, 2), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))["date"]
    assert in_the_future == "2031-01-02 is in the future (hard limit: not after 2030-01-01)"
    with translation.override("zh-hans"):
        assert CJK.search(i18n.translated(refusal))
        assert "2031-01-02" in i18n.translated(in_the_future) and CJK.search(i18n.translated(in_the_future))


def test_a_service_refusal_is_in_the_readers_language(investigator, deviation):
    deviation.status = Deviation.Status.PROPOSED
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        services.dismiss_deviation(deviation, reason=" ", user=investigator)
    assert CJK.search(" ".join(refused.value.messages))


@pytest.mark.parametrize(
    "stored, chinese",
    [
        ("55 g/L is below the expected 60; please confirm", "55 g/L 低于预期值 60，请确认"),
        ("2.311 g/24h is above 10 × ULN 0.15; please confirm", "2.311 g/24h 高于 10 × ULN（0.15），请确认"),
        (
            "visit D21 is 1 day(s) late (window 2026-08-14 … 2026-08-18); please confirm",
            "访视 D21 逾期 1 天（窗口期 2026-08-14 … 2026-08-18），请确认",
        ),
        (
            "fludarabine 60 mg differs from the expected 50 mg (25 mg/m² × BSA 2 m²) (20 % off) by more than 10 %;"
            " please confirm",
            "fludarabine 60 mg 与预期剂量 50 mg（25 mg/m² × BSA 2 m²）相差超过 10 %（偏差 20 %），请确认",
        ),  # infusion's, registered by its hooks; its part " (20 % off)" said the same way
        (
            "fludarabine 30 mg/m² not reduced for CrCl 25.4 mL/min (Cockcroft-Gault < 70: at most 24 mg/m², 80 % of"
            " 30); CrCl 25.4 mL/min is below 30 mL/min: fludarabine is normally avoided; please confirm",
            "氟达拉滨 30 mg/m² 未按 CrCl 25.4 mL/min 减量（Cockcroft-Gault < 70：最多 24 mg/m²，即 30 的 80 %）；"
            "CrCl 25.4 mL/min 低于 30 mL/min：通常应避免使用氟达拉滨，请确认",
        ),  # both kidney findings: their own template, not the first one's
        ("Please send the lab report of 12 May.", "Please send the lab report of 12 May."),  # typed by a monitor
    ],
)
def test_a_stored_query_text_is_said_in_the_readers_language(stored, chinese):
    """Stored in English (its audit trail's words), shown from its template with the values it holds."""
    with translation.override("zh-hans"):
        assert i18n.translated_query_text(stored) == chinese
    assert i18n.translated_query_text(stored) == stored


def test_an_edit_checks_query_is_stored_in_english_and_listed_in_chinese(client, subject, staff):
    with translation.override("zh-hans"):  # a Chinese reader keys it
        result = services.save_crf(
            LabResult(subject=subject, analyte="HGB", value=Decimal("55"), unit="g/L", lln=Decimal("115"),
                      uln=Decimal("150"), sample_datetime=timezone.now() - dt.timedelta(hours=1)),
            user=staff,
        )  # fmt: skip
    query = DataQuery.objects.get(target_model="edc.labresult", target_id=result.pk, auto=True)
    assert query.text == "55 g/L is below the expected 60; please confirm"
    client.force_login(staff)
    page = client.get(reverse("admin:edc_dataquery_changelist"), **CHINESE).content.decode()
    assert "55 g/L 低于预期值 60，请确认" in page and query.text not in page
    page = client.get(reverse("admin:edc_dataquery_change", args=[query.pk]), **CHINESE).content.decode()
    assert "55 g/L 低于预期值 60，请确认" in page and "is below the expected" not in page  # its title and its text
