"""The drills' own service stack: a PostgreSQL cluster, a Redis, gunicorn and real workers.

Everything runs on 127.0.0.1 on free ports, in one temporary folder, so a drill can kill or
restart any part without touching the shared PostgreSQL (5432) and Redis (6379) other people
use. ``Stack`` is a context manager: on exit (normal, failure, Ctrl-C) it kills every process
group it started and removes the folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@contextmanager
def phase(timings: dict[str, float], name: str):
    """Time one phase (start-up step or drill): logged as a line, kept in ``timings``."""
    t = time.monotonic()
    try:
        yield
    finally:
        timings[name] = round(time.monotonic() - t, 1)
        log(f"phase {name}: {timings[name]:.1f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc: no psutil needed)."""
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pg_bin() -> Path:
    """The newest PostgreSQL server binaries installed (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise SystemExit("drills: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class Stack:
    """Own PostgreSQL + Redis + gunicorn (2 workers) + a forked and a --no-fork RQ worker."""

    def __init__(self, quick: bool = False, timings: dict[str, float] | None = None):
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="qibiao-drills-"))
        self.tmp.chmod(0o755)
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.pg_port, self.redis_port, self.web_port = free_port(), free_port(), free_port()
        self.pg_dir = self.tmp / "pg"
        self.procs: dict[str, subprocess.Popen] = {}
        self._sql_local = threading.local()  # sql(): a connection per thread, reused
        self._sql_lock = threading.Lock()
        self._sql_conns: list = []
        self.tokens: dict[str, str] = {}  # API tokens of the publishing enterprises (faults)
        # seconds per phase of start-up and shut-down (``phase``)
        self.timings: dict[str, float] = {} if timings is None else timings
        self._log_files: list = []
        self.pg_bin = pg_bin()
        self.database_url = f"postgresql+psycopg://postgres@{HOST}:{self.pg_port}/qibiao"
        self.dsn = f"host={HOST} port={self.pg_port} user=postgres dbname=qibiao"
        self.redis_url = f"redis://{HOST}:{self.redis_port}/0"
        self.base = f"http://{HOST}:{self.web_port}"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Stack:
        """Start everything, overlapping what does not depend on each other: Redis while the
        cluster is initialised; gunicorn and the workers (they need the database to exist,
        not its data) while the schema, the catalogue, the demo data and the extra accounts
        are loaded in one process (drills.load)."""
        try:
            with phase(self.timings, "postgres + redis"):
                self.spawn_redis()
                with phase(self.timings, "postgres"):
                    self.start_postgres(init=True)
                self.wait_for(self.redis_ping, "Redis", 20)
            with phase(self.timings, "data + web + workers"):
                loader = self.spawn_load()
                with phase(self.timings, "web + workers up"):
                    self.spawn_web()
                    self.spawn_workers()
                    self.wait_for(self.web_up, "gunicorn", 60)
                    self.wait_for(lambda: len(self.rq_workers()) >= 2, "RQ workers", 60)
                self.wait_load(loader)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with phase(self.timings, "shut-down"):
            self._close()

    def _close(self) -> None:
        self.close_sql()
        with phase(self.timings, "shut-down: processes"):
            for name in list(self.procs):
                self.kill(name)
        with phase(self.timings, "shut-down: postgres"), suppress(Exception):
            self._pg_ctl("stop", "-m", "immediate", check=False, timeout=30)
        for f in self._log_files:
            with suppress(Exception):
                f.close()
        keep = os.environ.get("DRILLS_KEEP_LOGS")
        if keep:
            with suppress(Exception):
                shutil.copytree(self.logs, keep, dirs_exist_ok=True)
        with phase(self.timings, "shut-down: files"):
            # The cluster's files (hundreds of MB after the kill drill's copies) are removed by
            # a detached `rm -rf` of the renamed folder: ~5 s of disk work nobody waits for.
            gone = self.tmp.with_name(self.tmp.name + "-removing")
            try:
                self.tmp.rename(gone)
                subprocess.Popen(["rm", "-rf", "--", str(gone)], start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ processes

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in {"FLASK_APP", "JOB_RETRY_INTERVALS"}}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SECRET_KEY="drills-secret",
            UPLOAD_DIR=str(self.tmp / "uploads"),
            # The drills log in ~20 times a minute from one address (tokens, pages, roles):
            # the login bucket is not what they test.
            LOGIN_RATE_LIMIT="1000 per minute",
            COMPLAINT_RATE_LIMIT="1000 per minute",
            OBJECTION_RATE_LIMIT="1000 per minute",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        if self.quick:
            # The CI-sized run checks the mechanisms (a dead worker's job re-run, jobs re-sent
            # after Redis returns), not the production timings: the full run keeps those.
            # The prune of old previews is a job held 30 s in RQ on purpose (debounced): the
            # redis drill waits for every job, so it waited for that delay, not for a worker.
            env.update(JOB_HEARTBEAT_SECONDS="1", JOB_DEAD_AFTER_SECONDS="4",
                       JOB_MAINTENANCE_SECONDS="1", JOB_FLUSH_AFTER_SECONDS="2",
                       RANKING_PRUNE_DELAY_SECONDS="2",
                       # scrypt costs 0.3-0.5 s of CPU a hash: ~40 demo accounts and ~80 logins
                       # were a third of the run on 2 cores. pbkdf2 is still a real hash.
                       PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
        env.update(extra)
        return env

    def spawn(self, name: str, argv: list[str], **extra_env: str) -> subprocess.Popen:
        """Start a process in its own session (its group is killed as one) logging to logs/."""
        logf = open(self.logs / f"{name}.log", "a")  # noqa: SIM115  (closed in close())
        self._log_files.append(logf)
        proc = subprocess.Popen(
            argv, cwd=str(ROOT), env=self.env(**extra_env), stdout=logf,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process, its group and every descendant (RQ work horses call setsid, so
        they leave the worker's group: a group kill alone would orphan a running horse)."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        family = descendants(proc.pid)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        for pid in family:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)

    def flask(self, *args: str, timeout: float = 600) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=str(ROOT),
            env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if out.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    # ------------------------------------------------------------------ PostgreSQL

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root: drop to the postgres account.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _pg_ctl(self, *args: str, check: bool = True, timeout: float = 120):
        return subprocess.run(
            self._as_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_dir), *args]),
            capture_output=True, text=True, check=check, timeout=timeout,
        )

    def start_postgres(self, init: bool = False) -> None:
        if init:
            self.pg_dir.mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.pg_dir, "postgres", "postgres")
                os.chmod(self.logs, 0o777)
            subprocess.run(
                self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(self.pg_dir), "-U",
                                   "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
                                   "--no-sync"]),
                check=True, capture_output=True, text=True, timeout=180,
            )
        opts = (f"-p {self.pg_port} -k {self.pg_dir} -c listen_addresses={HOST} "
                "-c fsync=off -c max_connections=200 -c shared_buffers=128MB")
        self._pg_ctl("start", "-w", "-t", "60", "-o", opts, "-l", str(self.logs / "postgres.log"))
        if init:
            subprocess.run(
                [str(self.pg_bin / "createdb"), "-h", HOST, "-p", str(self.pg_port), "-U",
                 "postgres", "qibiao"], check=True, capture_output=True, text=True, timeout=60,
            )

    def stop_postgres(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-m", mode, "-w", "-t", "60")

    # ------------------------------------------------------------------ Redis

    def start_redis(self) -> None:
        self.spawn_redis()
        self.wait_for(self.redis_ping, "Redis", 20)

    def spawn_redis(self) -> None:
        self.spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", HOST,
                             "--save", "", "--appendonly", "no", "--dir", str(self.tmp)])

    def redis_ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    # ------------------------------------------------------------------ service

    #: The data every drill starts from: the service's own commands, in this order.
    LOAD = (("setup-db",), ("catalogue", "load", "--confirm"), ("demo", "load"))

    def load_commands(self) -> list[tuple[str, ...]]:
        from drills.client import extra_account_commands

        return [*self.LOAD, *extra_account_commands()]

    def spawn_load(self) -> subprocess.Popen:
        """The schema, the catalogue, the demo data and the extra accounts (drills.client),
        by the ``flask`` commands in one process (``python -m drills.load``)."""
        log("schema (flask setup-db), catalogue, demo data, extra accounts")
        argv = [sys.executable, "-m", "drills.load"]
        for cmd in self.load_commands():
            argv += [*cmd, "--"]
        return self.spawn("load", argv)

    def wait_load(self, proc: subprocess.Popen, seconds: float = 600) -> None:
        try:
            code = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"loading the data took over {seconds:.0f} s") from None
        self.procs.pop("load", None)
        for line in self.tail("load", 40).splitlines():
            if line.startswith("flask ") and line.endswith(" s"):
                name, _, secs = line.rpartition(": ")
                self.timings["data: " + " ".join(name.split()[1:3])] = float(secs[:-2])
        if code:
            raise RuntimeError(f"loading the data failed ({code}):\n{self.tail('load', 60)}")

    def spawn_web(self) -> None:
        self.spawn("web", [sys.executable, "-m", "gunicorn", "-w", "2", "-b",
                           f"{HOST}:{self.web_port}", "--timeout", "30", "wsgi:app"])

    def web_up(self) -> bool:
        try:
            return requests.get(self.base + "/api/v1/openapi.json", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def spawn_workers(self) -> None:
        """A forked worker on every queue and a ``--no-fork`` ranking worker (the README setup)."""
        self.spawn("worker", [sys.executable, "-m", "flask", "--app", "wsgi", "worker"])
        self.spawn("worker-ranking", [sys.executable, "-m", "flask", "--app", "wsgi", "worker",
                                      "ranking", "--no-fork"])

    def rq_workers(self) -> list:
        import redis
        from rq import Worker

        try:
            return Worker.all(connection=redis.Redis.from_url(self.redis_url, socket_timeout=2))
        except redis.RedisError:
            return []

    def workers_alive(self) -> dict[str, bool]:
        return {n: p.poll() is None for n, p in self.procs.items() if n.startswith("worker")}

    def wait_for(self, check, what: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if check():
                return
            for name, proc in self.procs.items():
                code = proc.poll()
                if code is not None and (name in ("web", "redis") or (name == "load" and code)):
                    raise RuntimeError(f"{name} exited: see {self.logs / (name + '.log')}:\n"
                                       + self.tail(name))
            time.sleep(0.2)
        raise RuntimeError(f"{what} not up within {seconds:.0f} s")

    def tail(self, name: str, lines: int = 30) -> str:
        with suppress(OSError):
            return "\n".join((self.logs / f"{name}.log").read_text().splitlines()[-lines:])
        return ""

    # ------------------------------------------------------------------ SQL

    def sql(self, query: str, params=None, fetch: bool = True):
        """One statement (autocommit) on this thread's connection, kept between calls: the
        matrix drill sends two digests per write, and a new connection each (a new backend)
        cost more than the query. A connection that broke (PostgreSQL restarted) is replaced
        and the statement sent once more."""
        import psycopg

        while True:
            conn = getattr(self._sql_local, "conn", None)
            reused = conn is not None and not conn.closed
            if not reused:
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
                self._sql_local.conn = conn
                with self._sql_lock:
                    self._sql_conns.append(conn)
            try:
                cur = conn.execute(query, params)
                return cur.fetchall() if fetch and cur.description else None
            except psycopg.OperationalError:
                with suppress(Exception):
                    conn.close()
                self._sql_local.conn = None
                if not reused:  # a fresh connection failed: that is the answer
                    raise

    def close_sql(self) -> None:
        with self._sql_lock:
            for conn in self._sql_conns:
                with suppress(Exception):
                    conn.close()
            self._sql_conns.clear()
