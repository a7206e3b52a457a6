"""The reader's language beyond the templates: marshmallow's own validation messages, reasons
the system generates (stored as a code with parameters, rendered when shown), region names.

* :func:`translate_errors` -- a marshmallow/webargs error dict with every message marshmallow
  wrote in English (``"Missing data for required field."``, ``"Must be greater than or equal
  to 1 and less than or equal to 10."`` …) in the request's language. The English templates
  are listed below with ``N_`` so pybabel extracts them; the parameters are read back from
  the English text and put into the translated template (``{min}`` …).
  tests/core/test_i18n_api.py checks that every default message of marshmallow's fields and
  validators is listed, so an upgrade that adds one fails there.
* :func:`coded` / :func:`render_coded` / :func:`reason_renderer` -- a generated reason is
  stored as ``"@code {json params}"`` (compact; a free text typed by a person never starts
  with ``@`` followed by a registered code and a JSON object), and each package registers one
  renderer per code (``@reason_renderer("ranking.removed.ended")``). Text that is not a
  registered code (old rows, reasons typed by people) renders as it is.
* :func:`region_names` / :func:`region_label` -- names of a 行政区划 code (重庆市 渝北区) from
  the table python-stdnum ships.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _


def N_(msgid: str) -> str:  # noqa: N802  (babel's default keyword for "extract, translate later")
    return msgid


# --------------------------------------------------------------------------- marshmallow

#: marshmallow's default error messages (fields, validators, Schema), as it formats them.
MARSHMALLOW_MESSAGES: tuple[str, ...] = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid {obj_type}."),
    N_("Not a valid {awareness} {obj_type}."),
    N_('"{input}" cannot be formatted as a {obj_type}.'),
    N_('"{input}" cannot be formatted as a date.'),
    N_("{input!r} cannot be formatted as a timedelta."),
    N_("Not a valid period of time."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid mapping type."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("Not a valid UUID."),
    N_("Not a valid IP address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IPv6 interface."),
    N_("Must be one of: {choices}."),
    N_("Must be equal to {other}."),
    N_("String does not match expected pattern."),
    N_("One or more of the choices you made was in: {values}."),
    N_("One or more of the choices you made was not in: {choices}."),
    N_("Length must be between {min} and {max}."),
    N_("Length must be {equal}."),
    N_("Longer than maximum length {max}."),
    N_("Shorter than minimum length {min}."),
    # validate.Range, with its operator words already put in by marshmallow
    N_("Must be greater than {min}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be less than {max}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be greater than {min} and less than {max}."),
    N_("Must be greater than {min} and less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
)

#: The words marshmallow puts into ``{obj_type}`` / ``{awareness}``.
_OBJ_WORDS = {
    "datetime": N_("date and time"),
    "date": N_("date"),
    "time": N_("time"),
    "aware": N_("time-zone aware"),
    "naive": N_("time-zone naive"),
}

_PLACEHOLDER = re.compile(r"\{(\w+)(![rs])?\}")


def _pattern(template: str) -> re.Pattern:
    """The regex that reads a formatted message back into its parameters."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.*?)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern], ...]:
    # Fixed texts first ("Not a valid string." before "Not a valid {obj_type}."), then the
    # longest: "… or equal to {min} and …" before "… {min} and …".
    ordered = sorted(MARSHMALLOW_MESSAGES,
                     key=lambda t: (len(_PLACEHOLDER.findall(t)) > 0, -len(t)))
    return tuple((t, _pattern(t)) for t in ordered)


def translate_message(message: Any) -> Any:
    """One message in the reader's language when it is one of marshmallow's (else as it is)."""
    if not isinstance(message, str):
        return str(message) if hasattr(message, "_func") else message  # a lazy string
    for template, pattern in _patterns():
        m = pattern.match(message)
        if m is None:
            continue
        translated = _(template)
        if translated == template:  # English, or no translation: marshmallow's own words
            return message
        params = {k: (_(_OBJ_WORDS[v]) if v in _OBJ_WORDS else v)
                  for k, v in m.groupdict().items()}
        plain = _PLACEHOLDER.sub(lambda p: "{" + p.group(1) + "}", translated)
        try:
            return plain.format(**params)
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            return message
    return message


def translate_errors(errors: Any) -> Any:
    """A (nested) error dict/list with marshmallow's messages in the reader's language."""
    if isinstance(errors, Mapping):
        return {k: translate_errors(v) for k, v in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [translate_errors(v) for v in errors]
    return translate_message(errors)


# --------------------------------------------------------------------------- coded reasons

_RENDERERS: dict[str, Callable[[dict], str]] = {}
_CODED = re.compile(r"@([a-z][a-z0-9_.]*) (\{.*\})\Z", re.DOTALL)


def coded(code: str, **params: Any) -> str:
    """The stored form of a generated reason: ``@code {"param": …}`` (compact JSON)."""
    if code not in _RENDERERS:
        raise KeyError(f"no renderer registered for reason code {code!r}")
    return f"@{code} " + json.dumps(params, ensure_ascii=False, separators=(",", ":"),
                                     sort_keys=True)


def reason_renderer(code: str) -> Callable[[Callable[[dict], str]], Callable[[dict], str]]:
    """Register the function that renders ``code`` (its params dict → text in the reader's
    language)."""

    def deco(func: Callable[[dict], str]) -> Callable[[dict], str]:
        _RENDERERS[code] = func
        return func

    return deco


def parse_coded(text: str | None) -> tuple[str, dict] | None:
    """(code, params) of a stored coded reason, or None for a free text."""
    m = _CODED.match(text or "")
    if m is None or m.group(1) not in _RENDERERS:
        return None
    try:
        params = json.loads(m.group(2))
    except ValueError:
        return None
    return (m.group(1), params) if isinstance(params, dict) else None


def render_coded(text: str | None) -> str:
    """A stored reason in the reader's language: a coded one through its renderer, any other
    text (old rows, reasons typed by people) as it is."""
    parsed = parse_coded(text)
    if parsed is None:
        return text or ""
    code, params = parsed
    try:
        return _RENDERERS[code](params)
    except (KeyError, TypeError, ValueError):  # params of an older shape: show the raw form
        return text or ""


# --------------------------------------------------------------------------- roles


def role_label(role) -> str:
    """A role (``Role`` or its value) in the reader's language: 企业, 评估机构, 市场监管部门 …"""
    from core.accounts_forms import _role_choices

    value = getattr(role, "value", role)
    return str(dict(_role_choices()).get(value, value or ""))


# --------------------------------------------------------------------------- regions


@lru_cache(maxsize=4096)
def region_names(code: str | None) -> tuple[str, ...]:
    """The names of a 行政区划 code, province first (``500112`` → 重庆市, 渝北区); empty when
    the table does not know it."""
    if not code:
        return ()
    from stdnum import numdb

    names: list[str] = []
    try:
        info = numdb.get("cn/loc").info(str(code))
    except Exception:  # noqa: BLE001  (a malformed code: no names)
        return ()
    for _part, props in info:
        for key in ("province", "county"):
            value = props.get(key)
            if value:
                latest = value.split(",")[-1]  # the newest name; older ones carry [from-to]
                name = latest.split("]", 1)[-1]
                if name and name not in names:
                    names.append(name)
    return tuple(names)


def region_label(code: str | None) -> str:
    """``重庆市 渝北区 (500112)``; the bare code when the table does not know it."""
    if not code:
        return ""
    names = region_names(code)
    return f"{' '.join(names)} ({code})" if names else str(code)
