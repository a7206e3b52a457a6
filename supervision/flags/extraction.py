"""Text of stored standard PDFs, extracted in a child process with a hard time and memory limit.

pypdf is pure Python: a page whose content stream repeats a text operator 900,000 times keeps
``extract_text`` busy for about 20 s, and nothing in the calling process can stop it half-way
without signals (which RQ already uses for its job timeout, and which only work in the main
thread). So the flags job measures the document first (``declare.uploads.measure_text_cost``,
the same count that refuses such a file at upload) and then extracts it here: in one child
process per ``Extractor``, fed one document at a time over a pipe, killed when a document is
not done within ``seconds`` (or when it dies of ``memory_mb``) and started again for the next.
The child costs one interpreter start and a pypdf import (~0.3 s) per job, not per document;
that start is not counted in a document's time (the child says when it is ready).

This module imports only the standard library at the top: the child runs it as
``python -m supervision.flags.extraction`` and must not load Flask, the database or the app.

Protocol: the child first writes ``{"ready": true}``; then the parent writes one JSON line
``{"path": ..., "pages": n}`` per document and the child answers one JSON line
``{"text": ...}`` or ``{"error": "unreadable" | "memory", ...}``.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Extractor", "TextBudgetExceeded"]

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[2]  # the project, for the child's import path
_READ = 1 << 16
_STARTUP_SECONDS = 30  # an interpreter and pypdf on a loaded machine; not the document's time


class TextBudgetExceeded(Exception):
    """The extraction of a document went past a limit: ``reason`` is ``seconds`` (killed at
    ``limit`` seconds), ``memory_mb`` (ran out of ``limit`` MB) or ``failed`` (the process
    ended without an answer; ``limit`` is its exit status)."""

    def __init__(self, reason: str, limit: int | None) -> None:
        super().__init__(f"text extraction over budget: {reason} ({limit})")
        self.reason = reason
        self.limit = limit


class Extractor:
    """Extract the text of PDFs, one at a time, each within ``seconds`` and ``memory_mb``.

    Use as a context manager (the child is started on the first document and stopped on
    exit). ``text(path, max_pages)`` returns the text ("" for a file pypdf cannot read, as
    before: it is simply not compared) or raises ``TextBudgetExceeded``.
    """

    def __init__(self, *, seconds: float, memory_mb: int) -> None:
        self.seconds = float(seconds)
        self.memory_mb = int(memory_mb)
        self._proc: subprocess.Popen | None = None
        self._selector: selectors.BaseSelector | None = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ------------------------------------------------------------------ the child

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(_ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
        )
        self._proc = proc = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-m", "supervision.flags.extraction", str(self.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            bufsize=0,
            close_fds=True,
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)
        try:
            ready = json.loads(self._reply(time.monotonic() + _STARTUP_SECONDS)).get("ready")
        except TextBudgetExceeded:
            ready = None
        if ready is not True:  # could not start (e.g. memory_mb below an interpreter's needs)
            self._kill()
            raise TextBudgetExceeded("failed", None)
        return proc

    def close(self) -> None:
        """Stop the child (it also stops by itself when the pipe closes)."""
        proc, self._proc = self._proc, None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self.close()

    def _reply(self, deadline: float) -> bytes:
        """One answer line, or TextBudgetExceeded when the deadline passes or the child dies."""
        proc, selector = self._proc, self._selector
        assert proc is not None and selector is not None
        fd = proc.stdout.fileno()
        buf = bytearray()
        while True:
            end = buf.find(b"\n")
            if end >= 0:
                return bytes(buf[:end])
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise TextBudgetExceeded("seconds", round(self.seconds))
            if not selector.select(left):
                continue
            chunk = os.read(fd, _READ)
            if not chunk:
                status = proc.wait()
                self.close()
                raise TextBudgetExceeded("failed", status)
            buf += chunk

    # ------------------------------------------------------------------ the parent's API

    def text(self, path: str | os.PathLike, max_pages: int) -> str:
        request = json.dumps({"path": str(path), "pages": int(max_pages)}).encode() + b"\n"
        for attempt in (1, 2):  # a child that died since the last document is started again
            proc = self._proc if self._proc is not None and self._proc.poll() is None else None
            if proc is None:
                self.close()
                proc = self._start()
            try:
                proc.stdin.write(request)
                proc.stdin.flush()
                break
            except (BrokenPipeError, OSError):
                self.close()
                if attempt == 2:
                    raise TextBudgetExceeded("failed", None) from None
        answer = json.loads(self._reply(time.monotonic() + self.seconds))
        if "text" in answer:
            return str(answer["text"])
        if answer.get("error") == "memory":
            self._kill()  # its heap is fragmented past the limit: a fresh child for the next
            raise TextBudgetExceeded("memory_mb", self.memory_mb)
        log.warning("could not extract the text of %s: %s", path, answer.get("detail", ""))
        return ""


# --------------------------------------------------------------------------- the child


def _extract(reader_class, path: str, pages: int) -> str:
    reader = reader_class(path, strict=False)
    return "\n".join((page.extract_text() or "") for page in reader.pages[:pages])


def _child(memory_mb: int) -> None:
    """Answer requests from stdin until it closes; stdout carries only the answers."""
    import resource
    import warnings

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by a library goes to stderr, not into the answers
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    from pypdf import PdfReader

    answers.write(b'{"ready": true}\n')
    answers.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            answer = {"text": _extract(PdfReader, request["path"], int(request["pages"]))}
        except MemoryError:
            answer = {"error": "memory"}
        except Exception as exc:  # noqa: BLE001  (a damaged file: many pypdf error types)
            answer = {"error": "unreadable", "detail": f"{type(exc).__name__}: {exc}"[:500]}
        answers.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    _child(int(sys.argv[1]))
