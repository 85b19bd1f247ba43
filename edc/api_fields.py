"""Serializer fields that hold the API to CRF.md where DRF's defaults are lenient.

DRF takes a timestamp without an offset as site time, any date from year 1 to 9999, and a related row's
id of 1.5 as row 1. A CRF needs the offset (CRF.md), dates within `rules.implausible_date`'s range, and
whole ids; every serializer that reads a CRF's fields is built on `CheckedModelSerializer`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from rest_framework import serializers

from edc import i18n, rules


class PlausibleDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if error := rules.implausible_date(day):
            raise serializers.ValidationError(i18n.translated(error))
        return day


class AwareDateTimeField(serializers.DateTimeField):
    default_error_messages = {"naive": "the timestamp needs its UTC offset, e.g. 2026-12-01T09:00:00+08:00"}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        if error := rules.implausible_date(value):  # before the conversion that year 1 overflows
            raise serializers.ValidationError(i18n.translated(error))
        return super().enforce_timezone(value)


class CheckedModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: PlausibleDateField,
        models.DateTimeField: AwareDateTimeField,
    }
