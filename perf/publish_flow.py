"""Enterprises publishing at once through the API: ``python -m perf.publish_flow``.

Each of ``--clients`` client threads is an enterprise with its API token that, for
``--seconds`` (at most ``--flows`` flows each), creates a declaration (``POST
/api/v1/declarations``, a copy of one of its published declarations with a new standard
number), uploads its text (``POST …/draft/text``, a one-page PDF) and publishes it (``POST
…/publish``), against gunicorn on 127.0.0.1 with ``--workers`` real RQ workers running every
queue (the publications' preview regenerations and risk flags run meanwhile). Reported: p50,
p95 and max of each step and of the whole flow, errors, publications per second, and the
load average; the goal of issue 10 is publish p95 ≤ 150 ms with 0 errors at 10 clients.

It runs on the database of ``python -m perf.pages setup`` (``PERF_DB``, default
``perf_pages``); the declarations it publishes stay there (each run uses new numbers). The
clients are Python threads in this process: on 2 cores they take CPU from the server, which
makes the figures pessimistic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("PERF_DB", "perf_pages")

from perf import run as perf_run  # noqa: E402  (PERF_DB must be set first)
from perf.imports import one_page_pdf  # noqa: E402
from perf.pages import HOST, gunicorn, loadavg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("create", "upload", "publish", "flow")


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def clients_setup(n: int) -> list[dict]:
    """``n`` enterprises of the data, each with an API token and the draft dict of one of its
    published own-standard declarations (the body each flow sends, with a new number)."""
    from sqlalchemy import func, select

    from core.auth import issue_token
    from core.extensions import db
    from core.models import Role, User
    from declare import operations
    from declare.models import Declaration, DeclarationKind, DeclarationStatus

    app = perf_run.make_app(None)
    out = []
    with app.app_context():
        # The first published own standard of each of the first enterprises (by id).
        first = (
            select(func.min(Declaration.id))
            .where(Declaration.status == DeclarationStatus.PUBLISHED,
                   Declaration.kind == DeclarationKind.ENTERPRISE)
            .group_by(Declaration.enterprise_id)
            .order_by(Declaration.enterprise_id)
            .limit(n)
        )
        rows = db.session.scalars(select(Declaration).where(Declaration.id.in_(first))).all()
        run = uuid.uuid4().hex[:6]
        for i, declaration in enumerate(rows):
            user = User(username=f"flow-{run}-{i}", role=Role.ENTERPRISE,
                        enterprise_id=declaration.enterprise_id, password_hash="x")
            db.session.add(user)
            db.session.flush()
            body = _plain(operations.data_of(declaration.current_version))
            for derived in ("revision_note", "std_enterprise_code", "std_sequence", "std_year"):
                body.pop(derived, None)  # derived from std_code, or a revision's
            out.append({"token": issue_token(user, "perf publish flow"), "body": body,
                        "prefix": f"Q/FL{run.upper()}{i:02d}"})
        db.session.commit()
    if len(out) < n:
        raise SystemExit(f"only {len(out)} enterprises with a published own standard")
    return out


def _call(conn, method: str, path: str, token: str, body: bytes, content_type: str):
    conn.request(method, path, body=body,
                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def run_client(port: int, client: dict, flows: int, until: float, pdf: bytes,
               times: dict[str, list[float]], errors: list[str], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    boundary = "perfflow" + uuid.uuid4().hex
    upload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"std.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode() + pdf + (
        f"\r\n--{boundary}--\r\n").encode()
    for k in range(flows):
        if time.perf_counter() >= until:
            break
        body = dict(client["body"], std_code=f"{client['prefix']} {k + 1:05d}-2026")
        mine: dict[str, float] = {}
        try:
            t0 = time.perf_counter()
            status, data = _call(conn, "POST", "/api/v1/declarations", client["token"],
                                 json.dumps(body).encode(), "application/json")
            mine["create"] = time.perf_counter() - t0
            if status != 201:
                raise RuntimeError(f"create {status}: {data[:300]!r}")
            did = json.loads(data)["declaration_id"]
            t1 = time.perf_counter()
            status, data = _call(conn, "POST", f"/api/v1/declarations/{did}/draft/text",
                                 client["token"], upload, f"multipart/form-data; boundary={boundary}")
            mine["upload"] = time.perf_counter() - t1
            if status != 200:
                raise RuntimeError(f"upload {status}: {data[:300]!r}")
            t2 = time.perf_counter()
            status, data = _call(conn, "POST", f"/api/v1/declarations/{did}/publish",
                                 client["token"], b"", "application/json")
            mine["publish"] = time.perf_counter() - t2
            if status != 200:
                raise RuntimeError(f"publish {status}: {data[:300]!r}")
            mine["flow"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001  (counted and shown, never fatal)
            with lock:
                errors.append(str(exc))
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        with lock:
            for step, seconds in mine.items():
                times[step].append(seconds)
    conn.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure(args) -> dict:
    clients = clients_setup(args.clients)
    pdf = one_page_pdf()
    redis_db = int(perf_run.REDIS_URL.rsplit("/", 1)[-1])
    log_dir = Path(tempfile.gettempdir()) / "perf-publish-flow"
    log_dir.mkdir(exist_ok=True)
    with gunicorn(ROOT, args.port, args.gunicorn_workers, redis_db), \
            perf_run.workers(args.workers, log_dir, ["worker", "ranking", "supervision", "default"],
                             prefix="flow-worker"):
        times: dict[str, list[float]] = {s: [] for s in STEPS}
        errors: list[str] = []
        lock = threading.Lock()
        before = loadavg()
        start = time.perf_counter()
        until = start + args.seconds
        threads = [threading.Thread(target=run_client,
                                    args=(args.port, c, args.flows, until, pdf, times, errors, lock))
                   for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + 120)
        wall = time.perf_counter() - start
        after = loadavg()
    result = {
        "clients": args.clients, "workers": args.workers, "gunicorn_workers": args.gunicorn_workers,
        "seconds": round(wall, 1), "flows": len(times["flow"]), "errors": len(errors),
        "error_samples": errors[:3], "publications_per_s": round(len(times["flow"]) / wall, 2),
        "loadavg_before": before, "loadavg_after": after,
        **{f"{s}_ms": {"p50": round(statistics.median(v) * 1000, 1) if v else None,
                       "p95": round(_pct(v, 95) * 1000, 1), "max": round(max(v, default=0) * 1000, 1)}
           for s, v in times.items()},
    }
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m perf.publish_flow",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--flows", type=int, default=200, help="at most this many flows per client")
    p.add_argument("--workers", type=int, default=2, help="RQ workers on every queue")
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--port", type=int, default=8762)
    args = p.parse_args(argv)
    r = measure(args)
    print(json.dumps(r, ensure_ascii=False, indent=2), file=sys.stderr)
    print(f"\n{os.environ['PERF_DB']}: {r['clients']} clients, {r['workers']} RQ workers, "
          f"{r['flows']} flows in {r['seconds']} s ({r['publications_per_s']}/s), "
          f"{r['errors']} errors, load {r['loadavg_before']} → {r['loadavg_after']}\n")
    print("| step | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
    for s in STEPS:
        f = r[f"{s}_ms"]
        print(f"| {s} | {f['p50']} | {f['p95']} | {f['max']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
