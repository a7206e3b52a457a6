"""The platform's clock: its day is the day in Beijing (``BABEL_DEFAULT_TIMEZONE``), not the
server's. Timestamps are stored in UTC (``core.models.utcnow``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from core.models import utcnow

__all__ = ["end_of_day", "local_date", "local_today", "local_zone"]


def local_zone() -> ZoneInfo:
    """The app's zone; outside an app (pure parsing, module constants) the platform's default."""
    configured = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(configured or "Asia/Shanghai")


def local_today() -> date:
    """Today in the platform's time zone (Asia/Shanghai), not the server's."""
    return utcnow().astimezone(local_zone()).date()


def local_date(moment: datetime) -> date:
    return moment.astimezone(local_zone()).date()


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` in the platform's time zone (exclusive end)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=local_zone())
