"""Logging filters of the project's LOGGING (config/settings.py)."""

import logging

from django.core.exceptions import PermissionDenied
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied

REFUSALS = (PermissionDenied, ApiPermissionDenied)


class RefusalWithoutTraceback(logging.Filter):
    """A refused request (403) is expected behaviour, not an error: keep Django's one warning line
    ("Forbidden (Permission denied): /admin/…") and drop the traceback it attaches."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], REFUSALS):
            record.exc_info = None
            record.exc_text = None
        return True
