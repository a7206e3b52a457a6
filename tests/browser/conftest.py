"""Every browser test also checks the Content-Security-Policy (core.security): a page of the
test's browser context that the policy blocks (an inline script, style or event handler, a
file from another host) fails the test that opened it, with the browser's message."""

from __future__ import annotations

import pytest


def csp_refusal(text: str) -> bool:
    return "Content Security Policy" in text or text.startswith("Refused to")


@pytest.fixture
def page(page):
    refused: list[str] = []
    page.context.on(
        "console", lambda m: refused.append(m.text) if m.type == "error" and csp_refusal(m.text) else None
    )
    yield page
    assert not refused, "blocked by the Content-Security-Policy:\n" + "\n".join(refused)
