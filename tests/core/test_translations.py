"""The Chinese catalogue is complete, compiled, consistent with its msgids, and used by default.

The msgids are taken from the source tree itself (the same extraction as scripts/i18n.sh), so a
string added in code or a template without a translation fails here, naming the string and where
it is. Refresh the catalogue with ``scripts/i18n.sh`` and translate what it reports.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core import ROOT

try:  # Babel >= 2.14; older releases call it parse_mapping
    from babel.messages.frontend import parse_mapping_cfg
except ImportError:  # pragma: no cover
    from babel.messages.frontend import parse_mapping as parse_mapping_cfg

SOURCE_DIRS = ("app", "core", "benchmarks", "declare", "ranking", "supervision", "templates")
# Keywords beyond babel's defaults (_, gettext, ngettext, pgettext, ...): flask_babel's lazy
# variants as the code imports them. Keep in step with the -k options of scripts/i18n.sh.
EXTRA_KEYWORDS = {"_l": None, "lazy_gettext": None,
                  "_lp": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
PO_PATH = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# %(name)s style placeholders (the only style the code uses), with their conversion.
NAMED = re.compile(r"%\((\w+)\)[#0 +\-]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa])")
# Real HTML tags only: "<token>" in a msgid is text, not markup.
HTML_TAG = re.compile(
    r"</?(a|abbr|b|br|code|em|i|kbd|li|ol|p|small|span|strong|sub|sup|time|ul)\b[^>]*>",
    re.IGNORECASE,
)


@pytest.fixture
def app_config():
    """These tests are about the Chinese default."""
    return {"BABEL_DEFAULT_LOCALE": "zh"}


def _read_po():
    with PO_PATH.open("rb") as fh:
        return read_po(fh, locale="zh")


def _extract() -> dict[tuple[str, str | None], list[str]]:
    """msgid (singular) and context -> the places it is used, exactly as pybabel would."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, **EXTRA_KEYWORDS}
    found: dict[tuple[str, str | None], list[str]] = {}
    for directory in SOURCE_DIRS:
        for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT / directory), method_map, options_map, keywords=keywords
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault((msgid, context), []).append(f"{directory}/{filename}:{lineno}")
    return found


def _strings(msg) -> list[str]:
    return list(msg.string) if isinstance(msg.string, tuple) else [msg.string]


def _ids(msg) -> list[str]:
    return list(msg.id) if isinstance(msg.id, tuple) else [msg.id]


def test_extraction_finds_python_and_template_strings():
    found = _extract()
    places = [p for where in found.values() for p in where]
    assert any(p.startswith("templates/") for p in places), "no template string was extracted"
    assert any(p.startswith("core/") and p.split(":")[0].endswith(".py") for p in places)
    # One of each kind of call: gettext in a view, lazy_gettext in a form, _() in a template.
    assert ("Wrong username or password.", None) in found
    assert ("Username", None) in found
    assert ("Register enterprise", None) in found


def test_every_msgid_in_the_source_has_a_chinese_translation():
    catalog = _read_po()
    problems = []
    found = sorted(_extract().items(), key=lambda i: (i[0][0], i[0][1] or ""))
    for (msgid, context), where in found:
        msg = catalog.get(msgid, context)
        if msg is None:
            state = "not in the catalogue"
        elif msg.fuzzy:
            state = "fuzzy"
        elif not all(s.strip() for s in _strings(msg)):
            state = "empty msgstr"
        else:
            continue
        problems.append(f"{msgid!r} ({state}; {', '.join(where[:3])})")
    assert not problems, (
        f"{len(problems)} msgid(s) lack a Chinese translation; run scripts/i18n.sh and "
        "translate them in translations/zh/LC_MESSAGES/messages.po:\n  " + "\n  ".join(problems)
    )


def test_catalogue_has_no_fuzzy_or_empty_entries_and_zh_plural_header():
    catalog = _read_po()
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy: pybabel compile would skip it"
    assert catalog.num_plurals == 1
    assert "nplurals=1" in catalog.plural_forms
    bad = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not all(s.strip() for s in _strings(m)))
    ]
    assert not bad, f"fuzzy or untranslated entries: {bad}"


def test_compiled_mo_matches_the_po():
    assert MO_PATH.exists(), "run: pybabel compile -d translations -D messages"
    catalog = _read_po()
    with MO_PATH.open("rb") as fh:
        compiled = read_mo(fh)
    po_pairs = {
        (m.context, m.id if isinstance(m.id, str) else tuple(m.id)): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalog
        if m.id and not m.fuzzy
    }
    mo_pairs = {  # Babel's read_mo gives a msgctxt as bytes
        (m.context.decode() if isinstance(m.context, bytes) else m.context,
         m.id if isinstance(m.id, str) else tuple(m.id)): (
            m.string if isinstance(m.string, str) else tuple(m.string)
        )
        for m in compiled
        if m.id
    }
    stale = sorted(
        str(k[1]) for k in po_pairs.keys() | mo_pairs.keys() if po_pairs.get(k) != mo_pairs.get(k)
    )
    assert not stale, (
        "translations/zh/LC_MESSAGES/messages.mo is out of date with the .po; run "
        f"`pybabel compile -d translations -D messages`. Differences: {stale[:20]}"
    )


def _placeholders(text: str) -> set[tuple[str, str]]:
    return set(NAMED.findall(text))


def _dummy(text: str) -> dict:
    return {
        name: (1 if conv in "diouxXeEfFgGc" else "x")
        for name, conv in NAMED.findall(text)
    }


def test_translations_keep_placeholders_and_markup():
    problems = []
    for msg in _read_po():
        if not msg.id:
            continue
        ids, strings = _ids(msg), _strings(msg)
        wanted = set().union(*(_placeholders(i) for i in ids))
        for s in strings:
            if not s:
                continue
            got = _placeholders(s)
            if got != wanted:
                problems.append(f"{ids[0]!r}: placeholders {sorted(got)} != {sorted(wanted)}")
            # Templates always %-format the translation (new-style gettext), and Python does when
            # it passes variables: a stray '%' in the msgstr would raise at render time.
            values = _dummy(ids[0])
            try:
                ids[0] % values
            except (TypeError, ValueError, KeyError):
                pass  # the msgid itself is not a format string; nothing to compare
            else:
                try:
                    s % values
                except (TypeError, ValueError, KeyError) as exc:
                    problems.append(f"{ids[0]!r}: msgstr cannot be formatted ({exc})")
            if Counter(HTML_TAG.findall(s)) != Counter(HTML_TAG.findall(ids[0])):
                problems.append(f"{ids[0]!r}: HTML tags differ from the msgid")
    assert not problems, "\n".join(problems)


def test_pages_are_chinese_by_default(client):
    home = client.get("/")
    assert home.status_code == 200
    html = home.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    for text in ("登录", "企业注册", "自我声明公开的标准", "标准目录", "企业标准信息公共服务平台"):
        assert text in html, text
    assert "Log in" not in html and "Register enterprise" not in html

    login = client.get("/login").get_data(as_text=True)
    # Lazy form labels (core/forms.py) and template strings both come out in Chinese.
    for text in ("用户名", "密码", "还没有账号？"):
        assert text in login, text
    assert "Username" not in login


def test_pages_in_english_on_request(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html
    for text in ("Log in", "Register enterprise", "Declared standards", "Standards catalogue"):
        assert text in html, text
    assert "企业注册" not in html

    login = client.get("/login?lang=en").get_data(as_text=True)
    assert "Username" in login and "Password" in login and "用户名" not in login


def test_language_choice_sticks_for_the_session(client):
    resp = client.get("/lang/en?next=/login")
    assert resp.status_code == 302
    assert "Username" in client.get("/login").get_data(as_text=True)
    client.get("/lang/zh")
    assert "用户名" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "message"), [("zh", "用户名或密码错误。"), ("en", "Wrong username or password.")]
)
def test_messages_from_python_code_are_translated(client, lang, message):
    resp = client.post(f"/login?lang={lang}", data={"username": "nobody", "password": "wrong"})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)


def test_catalogue_files_are_where_the_app_looks(app, tmp_path, monkeypatch):
    babel_config = app.extensions["babel"]
    assert PO_PATH.parents[2] in [Path(d) for d in babel_config.translation_directories]
    assert babel_config.default_domain == "messages"
    # The product default (not the test override above): Chinese unless DEFAULT_LOCALE says.
    from core import config as config_mod

    monkeypatch.delenv("DEFAULT_LOCALE", raising=False)
    loaded = config_mod.load(tmp_path, {"SECRET_KEY": "x"})
    assert loaded["BABEL_DEFAULT_LOCALE"] == "zh"
    assert set(loaded["LANGUAGES"]) >= {"zh", "en"}


def test_every_package_using_flask_babel_is_extracted():
    """A new top-level package with UI strings must be added to SOURCE_DIRS and i18n.sh."""
    script = (ROOT / "scripts" / "i18n.sh").read_text(encoding="utf-8")
    skip = {"tests", "migrations", "scripts", "static", "templates", "translations", "instance"}
    missing = []
    for directory in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        if directory.name.startswith(".") or directory.name in skip:
            continue
        if any(
            "flask_babel" in f.read_text(encoding="utf-8", errors="replace")
            for f in directory.rglob("*.py")
        ):
            if directory.name not in SOURCE_DIRS or f" {directory.name} " not in script:
                missing.append(directory.name)
    assert not missing, f"packages with translatable strings not extracted: {missing}"
