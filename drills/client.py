"""HTTP clients for the drills: one session per principal, every answer counted.

The principals are the demo accounts (``flask demo load``) plus a second evaluator and a
second regulator the drills create with ``flask create-user``, so every role has a peer whose
objects it must not reach.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import requests

TIMEOUT = 40  # above gunicorn's 30 s worker timeout: a hung request comes back as its 500

ACCOUNTS = {
    # principal: (username, password, role)
    "admin": ("admin", "demo-admin-2026", "admin"),
    "evaluator": ("evaluator", "demo-pinggu-2026", "evaluator"),
    "evaluator2": ("drills-evaluator2", "drills-pinggu-2026", "evaluator"),
    "regulator": ("regulator", "demo-jianguan-2026", "regulator"),
    "regulator2": ("drills-regulator2", "drills-jianguan-2026", "regulator"),
    "ent01": ("ent01", "demo-qiye-2026", "enterprise"),
    "ent02": ("ent02", "demo-qiye-2026", "enterprise"),
}


def account(principal: str) -> tuple[str, str, str]:
    """Credentials of a principal; any other demo enterprise login (ent03…) by its name."""
    return ACCOUNTS.get(principal) or (principal, "demo-qiye-2026", "enterprise")


def extra_account_commands() -> list[tuple[str, ...]]:
    """The peers of the demo evaluator and regulator (another region: 110000, Beijing), as
    ``flask create-user`` commands (the stack runs them after the demo data)."""
    out = []
    for key, extra in (("evaluator2", ()), ("regulator2", ("--region", "110000"))):
        username, password, role = ACCOUNTS[key]
        out.append(("create-user", username, "--role", role, "--password", password, *extra))
    return out


@dataclass
class Api:
    """A requests session for one principal: bearer token for the API, cookie for pages."""

    base: str
    principal: str = "anonymous"
    token: str | None = None
    statuses: Counter = field(default_factory=Counter)
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def request(self, method: str, path: str, *, bearer: bool = True, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if bearer and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        r = self.session.request(method, self.url(path), headers=headers, **kw)
        self.statuses[r.status_code] += 1
        return r

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    # ------------------------------------------------------------------ logging in

    def login_api(self) -> Api:
        username, password, _ = account(self.principal)
        r = requests.post(self.url("/api/v1/auth/tokens"), timeout=TIMEOUT,
                          json={"username": username, "password": password, "name": "drills"})
        if r.status_code != 201:
            raise RuntimeError(f"token for {username}: {r.status_code} {r.text[:300]}")
        self.token = r.json()["token"]
        return self

    def login_page(self) -> Api:
        """Log in through the HTML form (CSRF token from the page) for the page checks."""
        username, password, _ = account(self.principal)
        page = self.session.get(self.url("/login"), timeout=TIMEOUT)
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
        data = {"username": username, "password": password}
        if m:
            data["csrf_token"] = m.group(1)
        r = self.session.post(self.url("/login"), data=data, timeout=TIMEOUT,
                              allow_redirects=False)
        if r.status_code not in (302, 303):
            raise RuntimeError(f"page login for {username}: {r.status_code} {r.text[:300]}")
        return self


def api_for(base: str, principal: str, *, pages: bool = False) -> Api:
    api = Api(base, principal)
    if principal != "anonymous":
        api.login_api()
        if pages:
            api.login_page()
    return api


def draft_body(v: dict, **changes) -> dict:
    """A ``DraftUpdateIn`` body from a ``VersionOwnerOut`` (what the owner read), changed."""
    body = {
        "kind": v["kind"],
        "standard_id": (v.get("standard") or {}).get("id"),
        "std_code": v.get("std_code") or "",
        "std_name": v.get("std_name") or "",
        "disclosure": v["disclosure"],
        "commitment_accepted": v.get("commitment_accepted", False),
        "approved_by": v.get("approved_by") or "",
        "approved_on": v.get("approved_on"),
        "implemented_on": v.get("implemented_on"),
        "revision_note": v.get("revision_note") or "",
        "mingshi_fewer": v.get("mingshi_fewer") or "",
        "products": [
            {"name": p["name"], "model": p["model"], "category_id": (p.get("category") or {}).get("id"),
             "specification": p.get("specification") or "", "common_name": p.get("common_name") or "",
             "brand": p.get("brand") or "", "barcode": p.get("barcode") or "",
             "attributes": p.get("attributes") or {}}
            for p in v.get("products", [])
        ],
        "indicators": [
            {k: i.get(k) for k in ("kind", "name", "benchmark_indicator_id", "op", "value", "low",
                                   "high", "text_value", "unit", "test_method", "mingshi")}
            for i in v.get("indicators", [])
        ],
        "reference_ids": [ref["id"] for ref in v.get("references", []) if ref.get("id")],
        "lock_version": v["lock_version"],
    }
    for ind in body["indicators"]:
        for k in ("text_value", "unit", "test_method", "mingshi"):
            ind[k] = ind[k] or ""
    if body["kind"] == "catalogue":
        body.pop("std_code")
    body.update(changes)
    return body
