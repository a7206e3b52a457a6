"""Hostile inputs and hostile uploads: no 5xx, uploads refused or bounded in work.

Inputs: ids 2³¹, 2⁶³ and "²" in every id route of the OpenAPI spec and of the pages, huge page
numbers, NUL bytes, a lone surrogate, a 5,000-digit seed, JSON nested 10,000 deep, a draft with
10,000 indicators (and the save after it). Uploads: a text-bomb PDF (~900k text operators in one
content stream shared by three pages) and a PDF with JavaScript.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections import Counter

import requests

from drills.client import Api, api_for, draft_body
from drills.faults import max_outbox_id, wait_jobs
from drills.results import Result

HUGE_IDS = ["2147483648", "9223372036854775808", "%C2%B2"]
HUGE_PAGE = "4349898482790066290688"
ROLES = ["anonymous", "ent02", "evaluator", "regulator", "admin"]


def _send(res: Result, api: Api, method: str, path: str, label: str, **kw) -> requests.Response | None:
    res.attempts += 1
    try:
        r = api.request(method, path, **kw)
    except requests.RequestException as exc:
        res.server_errors += 1
        res.fail(f"{api.principal} {method} {path} ({label}): no answer ({type(exc).__name__})")
        return None
    if r.status_code >= 500:
        res.server_errors += 1
        res.fail(f"{api.principal} {method} {path[:160]} ({label}) → {r.status_code}")
    res.extra.setdefault("statuses", Counter())[r.status_code] += 1
    return r


def _spec_id_paths(spec: dict) -> list[tuple[str, str]]:
    """(method, path template) of every operation with an integer path parameter."""
    out = []
    for path, ops in spec["paths"].items():
        if "{" not in path:
            continue
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete"):
                out.append((method.upper(), path))
    return out


HTML_ID_PATHS = [
    "/declarations/{}", "/declarations/{}/history", "/declarations/{}/versions/{}",
    "/catalogue/categories/{}", "/catalogue/standards/{}", "/leaderboards/runs/{}/export.csv",
    "/my/declarations/{}", "/my/plans/{}", "/my/runs/{}", "/supervision/flags/declarations/{}",
    "/supervision/inspections/{}", "/supervision/inspections/complaints/{}",
    "/supervision/sampling/draws/{}", "/supervision/sampling/plans/{}",
    "/supervision/sampling/public/{}",
]


def inputs_drill(stack, quick: bool) -> Result:
    res = Result("hostile inputs (ids, pages, NUL, surrogates, digits, depth, sizes)",
                 "0 server errors")
    spec = requests.get(stack.base + "/api/v1/openapi.json", timeout=30).json()
    roles = ["anonymous", "ent02"] if quick else ROLES
    apis = {r: (Api(stack.base) if r == "anonymous" else api_for(stack.base, r, pages=True))
            for r in roles}
    # 1. ids beyond the database integer, and a superscript digit, in every id route.
    for role, api in apis.items():
        for method, template in _spec_id_paths(spec):
            for big in HUGE_IDS[:2] if quick and role != "anonymous" else HUGE_IDS:
                path = re.sub(r"\{[^}]+\}", big, template)
                kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                _send(res, api, method, path, "id beyond int4", **kw)
        for template in HTML_ID_PATHS:
            for big in HUGE_IDS:
                _send(res, api, "GET", template.replace("{}", big), "page id", bearer=False)
    api, ent = apis["anonymous"], apis["ent02"]
    # 2. ids, pages and text in query strings and bodies.
    a = "/api/v1"
    queries = [
        f"{a}/declarations?category_id=99999999999999999999",
        f"{a}/declarations?page={HUGE_PAGE}", f"{a}/declarations?page=2147483648",
        f"{a}/declarations?page_size=99999999999999999999", f"{a}/declarations?q=%00",
        f"{a}/declarations?q=%ED%B2%80", f"{a}/declarations?region=%C2%B2%C2%B2",
        f"{a}/catalogue/standards?page={HUGE_PAGE}", f"{a}/catalogue/standards?q=%00",
        f"{a}/ranking/leaderboards?page={HUGE_PAGE}", f"{a}/ranking/leaderboards/%00",
        f"{a}/supervision/sampling/draws?page={HUGE_PAGE}",
        f"{a}/supervision/inspections/results?page={HUGE_PAGE}",
        f"/declarations?q=%00", f"/declarations?page={HUGE_PAGE}",
        f"/declarations?category_id=99999999999999999999", f"/catalogue/standards?q=%00",
        f"/leaderboards?page={HUGE_PAGE}", "/supervision/inspections/complaints/new?declaration=%C2%B2",
        "/supervision/inspections/complaints/new?declaration=99999999999999999999",
        "/login?next=%00",
    ]
    for q in queries:
        _send(res, api, "GET", q, "query")
        _send(res, ent, "GET", q, "query", bearer=q.startswith("/api"))
    bodies = [
        ("POST", f"{a}/auth/tokens", {"username": "a\u0000b", "password": "x"}, "NUL login"),
        ("POST", f"{a}/auth/tokens", {"username": "\udc80", "password": "x"}, "lone surrogate"),
        ("POST", f"{a}/supervision/inspections/complaints",
         {"enterprise_id": 2 ** 40, "content": "drills: hostile enterprise id"}, "id 2⁴⁰"),
        ("POST", f"{a}/supervision/inspections/complaints",
         {"enterprise_uscc": "\u0000", "content": "drills: NUL \u0000 in a complaint"}, "NUL"),
        ("POST", f"{a}/supervision/inspections/complaints/status",
         {"number": "\udc80", "secret": "²"}, "surrogate"),
        ("POST", f"{a}/comparison", {"declaration_id": "²"}, "superscript id"),
        ("POST", f"{a}/comparison", {"declaration_id": 2 ** 63}, "id 2⁶³"),
    ]
    for method, path, body, label in bodies:
        _send(res, api, method, path, label, data=json.dumps(body),
              headers={"Content-Type": "application/json"})
    for depth in (10_000,):
        for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            _send(res, api, "POST", f"{a}/comparison", f"JSON nested {depth} deep", data=raw,
                  headers={"Content-Type": "application/json"})
    # 3. seeds of a draw (the regulator's sampling plan): "²" and 5,000 digits.
    reg = apis.get("regulator") or api_for(stack.base, "regulator")
    plan = stack.sql("select p.id from sampling_plans p join users u on u.id = p.regulator_id "
                     "where u.username = 'regulator' order by p.id limit 1")
    if not plan:
        reg.post(f"{a}/supervision/sampling/plans", json={
            "name": "演练抽查计划", "period_start": "2026-01-01", "period_end": "2026-12-31"})
        plan = stack.sql("select p.id from sampling_plans p join users u on u.id = "
                         "p.regulator_id where u.username = 'regulator' order by p.id limit 1")
    if plan:
        for seed in ("²", "9" * 5000, "1" + "0" * 40, "-1"):
            _send(res, reg, "POST", f"{a}/supervision/sampling/plans/{plan[0][0]}/draws",
                  f"seed {seed[:8]}… ({len(seed)} chars)", json={"seed": seed})
    # 4. draft fields: NUL, a lone surrogate; 10,000 indicators, then the next save.
    mine = ent.get(f"{a}/declarations?mine=1&status=published&page_size=100").json()
    decl = next(d["id"] for d in mine if not d.get("has_draft"))
    ent.post(f"{a}/declarations/{decl}/revise")
    draft = ent.get(f"{a}/declarations/{decl}/draft").json()
    for label, changes in (("NUL in std_name", {"std_name": "a\u0000b"}),
                           ("lone surrogate in std_name", {"std_name": "\udc80"}),
                           ("NUL in a product", {"products": [{"name": "\u0000", "model": "x",
                                                              "category_id": 2 ** 31}]})):
        _send(res, ent, "PUT", f"{a}/declarations/{decl}/draft", label,
              data=json.dumps(draft_body(draft, **changes)),
              headers={"Content-Type": "application/json"})
    many = [{"kind": "performance", "name": f"指标 {i}", "op": "ge", "value": float(i),
             "unit": "W", "test_method": "GB/T 7725", "text_value": "", "mingshi": "",
             "benchmark_indicator_id": None, "low": None, "high": None}
            for i in range(2_000 if quick else 10_000)]
    draft = ent.get(f"{a}/declarations/{decl}/draft").json()
    t0 = time.monotonic()
    r = _send(res, ent, "PUT", f"{a}/declarations/{decl}/draft", f"{len(many)} indicators",
              json=draft_body(draft, indicators=many))
    first = time.monotonic() - t0
    second = None
    if r is not None and r.status_code == 200:
        draft = ent.get(f"{a}/declarations/{decl}/draft").json()
        t0 = time.monotonic()
        _send(res, ent, "PUT", f"{a}/declarations/{decl}/draft", "the save after it",
              json=draft_body(draft, revision_note="drills: the next save"))
        second = time.monotonic() - t0
    res.note(f"a draft with {len(many)} indicators answered {r.status_code if r is not None else 'nothing'}"
             f" in {first:.1f} s" + (f"; the next save took {second:.1f} s (accepted: the "
                                     "draft has no list maximum)" if second is not None else
                                     " (refused: a list maximum)"))
    ent.request("DELETE", f"{a}/declarations/{decl}/draft")
    res.extra["statuses"] = {str(k): v for k, v in res.extra.get("statuses", {}).items()}
    res.note(f"answers: {res.extra['statuses']}")
    res.met = res.server_errors == 0
    return res


# --------------------------------------------------------------------------- uploads


def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def text_bomb_pdf(operators: int = 900_000, pages: int = 3) -> bytes:
    """One Flate content stream of ``operators`` text-show operators, shared by every page."""
    content = b"BT /F1 1 Tf 0 0 Td\n" + b"(a) Tj\n" * operators + b"ET\n"
    packed = zlib.compress(content, 9)
    page_ids = list(range(4, 4 + pages))
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        f"<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode() + packed
        + b"\nendstream",
    ]
    font = 4 + pages
    for _ in page_ids:
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _pdf(objects)


def javascript_pdf() -> bytes:
    content = b"BT /F1 12 Tf 72 720 Td (drills) Tj ET"
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
        b"<< /S /JavaScript /JS (app.alert\\('drills'\\);) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def uploads_drill(stack, quick: bool) -> Result:
    budget = 30.0 if quick else 60.0
    res = Result("hostile uploads (text bomb, JS PDF)",
                 "refused or bounded; no job over its budget")
    ent = api_for(stack.base, "ent02")
    a = "/api/v1/declarations"
    # ent02's published declarations that can be revised as they are (no withdrawn citation).
    free = [d for d, in stack.sql(
        "select d.id from declarations d join users u on u.enterprise_id = d.enterprise_id "
        "where u.username = 'ent02' and d.status = 'PUBLISHED' and not exists (select 1 from "
        "declaration_versions v where v.declaration_id = d.id and v.status = 'DRAFT') and not "
        "exists (select 1 from normative_references r join standards s on s.id = "
        "r.standard_id where r.version_id = d.current_version_id and s.status = 'WITHDRAWN') "
        "order by d.id")]
    outcomes = {}
    longest = 0.0
    for (name, pdf), decl in zip((("text bomb", text_bomb_pdf()),
                                  ("JavaScript", javascript_pdf())), free, strict=False):
        ent.post(f"{a}/{decl}/revise")
        since = max_outbox_id(stack)
        t0 = time.monotonic()
        r = _send(res, ent, "POST", f"{a}/{decl}/draft/text", f"{name} PDF",
                  files={"file": (f"drills-{name}.pdf", pdf, "application/pdf")})
        took = time.monotonic() - t0
        status = r.status_code if r is not None else None
        outcome = {"bytes": len(pdf), "upload_status": status, "upload_seconds": round(took, 2)}
        if status == 200:
            draft = ent.get(f"{a}/{decl}/draft").json()
            _send(res, ent, "PUT", f"{a}/{decl}/draft", "revision note",
                  json=draft_body(draft, revision_note=f"drills: {name} PDF"))
            p = _send(res, ent, "POST", f"{a}/{decl}/publish", f"publish with the {name} PDF")
            outcome["publish_status"] = p.status_code if p is not None else None
            if p is None or p.status_code != 200:
                res.fail(f"{name} PDF accepted but the publication was refused "
                         f"({p.status_code if p is not None else 'no answer'}: "
                         f"{p.text[:200] if p is not None else ''}): its jobs were not exercised")
            done, open_rows = wait_jobs(stack, since, budget + 10)
            jobs = stack.sql("select func, extract(epoch from finished_at - started_at), status "
                             "from outbox_jobs where id > %s order by 2 desc nulls first",
                             (since,))
            outcome["jobs"] = [(f, float(s) if s is not None else None, st) for f, s, st in jobs]
            for f, s, st in outcome["jobs"]:
                longest = max(longest, s or (budget + 10))
                if s is None or s > budget:
                    res.fail(f"{name} PDF accepted; job {f} ran {s if s is not None else '>' + str(budget + 10)}"
                             f" s ({st}), over the {budget:.0f} s budget")
            if name == "JavaScript":
                res.fail("a PDF with /OpenAction JavaScript was accepted (reproduce: POST "
                         f"{a}/<id>/draft/text with drills.hostile.javascript_pdf())")
            text = stack.sql("select v.version_no from declaration_versions v where "
                             "v.declaration_id = %s order by v.version_no desc limit 1", (decl,))
            if text:
                g = ent.get(f"{a}/{decl}/versions/{text[0][0]}/text", bearer=True)
                outcome["served_as"] = {k: g.headers.get(k) for k in (
                    "Content-Type", "Content-Disposition", "Content-Security-Policy",
                    "X-Content-Type-Options")}
        else:
            outcome["refusal"] = (r.text[:300] if r is not None else "")
            ent.request("DELETE", f"{a}/{decl}/draft")
        outcomes[name] = outcome
        res.note(f"{name} PDF ({len(pdf):,} bytes): upload {status} in {took:.1f} s"
                 + (f", publish {outcome['publish_status']}" if "publish_status" in outcome else "")
                 + (f", jobs {[(f.split('.')[-1], s and round(s, 1), st) for f, s, st in outcome.get('jobs', [])]}"
                    if outcome.get("jobs") else ""))
    res.extra["uploads"] = outcomes
    res.staleness_s = longest or None
    res.staleness_capped = any(s is None for o in outcomes.values() for _, s, _ in o.get("jobs", []))
    res.met = res.server_errors == 0 and not res.failures
    return res
