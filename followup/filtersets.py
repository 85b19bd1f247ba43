"""The filters of the follow-up lists (`?subject=` is every list's, from `edc.filtersets`)."""

from edc.filtersets import SubjectRowsFilterSet
from followup.models import AdverseEvent, Milestone, PrednisoneDose


class AdverseEventFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = AdverseEvent
        fields = {
            "category": ["exact"],
            "serious": ["exact"],
            "astct_grade": ["exact", "gte"],
            "onset_date": ["gte", "lte"],
        }


class PrednisoneDoseFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = PrednisoneDose
        fields = ["visit"]


class MilestoneFilterSet(SubjectRowsFilterSet):
    class Meta:
        model = Milestone
        fields = {"kind": ["exact"], "date": ["gte", "lte"], "revoked_at": ["isnull"]}
