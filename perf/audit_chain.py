"""What the audit hash chain costs on a publish (core.audit_chain), on PostgreSQL.

    python -m perf.audit_chain                 # 150 publishes each way, then 4 threads x 40
    python -m perf.audit_chain --publishes 50 --threads 2 --per-thread 20

Creates a scratch database (``PERF_AUDIT_DB``, default ``perf_audit``) on the PostgreSQL of
``PERF_PG_HOST``/``PERF_PG_PORT``/``PERF_PG_USER`` (127.0.0.1:5432, postgres), drops it at the
end. Each publish is the service's own path: ``create_draft`` of a catalogue-standard
declaration, ``publish``, commit (one transaction each, as a request). Measured with the chain
(the ``before_commit`` seal: advisory lock, head read, read-back and UPDATE of the rows) and
without it (the listener removed: rows stay unsealed), sequentially and with concurrent
writers (threads, each with its own connection: the lock serialises only the seal). The time
inside ``seal`` is summed separately. Prints a Markdown table with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.orm import Session


def _url(db: str) -> str:
    host = os.environ.get("PERF_PG_HOST", "127.0.0.1")
    port = os.environ.get("PERF_PG_PORT", "5432")
    user = os.environ.get("PERF_PG_USER", "postgres")
    return f"postgresql+psycopg://{user}@{host}:{port}/{db}"


def _admin(sql: str) -> None:
    engine = create_engine(_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Timer:
    """Sums the time spent in ``audit_chain.seal`` (per thread-safe add)."""

    def __init__(self):
        self.total = 0.0
        self.calls = 0
        self.lock = threading.Lock()

    def wrap(self, seal):
        def timed(conn):
            start = time.perf_counter()
            try:
                return seal(conn)
            finally:
                with self.lock:
                    self.total += time.perf_counter() - start
                    self.calls += 1
        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishes", type=int, default=150)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-thread", type=int, default=40)
    args = parser.parse_args()
    name = os.environ.get("PERF_AUDIT_DB", "perf_audit")
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        rows = run(_url(name), args)
    finally:
        if _APP is not None:
            from core.extensions import db

            with _APP.app_context():
                db.engine.dispose()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("| measure | with the chain | without | load average (1/5/15 min) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} |")


_APP = None


def run(url: str, args) -> list[tuple]:
    global _APP
    from app import create_app
    from core import audit_chain
    from core.extensions import db
    from core.models import AuditLog
    from tests.factories import make_enterprise_user, seed_small_catalogue

    app = _APP = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                             "TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"})
    timer = Timer()
    audit_chain.seal = timer.wrap(audit_chain.seal)  # the listener looks it up by name
    with app.app_context():
        db.create_all()
        catalogue = seed_small_catalogue()
        db.session.commit()
        enterprises = [make_enterprise_user().enterprise_id for _ in range(2 * (
            args.threads + 1))]
        db.session.commit()
        catalogue_ids = {"std": catalogue["gbt7725"].id, "cat": catalogue["room_ac"].id}

    def publish_many(enterprise_id: int, n: int, tag: str) -> list[float]:
        from declare import operations
        from declare.models import Enterprise

        times = []
        with app.test_request_context():
            for i in range(n):
                start = time.perf_counter()
                enterprise = db.session.get(Enterprise, enterprise_id)
                version = operations.create_draft(enterprise, {
                    "kind": "catalogue", "standard_id": catalogue_ids["std"],
                    "commitment_accepted": True,
                    "products": [{"name": f"柜式空调 {tag}{i}", "model": f"KFR-{tag}{i}",
                                  "category_id": catalogue_ids["cat"]}],
                })
                operations.publish(version)
                db.session.commit()
                times.append(time.perf_counter() - start)
            db.session.remove()
        return times

    def concurrent(offset: int, tag: str) -> float:
        results: list = [None] * args.threads

        def work(k: int) -> None:
            with app.app_context():
                results[k] = publish_many(enterprises[offset + k], args.per_thread, f"{tag}{k}-")

        threads = [threading.Thread(target=work, args=(k,)) for k in range(args.threads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        assert all(r is not None for r in results), "a writer thread failed"
        return args.threads * args.per_thread / elapsed

    listener = audit_chain._seal_before_commit
    rows = []
    with app.app_context():
        publish_many(enterprises[0], 5, "warm")  # warm caches and connections
        timer.total, timer.calls = 0.0, 0
        with_chain = publish_many(enterprises[0], args.publishes, "a")
        load_seq_on = _load()
        seal_ms = 1000 * timer.total / max(timer.calls, 1)
        entries = db.session.scalar(select(func.count()).select_from(AuditLog))
        per_publish = entries / (args.publishes + 5)
        event.remove(Session, "before_commit", listener)
        try:
            without = publish_many(enterprises[1], args.publishes, "b")
            load_seq_off = _load()
            rate_off = concurrent(2 + args.threads, "d")
            load_conc_off = _load()
        finally:
            event.listen(Session, "before_commit", listener)
        rate_on = concurrent(2, "c")
        load_conc_on = _load()
        # The rows written without the chain, sealed now: the whole chain must verify.
        with db.engine.begin() as conn:
            audit_chain.seal(conn)
            ok = audit_chain.verify(conn).ok
        db.session.remove()

    def ms(values):
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        return f"median {1000 * statistics.median(values):.1f} ms, p95 {1000 * p95:.1f} ms"

    rows.append((f"one publish (create_draft + publish + commit), {args.publishes} in a row",
                 ms(with_chain), ms(without), f"{load_seq_on} / {load_seq_off}"))
    rows.append(("time in the seal (lock, head, read-back, UPDATE) per publish",
                 f"{seal_ms:.2f} ms for {per_publish:.1f} audit rows", "—", load_seq_on))
    rows.append((f"publishes per second, {args.threads} threads x {args.per_thread}",
                 f"{rate_on:.1f}/s", f"{rate_off:.1f}/s", f"{load_conc_on} / {load_conc_off}"))
    rows.append(("chain verifies afterwards", "yes" if ok else "NO", "—", _load()))
    return rows


if __name__ == "__main__":
    main()
