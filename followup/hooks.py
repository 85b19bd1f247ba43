"""What follow-up plugs into the kernel: its CRFs' validators, the milestone recompute after each save, the
visit CRF page and the subject page's milestone, follow-up, PK/PD, safety and disease-activity panels."""

from edc.admin import register_subject_panel, register_visit_page
from edc.services import register_save_listener, register_validator
from followup import admin, admin_exports, admin_outcomes, recompute, services
from followup.models import AdverseEvent, PrednisoneDose

register_validator(AdverseEvent, services.validate_adverse_event)
register_validator(PrednisoneDose, services.validate_prednisone_dose)
register_save_listener(recompute.recompute_after_save)
register_save_listener(services.regrade_crs_after_medication)

register_visit_page("crf", "open CRF", admin.visit_crf_view)
register_subject_panel("Milestones", admin.milestones_panel)
register_subject_panel("Follow-up", admin.follow_up_panel)
register_subject_panel("PK/PD", admin_exports.pkpd_panel)
register_subject_panel("Safety", admin.safety_panel)
register_subject_panel("Disease activity", admin_outcomes.disease_activity_panel)
