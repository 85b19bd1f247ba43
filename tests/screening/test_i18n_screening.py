"""中文 and English for screening and infusion (issue #19; README, "Languages"): every model label, choice and help
text, the criteria and their reasons, the SELENA-SLEDAI form's words, the eligibility panel, the confirmation page,
the CRF screens and the treatment timeline are in Chinese when the browser asks for it; English stays as it was, and
what is stored (the decision's criteria) stays English."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from edc import i18n
from edc.models import CrfModel
from infusion.models import Apheresis, LymphodepletionDose, ProductLot
from infusion.services import record_lymphodepletion_dose
from screening import rules
from screening.admin import CODE_LISTS
from screening.models import CODE_LABELS, EligibilityDecision, Medication
from screening.rules.sledai import Assessment, doris_remission
from screening.services import confirm_eligibility
from tests import factories as edc_factories
from tests.infusion import factories as infusion_factories
from tests.screening import factories

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CJK = re.compile(r"[\u4e00-\u9fff]")
# Words a Chinese CRF writes as they are (names of scores, abbreviations).
SAME_IN_CHINESE = {"SELENA-SLEDAI", "SLICC 2012", "SLE", "G-CSF"}
# The record fields every CRF inherits (subject, version, voided, …) are the kernel's, translated with edc.
INHERITED = {field.name for field in CrfModel._meta.get_fields()} | {"id"}


def in_chinese(text) -> bool:
    with translation.override("en"):
        english = str(text)
    with translation.override("zh-hans"):
        chinese = str(text)
    return english in SAME_IN_CHINESE or chinese != english or bool(CJK.search(chinese))


def model_texts(app_label: str):
    """(where, text) of each label of the app's models that people read: names, fields' labels and help texts,
    choice labels (the history tables' copies aside)."""
    for model in apps.get_app_config(app_label).get_models():
        if model.__name__.startswith("Historical"):
            continue
        meta = model._meta
        yield model.__name__, meta.verbose_name
        yield f"{model.__name__} (plural)", meta.verbose_name_plural
        for field in meta.get_fields():
            if field.name in INHERITED or not hasattr(field, "verbose_name"):
                continue
            yield f"{model.__name__}.{field.name}", field.verbose_name
            if field.help_text:
                yield f"{model.__name__}.{field.name} help", field.help_text
            for value, label in field.flatchoices if field.choices else ():
                yield f"{model.__name__}.{field.name}={value}", label


@pytest.mark.parametrize("app_label", ["screening", "infusion"])
def test_every_model_label_choice_and_help_text_is_in_chinese(app_label):
    untranslated = [(where, str(text)) for where, text in model_texts(app_label) if not in_chinese(text)]
    assert untranslated == []


def test_english_labels_are_unchanged():
    with translation.override("en"):
        assert Medication._meta.get_field("dose_mg_per_day").verbose_name == "dose (mg/day)"
        assert Medication.Category.CORTICOSTEROID.label == "Corticosteroid"
        assert str(Apheresis._meta.verbose_name_plural) == "aphereses"
        assert str(ProductLot._meta.get_field("lot_number").verbose_name) == "lot number"
        assert dict(CODE_LISTS["slicc_criteria"])["ANTI_DSDNA"] == "Anti dsdna"


def test_the_rules_words_are_in_chinese():
    labels = [*rules.CRITERION_TITLES.values(), *CODE_LABELS.values()]
    labels += [organ for organ, _ in rules.SLEDAI_ORGANS]
    labels += [label for _, descriptors in rules.SLEDAI_ORGANS for _, label in descriptors]
    with translation.override("zh-hans"):
        assert [str(label) for label in labels if not CJK.search(str(i18n.translated(label)))] == []
        organ, descriptors = CODE_LISTS["descriptors"][0]
        assert (str(organ), str(descriptors[0][1])) == ("中枢神经系统", "癫痫发作（8）")
    assert str(CODE_LISTS["descriptors"][0][1][0][1]) == "Seizure (8)"


def test_a_reason_is_said_part_by_part_and_stays_english_as_a_string():
    consent = rules.ConsentFacts(consent_date=None, icf_version="")
    inputs = rules.EligibilityInputs(subject=rules.SubjectFacts("F", None, False), consent=consent)
    reasons = {c.code: c.reason for c in rules.evaluate(inputs, factories.EVALUATION_DATE)}
    crisis = rules.evaluation(inputs, factories.EVALUATION_DATE).criteria[17]
    assert reasons["INC_CONTRACEPTION"] == "not required: woman without childbearing potential"
    with translation.override("zh-hans"):
        assert i18n.translated(reasons["INC_CONTRACEPTION"]) == "无需：无生育能力的女性"
        assert i18n.translated(reasons["INC_CONSENT"]) == "缺少consent.consent_date, consent.icf_version"
    assert crisis.as_dict()["reason"] == "missing screening_exam.lupus_crises"
    assert type(crisis.as_dict()["reason"]) is str  # stored as plain English


PANEL_CHINESE = ["入选资格", "治疗时间线", "在所有筛选操作前签署知情同意书", "缺少知情同意日期（知情同意）", "标准",
                 "原因", "不完整", "确认入选资格", "LVEF（%）（筛选期检查）", "肌酐 结果"]  # fmt: skip
PANEL_ENGLISH = ["Informed consent signed before every screening procedure", "missing consent date (consent)",
                 "Evaluated for screening date", "incomplete", "Confirm eligibility"]  # fmt: skip


def test_the_eligibility_panel_is_in_chinese_and_english_by_default(client, investigator, subject):
    client.force_login(investigator)
    url = reverse("admin:edc_subject_change", args=[subject.pk])
    chinese = client.get(url, **CHINESE).content.decode()
    assert [words for words in PANEL_CHINESE if words not in chinese] == []
    assert [words for words in PANEL_ENGLISH if words in chinese] == []
    english = client.get(url).content.decode()
    assert [words for words in PANEL_ENGLISH if words not in english] == []


def test_the_confirmation_page_is_in_chinese(client, investigator, screened):
    client.force_login(investigator)
    page = client.get(reverse("admin:edc_subject_eligibility", args=[screened.pk]), **CHINESE).content.decode()
    for words in ("您确认的入选/排除标准", "符合入选", "心功能：LVEF ≥ 45 %", "您的签名", "密码", "符合",
                  f"{screened} 的入选资格（符合入选，筛选日期", "签名即记录该判定：受试者将转为已入组。"):  # fmt: skip
        assert words in page, words
    assert "The criteria you confirm" not in page and "Informed consent signed" not in page


def test_a_decision_confirmed_in_chinese_stores_its_criteria_in_english(investigator, screened):
    with translation.override("zh-hans"):
        decision = confirm_eligibility(screened, user=investigator, password=edc_factories.PASSWORD)
    stored = EligibilityDecision.objects.get(pk=decision.pk).criteria
    assert [c["reason"] for c in stored if CJK.search(c["reason"])] == []
    assert stored[0]["reason"].startswith("consent signed ")


def test_the_medication_changelist_and_form_are_in_chinese(client, staff, screened):
    client.force_login(staff)
    changelist = client.get(reverse("admin:screening_medication_changelist"), **CHINESE).content.decode()
    for words in ("合并用药", "剂量（mg/天）", "给药途径", "糖皮质激素"):
        assert words in changelist, words
    medication = Medication.objects.filter(subject=screened).first()
    form = client.get(reverse("admin:screening_medication_change", args=[medication.pk]), **CHINESE)
    page = form.content.decode()
    for words in ("药物", "类别", "适应症", "开始日期", "剂量稳定起始日期", "口服", "所治疗的不良事件"):
        assert words in page, words
    assert "Dose stable since" not in page and "Start date" not in page


def test_the_screening_exam_form_shows_its_sections_and_crises_in_chinese(client, staff, screened):
    client.force_login(staff)
    page = client.get(reverse("admin:screening_screeningexam_add"), **CHINESE).content.decode()
    for words in ("肺与心脏（INC_PULMONARY，INC_CARDIAC）", "狼疮危象", "中枢神经系统狼疮", "研究者判断不适合"):
        assert words in page, words


def test_the_treatment_screens_and_timeline_are_in_chinese(client, staff, subject):
    day0 = timezone.localdate(timezone.now(), infusion_factories.SHANGHAI) - dt.timedelta(days=20)
    lot = infusion_factories.make_ready(subject, staff, day0)
    client.force_login(staff)
    changelist = client.get(reverse("admin:infusion_productlot_changelist"), **CHINESE).content.decode()
    for words in ("产品批次", "批号", "产品编号", "无菌检查合格", "已放行"):
        assert words in changelist, words
    form = client.get(reverse("admin:infusion_apheresis_change", args=[lot.apheresis.pk]), **CHINESE)
    assert all(words in form.content.decode() for words in ("单采", "开始日期时间", "处理血量（L）"))
    page = client.get(reverse("admin:edc_subject_change", args=[subject.pk]), **CHINESE).content.decode()
    for words in ("步骤", "关键数据", f"单采，产品 {lot.apheresis.product_id}", "清淋预处理第 -5 天", "已给药"):
        assert words in page, words


def test_a_refused_lot_and_a_refused_dose_are_said_in_the_readers_language(staff, subject):
    day0 = timezone.localdate(timezone.now(), infusion_factories.SHANGHAI) - dt.timedelta(days=20)
    infusion_factories.enrol(subject, staff)
    apheresis = infusion_factories.make_apheresis(subject, staff, day0)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        infusion_factories.make_lot(apheresis, staff, day0, sterility_pass=None)
    lot_number = f"L-{apheresis.product_id}"
    assert refused.value.message_dict["sterility_pass"] == [f"批次 {lot_number} 无菌检查合格前不得放行"]
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        infusion_factories.make_lot(apheresis, staff, day0, sterility_pass=None)
    assert refused.value.message_dict["sterility_pass"] == [
        f"lot {lot_number} cannot be released before its sterility test passes"
    ]
    dose = LymphodepletionDose(**infusion_factories.dose_values(subject, -4, day0))
    infusion_factories.make_doses(subject, staff, day0)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        record_lymphodepletion_dose(dose, user=staff)
    assert "第 -4 天已有记录" in refused.value.message_dict["day"][0]


def test_the_sledai_outcome_reasons_are_said_in_chinese_and_stay_english():
    doris = doris_remission(Assessment(12, 8, frozenset({"RASH"}), Decimal("0.8"), Decimal("10")))
    assert doris.reasons == ("clinical SLEDAI 8 ≠ 0", "PGA 0.8 ≥ 0.5", "prednisone dose 10 mg/day > 5")
    with translation.override("zh-hans"):
        assert [i18n.translated(reason) for reason in doris.reasons] == [
            "临床 SLEDAI 8 ≠ 0", "PGA 0.8 ≥ 0.5", "泼尼松剂量 10 mg/day > 5",
        ]  # fmt: skip
