"""What screening plugs into the kernel: its CRFs' validators, the screening CRFs under the subject page and
the eligibility panel and the investigator's confirmation page."""

from django.utils.translation import gettext_lazy as _

from edc import roles
from edc.admin import register_subject_inlines, register_subject_page, register_subject_panel, register_work_list
from edc.models import LabResult
from edc.services import register_validator
from screening import admin, services
from screening.models import Consent, Medication, ScreeningExam, SledaiAssessment, SleHistory

register_validator(Consent, services.validate_consent)
register_validator(SleHistory, services.validate_history)
register_validator(Medication, services.validate_medication)
register_validator(SledaiAssessment, services.validate_sledai)
register_validator(ScreeningExam, services.validate_exam)
register_validator(LabResult, services.validate_lab_after_consent)

register_subject_inlines(
    admin.ConsentInline, admin.SleHistoryInline, admin.MedicationInline, admin.SledaiInline, admin.ScreeningExamInline
)
register_subject_panel(_("Eligibility"), admin.eligibility_panel)
# The investigator's "Confirm eligibility" (edc/subject/<pk>/eligibility/), the same service as the API's.
signers = roles.SIGNERS
register_subject_page("eligibility", admin.confirm_eligibility_view, read_roles=signers, write_roles=signers)
register_work_list(roles.INVESTIGATOR, _("Eligibility to confirm"), admin.eligibility_to_confirm)
