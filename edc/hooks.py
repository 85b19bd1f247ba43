"""What the kernel plugs into its own extension points: the validators of its CRFs and the visit-window deviation
proposer (loaded by `EdcConfig.ready` with every other app's `hooks` module)."""

from edc.models import Deviation, LabResult, Subject, Visit
from edc.services import register_save_listener, register_validator
from edc.services.deviations import propose_for_visits, validate_deviation
from edc.services.subjects import validate_lab_result, validate_subject, validate_visit

register_validator(Subject, validate_subject)
register_validator(Visit, validate_visit)
register_validator(LabResult, validate_lab_result)
register_validator(Deviation, validate_deviation)
register_save_listener(propose_for_visits)
