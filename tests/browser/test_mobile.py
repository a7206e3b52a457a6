"""On a phone (375 x 800) no page scrolls sideways and no button wraps character by character;
no page of the main journeys is blocked by the Content-Security-Policy (issue 12).

The public pages are not listed by hand: every GET route of the URL map is requested without
login with the ids of the demo data (``flask demo load``) plus a publicised draw and published
spot-check results, and each one answering 200 with HTML is opened in Chromium, so a public page
added later is covered. A route whose URL takes an argument this module has no value for fails
the test (add the value to ``_args``). Pages of the logged-in roles are listed per role.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.clock import local_today
from core.extensions import db as _db
from core.models import User
from declare.demo import DEMO_ENTERPRISE_PASSWORD, MARKER_USERNAME
from declare.models import Declaration, Enterprise
from ranking.models import EvaluationPlan, RankingRun, RunStatus
from supervision.inspections import operations as inspections
from supervision.models import CHECKLIST, Draw, Inspection, InspectionStatus
from supervision.sampling import operations as draws

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # the whole demo dataset

PHONE = {"width": 375, "height": 800}
DEMO_PASSWORDS = {"regulator": "demo-jianguan-2026", "evaluator": "demo-pinggu-2026",
                  "admin": "demo-admin-2026", MARKER_USERNAME: DEMO_ENTERPRISE_PASSWORD}
#: A finding as long as real ones get: a model number and a URL without a space.
LONG_FINDING = ("型号 KFR-35GW/BP3DN8Y-PH200(B1)+KFR-35W/BP3N8Y-PH200(B1) 的全年能源消耗效率未在"
                "标准中公开，见 https://example.com/standards/Q-YJJJ-0001-2026/attachments/"
                "indicators-and-test-methods-of-the-declared-products.pdf")

#: Layout checks run in the page: the page's own width, what sticks out (for the message) and
#: the buttons that wrap like a column of characters (text on more than two lines, or on two
#: lines in a box narrower than six characters). swagger-ui's own operation buttons (method,
#: path and summary stacked by design) are not ours to lay out.
LAYOUT = """() => {
  const view = document.documentElement.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const sticking = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > view + 1) sticking.push(name(el) + ' right=' + Math.round(r.right));
    if (sticking.length >= 8) break;
  }
  const wrapped = [];
  for (const el of document.querySelectorAll('button, a.button, input[type=submit], input[type=button]')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest('.swagger-ui')) continue;  // vendored swagger-ui
    const s = getComputedStyle(el);
    const px = (v) => parseFloat(v) || 0;
    const font = px(s.fontSize);
    const w = r.width - px(s.paddingLeft) - px(s.paddingRight) - px(s.borderLeftWidth) - px(s.borderRightWidth);
    let lines;
    if (el.tagName === 'INPUT') {  // no text nodes: its height in lines (it is never stretched)
      const line = s.lineHeight === 'normal' ? font * 1.2 : px(s.lineHeight);
      lines = Math.round((r.height - px(s.paddingTop) - px(s.paddingBottom)) / line);
    } else {  // the lines its text is laid out on (a flex row may stretch the box itself)
      const range = document.createRange();
      range.selectNodeContents(el);
      lines = new Set(Array.from(range.getClientRects()).filter((q) => q.width > 0)
        .map((q) => Math.round(q.top))).size;
    }
    if (lines > 2 || (lines > 1 && w < 6 * font)) {
      wrapped.push(name(el) + ' "' + (el.innerText || el.value || '').trim().slice(0, 30) + '" ' + lines + ' lines, ' + Math.round(w) + 'px wide');
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, view, sticking, wrapped};
}"""

#: Every CSP violation the page reports, whatever the console says.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});"""


@pytest.fixture
def world(app, db):
    """The demo (catalogue, enterprises, declarations, the 领跑者 plan with its preview and
    published list) plus a publicised spot-check draw of the demo regulator and three published
    results (符合, 符合但存在瑕疵, 不符合 with a long finding). Plain values only: the browser's
    requests run in other threads."""
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.test_request_context("/"):
        regulator = db.session.scalar(select(User).where(User.username == "regulator"))
        for n in range(3):
            draws.create_inspector(regulator, {"code": f"CQ-{n:03d}", "name": f"检查员{n}",
                                               "organisation": "重庆市市场监督管理局"})
        year = local_today().year
        plan = draws.create_plan(regulator, {
            "name": f"{year}年度企业标准自我声明公开双随机抽查（重庆市）", "region_code": "500000",
            "period_start": date(year, 1, 1), "period_end": date(year, 12, 31), "size_ratio": 0.3,
        })
        db.session.commit()
        draws.create_draw(plan, regulator, seed_text="2026-11-22 双色球 03 07 12 19 25 31 + 09")
        draw = db.session.scalar(select(Draw).where(Draw.plan_id == plan.id))
        draws.publicise_draw(draw, regulator)
        db.session.commit()
        assigned = db.session.scalars(
            select(Inspection).where(Inspection.status == InspectionStatus.ASSIGNED)
            .order_by(Inspection.id)
        ).all()
        assert len(assigned) >= 4, len(assigned)
        fails = {"conforming": [], "defects": ["drafting_format"],
                 "nonconforming": ["indicators_disclosed"]}
        for inspection, (outcome, failed) in zip(assigned, fails.items()):
            inspections.record_result(inspection, {
                "result": outcome,
                "checklist": {i: "fail" if i in failed else "pass" for i in CHECKLIST},
                "findings": [{"item": i, "text": LONG_FINDING} for i in failed],
                "inspected_on": local_today(),
            }, user=regulator)
            inspections.publish_result(inspection, user=regulator)
        db.session.commit()

        ent = db.session.scalar(
            select(Enterprise).join(User, User.enterprise_id == Enterprise.id)
            .where(User.username == MARKER_USERNAME)
        )
        own = db.session.scalar(
            select(Declaration.id).where(Declaration.enterprise_id == ent.id).order_by(Declaration.id)
        )
        public = assigned[0].declaration_id  # drawn, so published; its spot check is public
        ranking_plan = db.session.scalars(select(EvaluationPlan)).one()
        runs = {r.status: r for r in db.session.scalars(select(RankingRun))}
        published = runs[RunStatus.PUBLISHED]
        return {
            "declaration_id": public,
            "own_declaration": own,
            "plan_key": ranking_plan.plan_key,
            "plan_id": ranking_plan.id,
            "run_id": published.id,
            "preview_run": runs[RunStatus.COMPUTED].id if RunStatus.COMPUTED in runs else published.id,
            "key": next(iter(published.indicator_status)),
            "category_id": ranking_plan.category_id,
            "draw_id": draw.id,
            "sampling_plan": plan.id,
            "inspection_id": assigned[0].id,
        }


def _args(world) -> dict:
    """A value for every argument a GET route takes: the demo's ids where the page is public,
    any number where only a logged-in role may look (anonymous visitors are sent to log in)."""
    return {
        "declaration_id": world["declaration_id"],
        "version_no": 1,
        "plan_key": world["plan_key"],
        "run_id": world["run_id"],
        "key": world["key"],
        "fmt": "csv",
        "category_id": world["category_id"],
        "standard_id": 1,
        "draw_id": world["draw_id"],
        "plan_id": world["sampling_plan"],
        "inspection_id": world["inspection_id"],
        "complaint_id": 1,
        "inspector_id": 1,
        "order_id": 1,
        "token_id": 1,
        "outbox_id": 1,
        "objection_id": 1,
        "enterprise_id": 1,
        "kind": "catalogue",
        "code": "en",
        "filename": "css/app.css",
        "day": "2026-12-07",  # an open-data day (none released: 404, not a page)
        "name": "SHA256SUMS",
        "entry_id": 1,  # a leader label's verify page
        "product_id": 1,
        "token": "not-a-valid-reset-token",  # the reset page explains the link is bad
        "user_id": 1,
        "batch_id": 1,
    }


def _values_for(rule, values: dict) -> dict:
    """The rule's arguments from ``values``; an ``any(a, b)`` argument whose value the rule does
    not take gets the rule's first choice (``fmt`` is csv for exports, png for labels)."""
    out = {}
    for name in rule.arguments:
        choices = getattr(rule._converters.get(name), "items", None)
        out[name] = values[name] if not choices or values[name] in choices else sorted(choices)[0]
    return out


def public_pages(app, world) -> dict[str, str]:
    """Endpoint -> URL of every GET route that answers an anonymous visitor 200 with HTML."""
    from flask import url_for

    values = _args(world)
    client = app.test_client()
    pages = {}
    with app.test_request_context("/"):
        rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods]
        missing = {r.rule: sorted(r.arguments - values.keys()) for r in rules
                   if r.arguments - values.keys()}
        assert not missing, f"give _args() a value for these routes' arguments: {missing}"
        urls = {r.endpoint: url_for(r.endpoint, **_values_for(r, values))
                for r in rules if r.endpoint != "static" and "_probe" not in r.rule}
    for endpoint, url in sorted(urls.items()):
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages[endpoint] = url
        response.close()
    return pages


def _role_pages(world) -> dict[str, list[str]]:
    w = world
    return {
        MARKER_USERNAME: [
            "/my/declarations", "/my/declarations/new", "/my/declarations/new/catalogue",
            f"/my/declarations/{w['own_declaration']}", "/my/rankings",
            "/supervision/inspections/mine", "/supervision/flags/", "/account/tokens",
            "/notifications/", "/notifications/settings",
        ],
        "evaluator": [
            "/my/plans", f"/my/plans/{w['plan_id']}", f"/my/plans/{w['plan_id']}/edit",
            "/my/plans/new", f"/my/runs/{w['run_id']}", f"/my/runs/{w['preview_run']}",
        ],
        "regulator": [
            "/supervision/flags/", "/supervision/sampling/plans",
            f"/supervision/sampling/plans/{w['sampling_plan']}",
            f"/supervision/sampling/draws/{w['draw_id']}", "/supervision/sampling/inspectors",
            "/supervision/sampling/plans/new", "/supervision/inspections/",
            f"/supervision/inspections/{w['inspection_id']}", "/supervision/inspections/complaints",
            "/notifications/",
        ],
        "admin": ["/catalogue/admin/import", "/catalogue/admin/history", "/admin/jobs"],
    }


class _Tour:
    """One browser context at phone size; collects what each page breaks."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport=PHONE, locale="zh-CN")
        self.context.add_init_script(CSP_LISTENER)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.base = base
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console.append(f"script error: {e}"))
        self.problems: dict[str, list] = {}

    def login(self, username: str) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("#username", username)
        self.page.fill("#password", DEMO_PASSWORDS[username])
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, username

    def visit(self, url: str) -> int:
        self.console.clear()
        response = self.page.goto(self.base + url)
        self.page.wait_for_load_state("load")
        if url.startswith("/api/v1/docs"):  # swagger-ui builds the page after loading the spec
            self.page.wait_for_selector(".swagger-ui .info", timeout=15000)
        layout = self.page.evaluate(LAYOUT)
        csp = self.page.evaluate("window.__csp || []")
        refused = [m for m in self.console if "Content Security Policy" in m or "Refused to" in m
                   or m.startswith("script error")]
        found = []
        if layout["scrollWidth"] > PHONE["width"]:
            found.append(f"page is {layout['scrollWidth']} px wide: {layout['sticking']}")
        if layout["wrapped"]:
            found.append(f"buttons wrap: {layout['wrapped']}")
        if csp or refused:
            found.append(f"CSP/script: {csp + refused}")
        if found:
            self.problems[url] = found
        return response.status

    def close(self) -> None:
        self.context.close()


def test_every_page_fits_a_phone_and_runs_under_the_csp(app, world, live_server, page):
    pages = public_pages(app, world)
    must = {"index", "declare.search", "declare.detail", "declare.history", "declare.version",
            "catalogue.standards", "catalogue.standard", "catalogue.categories",
            "catalogue.category", "ranking.leaderboards", "ranking.leaderboard",
            "ranking.run_board", "ranking.indicator_tiers", "ranking.publicity",
            "inspections.results", "sampling.public_draws", "sampling.public_draw",
            "sampling.draw_redo", "complaints.new", "complaints.status", "core.login",
            "declare.register", "api-docs.openapi_swagger_ui"}
    assert must <= pages.keys(), sorted(must - pages.keys())
    extra = [  # the same pages in other states: results of a search, the preview list, English
        "/declarations?q=", "/declarations?q=Q%2F", f"/leaderboards/{world['plan_key']}?list=preview",
        f"/leaderboards/{world['plan_key']}?lang=en", "/supervision/inspections/results?lang=en",
        f"/supervision/sampling/public/{world['draw_id']}?lang=en",
    ]
    browser = page.context.browser
    problems, visited = {}, 0

    anonymous = _Tour(browser, live_server)
    for url in [*pages.values(), *extra]:
        assert anonymous.visit(url) == 200, url
        visited += 1
    # the folded menu opens and its links fit
    anonymous.page.goto(live_server + "/")
    toggle = anonymous.page.locator(".topbar .nav-toggle")
    assert toggle.is_visible() and not anonymous.page.locator("#mainnav").is_visible()
    toggle.click()
    assert anonymous.page.locator("#mainnav").is_visible()
    assert anonymous.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    problems.update(anonymous.problems)
    anonymous.close()

    for username, urls in _role_pages(world).items():
        tour = _Tour(browser, live_server)
        tour.login(username)
        for url in urls:
            assert tour.visit(url) == 200, (username, url)
            visited += 1
        problems.update({f"{username} {url}": p for url, p in tour.problems.items()})
        tour.close()

    assert visited > 50
    assert not problems, "\n".join(f"{url}: {p}" for url, p in problems.items())


def test_a_page_that_breaks_the_rules_is_caught(live_server, page):
    """The checks above are not blind: a page wider than the phone, a button squeezed to one
    character a line and an inline script the CSP blocks are all reported."""
    html = ('<!doctype html><html><head><meta name="viewport" content="width=device-width">'
            '</head><body><div id="wide">' + "x" * 400 + '</div>'
            '<div><button id="squeezed" style="width:1.4em;padding:0">提交申请</button></div>'
            '<script>document.title = "ran";</script></body></html>')
    tour = _Tour(page.context.browser, live_server)
    tour.page.route("**/broken-page", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=html,
        headers={"Content-Security-Policy": "script-src 'self'"},  # inline style allowed here
    ))
    assert tour.visit("/broken-page") == 200
    found = " ".join(tour.problems["/broken-page"])
    tour.close()
    assert "px wide" in found
    assert "button#squeezed" in found
    assert "script-src" in found
