"""Bounds on what any request may carry, checked before a view sees it (issue 13).

- ``<int:…>`` in every route is at most 2³¹−1 (PostgreSQL's ``integer``): a larger id is a 404
  like any missing one, never a database error.
- Text in the path, the query string, a form or a JSON body carries no NUL character and no unpaired
  surrogate (neither can be stored, and PostgreSQL refuses NUL): 422 naming the field.
- A JSON body nested deeper than Python's parser can follow is a 400, not a RecursionError.
"""

from __future__ import annotations

import json
import re

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from core.errors import ValidationFailed
from core.validation import DB_INT_MAX

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` bounded to the database's integer range."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def _json_body():
    """The request's JSON body parsed once here (None when it is not JSON or not valid: the
    view's own parser answers that); nested past the parser's recursion limit, a 400."""
    try:
        return json.loads(request.get_data(cache=True))
    except RecursionError:
        raise BadRequest(_("The JSON body is nested too deeply.")) from None
    except ValueError:
        return None


def _bad_text_fields() -> dict[str, list[str]]:
    message = _("Text must not contain NUL characters or unpaired surrogates.")
    bad: dict[str, list[str]] = {
        key: [message]
        for key, value in (request.view_args or {}).items()
        if isinstance(value, str) and _FORBIDDEN.search(value)
    }
    for data in (request.args, request.form):
        for key, values in data.lists():
            if _FORBIDDEN.search(key) or any(_FORBIDDEN.search(v) for v in values):
                bad[_FORBIDDEN.sub("?", key)] = [message]
    if request.is_json:
        stack = [("", _json_body())]
        while stack:
            path, value = stack.pop()
            if isinstance(value, str):
                if _FORBIDDEN.search(value):
                    bad[path or "json"] = [message]
            elif isinstance(value, dict):
                for key, item in value.items():
                    name = _FORBIDDEN.sub("?", str(key))
                    if name != str(key):
                        bad[f"{path}.{name}".lstrip(".")] = [message]
                    stack.append((f"{path}.{name}".lstrip("."), item))
            elif isinstance(value, list):
                stack.extend((f"{path}.{i}".lstrip("."), item) for i, item in enumerate(value))
    return bad


def register(app: Flask) -> None:
    """Install the bounds; call before any route is added (the converter applies to routes
    added after it)."""
    app.url_map.converters["int"] = DatabaseIdConverter

    @app.before_request
    def _refuse_unstorable_text():
        bad = _bad_text_fields()
        if bad:
            raise ValidationFailed(bad)
