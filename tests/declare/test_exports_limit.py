"""Full exports of the public search are rate-limited per client address (EXPORT_RATE_LIMIT):
each may read a million rows."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_config() -> dict:
    return {"RATELIMIT_ENABLED": True, "EXPORT_RATE_LIMIT": "2 per hour"}


@pytest.mark.parametrize("url", ["/declarations/export.csv", "/api/v1/declarations/export.csv"])
def test_export_is_rate_limited(client, db, url):
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
