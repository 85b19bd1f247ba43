"""The filters of the kernel's lists, and the subject filter every list of clinical rows shares.

One vocabulary on every list: `?subject=<subject_id>`, then each list's own fields by their names (a related
row by the key its serializer shows: `site` by code, `visit` by id). An unknown parameter is refused by the
viewsets (`edc.api.ScopedViewSetMixin`), so a misspelt filter is a 400, never an unfiltered answer.
"""

import django_filters

from edc.models import DataQuery, Deviation, LabResult, Lock, Signature, Site, SourceVerification, Subject, Visit


class SubjectRowsFilterSet(django_filters.FilterSet):
    """A list of clinical rows filtered to one subject; the row's path to its subject is the model's
    `site_lookup` (a product lot's subject is its apheresis')."""

    subject = django_filters.CharFilter(method="of_subject", help_text="the subject's subject_id (M1019-01-001)")

    def of_subject(self, queryset, name, subject_id):
        path = queryset.model.site_lookup.removesuffix("site")
        return queryset.filter(**{f"{path}subject_id": subject_id})


class SiteFilterSet(django_filters.FilterSet):
    class Meta:
        model = Site
        fields = ["code"]


class SubjectFilterSet(django_filters.FilterSet):
    subject = django_filters.CharFilter(field_name="subject_id", help_text="subject_id (M1019-01-001)")
    site = django_filters.CharFilter(field_name="site__code", help_text="site code")

    class Meta:
        model = Subject
        fields = ["status", "sex"]


class VisitFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Visit
        fields = ["code", "status"]


class LabResultFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = LabResult
        fields = {"analyte": ["exact", "in"], "visit": ["exact"], "sample_datetime": ["gte", "lte"]}


class DataQueryFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = DataQuery
        fields = ["status", "auto", "target_model", "target_id"]


class SignatureFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Signature
        fields = ["meaning", "target_model", "target_id"]


class SourceVerificationFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = SourceVerification
        fields = ["target_model", "target_id", "voided"]


class LockFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Lock
        fields = ["level", "active", "visit"]


class DeviationFilterSet(SubjectRowsFilterSet):
    site = django_filters.CharFilter(field_name="subject__site__code", help_text="site code")

    class Meta:
        model = Deviation
        fields = {
            "category": ["exact"], "severity": ["exact"], "status": ["exact"], "auto": ["exact"], "visit": ["exact"],
            "reported_to_ec": ["exact"], "deviation_date": ["gte", "lte"],
        }  # fmt: skip
