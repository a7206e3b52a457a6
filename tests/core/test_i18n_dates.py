"""Dates follow the page's language, not the browser's: the server formats them (filters
``datetimeformat`` / ``dateformat``: yyyy-MM-dd in both languages), and a script that formats a
date passes the page's language (``document.documentElement.lang``) -- a bare
``toLocaleDateString()`` or ``Intl.DateTimeFormat()`` would use the browser's."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from core import ROOT

#: A locale-formatting call without a locale: no argument, ``undefined`` or an empty list.
BROWSER_LOCALE = re.compile(
    r"\.toLocale(?:Date|Time)?String\(\s*(?:\)|undefined|\[\s*\])"
    r"|Intl\.(?:DateTimeFormat|RelativeTimeFormat)\(\s*(?:\)|undefined|\[\s*\])"
)


def _browser_locale_calls(source: str) -> list[str]:
    return [m.group(0) for m in BROWSER_LOCALE.finditer(source)]


def test_the_detector():
    assert _browser_locale_calls("d.toLocaleDateString()") == [".toLocaleDateString()"]
    assert _browser_locale_calls("new Intl.DateTimeFormat(undefined, {})")
    assert _browser_locale_calls("d.toLocaleString( )")
    assert not _browser_locale_calls("d.toLocaleDateString(document.documentElement.lang)")
    assert not _browser_locale_calls("new Intl.DateTimeFormat(pageLang, {dateStyle: 'short'})")


def test_no_script_formats_a_date_in_the_browsers_language():
    found = {}
    for path in sorted((ROOT / "static").rglob("*.js")) + sorted((ROOT / "templates").rglob(
            "*.html")):
        calls = _browser_locale_calls(path.read_text(encoding="utf-8", errors="replace"))
        if calls:
            found[str(path.relative_to(ROOT))] = calls
    assert found == {}, "pass document.documentElement.lang (the page's language)"


@pytest.fixture
def app_config():
    return {"BABEL_DEFAULT_LOCALE": "zh"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_server_side_dates_are_the_same_in_both_languages(app, lang):
    with app.test_request_context(f"/?lang={lang}"):
        from flask_babel import refresh

        refresh()
        env = app.jinja_env
        moment = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)  # 10:05 in Beijing
        assert env.filters["datetimeformat"](moment) == "2026-03-01 10:05"
        assert env.filters["dateformat"](date(2026, 3, 1)) == "2026-03-01"
