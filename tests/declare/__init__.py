"""Helpers and fixtures for the declare/ tests.

Test modules import the fixture functions (``en_request_fixture``, ``owner_fixture``) and use
the fixtures by name (``en_request``, ``owner``).

Operations translate their messages with Flask-Babel, which needs a request to choose the
locale; the ``en_request`` fixture pushes one in English so assertions read the English msgids whatever
translations exist.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfWriter
from sqlalchemy import event
from werkzeug.datastructures import FileStorage

from core.extensions import db
from tests.factories import make_enterprise_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOOD_BARCODE = "6901234567892"  # EAN-13 with a correct check digit


@pytest.fixture(name="en_request")
def en_request_fixture(app):
    with app.test_request_context("/?lang=en"):
        yield


@pytest.fixture(name="owner")
def owner_fixture(db, en_request):
    """An enterprise account (its Enterprise is ``owner.enterprise``)."""
    return make_enterprise_user()


def pdf_bytes(pages: int = 1, text: str = "") -> bytes:
    """A small valid PDF made with pypdf."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if text:
        writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(
    data: bytes, filename: str = "standard.pdf", mimetype: str = "application/pdf"
) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=mimetype)


def enterprise_data(catalogue: dict, **overrides) -> dict:
    """A complete enterprise-standard draft for a room air conditioner (APF 5.10 W/W)."""
    data = {
        "kind": "enterprise",
        "std_code": "Q/SJX 0001-2024",
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [
            {
                "name": "挂壁式空调",
                "model": "KFR-35GW/A1",
                "category_id": catalogue["room_ac"].id,
                "barcode": GOOD_BARCODE,
                "brand": "示例",
            }
        ],
        "indicators": [
            {
                "kind": "performance",
                "name": "APF",
                "benchmark_indicator_id": catalogue["apf"].id,
                "op": "ge",
                "value": 5.1,
                "unit": "W/W",
                "test_method": "GB/T 7725-2022 附录 C",
            },
            {
                "kind": "function",
                "name": "自清洁",
                "op": "eq",
                "text_value": "具备蒸发器自清洁功能",
                "test_method": "目测",
            },
        ],
        "reference_ids": [catalogue["gbt7725"].id],
    }
    data.update(overrides)
    return data


def catalogue_data(catalogue: dict, **overrides) -> dict:
    """A draft following GB/T 7725-2022 from the catalogue."""
    data = {
        "kind": "catalogue",
        "standard_id": catalogue["gbt7725"].id,
        "commitment_accepted": True,
        "products": [
            {"name": "柜式空调", "model": "KFR-72LW", "category_id": catalogue["room_ac"].id}
        ],
    }
    data.update(overrides)
    return data


def with_indicator(catalogue: dict, **changes) -> dict:
    data = enterprise_data(catalogue)
    data["indicators"][0].update(changes)
    return data


def publish_enterprise(enterprise, catalogue: dict, **overrides):
    """Create, attach a PDF and publish an enterprise-standard declaration; returns version."""
    from declare import operations

    version = operations.create_draft(enterprise, enterprise_data(catalogue, **overrides))
    operations.attach_text(version, upload(pdf_bytes()))
    operations.publish(version)
    db.session.commit()
    return version


def shanghai(*args) -> datetime:
    """A Beijing-time moment as an aware UTC datetime."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)


class QueryCounter:
    """Counts SQL statements sent through the engine inside a ``with`` block."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)
