"""The filters of the follow-up lists (`?subject=` is every list's, from `edc.filtersets`)."""

import django_filters

from edc.filtersets import SubjectRowsFilterSet
from followup.models import AdverseEvent, AdverseEventTreatment, Milestone, PrednisoneDose


class AdverseEventFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = AdverseEvent
        fields = {
            "category": ["exact"],
            "serious": ["exact"],
            "astct_grade": ["exact", "gte"],
            "onset_date": ["gte", "lte"],
            "pathogen_class": ["exact"],
        }


class AdverseEventTreatmentFilterSet(SubjectRowsFilterSet):
    # By id, not a choice among every row: another site's id finds nothing rather than being looked up.
    adverse_event = django_filters.NumberFilter(field_name="adverse_event_id", help_text="the adverse event's id")
    medication = django_filters.NumberFilter(field_name="medication_id", help_text="the medication-log entry's id")

    class Meta:
        model = AdverseEventTreatment
        fields = ["adverse_event", "medication"]


class PrednisoneDoseFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = PrednisoneDose
        fields = ["visit"]


class MilestoneFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Milestone
        fields = {"kind": ["exact"], "date": ["gte", "lte"], "revoked_at": ["isnull"]}
