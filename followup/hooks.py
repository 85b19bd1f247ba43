"""What follow-up plugs into the kernel: its CRFs' validators, the milestone recompute after each save, the
visit CRF page, the subject page's milestone, follow-up, PK/PD (with its plot's own URL), safety and disease-activity
panels, and the home page's links to the cohort overlay and the exports page."""

from django.utils.translation import gettext_lazy as _

from edc import i18n, roles
from edc.admin import register_home_link, register_subject_page, register_subject_panel, register_visit_page
from edc.services import register_save_listener, register_validator
from followup import admin, admin_exports, admin_outcomes, exports, recompute, rules, services
from followup.models import AdverseEvent, AdverseEventTreatment, PrednisoneDose
from screening.services import register_treated_events_provider

i18n.register_query_texts(rules.CRS_WITHOUT_FEVER)
register_validator(AdverseEvent, services.validate_adverse_event)
register_validator(AdverseEventTreatment, services.validate_treatment)
register_validator(PrednisoneDose, services.validate_prednisone_dose)
register_save_listener(recompute.recompute_after_save)
register_save_listener(services.regrade_crs_after_medication)

register_treated_events_provider(services.treated_events)

register_visit_page("crf", _("open CRF"), admin.visit_crf_view)
register_subject_panel(_("Milestones"), admin.milestones_panel)
register_subject_panel(_("Follow-up"), admin.follow_up_panel)
register_subject_panel("PK/PD", admin_exports.pkpd_panel)
register_subject_page(
    "pkpd-plot", admin_exports.pkpd_plot_view, read_roles=roles.CLINICAL_READERS, write_roles=frozenset()
)
register_subject_panel(_("Safety"), admin.safety_panel)
register_subject_panel(_("Disease activity"), admin_outcomes.disease_activity_panel)
register_subject_page(
    "activity-plot",
    admin_outcomes.disease_activity_plot_view,
    read_roles=roles.CLINICAL_READERS,
    write_roles=frozenset(),
)
register_home_link(admin_exports.PLOT_READERS, _("Cohort PK overlay"), "admin:followup_investigator",
                   _("every treated subject's CAR transgene after infusion, one line each"))  # fmt: skip
register_home_link(exports.EXPORT_ROLES, _("Exports"), "admin:followup_exports",
                   _("PK/PD, SDTM and safety datasets as CSV, JSON or Parquet; SDTM as SAS XPT"))  # fmt: skip
