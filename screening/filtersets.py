"""The filters of the screening lists (`?subject=` is every list's, from `edc.filtersets`)."""

from edc.filtersets import SubjectRowsFilterSet
from screening.models import Consent, Medication, ScreeningExam, SledaiAssessment, SleHistory


class ConsentFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Consent
        fields = []


class SleHistoryFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = SleHistory
        fields = []


class MedicationFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Medication
        fields = ["category", "indication"]


class SledaiFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = SledaiAssessment
        fields = {"visit": ["exact"], "assessment_date": ["gte", "lte"]}


class ScreeningExamFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = ScreeningExam
        fields = []
