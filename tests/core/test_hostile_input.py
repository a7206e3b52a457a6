"""No input reaches a 500 (issue 13): every operation of the OpenAPI document and every page of
the URL map, with hostile values in each of its parameters, as anonymous and as every role.

The cases are generated, so a new route is covered without a new test:

- API: per operation, each path, query and JSON-body parameter by its schema type — integers
  (2³¹, 2⁶³, 10³⁰, -1, "²", 5,000 digits), numbers, strings (NUL, a lone surrogate, 100 KB),
  page/page_size past any list, and a body nested 10,000 deep. The other body fields get a
  plausible value from their schema, so the hostile one reaches the operation behind it.
- Pages: per GET route, the query parameters its view reads (recorded while a plain request is
  answered), each with the same hostile values.

A role whose plain request is refused (401/403, a login redirect) is not sent the hostile cases:
its answer does not depend on them. One app and one small world (module scope) serve every case.
"""

from __future__ import annotations

import json
import re
from datetime import date
from urllib.parse import quote

import pytest
from werkzeug.datastructures import ImmutableMultiDict

from app import create_app
from core.auth import issue_token
from core.extensions import api as _api
from core.models import Role, User
from tests.conftest import PASSWORD

# --------------------------------------------------------------------------- the routes


def _routes():
    """The OpenAPI document and the URL map of an app built for collection only (configured
    like conftest's ``_schema`` app: the limiter is one object, and an app that switches it
    off before any other initialises it leaves it without storage)."""
    application = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None}
    )
    with application.app_context():
        spec = _api.spec.to_dict()
    pages = sorted(
        (rule.rule, tuple(sorted(rule.arguments)))
        for rule in application.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.rule.startswith(("/api/", "/static", "/_"))
        and "_probe" not in rule.rule
    )
    return spec, pages


SPEC, PAGES = _routes()
OPERATIONS = [
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]

BIG_INTS = [2**31, 2**63, 10**30, "²", "9" * 5000]
INTS = [*BIG_INTS, -1]
NUMBERS = [10**30, "١٢", "NaN", "1e999", "9" * 5000]
TEXTS = ["a\x00b", "\udc80", "x" * 100_000, "²", "9" * 5000]
DEEP = "[" * 10_000 + "]" * 10_000
ROLES = [None, Role.ENTERPRISE, Role.REGULATOR, Role.EVALUATOR, Role.ADMIN]
REFUSED = {400, 401, 403, 404, 405, 409, 413, 422}


# --------------------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def world(module_db):
    """A user of each role, the small catalogue, published declarations of a region, a draft,
    inspectors, a sampling plan with a draw, and a complaint: ids 1 exist for most paths."""
    from flask import current_app

    from supervision.sampling import operations as draws
    from tests.factories import make_enterprise_user, seed_small_catalogue
    from tests.supervision.test_sampling_support import (
        LOTTERY,
        complaint,
        declaration,
        enterprise,
        inspector,
        plan_payload,
        regulator_user,
    )

    db = module_db
    app = current_app._get_current_object()
    with app.test_request_context("/?lang=en"):
        catalogue = seed_small_catalogue()
        owner = make_enterprise_user(region="500112")
        users = {Role.ENTERPRISE: owner, Role.REGULATOR: regulator_user("hostile_reg", "500000")}
        for role in (Role.EVALUATOR, Role.ADMIN):
            users[role] = User(username=f"hostile_{role.value}", role=role,
                               display_name=role.value)
            users[role].set_password(PASSWORD)
            db.session.add(users[role])
        mine = owner.enterprise
        decls = [declaration(mine, catalogue["room_ac"])]
        decls += [declaration(enterprise("500112"), catalogue["room_ac"]) for _ in range(5)]
        from declare.models import VersionStatus

        declaration(mine, catalogue["room_ac"], status=VersionStatus.DRAFT)
        for i in range(4):
            inspector(users[Role.REGULATOR], f"H{i:02d}")
        complaint(decls[1], db.session.get(type(mine), decls[1].enterprise_id), "TS-0001")
        db.session.commit()
        plan = draws.create_plan(users[Role.REGULATOR], plan_payload(size_ratio=0.5))
        db.session.commit()
        draws.create_draw(plan, users[Role.REGULATOR], seed_text=LOTTERY)
        db.session.commit()
        tokens = {role: issue_token(user, "hostile") for role, user in users.items()}
        db.session.commit()

    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role is not None:
            resp = client.post("/login", data={"username": users[role].username,
                                               "password": PASSWORD})
            assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
        clients[role] = client
    return {
        "app": app,
        "clients": clients,
        "headers": {role: ({"Authorization": f"Bearer {tokens[role]}"} if role else {})
                    for role in ROLES},
    }


# --------------------------------------------------------------------------- API cases


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part))
        return merged
    return schema


def _kind(schema: dict) -> str:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    return kind[0] if isinstance(kind, list) else kind


def _plausible(schema: dict, depth: int = 0):
    """A value of the schema's type that its field accepts, as far as the schema says."""
    schema = _resolve(schema)
    kind = _kind(schema)
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(0.5, schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_plausible(schema.get("items", {}), depth + 1)] if depth < 4 else []
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _plausible(props[name], depth + 1)
                for name in schema.get("required", []) if name in props}
    if schema.get("format") == "date":
        return date.today().isoformat()
    return "测试" * max(1, schema.get("minLength", 1))


def _hostile_for(schema: dict) -> list:
    kind = _kind(_resolve(schema))
    return {"integer": INTS, "number": NUMBERS, "string": TEXTS, "boolean": ["²"]}.get(kind, [])


def _leaves(schema: dict, path: tuple = (), depth: int = 0):
    """(path, field schema) of every scalar in a body schema (array items at index 0)."""
    schema = _resolve(schema)
    kind = _kind(schema)
    if depth > 4:
        return
    if kind == "object":
        for name, prop in schema.get("properties", {}).items():
            if not prop.get("readOnly"):
                yield from _leaves(prop, (*path, name), depth + 1)
    elif kind == "array":
        yield from _leaves(schema.get("items", {}), (*path, 0), depth + 1)
    else:
        yield path, schema


def _with(body, path: tuple, value):
    """A copy of ``body`` with ``value`` at ``path`` (creating what the path needs)."""
    body = json.loads(json.dumps(body))
    node = body
    for step, nxt in zip(path, path[1:]):
        if isinstance(step, int):
            while len(node) <= step:
                node.append({} if not isinstance(nxt, int) else [])
            node = node[step]
        else:
            node = node.setdefault(step, [] if isinstance(nxt, int) else {})
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return body


def _query(params: dict) -> str:
    """A query string; a lone surrogate is sent as the UTF-8 bytes a client would send."""
    def enc(value) -> str:
        return quote(str(value).encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{k}={enc(v)}" for k, v in params.items())


def _api_cases(method: str, path: str):
    """(label, url, query, body text or None, must be refused) for one operation."""
    item = SPEC["paths"][path]
    op = item[method.lower()]
    params = [*item.get("parameters", []), *op.get("parameters", [])]
    in_path = [p for p in params if p["in"] == "path"]
    url = path
    for p in in_path:
        url = url.replace("{%s}" % p["name"], "1" if _kind(p["schema"]) == "integer" else "x")
    content = op.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    base = _plausible(body_schema) if body_schema else None
    base_text = json.dumps(base) if base is not None else None
    yield "plain", url, {}, base_text, False
    for p in params:
        if p["in"] == "query":
            integer = _kind(_resolve(p["schema"])) == "integer"
            for value in _hostile_for(p["schema"]):
                refused = integer and (value in INTS or p["name"] in ("page", "page_size"))
                label = f"query {p['name']}={str(value)[:12]}"
                yield label, url, {p["name"]: value}, base_text, refused
    if base is not None:
        for leaf, schema in _leaves(body_schema):
            integer = _kind(_resolve(schema)) == "integer"
            for value in _hostile_for(schema):
                yield (f"body {'.'.join(map(str, leaf))}={str(value)[:12]!r}", url, {},
                       json.dumps(_with(base, leaf, value)), integer and value in BIG_INTS)


def _path_cases(path: str):
    item = SPEC["paths"][path]
    names = [p["name"] for p in item.get("parameters", []) if _kind(p["schema"]) == "integer"]
    for name in names:
        for value in INTS:
            url = path
            for p in item["parameters"]:
                url = url.replace("{%s}" % p["name"], quote(str(value)) if p["name"] == name
                                  else ("1" if p["name"] in names else "x"))
            yield url


def _send(client, method: str, url: str, query: dict, body: str | None, headers: dict):
    """One request in an app context of its own, as in production: the module's context
    would share ``g`` (and the bearer token's user cached there) between requests."""
    full = f"{url}?{_query(query)}" if query else url
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    with client.application.app_context():
        return client.open(full, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_api_input_is_a_server_error(world, method, path):
    client = world["clients"][None]
    failures: list[str] = []
    sent = 0
    for url in _path_cases(path):
        status = _send(client, method, url, {}, None, {}).status_code
        sent += 1
        if status not in (404, 405):
            failures.append(f"anonymous {method} {url[:80]}: {status}")
    cases = list(_api_cases(method, path))
    public = SPEC["paths"][path][method.lower()].get("security") == []
    for role in ROLES:
        headers = world["headers"][role]
        who = role.value if role else "anonymous"
        plain = _send(client, method, *cases[0][1:4], headers).status_code
        sent += 1
        if plain >= 500:
            failures.append(f"{who} plain request: {plain}")
        if plain in (401, 403) and not public:
            continue
        for label, url, query, body, refused in cases[1:]:
            status = _send(client, method, url, query, body, headers).status_code
            sent += 1
            if status >= 500 or (refused and status not in REFUSED):
                failures.append(f"{who} {label}: {status}")
        if cases[0][3] is not None:
            status = _send(client, method, cases[0][1], {}, DEEP, headers).status_code
            sent += 1
            if status not in REFUSED:
                failures.append(f"{who} body nested 10,000 deep: {status}")
    assert sent >= len(ROLES)
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- pages

_READ: set[str] = set()


class _RecordingArgs(ImmutableMultiDict):
    """Query-string and form values that note which keys a view asks for."""

    def get(self, key, default=None, type=None):
        _READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _READ.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        _READ.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        _READ.add(key)
        return super().__contains__(key)


@pytest.fixture(scope="module")
def recording(world):
    app = world["app"]
    original = app.request_class
    app.request_class = type("RecordingRequest", (original,),
                             {"parameter_storage_class": _RecordingArgs})
    yield world
    app.request_class = original


PAGE_VALUES = [*INTS, "x" * 100_000]
#: Read by every page (the language switch): sent hostile values on the index only.
EVERYWHERE = {"lang"}


def _get(client, url: str):
    with client.application.app_context():
        return client.get(url)


def _page_url(rule: str) -> str:
    url = re.sub(r"<int:[^>]+>", "1", rule)
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", url)


@pytest.mark.parametrize(("rule", "arguments"), PAGES, ids=[r for r, _ in PAGES])
def test_no_page_query_is_a_server_error(recording, rule, arguments):
    url = _page_url(rule)
    failures: list[str] = []
    status = _get(recording["clients"][None], f"{url}?q=%00").status_code
    if status not in (302, 404, 422):
        failures.append(f"anonymous ?q=NUL: {status}")
    for role in ROLES:
        client = recording["clients"][role]
        who = role.value if role else "anonymous"
        _READ.clear()
        plain = _get(client, url)
        if plain.status_code >= 500:
            failures.append(f"{who} plain: {plain.status_code}")
        if plain.status_code in (401, 403) or (
            plain.status_code == 302 and "/login" in plain.headers.get("Location", "")
        ):
            continue
        keys = sorted(_READ - (EVERYWHERE if rule != "/" else set()))
        for key in keys:
            for value in PAGE_VALUES:
                status = _get(client, f"{url}?{_query({key: value})}").status_code
                if status >= 500:
                    failures.append(f"{who} ?{key}={str(value)[:12]}: {status}")
                elif key in ("page", "tier") and value in INTS and status != 422:
                    failures.append(f"{who} ?{key}={str(value)[:12]}: {status}, not 422")
    assert not failures, "\n".join(failures)
