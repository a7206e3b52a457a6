"""A real SMTP server process for the tests (aiosmtpd, Maildir handler).

Started once per test session on a free port; each test that asks for ``smtp_server`` gets an
empty mailbox and the app pointed at the server (``MAIL_URL``), so mail goes through a real
SMTP dialogue, not a mock.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """``url`` for MAIL_URL; ``messages()`` what arrived (oldest first); ``clear()``."""

    def __init__(self, folder: Path):
        self.folder = folder  # created by the server as a Maildir (cur/new/tmp)
        mailbox.Maildir(str(folder), create=True)
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"aiosmtpd exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"aiosmtpd did not listen on port {self.port} within 15 s")

    def _box(self) -> mailbox.Maildir:
        return mailbox.Maildir(str(self.folder), factory=None, create=True)

    def messages(self) -> list[EmailMessage]:
        box = self._box()
        found = []
        for key in box.keys():
            path = Path(self.folder, "new", key)
            if not path.exists():
                path = Path(self.folder, "cur", key)
            found.append((path.stat().st_mtime_ns, key, box.get_bytes(key)))
        return [
            email.message_from_bytes(raw, policy=email.policy.default)
            for _, _, raw in sorted(found)
        ]

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived (delivery is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def clear(self) -> None:
        self._box().clear()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
