"""The role × object matrix: every principal tries the objects it has no right to, API and HTML.

Objects come from the demo data and a few the drill creates as their owners (a complaint, an
inspector, a sampling plan, an API token). For each object the drill knows who may reach it
(its owner, and for supervision the regulator whose region covers the enterprise); every other
principal (anonymous, the other enterprise, the other evaluator, the regulator of another
region, the admin where the object is not the admin's business) sends every request of the
object's routes, in the API and on the pages.

Counted as IDOR: a 2xx answer from the API; a 200 page; a page POST or an API write after
which the object's row in the database changed (a digest of the rows read before and after
each write, so a redirect that hid a successful write still counts).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from drills.client import Api, api_for
from drills.results import Result

GOAL = "0 IDOR"
PRINCIPALS = ["anonymous", "ent01", "ent02", "evaluator", "evaluator2", "regulator",
              "regulator2", "admin"]

# What each write could change, as one digest query (a change = a write got through).
DIGEST = """
select md5(concat_ws('|',
  (select string_agg(concat_ws(',', id, status, current_version_id), ';' order by id) from declarations),
  (select string_agg(concat_ws(',', id, status, lock_version, revision_note, text_attachment_id), ';'
          order by id) from declaration_versions),
  (select string_agg(concat_ws(',', id, status, title, version_no), ';' order by id) from evaluation_plans),
  (select string_agg(concat_ws(',', id, status), ';' order by id) from ranking_runs),
  (select string_agg(concat_ws(',', id, status, response), ';' order by id) from objections),
  (select string_agg(concat_ws(',', id, revoked_at), ';' order by id) from api_tokens),
  (select string_agg(concat_ws(',', id, status), ';' order by id) from standards),
  (select string_agg(concat_ws(',', id, name, active), ';' order by id) from inspectors),
  (select string_agg(concat_ws(',', id, name, size_ratio, period_end), ';' order by id) from sampling_plans),
  (select string_agg(concat_ws(',', id, status), ';' order by id) from complaints),
  (select count(*) from draws), (select count(*) from risk_flags),
  (select count(*) from outbox_jobs where func not like 'supervision.flags%%')
))
"""

#: Jobs that are due or running: their work (a preview regeneration, a new list version, a
#: prune) changes rows of the digest by itself, so a refused write is judged only once the
#: workers are quiet. Jobs held for later (not_before ahead) are not waited for.
BUSY = """
select count(*) from outbox_jobs
where status in ('pending', 'queued', 'running', 'retrying')
  and (not_before is null or not_before <= now() + interval '1 second')
"""
QUIET_WAIT = 20.0


def _wait_quiet(stack) -> None:
    """Until no job is due or running (at most QUIET_WAIT seconds)."""
    deadline = time.monotonic() + QUIET_WAIT
    while stack.sql(BUSY)[0][0] and time.monotonic() < deadline:
        time.sleep(0.1)


@dataclass
class Probe:
    kind: str  # "api" | "html"
    method: str
    path: str
    allowed: set[str]  # principals that may reach the object
    what: str
    json: dict | None = None
    form: dict | None = None


def _objects(stack, apis: dict[str, Api], res: Result) -> list[Probe]:
    ent01, regulator = apis["ent01"], apis["regulator"]
    probes: list[Probe] = []
    mine = ent01.get("/api/v1/declarations?mine=1&page_size=100").json()
    draft_only = next((d["id"] for d in mine if d["status"] == "draft"), None)
    if draft_only is None:  # create one: a never-published draft
        v = ent01.post("/api/v1/declarations", json={"kind": "enterprise", "std_name": "drills",
                                                       "std_code": "Q/DRL 0001-2026"}).json()
        draft_only = v["declaration_id"]
    published = [d["id"] for d in mine if d["status"] == "published"]
    with_draft = next(d for d in published if d not in (draft_only,))
    # A published declaration with an open revision: its draft version must stay private.
    ent01.post(f"/api/v1/declarations/{with_draft}/revise")
    draft = ent01.get(f"/api/v1/declarations/{with_draft}/draft").json()
    first = ent01.get(f"/api/v1/declarations/{draft_only}/draft").json()
    owner = {"ent01"}
    bj_regulators = {"ent01", "regulator2"}  # ent01 is in Beijing (11…): regulator2's region

    def decl_probes(d: int, version_no: int, body: dict, private: bool) -> None:
        a = "/api/v1/declarations"
        if private:  # never published: nobody but the owner may read anything of it
            for p in ("", "/versions", f"/versions/{version_no}", f"/versions/{version_no}/text",
                      "/comparison"):
                probes.append(Probe("api", "GET", f"{a}/{d}{p}", owner, "unpublished declaration"))
            for p in ("", "/history", f"/versions/{version_no}", f"/versions/{version_no}/text"):
                probes.append(Probe("html", "GET", f"/declarations/{d}{p}", owner,
                                    "unpublished declaration"))
        else:  # published, with an open draft: the draft version stays private
            probes.append(Probe("api", "GET", f"{a}/{d}/versions/{version_no}", owner, "open draft"))
            probes.append(Probe("html", "GET", f"/declarations/{d}/versions/{version_no}", owner,
                                "open draft"))
        probes.append(Probe("api", "GET", f"{a}/{d}/draft", owner, "draft"))
        probes.append(Probe("api", "PUT", f"{a}/{d}/draft", owner, "draft", json=body))
        probes.append(Probe("api", "POST", f"{a}/{d}/draft/text", owner, "draft text"))
        for op in ("publish", "revise"):
            probes.append(Probe("api", "POST", f"{a}/{d}/{op}", owner, op))
        probes.append(Probe("api", "POST", f"{a}/{d}/abolish", owner, "abolish",
                            json={"reason": "drills: must be refused"}))
        probes.append(Probe("api", "DELETE", f"{a}/{d}/draft", owner, "discard draft"))
        for p in ("", "/draft", "/abolish"):
            probes.append(Probe("html", "GET", f"/my/declarations/{d}{p}", owner, "manage page"))
        for op in ("draft", "publish", "revise", "discard"):
            probes.append(Probe("html", "POST", f"/my/declarations/{d}/{op}", owner, op,
                                form={"std_name": "drills must be refused"}))
        probes.append(Probe("html", "POST", f"/my/declarations/{d}/abolish", owner, "abolish",
                            form={"reason": "drills: must be refused"}))
        # risk flags: the enterprise itself and the regulator of its region only
        probes.append(Probe("api", "GET", f"/api/v1/supervision/flags/declarations/{d}",
                            bj_regulators, "risk flags"))
        probes.append(Probe("api", "POST", f"/api/v1/supervision/flags/declarations/{d}/recompute",
                            bj_regulators | {"admin"}, "flag recompute"))
        probes.append(Probe("html", "GET", f"/supervision/flags/declarations/{d}", bj_regulators,
                            "risk flags page"))

    decl_probes(draft_only, first["version_no"], _body(first), private=True)
    decl_probes(with_draft, draft["version_no"], _body(draft), private=False)

    # A Chongqing declaration (region 50…): its flags are regulator's, not regulator2's.
    cq = stack.sql("select d.id from declarations d join enterprises e on e.id = d.enterprise_id "
                   "join users u on u.enterprise_id = e.id where e.region_code like '50%%' "
                   "and d.status = 'PUBLISHED' order by d.id limit 1")
    if cq:
        d = cq[0][0]
        owner_user = stack.sql("select u.username from users u join declarations d on "
                               "d.enterprise_id = u.enterprise_id where d.id = %s", (d,))[0][0]
        ok = {"regulator", owner_user}
        probes.append(Probe("api", "GET", f"/api/v1/supervision/flags/declarations/{d}", ok,
                            "risk flags (Chongqing)"))
        probes.append(Probe("html", "GET", f"/supervision/flags/declarations/{d}", ok,
                            "risk flags page (Chongqing)"))

    # Ranking: the demo evaluator's plan, its runs and the objection to its list.
    evaluator = {"evaluator"}
    for plan_id, in stack.sql("select id from evaluation_plans order by id"):
        r = "/api/v1/ranking/plans"
        plan = apis["evaluator"].get(f"{r}/{plan_id}").json()
        probes += [
            Probe("api", "GET", f"{r}/{plan_id}", evaluator, "plan"),
            Probe("api", "PATCH", f"{r}/{plan_id}", evaluator, "plan",
                  json={"title": "drills: must be refused"}),
            Probe("api", "PUT", f"{r}/{plan_id}", evaluator, "plan",
                  json={k: plan[k] for k in ("title",) if k in plan}),
            Probe("api", "POST", f"{r}/{plan_id}/activate", evaluator, "plan"),
            Probe("api", "GET", f"{r}/{plan_id}/jobs", evaluator, "plan jobs"),
            Probe("api", "GET", f"{r}/{plan_id}/runs", evaluator, "plan runs"),
            Probe("api", "POST", f"{r}/{plan_id}/runs", evaluator, "official run", json={}),
            Probe("html", "GET", f"/my/plans/{plan_id}", evaluator, "plan page"),
            Probe("html", "GET", f"/my/plans/{plan_id}/edit", evaluator, "plan edit"),
            Probe("html", "GET", f"/my/plans/{plan_id}/jobs.json", evaluator, "plan jobs"),
            Probe("html", "POST", f"/my/plans/{plan_id}/run", evaluator, "official run", form={}),
            Probe("html", "POST", f"/my/plans/{plan_id}/activate", evaluator, "activate", form={}),
            Probe("html", "POST", f"/my/plans/{plan_id}/edit", evaluator, "plan edit",
                  form={"title": "drills: must be refused"}),
        ]
    for run_id, kind in stack.sql("select id, kind from ranking_runs where kind = 'OFFICIAL'"):
        ru = f"/api/v1/ranking/runs/{run_id}"
        probes += [
            Probe("api", "GET", f"{ru}/exclusions", evaluator, "run exclusions"),
            Probe("api", "GET", f"{ru}/objections", evaluator, "run objections"),
            Probe("api", "POST", f"{ru}/publicity", evaluator, "publicity", json={}),
            Probe("api", "POST", f"{ru}/publish", evaluator, "publish run", json={}),
            Probe("html", "GET", f"/my/runs/{run_id}", evaluator, "run page"),
            Probe("html", "POST", f"/my/runs/{run_id}/publicity", evaluator, "publicity", form={}),
            Probe("html", "POST", f"/my/runs/{run_id}/publish", evaluator, "publish run", form={}),
        ]
    for obj_id, in stack.sql("select id from objections"):
        probes += [
            Probe("api", "POST", f"/api/v1/ranking/objections/{obj_id}/resolve", evaluator,
                  "objection", json={"accept": True, "response": "drills: must be refused"}),
            Probe("html", "POST", f"/my/objections/{obj_id}/resolve", evaluator, "objection",
                  form={"accept": "1", "response": "drills: must be refused"}),
        ]

    # Supervision objects the drill creates: a complaint (anonymous, about a Chongqing
    # enterprise), an inspector and a sampling plan of the Chongqing regulator.
    cq_uscc = stack.sql("select uscc from enterprises where region_code like '50%%' limit 1")
    if cq_uscc:
        r = Api(stack.base).post("/api/v1/supervision/inspections/complaints", json={
            "enterprise_uscc": cq_uscc[0][0], "content": "drills: a complaint to route (举报测试)"})
        row = stack.sql("select max(id) from complaints")[0][0]
        if row is not None:
            c = row
            ci = "/api/v1/supervision/inspections/complaints"
            probes += [
                Probe("api", "GET", f"{ci}/{c}", {"regulator"}, "complaint"),
                Probe("api", "POST", f"{ci}/{c}/dismiss", {"regulator"}, "complaint",
                      json={"reason": "drills: must be refused"}),
                Probe("api", "POST", f"{ci}/{c}/open-check", {"regulator"}, "complaint", json={}),
                Probe("html", "GET", f"/supervision/inspections/complaints/{c}", {"regulator"},
                      "complaint page"),
                Probe("html", "GET", f"/supervision/inspections/complaints/unrouted/{c}",
                      {"regulator", "admin"}, "complaint page"),
                Probe("html", "POST", f"/supervision/inspections/complaints/{c}/dismiss",
                      {"regulator"}, "complaint", form={"reason": "drills: must be refused"}),
            ]
        else:
            res.note(f"complaint not created ({r.status_code}): complaint routes not exercised")
    r = regulator.post("/api/v1/supervision/sampling/inspectors",
                       json={"code": "DRILL-1", "name": "演练检查员"})
    row = stack.sql("select max(i.id) from inspectors i join users u on u.id = i.regulator_id "
                    "where u.username = 'regulator'")[0][0]
    if row is not None:
        i = row
        si = "/api/v1/supervision/sampling/inspectors"
        probes += [
            Probe("api", "GET", f"{si}/{i}", {"regulator"}, "inspector"),
            Probe("api", "PATCH", f"{si}/{i}", {"regulator"}, "inspector",
                  json={"name": "drills must be refused"}),
            Probe("api", "PUT", f"{si}/{i}", {"regulator"}, "inspector",
                  json={"code": "DRILL-1", "name": "drills must be refused"}),
            Probe("html", "GET", f"/supervision/sampling/inspectors/{i}/edit", {"regulator"},
                  "inspector page"),
            Probe("html", "POST", f"/supervision/sampling/inspectors/{i}/edit", {"regulator"},
                  "inspector", form={"code": "DRILL-1", "name": "drills must be refused"}),
            Probe("html", "POST", f"/supervision/sampling/inspectors/{i}/active", {"regulator"},
                  "inspector", form={}),
        ]
    else:
        res.note(f"inspector not created ({r.status_code}): inspector routes not exercised")
    r = regulator.post("/api/v1/supervision/sampling/plans", json={
        "name": "演练抽查计划", "period_start": "2026-01-01", "period_end": "2026-12-31"})
    row = stack.sql("select max(p.id) from sampling_plans p join users u on u.id = p.regulator_id"
                    " where u.username = 'regulator'")[0][0]
    if row is not None:
        p = row
        sp = "/api/v1/supervision/sampling/plans"
        probes += [
            Probe("api", "GET", f"{sp}/{p}", {"regulator"}, "sampling plan"),
            Probe("api", "PATCH", f"{sp}/{p}", {"regulator"}, "sampling plan",
                  json={"name": "drills must be refused"}),
            Probe("api", "GET", f"{sp}/{p}/draws", {"regulator"}, "sampling plan draws"),
            Probe("api", "POST", f"{sp}/{p}/draws", {"regulator"}, "draw", json={}),
            Probe("html", "GET", f"/supervision/sampling/plans/{p}", {"regulator"}, "plan page"),
            Probe("html", "GET", f"/supervision/sampling/plans/{p}/edit", {"regulator"},
                  "plan edit"),
            Probe("html", "POST", f"/supervision/sampling/plans/{p}/draws", {"regulator"},
                  "draw", form={}),
        ]
    else:
        res.note(f"sampling plan not created ({r.status_code} {r.text[:120]}): its routes not "
                 "exercised")

    # Kernel: another user's API token, an outbox job, the catalogue's admin actions.
    tok = stack.sql("select t.id from api_tokens t join users u on u.id = t.user_id "
                    "where u.username = 'ent01' order by t.id limit 1")
    if tok:
        probes.append(Probe("html", "POST", f"/account/tokens/{tok[0][0]}/revoke", owner,
                            "API token", form={}))
    job = stack.sql("select id from outbox_jobs order by id desc limit 1")
    if job:
        probes.append(Probe("html", "POST", f"/admin/jobs/{job[0][0]}/retry", {"admin"},
                            "outbox job", form={}))
    std = stack.sql("select id from standards where status = 'CURRENT' order by id limit 1") or \
        stack.sql("select id from standards order by id limit 1")
    probes.append(Probe("html", "POST", f"/catalogue/standards/{std[0][0]}/withdraw", {"admin"},
                        "standard withdrawal", form={"reason": "drills: must be refused"}))
    probes.append(Probe("api", "POST", "/api/v1/catalogue/import", {"admin"}, "catalogue import",
                        json={}))
    probes.append(Probe("html", "GET", "/admin/jobs", {"admin"}, "operator console"))
    return probes


def _body(v: dict) -> dict:
    from drills.client import draft_body

    return draft_body(v, revision_note="drills: must be refused")


def run(stack, quick: bool) -> Result:
    res = Result("role × object matrix", GOAL)
    apis = {p: (Api(stack.base) if p == "anonymous" else api_for(stack.base, p, pages=True))
            for p in PRINCIPALS}
    for api in apis.values():
        page = api.session.get(api.url("/"), timeout=30)
        m = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        api.csrf = m.group(1) if m else ""
    probes = _objects(stack, apis, res)
    found = 0
    by_kind = {"api": 0, "html": 0}
    refusals: dict[str, dict[int, int]] = {"api": {}, "html": {}}
    # Positive controls: the owner reads each GET route (a refusal of everyone because the URL
    # is wrong would otherwise pass for protection).
    controls_failed = []
    for probe in probes:
        if probe.method == "GET":
            who = sorted(probe.allowed & set(apis))[:1]
            if who:
                api = apis[who[0]]
                r = api.request("GET", probe.path, bearer=probe.kind == "api")
                if r.status_code != 200:
                    controls_failed.append(f"{who[0]} GET {probe.path} → {r.status_code}")
    if controls_failed:
        res.note(f"{len(controls_failed)} owner reads did not answer 200 (those routes prove "
                 f"less): " + "; ".join(controls_failed[:8]))
    res.extra["controls_failed"] = controls_failed
    for probe in probes:
        for principal in PRINCIPALS:
            if principal in probe.allowed:
                continue
            api = apis[principal]
            write = probe.method != "GET"
            if write:
                _wait_quiet(stack)
            before = stack.sql(DIGEST)[0][0] if write else None
            kw: dict = {}
            if probe.kind == "api":
                if probe.json is not None:
                    kw["json"] = probe.json
                r = api.request(probe.method, probe.path, **kw)
            else:
                if write:
                    kw["data"] = {**(probe.form or {}), "csrf_token": api.csrf}
                r = api.request(probe.method, probe.path, bearer=False, **kw)
            res.attempts += 1
            by_kind[probe.kind] += 1
            refusals[probe.kind][r.status_code] = refusals[probe.kind].get(r.status_code, 0) + 1
            if r.status_code >= 500:
                res.server_errors += 1
                res.fail(f"5xx: {principal} {probe.method} {probe.path} → {r.status_code}")
            through = 200 <= r.status_code < 300
            changed = write and stack.sql(DIGEST)[0][0] != before
            if through or changed:
                found += 1
                res.fail(f"IDOR: {principal} {probe.method} {probe.path} ({probe.what}) → "
                         f"{r.status_code}{' and the object changed' if changed else ''}")
    res.idor = found
    res.extra["requests"] = by_kind
    res.extra["answers"] = refusals
    res.note("answers: " + "; ".join(f"{k} {dict(sorted(v.items()))}" for k, v in refusals.items()))
    res.note(f"{by_kind['api']} API and {by_kind['html']} page requests that had to be refused, "
             f"{len(probes)} routes × the principals without a right to the object "
             f"({', '.join(p for p in PRINCIPALS)})")
    res.met = found == 0
    return res
