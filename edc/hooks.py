"""What the kernel plugs into its own extension points: the validators of its CRFs (loaded by `EdcConfig.ready`
with every other app's `hooks` module)."""

from edc.models import LabResult, Subject, Visit
from edc.services import register_validator
from edc.services.subjects import validate_lab_result, validate_subject, validate_visit

register_validator(Subject, validate_subject)
register_validator(Visit, validate_visit)
register_validator(LabResult, validate_lab_result)
