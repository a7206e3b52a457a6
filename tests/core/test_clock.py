"""The platform's day is Beijing's, in a request and outside one (parsers and module constants
run without an app): between 16:00 and 24:00 UTC it is already tomorrow there."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core import clock


def test_outside_an_app_the_day_is_beijings(monkeypatch):
    evening_utc = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    monkeypatch.setattr(clock, "utcnow", lambda: evening_utc)
    assert clock.local_zone() == ZoneInfo("Asia/Shanghai")
    assert clock.local_today().isoformat() == "2027-01-01"


def test_inside_an_app_the_configured_zone_counts(app, monkeypatch):
    evening_utc = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    monkeypatch.setattr(clock, "utcnow", lambda: evening_utc)
    with app.app_context():
        assert clock.local_today().isoformat() == "2027-01-01"
        app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
        assert clock.local_today().isoformat() == "2026-12-31"
