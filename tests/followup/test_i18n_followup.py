"""中文 for the follow-up app (issue #19; README, "Languages"): every name, field, help text and choice label of its
models, its admin pages, its plots (one cached picture per language) and the milestone e-mail in each recipient's
language."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from edc import i18n
from edc.models import AuditedModel, CrfModel, UserPreference
from followup import outcome_plots, rules, services
from followup.models import AdverseEvent
from tests.followup.conftest import pcr
from tests.followup.test_adverse_events import crs
from tests.followup.test_milestones import TODAY, day_after_infusion

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
CJK = re.compile(r"[\u4e00-\u9fff]")
# Codes and abbreviations a Chinese CRF writes as they are.
SAME_IN_CHINESE = {"LLDAS", "CNS", "HBV", "CMV", "EBV", "VZV"}


# The fields every CRF and audited record inherits (subject, version, void…) are the kernel's: edc translates them.
KERNEL_FIELDS = {field.name for base in (CrfModel, AuditedModel) for field in base._meta.fields}


def _texts_people_read(model) -> list[tuple[str, str, object]]:
    """(where, English, lazy text) of a model's names, its fields' names and help texts and its choice labels."""
    opts = model._meta
    texts = [(model.__name__, "verbose_name", opts.verbose_name),
             (model.__name__, "verbose_name_plural", opts.verbose_name_plural)]  # fmt: skip
    for field in opts.get_fields():
        if not field.concrete or field.auto_created or field.name in KERNEL_FIELDS:
            continue
        texts.append((f"{model.__name__}.{field.name}", "verbose_name", field.verbose_name))
        if field.help_text:
            texts.append((f"{model.__name__}.{field.name}", "help_text", field.help_text))
        for code, label in field.choices or []:
            texts.append((f"{model.__name__}.{field.name}", code, label))
    return texts


def test_every_name_field_help_text_and_choice_label_is_translated():
    models = [
        model for model in apps.get_app_config("followup").get_models() if not model.__name__.startswith("Historical")
    ]  # django-simple-history's copies name their own fields
    texts = [text for model in models for text in _texts_people_read(model)]
    english = {(where, what): str(text) for where, what, text in texts}
    assert len(english) > 100
    with translation.override("zh-hans"):
        chinese = {(where, what): str(text) for where, what, text in texts}
    untranslated = [
        (key, text) for key, text in english.items()
        if text not in SAME_IN_CHINESE and chinese[key] == text and not CJK.search(chinese[key])
    ]  # fmt: skip
    assert untranslated == []


def test_english_stays_what_it_was():
    """Marking changes no English word: the labels Django derived (or the code's own) are the msgids."""
    field = AdverseEvent._meta.get_field
    assert AdverseEvent._meta.verbose_name_plural == "adverse events"
    assert str(field("max_temperature_c").verbose_name) == "max temperature c"
    assert dict(field("hypotension").choices)["NO_VASOPRESSOR"] == "no vasopressor"
    assert dict(field("infection_site").choices)["SKIN_SOFT_TISSUE"] == "Skin and soft tissue"
    assert dict(field("category").choices)["CRS"] == "Crs"


def test_the_rules_errors_and_labels_are_said_in_chinese():
    errors = rules.check_infection_fields("CRS", {"organism": "CMV"})
    assert errors["organism"] == "only an INFECTION event has organism; this event's category is CRS"
    with translation.override("zh-hans"):
        assert CJK.search(i18n.translated(errors["organism"]))
        assert "CRS" in i18n.translated(errors["organism"])
        assert i18n.translated(rules.FINDING_LABELS["ONE_VASOPRESSOR"]) != "one vasopressor"


def test_the_adverse_event_pages_are_in_chinese(client, staff, treated):
    event = crs(treated, staff, max_temperature_c=Decimal("39.0"))
    client.force_login(staff)
    changelist = client.get(reverse("admin:followup_adverseevent_changelist"), **CHINESE).content.decode()
    change = client.get(reverse("admin:followup_adverseevent_change", args=[event.pk]), **CHINESE).content.decode()
    with translation.override("zh-hans"):
        listed = [
            str(AdverseEvent._meta.verbose_name_plural),
            str(AdverseEvent._meta.get_field("onset_date").verbose_name),
        ]
        form = [str(AdverseEvent._meta.get_field("hypotension").verbose_name),
                str(dict(AdverseEvent._meta.get_field("hypotension").choices)["MULTIPLE_VASOPRESSORS"]),
                str(AdverseEvent._meta.get_field("ice_score").help_text)]  # fmt: skip
    assert all(CJK.search(text) for text in listed + form)
    assert [text for text in listed if text not in changelist] == []
    assert [text for text in form if text not in change] == []
    assert "onset date" not in changelist.lower() and "multiple vasopressors" not in change


def test_a_plot_is_cached_once_per_language():
    cache.clear()
    lanes = []
    with translation.override("en-gb"):
        english = outcome_plots.swimmer_svg(lanes)
    with translation.override("zh-hans"):
        chinese = outcome_plots.swimmer_svg(lanes)
    assert english != chinese  # not the English picture from the cache
    assert len(cache._cache) == 2  # noqa: SLF001 - one picture per language (the local-memory cache of the tests)
    with translation.override("en-gb"):
        assert outcome_plots.swimmer_svg(lanes) == english


@pytest.fixture
def two_readers(staff, make_user, site):
    """The site staff reads English (no choice made); a colleague chose Chinese."""
    from edc import roles

    staff.email = "staff@fah.example"
    staff.save()
    colleague = make_user(roles.SITE_STAFF, site, username="colleague")
    colleague.email = "colleague@fah.example"
    colleague.save()
    UserPreference.objects.create(user=colleague, language="zh-hans")
    return staff, colleague


def test_the_milestone_mail_is_in_each_recipients_language(treated, two_readers, django_capture_on_commit_callbacks):
    staff, colleague = two_readers
    pcr(treated, staff, day_after_infusion(treated, 90), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 180), not_detected=True)
    mail.outbox.clear()
    with translation.override("en-gb"), django_capture_on_commit_callbacks(execute=True):
        services.scan_milestones(TODAY)
        assert translation.get_language() == "en-gb"  # the recipients' languages ended with their e-mails
    sent = {tuple(message.to): message for message in mail.outbox}
    assert set(sent) == {("staff@fah.example",), ("colleague@fah.example",)}
    english, chinese = sent[("staff@fah.example",)], sent[("colleague@fah.example",)]
    assert "new milestone(s) at site 01" in english.subject and not CJK.search(english.subject + english.body)
    assert CJK.search(chinese.subject) and "01" in chinese.subject
    assert "PCR_NEGATIVE_CONFIRMED" in english.body and "PCR_NEGATIVE_CONFIRMED" in chinese.body  # the code stays
    assert treated.subject_id in chinese.body and CJK.search(chinese.body)


def test_the_pkpd_plot_is_drawn_and_tagged_per_language(client, investigator, treated):
    """The ETag carries the language: a browser that switched language is not told its old picture is current."""
    client.force_login(investigator)
    url = reverse("admin:edc_subject_pkpd_plot", args=[treated.pk])
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en-gb")
    chinese = client.get(url, HTTP_IF_NONE_MATCH=english["ETag"], **CHINESE)
    assert chinese.status_code == 200 and chinese["ETag"] != english["ETag"]
    assert "days from infusion" in english.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=chinese["ETag"], **CHINESE).status_code == 304


def test_the_subject_pages_follow_up_panels_are_in_chinese(client, staff, treated):
    client.force_login(staff)
    page = client.get(reverse("admin:edc_subject_change", args=[treated.pk]), **CHINESE).content.decode()
    chinese = ["须避孕", "尚未确认转阴", "里程碑", "无细胞因子释放综合征", "IgG 最低值"]
    assert [words for words in chinese if words not in page] == []
    english = ["Contraception required", "not yet confirmed negative", "No milestone raised yet.", "Lowest IgG"]
    assert [words for words in english if words in page] == []


def test_an_adverse_event_refused_is_refused_in_chinese(staff, treated):
    from django.core.exceptions import ValidationError

    onset = crs(treated, staff).onset_date
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        crs(treated, staff, resolution_date=onset - dt.timedelta(days=1))
    assert refused.value.message_dict["resolution_date"] == [f"{onset - dt.timedelta(days=1)} 早于发生日期 {onset}"]
