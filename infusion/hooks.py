"""What treatment plugs into the kernel and into screening: its CRFs' validators, the apheresis start that
eligibility counts back from, the treatment timeline on the subject page, and the deviations proposed when the
infusion is not on day 0."""

from django.utils.translation import gettext_lazy as _

from edc import i18n
from edc.admin import register_subject_panel
from edc.services import register_save_listener, register_validator
from infusion import admin, rules, services
from infusion.models import Apheresis, Infusion, LymphodepletionDose, ProductLot
from screening.services import register_apheresis_start_provider

i18n.register_query_texts(*rules.QUERY_TEXTS)
register_validator(Apheresis, services.validate_apheresis)
register_validator(ProductLot, services.validate_product_lot)
register_validator(LymphodepletionDose, services.validate_lymphodepletion_dose)
register_validator(LymphodepletionDose, services.validate_fludarabine_for_kidney_function)
register_validator(Infusion, services.validate_infusion)
register_save_listener(services.recheck_fludarabine_after_save)

register_apheresis_start_provider(services.apheresis_start)
register_subject_panel(_("Treatment timeline"), admin.treatment_timeline)
register_save_listener(services.propose_for_treatment_order)
