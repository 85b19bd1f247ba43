"""What the API accepts at its edge, checked once for every field and parameter.

PostgreSQL cannot store a NUL character in text, and a lone UTF-16 surrogate is no character at all
(it cannot be encoded to UTF-8); a body nested a hundred thousand levels deep exhausts the parser's
recursion. All three would surface as a 500 deep inside a view, or worse, after part of a request was
processed. They are refused here, before any view runs, with a 400 naming the field or parameter:
request bodies by the JSON parser, paths, query strings, form fields and headers by the middleware.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.http import HttpResponseBadRequest, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32  # the deepest body the API takes (the dry run) is 4 levels
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text_error(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found[0] == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return f"contains a lone surrogate (\\u{ord(found[0]):04x}), which is not Unicode text"


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def json_type(value) -> str:
    """A parsed JSON value's type as JSON names it."""
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


class UnstorableBody(DrfValidationError):
    """A string of the body that cannot be stored, with its place: ("results", 3, "lab_name")."""

    def __init__(self, path: tuple, message: str):
        self.path = path
        super().__init__({".".join(map(str, path)) or "body": [message]})


def _strings(data, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every key and string value of parsed JSON with its path (depth is bounded by the parser first)."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key), key
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))


def _depth(data) -> int:
    """Nesting depth of parsed JSON, counted without recursion."""
    deepest, level = 0, [(data, 1)]
    while level:
        value, depth = level.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            level.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested too deeply and strings that cannot be stored."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        for path, text in _strings(data):
            if message := unstorable_text_error(text):
                raise UnstorableBody(path, message)
        return data


def _request_texts(request) -> Iterator[tuple[str, str]]:
    """(name, text) of what a request carries outside its JSON body."""
    yield "path", request.path
    forms = (request.POST,) if request.content_type != "application/json" else ()  # a JSON body is the parser's
    for source in (request.GET, *forms):
        for name, values in source.lists():
            yield name, name
            for value in values:
                yield name, value
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str):
            yield name.removeprefix("HTTP_").replace("_", "-").title(), value


class UnstorableTextMiddleware:
    """Refuse a path, query parameter, form field or header holding text that cannot be stored (400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, text in _request_texts(request):
            if message := unstorable_text_error(text):
                if request.path.startswith("/api/"):
                    return JsonResponse({name: [message]}, status=400)
                return HttpResponseBadRequest(f"{name} {message}", content_type="text/plain")
        return self.get_response(request)
