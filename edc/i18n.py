"""The rules' English words in the reader's language (README, "Languages"). The pure `rules` modules mark their
labels (`rules.N_`, a `rules.Label`) and build their messages from a template and values (`rules.Message`);
here, with Django's gettext, a label is looked up in the catalogue and a message's template is, its values put
back in (a value that is itself a label or a message translated too; numbers, units, dates and codes as they are).
"""

from __future__ import annotations

import re
from functools import cache
from string import Formatter

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


_query_texts: list[str] = list(rules.QUERY_TEXTS)


def register_query_texts(*templates: str) -> None:
    """The templates of the query texts an app's edit checks open (its hooks), said by `translated_query_text`."""
    _query_texts.extend(templates)
    _query_patterns.cache_clear()


@cache
def _query_patterns() -> list[tuple[str, re.Pattern]]:
    """Each template as a pattern whose named groups take back the values it was filled with (a value the template
    repeats must be the same each time)."""
    return [(template, re.compile(_pattern_of(template))) for template in _query_texts]


def _pattern_of(template: str) -> str:
    pattern, named = "", set()
    for text, name, _, _ in Formatter().parse(template):
        pattern += re.escape(text)
        if name:
            pattern += f"(?P={name})" if name in named else f"(?P<{name}>.*?)"
            named.add(name)
    return pattern


def translated_query_text(text: str) -> str:
    """A stored query text in the reader's language: one the edit checks opened is said again from its template with
    the values it holds, each said the same way (a part such as " (12 % off)", a word such as "late"); one a person
    typed stays as typed."""
    for template, pattern in _query_patterns():
        if match := pattern.fullmatch(text):
            values = {name: translated_query_text(value) for name, value in match.groupdict().items()}
            return gettext(template).format(**values)
    return gettext(text) if text else text  # gettext("") would answer the catalogue's header
