"""factory-boy factories and small builders shared by the tests."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from edc import services
from edc.models import Site, Subject

PASSWORD = "correct-horse-battery"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{n + 10:02d}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist_password(obj, create, extracted, **kwargs):  # noqa: N805 - factory-boy hook signature
        if create:
            obj.save()


def make_subject(site, user, **overrides) -> Subject:
    values = {
        "site": site,
        "sex": "F",
        "date_of_birth": dt.date(1990, 5, 17),
        "childbearing_potential": True,
        "initials": "LX",
        **overrides,
    }
    return services.register_subject(Subject(**values), user=user)


def lab_payload(subject, **overrides) -> dict:
    return {
        "subject": subject.subject_id,
        "analyte": "C3",
        "value": "0.65",
        "unit": "g/L",
        "lln": "0.9",
        "uln": "1.8",
        "sample_datetime": (timezone.now() - dt.timedelta(days=1)).isoformat(),
        "lab_name": "FAH central lab",
        **overrides,
    }
