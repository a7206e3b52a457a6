"""No English reaches a Chinese page: the demo (catalogue, enterprises, declarations, the 领跑者
lists) is loaded once, and the public pages and the pages of every role are crawled in Chinese
(each page's links followed, downloads left out); every visible text node with an English word
that is not an allowed proper name, unit or code fails, naming the page and the text."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from flask import current_app

from benchmarks.importer import load_directory
from core import jobs
from declare import demo as declare_demo
from ranking import demo as ranking_demo

pytestmark = pytest.mark.slow  # the whole demo, loaded once for the module

ALLOWED_FILE = Path(__file__).with_name("i18n_english_allowed.txt")
PAGES_PER_ROLE = 60  # pages rendered (200) per role
#: Links not followed: downloads, the API, actions, other languages, and pages of one kind
#: beyond a few (``_SAME_KIND``).
SKIP = re.compile(
    r"^/(api/|static/|lang/|logout|_probe/)|\.(csv|xlsx|pdf|gz|json|svg)(\?|$)|/(export|download|"
    r"population|file|pdf)\b|[?&]lang="
)
_SAME_KIND = 3  # pages per route (declaration 1, 2, 3 ... are the same template)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._+@*-]*")
_WORD = re.compile(r"[A-Za-z]+")


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
#: Elements whose text is not prose in the page's language: scripts, and code (column names,
#: values to type) -- and any element marked ``lang="en"`` (an English title shown on purpose,
#: the language switch's "English") or ``translate="no"`` (text quoted from a document, in
#: whatever language the document is).
_NOT_PROSE = {"script", "style", "template", "code", "kbd", "samp", "pre"}


class _Text(HTMLParser):
    """Visible prose text nodes and same-site links of a page (no attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # open elements: (tag, not prose)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            href = attrs.get("href") or ""
            if href.startswith("/"):
                self.links.append(urldefrag(href)[0])
        if tag in _VOID:
            return
        foreign = (tag in _NOT_PROSE or (attrs.get("lang") or "").startswith("en")
                   or attrs.get("translate") == "no")
        self._stack.append((tag, foreign))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def handle_data(self, data):
        hidden = any(foreign for _tag, foreign in self._stack[1:])  # <html lang> is the page's
        if not hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def _allowed() -> set[str]:
    lines = ALLOWED_FILE.read_text(encoding="utf-8").splitlines()
    return {w for line in lines if line and not line.startswith("#") for w in line.split()}


def english_words(text: str, allowed: set[str]) -> list[str]:
    """The English words of ``text`` that are not allowed names, units or codes. Words inside
    a standard number or code (GB/T 7725-2022, Q/YLKT 0001-2025, KFR-35GW) or written in
    capitals only (USCC, APF) are codes."""
    out = []
    for token in _TOKEN.findall(text):
        if (any(c.isdigit() or c in "_.@*" for c in token) or token == token.upper()
                or token in allowed):
            continue  # a number, a model or standard number, a code (Q/YLKT, flow_rate,
            # DOMAIN.md), an allowed name
        out.extend(w for w in _WORD.findall(token) if w not in allowed and w.lower() not in allowed)
    return out


def crawl(client, starts: list[str], allowed: set[str]) -> dict[str, list[str]]:
    """{url: offending texts} over the pages reachable from ``starts``."""
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    queue = deque(starts)
    found: dict[str, list[str]] = {}
    rendered = 0
    while queue and rendered < PAGES_PER_ROLE:
        url = queue.popleft()
        if url in seen or SKIP.search(url):
            continue
        kind = re.sub(r"\d+", "N", urlsplit(url).path)
        if kinds.get(kind, 0) >= _SAME_KIND:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        seen.add(url)
        resp = client.get(url)
        html = resp.get_data(as_text=True) if "text/html" in resp.content_type else ""
        resp.close()  # a file download holds its file open until closed
        if resp.status_code != 200 or not html:
            continue  # a page of another role, a redirect: not counted
        rendered += 1
        page = _Text()
        page.feed(html)
        bad = [t for t in page.texts if english_words(t, allowed)]
        if bad:
            found[url] = bad
        queue.extend(link for link in page.links if link not in seen)
    return found


@pytest.fixture(scope="module")
def demo(module_db):
    db = module_db
    assert all(r.ok for r in load_directory())
    db.session.commit()
    declare_demo.load_demo(2026)
    ranking_demo.load_ranking_demo(2026)
    db.session.commit()
    jobs.discard_pending()
    _supervision(db)
    return db


def _supervision(db) -> None:
    """The supervision pages' data for the demo regulator (Chongqing): an inspector pool, a
    stratified sampling draw made public, a non-conforming result published with its
    rectification order, a complaint, and the risk flags."""
    from sqlalchemy import select

    from core.models import User
    from supervision.complaints import operations as complaints
    from supervision.flags import operations as flags
    from supervision.inspections import operations as inspections
    from supervision.models import CHECKLIST, Inspection
    from supervision.sampling import operations as draws
    from tests.supervision.test_inspections_operations import add_inspectors, result_data
    from tests.supervision.test_sampling_support import plan_payload

    regulator = db.session.scalar(select(User).where(User.username == "regulator"))
    add_inspectors(regulator, 6)
    plan = draws.create_plan(regulator, plan_payload(stratification="region_category",
                                                     size_ratio=0.3))
    draw = draws.create_draw(plan, regulator, seed_text="2026 年第 001 期福利彩票开奖号码")
    draws.publicise_draw(draw, regulator)
    db.session.flush()
    first = db.session.scalars(select(Inspection).order_by(Inspection.id)).first()
    inspections.record_result(first, result_data("nonconforming", fail=[CHECKLIST[0]]),
                              user=regulator)
    inspections.publish_result(first, user=regulator)
    complaints.file_complaint({"declaration_id": first.declaration_id,
                               "content": "产品铭牌上的能效等级与企业标准声明不一致，请核查。"})
    flags.recompute()
    db.session.commit()
    jobs.discard_pending()


def _client(username: str | None, password: str | None):
    client = current_app.test_client()
    client.get("/lang/zh")
    if username:
        resp = client.post("/login", data={"username": username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def _starts() -> list[str]:
    """Every page route without parameters, plus the home page."""
    out = ["/"]
    for rule in current_app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not SKIP.search(rule.rule):
            out.append(rule.rule)
    return out


ACCOUNTS = {
    "anonymous": (None, None),
    "enterprise": ("ent01", declare_demo.DEMO_ENTERPRISE_PASSWORD),
    **{u: (u, p) for u, _r, p, _reg, _n in declare_demo.STAFF_ACCOUNTS},
}


def test_english_word_detection():
    allowed = {"W/W", "kW"}
    assert english_words("全年能源消耗效率 APF 4.5 W/W", allowed) == []
    assert english_words("执行 GB/T 7725-2022 和 Q/YLKT 0001-2025，型号 KFR-35GW", allowed) == []
    assert english_words("下载 CSV，额定功率 kW", allowed) == []
    assert english_words("状态：Published", allowed) == ["Published"]
    assert english_words("floor 64", allowed) == ["floor"]
    assert english_words("核心指标：eta_rated, gas_water_heater/nox@2017-07-01", allowed) == []


def test_code_and_english_marked_text_is_not_prose():
    page = _Text()
    page.feed('<html lang="zh-CN"><body><p>状态 <code>in_force, upcoming</code> 现行</p>'
              '<p lang="en">Norm of water intake</p><br><p>已发布 Published</p></body></html>')
    assert page.texts == ["状态", "现行", "已发布 Published"]


@pytest.mark.parametrize("who", sorted(ACCOUNTS))
def test_no_english_on_chinese_pages(demo, who):
    username, password = ACCOUNTS[who]
    found = crawl(_client(username, password), _starts(), _allowed())
    first_seen: dict[str, str] = {}
    for url, texts in found.items():
        for text in texts:
            first_seen.setdefault(text[:200], url)
    assert first_seen == {}, "English on Chinese pages (text: first page it is on)"
