"""The rules' English words in the reader's language (README, "Languages"). The pure `rules` modules mark their
labels (`rules.N_`, a `rules.Label`) and build their messages from a template and values (`rules.Message`);
here, with Django's gettext, a label is looked up in the catalogue and a message's template is, its values put
back in (a value that is itself a label or a message translated too; numbers, units, dates and codes as they are).
"""

from __future__ import annotations

from django.utils.translation import gettext

from edc import rules
from edc.rules import Label, Message


def translated(text: str) -> str:
    """`text` in the active language when the catalogue has it (a `Label` or a `Message`); otherwise as it is."""
    if isinstance(text, Message):
        values = {name: translated(value) if isinstance(value, str) else value for name, value in text.values.items()}
        return gettext(text.template).format(**values)
    if isinstance(text, Label):
        return gettext(text)
    return text


def translated_errors(errors: dict[str, str]) -> dict[str, str]:
    """Each field's message of a rules' `{field: message}` in the active language."""
    return {field: translated(message) for field, message in errors.items()}


def visit_name(code: str) -> str:
    """What the screens call a visit (`rules.visit_name`), in the reader's language."""
    return translated(rules.visit_name(code))
