"""Fault drills: kill -9 a worker mid-regeneration, Redis down while publishing, PostgreSQL
restarted under load. Each is bounded in loops and seconds.

Publishing is the enterprise's real path through the API: ``POST …/revise`` (a draft copied
from the version in force) then ``POST …/publish``, on declarations no other thread touches.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from drills.client import Api, draft_body
from drills.results import Result
from drills.stack import log

DONE = ("done", "failed")


# --------------------------------------------------------------------------- publishing


class LoginRefused(Exception):
    """The token endpoint did not answer 201 (recorded with its status)."""


class Publisher:
    """Revise-and-publish cycles over many enterprises' declarations, every answer recorded."""

    def __init__(self, stack, *, category_id: int | None = None, exclude_category: int | None = None,
                 limit: int | None = None):
        self.stack = stack
        cond, params = "", []
        if category_id is not None:
            cond = " and exists (select 1 from products p where p.version_id = d.current_version_id" \
                   " and p.category_id = %s)"
            params.append(category_id)
        if exclude_category is not None:
            cond += " and not exists (select 1 from products p where p.version_id = " \
                    "d.current_version_id and p.category_id = %s)"
            params.append(exclude_category)
        rows = stack.sql(
            "select u.username, d.id from declarations d join users u on u.enterprise_id = "
            "d.enterprise_id where d.status = 'PUBLISHED' and u.username like 'ent%%' and not "
            "exists (select 1 from declaration_versions v where v.declaration_id = d.id and "
            "v.status = 'DRAFT') and not exists (select 1 from normative_references r join "
            "standards s on s.id = r.standard_id where r.version_id = d.current_version_id and "
            "s.status = 'WITHDRAWN')" + cond + " order by d.id", params)
        # (A revision citing a withdrawn standard is refused until the citation is changed:
        # right, but not the drills' business.)
        self.pairs = [(u, d) for u, d in rows][:limit]  # limit: as many as the cycles use
        self.apis: dict[str, Api] = {}
        self.lock = threading.Lock()
        self.log: list[dict] = []  # one row per request: t, step, status, declaration, version
        self.accepted: list[tuple[int, int]] = []  # (declaration, version id) answered 200
        self.refusals: list[str] = []  # the first 409/422 answers, for the report

    def api(self, username: str) -> Api:
        """The enterprise's session, logged in on first use (``prepare`` does all at once)."""
        with self.lock:
            api = self.apis.get(username)
        if api is None and username in self.stack.tokens:
            # A token an earlier drill's publisher got: logins are not what the drills time.
            api = Api(self.stack.base, username, token=self.stack.tokens[username])
            with self.lock:
                self.apis[username] = api
        if api is None:
            api = Api(self.stack.base, username)
            r = api.post("/api/v1/auth/tokens", json={
                "username": username, "password": "demo-qiye-2026", "name": "drills"})
            self._record("login", 0, r)
            if r.status_code != 201:
                raise LoginRefused(r.status_code)
            api.token = r.json()["token"]
            with self.lock:
                self.apis[username] = api
                self.stack.tokens[username] = api.token
        return api

    def prepare(self) -> None:
        """Log every enterprise in before a fault (a drill measures publishing, not logins)."""
        with ThreadPoolExecutor(2) as pool:  # gunicorn has 2 workers
            list(pool.map(self.api, sorted({u for u, _ in self.pairs})))

    def _record(self, step: str, decl: int, r, error: str | None = None) -> None:
        now = time.monotonic()
        row = {"t0": now - r.elapsed.total_seconds() if r is not None else now, "t": now,
               "step": step, "declaration": decl,
               "status": r.status_code if r is not None else None,
               "retry_after": r.headers.get("Retry-After") if r is not None else None,
               "error": error}
        with self.lock:
            self.log.append(row)
            if r is not None and r.status_code in (409, 422) and len(self.refusals) < 5:
                self.refusals.append(f"{step} {decl} → {r.status_code} {r.text[:200]}")

    def cycle(self, username: str, decl: int) -> bool:
        """One revision (修订) published: revise, read the draft, save it with a revision note,
        publish. True when the publish answered 200."""
        try:
            api = self.api(username)
        except requests.RequestException as exc:
            self._record("login", decl, None, type(exc).__name__)
            return False
        except LoginRefused:
            return False
        base = f"/api/v1/declarations/{decl}"
        try:
            r = api.post(f"{base}/revise")
            self._record("revise", decl, r)
            if r.status_code not in (201, 422):  # 422: a draft is open (an earlier cycle broke)
                return False
            r = api.get(f"{base}/draft")
            self._record("read draft", decl, r)
            if r.status_code != 200:
                return False
            body = draft_body(r.json(), revision_note=f"drills revision {time.time():.3f}")
            r = api.put(f"{base}/draft", json=body)
            self._record("save draft", decl, r)
            if r.status_code != 200:
                return False
            r = api.post(f"{base}/publish")
            self._record("publish", decl, r)
        except requests.RequestException as exc:
            self._record("request", decl, None, type(exc).__name__)
            return False
        if r.status_code != 200:
            return False
        with self.lock:
            self.accepted.append((decl, r.json()["id"]))
        return True

    def run(self, n: int, threads: int = 2, stop: threading.Event | None = None,
            pace: float = 0.0) -> None:
        """n cycles on ``threads`` threads; thread k only touches declarations k, k+threads…"""
        if not self.pairs:
            raise RuntimeError("no published declaration without a draft to publish")

        def worker(k: int) -> None:
            mine = self.pairs[k::threads]
            for i in range(k, n, threads):
                if stop is not None and stop.is_set():
                    return
                self.cycle(*mine[(i // threads) % len(mine)])
                if pace:
                    time.sleep(pace)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, range(threads)))

    def statuses(self) -> Counter:
        return Counter(r["status"] for r in self.log)

    def lost_writes(self, res: Result) -> int:
        """Accepted publications missing or changed in the database, checked row by row."""
        lost = 0
        for decl, version_id in self.accepted:
            row = self.stack.sql(
                "select v.status, v.declaration_id, (select count(*) from products p where "
                "p.version_id = v.id), (select count(*) from indicators i where i.version_id = "
                "v.id) from declaration_versions v where v.id = %s", (version_id,))
            if not row or row[0][0] not in ("PUBLISHED", "SUPERSEDED") or row[0][1] != decl:
                lost += 1
                res.fail(f"publication of declaration {decl} answered 200 (version {version_id}) "
                         f"but the database has {row}")
        return lost


def partial_writes(stack, decls: set[int], since_version: int, res: Result) -> int:
    """Versions written during the drill whose products or indicators differ in number from the
    version they were copied from (a revision copies both): a half-written revision."""
    rows = stack.sql(
        "select v.id, v.declaration_id, v.status, "
        "(select count(*) from products p where p.version_id = v.id), "
        "(select count(*) from indicators i where i.version_id = v.id), "
        "(select count(*) from products p where p.version_id = b.id), "
        "(select count(*) from indicators i where i.version_id = b.id) "
        "from declaration_versions v join declaration_versions b on b.declaration_id = "
        "v.declaration_id and b.version_no = v.version_no - 1 "
        "where v.id > %s and v.declaration_id = any(%s)", (since_version, list(decls)))
    bad = [r for r in rows if (r[3], r[4]) != (r[5], r[6])]
    drafts = stack.sql(
        "select declaration_id, count(*) from declaration_versions where declaration_id = any(%s)"
        " and status = 'DRAFT' group by 1 having count(*) > 1", (list(decls),))
    for r in bad:
        res.fail(f"version {r[0]} of declaration {r[1]} ({r[2]}): {r[3]} products/{r[4]} "
                 f"indicators, copied from {r[5]}/{r[6]}")
    for d, c in drafts:
        res.fail(f"declaration {d} has {c} open drafts")
    res.extra["versions_checked"] = len(rows)
    return len(bad) + len(drafts)


def max_version_id(stack) -> int:
    return stack.sql("select coalesce(max(id), 0) from declaration_versions")[0][0]


def max_outbox_id(stack) -> int:
    return stack.sql("select coalesce(max(id), 0) from outbox_jobs")[0][0]


def wait_jobs(stack, since: int, seconds: float, func: str = "%") -> tuple[float | None, list]:
    """Seconds until every outbox row after ``since`` (of job functions matching ``func``, a
    LIKE pattern) is done/failed (None if not within ``seconds``), and the rows still open."""
    t0 = time.monotonic()
    while True:
        open_rows = stack.sql("select id, func, status from outbox_jobs where id > %s and "
                              "func like %s and status not in ('done', 'failed') order by id",
                              (since, func))
        if not open_rows:
            return time.monotonic() - t0, []
        if time.monotonic() - t0 > seconds:
            return None, open_rows
        time.sleep(0.25)


def queues_served(stack, seconds: float) -> dict[str, bool]:
    """Send a ping job to every queue (``flask jobs ping``) and wait for the workers to run
    them: whether each queue is served by a live worker now."""
    out = stack.flask("jobs", "ping")
    stamp = out.split()[1]
    deadline = time.monotonic() + seconds
    served: dict[str, bool] = {}
    while time.monotonic() < deadline:
        rows = stack.sql("select key from job_pings where key like %s", (f"%:{stamp}",))
        served = {k.split(":")[0]: True for k, in rows}
        if len(served) >= 3:
            break
        time.sleep(0.25)
    from core.jobs import QUEUES

    return {q: served.get(q, False) for q in QUEUES}


def ensure_workers(stack, res: Result) -> None:
    """Restart any worker that died (a process supervisor would): later drills need them."""
    for name, alive in stack.workers_alive().items():
        if not alive:
            res.note(f"{name} had exited (code {stack.procs[name].returncode}); restarted for "
                     "the next drills")
            stack.procs.pop(name)
            argv = ["worker"] if name == "worker" else ["worker", "ranking", "--no-fork"]
            import sys

            stack.spawn(name, [sys.executable, "-m", "flask", "--app", "wsgi", *argv])


# --------------------------------------------------------------------------- kill -9


def inflate_category(stack, category_id: int, copies: int) -> int:
    """Copy the category's published declarations ``copies`` times, set-based in SQL (values
    jittered by ±3 % so ranking has work); returns the category's published declarations."""

    def cols(table: str) -> list[str]:
        return [r[0] for r in stack.sql(
            "select column_name from information_schema.columns where table_name = %s and "
            "column_name <> 'id' order by ordinal_position", (table,))]

    def copy(table: str, src_join: str, overrides: dict[str, str]) -> str:
        c = cols(table)
        exprs = [overrides.get(x, f"s.{x}") for x in c]
        return f"insert into {table} ({', '.join(c)}) select {', '.join(exprs)} from {src_join}"

    # The copies belong to enterprises of their own (one per copy round): an enterprise may
    # not declare one standard twice, and the originals must stay editable.
    stack.sql(f"""
        insert into enterprises (uscc, name, region_code, address, contact_name, contact_phone,
                                 created_at)
        select 'DRL' || lpad(g::text, 15, '0'), '演练复制企业 ' || g, '500108', '', '', '', now()
        from generate_series(1, {int(copies)}) g
        on conflict (uscc) do nothing
    """, fetch=False)
    stack.sql(f"""
        create table drills_src as
          select d.id as decl_id, d.current_version_id as ver_id, g, e.id as ent_id,
                 nextval('declarations_id_seq') as nd, nextval('declaration_versions_id_seq') as nv
          from declarations d cross join generate_series(1, {int(copies)}) g
          join enterprises e on e.uscc = 'DRL' || lpad(g::text, 15, '0')
          where d.status = 'PUBLISHED' and exists (select 1 from products p
            where p.version_id = d.current_version_id and p.category_id = {int(category_id)})
    """, fetch=False)
    decl_cols = cols("declarations")
    stack.sql(
        f"insert into declarations (id, {', '.join(decl_cols)}) select m.nd, "
        + ", ".join({"current_version_id": "null", "enterprise_id": "m.ent_id"}.get(c, f"s.{c}")
                    for c in decl_cols)
        + " from drills_src m join declarations s on s.id = m.decl_id", fetch=False)
    ver_cols = cols("declaration_versions")
    stack.sql(
        f"insert into declaration_versions (id, {', '.join(ver_cols)}) select m.nv, "
        + ", ".join({"declaration_id": "m.nd", "version_no": "1", "text_attachment_id": "null"}
                    .get(c, f"s.{c}") for c in ver_cols)
        + " from drills_src m join declaration_versions s on s.id = m.ver_id", fetch=False)
    stack.sql("update declarations d set current_version_id = m.nv from drills_src m "
              "where d.id = m.nd", fetch=False)
    stack.sql(copy("products", "drills_src m join products s on s.version_id = m.ver_id",
                   {"version_id": "m.nv", "model": "s.model || '-D' || m.g", "barcode": "''"}),
              fetch=False)
    stack.sql(copy("indicators", "drills_src m join indicators s on s.version_id = m.ver_id",
                   {"version_id": "m.nv",
                    "value": "case when s.value is null then null else "
                             "round((s.value * (0.97 + random() * 0.06))::numeric, 2)::float end"}),
              fetch=False)
    stack.sql("drop table drills_src", fetch=False)
    stack.sql("analyze", fetch=False)
    return stack.sql("select count(*) from declarations d where d.status = 'PUBLISHED' and exists "
                     "(select 1 from products p where p.version_id = d.current_version_id and "
                     "p.category_id = %s)", (category_id,))[0][0]


def kill_drill(stack, quick: bool) -> Result:
    res = Result("kill -9 a worker mid-regeneration",
                 "old leaderboard served; job re-run within 60 s; 0 lost")
    budget = 30 if quick else 120
    plan_id, plan_key, category_id = stack.sql(
        "select id, plan_key, category_id from evaluation_plans where status = 'ACTIVE' "
        "order by id limit 1")[0]
    size = inflate_category(stack, category_id, 600 if quick else 2500)
    res.note(f"category {category_id}: {size} published declarations (set-based copies)")
    # A first regeneration over the big category, untimed: the leaderboard readers start from.
    pub = Publisher(stack, category_id=category_id)
    pub.prepare()
    since = max_outbox_id(stack)
    pub.cycle(*pub.pairs[0])
    # Ranking jobs only: the supervision queue may still be busy with the uploads drill.
    took, _ = wait_jobs(stack, since, 180, "ranking.%")
    first = stack.sql("select max(finished_at - started_at) from outbox_jobs where id > %s and "
                      "func like '%%regenerate_preview'", (since,))[0][0]
    res.note(f"a regeneration of that category took {first} (job run time)")

    stop = threading.Event()
    reads: list[tuple[int, int | None]] = []
    read_errors = Counter()
    reader = Api(stack.base)

    def read() -> None:
        while not stop.is_set():
            try:
                r = reader.get(f"/api/v1/ranking/leaderboards/{plan_key}", timeout=15)
                preview = (r.json().get("preview") or {}).get("id") if r.status_code == 200 else None
                reads.append((r.status_code, preview))
            except (requests.RequestException, ValueError) as exc:
                read_errors[type(exc).__name__] += 1
            time.sleep(0.05)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
    for t in readers:
        t.start()
    since = max_outbox_id(stack)
    before_kill_version = max_version_id(stack)
    # A regeneration of the quick run's category takes a fraction of a second: a kill that
    # came after the job ended proves nothing, so up to 3 publications are tried until a kill
    # lands while the job runs (a worker is started again after each kill).
    for attempt in range(3):
        job, victim, state = _kill_running_regeneration(stack, pub, attempt + 1, quick, stop)
        t_kill = time.monotonic()
        after = stack.sql("select status from outbox_jobs where id = %s", (job[0],))[0][0]
        hit = state == "running" and after != "done"
        res.note(f"killed {victim} (kill -9 of its process group) while outbox job {job[0]} was "
                 f"{state if hit else 'already done'}; a new {victim} started at once, as a "
                 "process supervisor would")
        if hit:
            break
    res.extra["kill_landed_mid_job"] = hit
    if not hit:
        res.fail("no kill landed while a regeneration ran (3 tries): the drill proved nothing")
    res.attempts = 1
    # Job re-run: the killed row done, and every later job too.
    rerun = None
    while time.monotonic() - t_kill < budget:
        st = stack.sql("select status from outbox_jobs where id = %s", (job[0],))[0][0]
        if st == "done":
            rerun = time.monotonic() - t_kill
            break
        time.sleep(0.25)
    rest, open_rows = wait_jobs(stack, since, max(1.0, budget - (time.monotonic() - t_kill)),
                                "ranking.%")
    stop.set()
    for t in readers:
        t.join(timeout=20)
    res.staleness_s = rerun if rerun is not None else float(budget)
    res.staleness_capped = rerun is None
    res.lost_jobs = len(open_rows)
    for r in open_rows:
        res.fail(f"outbox job {r[0]} {r[1]} still {r[2]} {budget} s after the kill")
    if rerun is None:
        res.fail(f"the killed job {job[0]} was not re-run within {budget} s (reproduce: publish a "
                 f"revision in category {category_id}, kill -9 the worker running "
                 "ranking.tasks.regenerate_preview, watch outbox_jobs.status)")
    # Readers: any non-200, any preview run that was not complete when it was served. A run is
    # written whole in one transaction, so a served run is complete when its entries are all
    # there; it may have been superseded by a later regeneration since (that is not partial).
    codes = Counter(c for c, _ in reads)
    non200 = sum(n for c, n in codes.items() if c != 200) + sum(read_errors.values())
    partial = 0
    for run_id in {p for _, p in reads if p}:
        st, count, n = stack.sql(
            "select r.status, r.entry_count, (select count(*) from run_entries e where e.run_id = "
            "r.id) from ranking_runs r where r.id = %s", (run_id,))[0]
        if st not in ("COMPUTED", "SUPERSEDED") or count != n:
            partial += sum(1 for _, p in reads if p == run_id)
            res.fail(f"readers were served run {run_id} ({st}, {n} of {count} entries)")
    res.server_errors = sum(n for c, n in codes.items() if c >= 500)
    res.attempts = len(reads) + 1
    res.lost_writes = pub.lost_writes(res) + partial_writes(
        stack, {d for d, _ in pub.accepted}, before_kill_version, res)
    res.extra.update(reads=len(reads), read_statuses=dict(codes), read_errors=dict(read_errors),
                     partial_reads=partial, rerun_seconds=rerun, killed_job=job[0])
    res.note(f"{len(reads)} leaderboard reads during the drill: {dict(codes)}, "
             f"{partial} partial, {sum(read_errors.values())} connection errors")
    res.met = (non200 == 0 and partial == 0 and rerun is not None and rerun <= 60
               and res.lost_jobs == 0 and res.lost_writes == 0 and hit)
    ensure_workers(stack, res)
    return res


def _kill_running_regeneration(stack, pub, k: int, quick: bool, stop) -> tuple:
    """Publish in the big category, wait for its regeneration to run, kill -9 the worker that
    runs it and start another at once. Returns (outbox row, worker name, row status before)."""
    since = max_outbox_id(stack)
    pub.cycle(*pub.pairs[k % len(pub.pairs)])
    # Wait for the regeneration to start, then kill the worker process that runs it.
    deadline = time.monotonic() + 30
    job = None
    while time.monotonic() < deadline and job is None:
        rows = stack.sql("select id, rq_job_id from outbox_jobs where id > %s and status = "
                         "'running' and func like '%%regenerate_preview' order by id", (since,))
        job = rows[0] if rows else None
        if job is None:
            time.sleep(0.02)
    if job is None:
        stop.set()
        raise RuntimeError("no regeneration started within 30 s of the publication; "
                           f"publish answers {dict(pub.statuses())}, refusals {pub.refusals}")
    if not quick:
        time.sleep(0.3)  # well inside the job (it runs a second or more)
    victim = None
    for w in stack.rq_workers():
        if w.get_current_job_id() == job[1]:
            victim = next((n for n, p in stack.procs.items()
                           if n.startswith("worker") and _in_group(w.pid, p.pid)), None)
    victim = victim or "worker-ranking"
    state = stack.sql("select status from outbox_jobs where id = %s", (job[0],))[0][0]
    argv = stack.procs[victim].args
    stack.kill(victim, signal.SIGKILL)
    stack.spawn(victim, list(argv))
    return job, victim, state


def _inflated_category(stack) -> int | None:
    """The category ``kill_drill`` inflates (the active plan's), if it did."""
    rows = stack.sql("select e.category_id from evaluation_plans e where e.status = 'ACTIVE' "
                     "and exists (select 1 from enterprises where uscc like 'DRL%%') "
                     "order by e.id limit 1")
    return rows[0][0] if rows else None


def _in_group(pid: int, leader: int) -> bool:
    import os

    try:
        return os.getpgid(pid) == leader
    except OSError:
        return False


# --------------------------------------------------------------------------- Redis down


def redis_drill(stack, quick: bool) -> Result:
    n, outage = (30, 5.0) if quick else (400, 60.0)
    budget = 30 if quick else 120
    res = Result(f"Redis down {outage:.0f} s during {n} publications",
                 "all saved; every job run within 60 s of Redis returning, no hand step; "
                 "workers still up")
    # The quick run publishes outside the category the kill drill inflated: a publication
    # there starts risk-flag jobs of ~10 s each (they compare with the whole category), and
    # the wait for every job measured those jobs' run time, not the workers' return.
    pub = Publisher(stack, exclude_category=_inflated_category(stack) if quick else None,
                    limit=n)
    pub.prepare()
    since, since_version = max_outbox_id(stack), max_version_id(stack)
    stop_load = threading.Event()
    t_back: list[float] = []

    def outage_thread() -> None:
        # Let a quarter of the cycles through first (or 3 s), then stop Redis for the outage.
        t0 = time.monotonic()
        while len(pub.accepted) < n // 4 and time.monotonic() - t0 < (3 if quick else 20):
            time.sleep(0.05)
        log(f"Redis down for {outage:.0f} s")
        stack.kill("redis", signal.SIGKILL)
        time.sleep(outage)
        stack.start_redis()
        t_back.append(time.monotonic())
        log("Redis back")

    th = threading.Thread(target=outage_thread)
    th.start()
    # Paced so the n cycles span the outage (about 2 cycles a second on 2 cores).
    pub.run(n, threads=2, stop=stop_load, pace=0.0 if quick else 0.15)
    th.join()
    took, open_rows = wait_jobs(stack, since, budget)
    codes = pub.statuses()
    res.attempts = len(pub.log)
    res.server_errors = sum(v for k, v in codes.items() if k is not None and k >= 500)
    errors = codes.get(None, 0)
    res.lost_writes = pub.lost_writes(res) + partial_writes(
        stack, {d for _, d in pub.pairs}, since_version, res)
    res.lost_jobs = len(open_rows)
    res.staleness_s = took if took is not None else float(budget)
    res.staleness_capped = took is None
    for r in open_rows[:10]:
        res.fail(f"outbox job {r[0]} {r[1]} still {r[2]} {budget} s after Redis returned")
    alive = stack.workers_alive()
    served = queues_served(stack, 30)
    res.extra.update(statuses={str(k): v for k, v in codes.items()}, accepted=len(pub.accepted),
                     workers_alive=alive, queues_served=served, jobs_seconds=took,
                     refusals=pub.refusals, errors=dict(Counter(r["error"] for r in pub.log
                                                                if r["error"])))
    res.note(f"{len(pub.accepted)} publications accepted of {n} cycles, answers {dict(codes)}"
             + (f", {errors} without an answer: {res.extra['errors']}" if errors else ""))
    res.note(f"after Redis returned: worker processes alive {alive}, a ping job run on each "
             f"queue within 30 s {served}; "
             + (f"every job done in {took:.1f} s" if took is not None else
                f"{len(open_rows)} jobs still open after {budget} s"))
    if not all(alive.values()):
        res.fail("a worker quit during the Redis outage (see logs/worker*.log); reproduce: stop "
                 "Redis for 60 s under a running `flask worker`")
    if not all(served.values()):
        res.fail(f"queues not served after the outage: {served}")
    res.met = (res.server_errors == 0 and res.lost_writes == 0 and res.lost_jobs == 0
               and took is not None and took <= 60 and all(alive.values())
               and all(served.values()))
    ensure_workers(stack, res)
    return res


# --------------------------------------------------------------------------- PostgreSQL


def postgres_drill(stack, quick: bool) -> Result:
    before, outage, after = (2.0, 3.0, 4.0) if quick else (10.0, 15.0, 20.0)
    res = Result("PostgreSQL restarted under load",
                 "only 503s with Retry-After during the outage; 0 partial writes")
    pub = Publisher(stack)
    pub.prepare()
    since_version = max_version_id(stack)
    stop = threading.Event()
    reads: list[dict] = []
    reader = Api(stack.base)

    def read() -> None:
        while not stop.is_set():
            t = time.monotonic()
            try:
                r = reader.get("/api/v1/declarations?page_size=5", timeout=15)
                reads.append({"t0": t, "t": time.monotonic(), "status": r.status_code,
                              "retry_after": r.headers.get("Retry-After")})
            except requests.RequestException as exc:
                reads.append({"t0": t, "t": time.monotonic(), "status": None, "retry_after": None,
                              "error": type(exc).__name__})
            time.sleep(0.05)

    th_read = threading.Thread(target=read, daemon=True)
    th_read.start()
    load = threading.Thread(target=pub.run, kwargs=dict(n=100000, threads=2, stop=stop, pace=0.05))
    load.start()
    time.sleep(before)
    log(f"PostgreSQL down for {outage:.0f} s")
    t_down = time.monotonic()
    stack.stop_postgres("fast")
    time.sleep(outage)
    stack.start_postgres()
    t_up = time.monotonic()
    log("PostgreSQL back")
    time.sleep(after)
    stop.set()
    load.join(timeout=60)
    th_read.join(timeout=20)
    rows = pub.log + reads
    # A request overlapping the outage (sent before, answered after the stop) may rightly be
    # a 503: its database went away under it.
    during = [r for r in rows if r["t0"] <= t_up and r["t"] >= t_down]
    outside = [r for r in rows if not (r["t0"] <= t_up and r["t"] >= t_down)]
    ok_503 = sum(1 for r in during if r["status"] == 503 and r["retry_after"])
    bad_during = [r for r in during if r["status"] is None or
                  (r["status"] >= 500 and not (r["status"] == 503 and r["retry_after"]))]
    bad_outside = [r for r in outside if r["status"] is None or r["status"] >= 500]
    res.attempts = len(rows)
    res.server_errors = sum(1 for r in rows if r["status"] is not None and r["status"] >= 500
                            and not (r["status"] == 503 and r["retry_after"]))
    during_codes = Counter(r["status"] for r in during)
    res.note(f"{len(during)} requests during the {outage:.0f} s outage: {dict(during_codes)} "
             f"({ok_503} were 503 with Retry-After); {len(outside)} before/after: "
             f"{dict(Counter(r['status'] for r in outside))}")
    if bad_during:
        res.fail(f"{len(bad_during)} answers during the outage were not a 503 with Retry-After "
                 f"({dict(Counter(r['status'] for r in bad_during))}); reproduce: "
                 "`pg_ctl stop` then GET /api/v1/declarations")
    if bad_outside:
        res.fail(f"{len(bad_outside)} 5xx or connection errors outside the outage window")
    decls = {d for _, d in pub.pairs}
    res.lost_writes = pub.lost_writes(res) + partial_writes(stack, decls, since_version, res)
    res.note(f"{len(pub.accepted)} publications accepted, {res.extra.get('versions_checked', 0)} "
             "versions written during the drill checked row by row")
    res.extra.update(during=dict((str(k), v) for k, v in during_codes.items()),
                     accepted=len(pub.accepted), refusals=pub.refusals,
                     errors=dict(Counter(r.get("error") for r in rows if r.get("error"))))
    if res.extra["errors"]:
        res.note(f"requests without an answer: {res.extra['errors']}")
    ensure_workers(stack, res)
    res.met = not bad_during and not bad_outside and res.lost_writes == 0
    return res
