"""Fixtures and small factories for the sampling tests (test_sampling_*.py import them).

``region`` builds a Chongqing (500000) regulator with an inspector pool and published
declarations in two counties (500112, 500113) and two categories, plus a Shanghai (310000)
regulator and a Shanghai declaration that Chongqing must never see. Declarations are written
directly (one published version with one product each): the sampling slice reads them, it does
not need the declaration workflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from werkzeug.security import generate_password_hash

from core.clock import local_today
from core.extensions import db as _db
from core.models import Role, User, utcnow
from declare.models import (
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    Product,
    VersionStatus,
)
from supervision.sampling import operations as draws
from supervision.models import Complaint, Inspector, RiskFlag
from tests.conftest import PASSWORD
from tests.factories import valid_uscc

LOTTERY = "2026-11-22 双色球 03 07 12 19 25 31 + 09"
LAST_YEAR = local_today().year - 1


@pytest.fixture(name="en_request")
def en_request_fixture(app):
    with app.test_request_context("/?lang=en"):
        yield


def enterprise(region: str = "500112", name: str | None = None) -> Enterprise:
    code = valid_uscc(region)
    ent = Enterprise(uscc=code, name=name or f"抽查测试企业{code[-6:]}", region_code=region)
    _db.session.add(ent)
    _db.session.flush()
    return ent


def declaration(
    ent: Enterprise,
    category,
    *,
    published_at: datetime | None = None,
    status: VersionStatus = VersionStatus.PUBLISHED,
    number: str | None = None,
) -> Declaration:
    """A declaration with one version (published a month ago unless given) and one product."""
    decl = Declaration(
        enterprise_id=ent.id,
        kind=DeclarationKind.ENTERPRISE,
        status=DeclarationStatus.PUBLISHED if status is not VersionStatus.DRAFT
        else DeclarationStatus.DRAFT,
    )
    _db.session.add(decl)
    _db.session.flush()
    version = DeclarationVersion(
        declaration_id=decl.id,
        version_no=1,
        status=status,
        std_code=number or f"Q/CQ {decl.id:04d}-2024",
        std_name="房间空气调节器",
        commitment_accepted=True,
        published_at=None if status is VersionStatus.DRAFT
        else (published_at or utcnow() - timedelta(days=30)),
    )
    version.products.append(Product(name="挂壁式空调", model=f"KFR-{decl.id}", category_id=category.id))
    _db.session.add(version)
    _db.session.flush()
    if status is not VersionStatus.DRAFT:
        decl.current_version_id = version.id
    _db.session.flush()
    return decl


def revise(decl: Declaration, at: datetime) -> DeclarationVersion:
    """A new published version replacing the current one at ``at``."""
    old = _db.session.get(DeclarationVersion, decl.current_version_id)
    old.status, old.ended_at = VersionStatus.SUPERSEDED, at
    new = DeclarationVersion(
        declaration_id=decl.id, version_no=old.version_no + 1, status=VersionStatus.PUBLISHED,
        std_code=old.std_code, std_name=old.std_name, commitment_accepted=True, published_at=at,
    )
    new.products.append(Product(name="挂壁式空调", model="KFR-new",
                                category_id=old.products[0].category_id))
    _db.session.add(new)
    _db.session.flush()
    decl.current_version_id = new.id
    _db.session.flush()
    return new


def flag(decl: Declaration, severity: str = "high", code: str = "below_mandatory",
         cleared: bool = False) -> RiskFlag:
    ent = _db.session.get(Enterprise, decl.enterprise_id)
    row = RiskFlag(
        declaration_id=decl.id, version_id=decl.current_version_id, enterprise_id=ent.id,
        region_code=ent.region_code, code=code, key="apf", severity=severity,
        evidence={"test": True}, cleared_at=utcnow() if cleared else None,
    )
    _db.session.add(row)
    _db.session.flush()
    return row


def complaint(decl: Declaration | None, ent: Enterprise, number: str) -> Complaint:
    row = Complaint(number=number, enterprise_id=ent.id,
                    declaration_id=decl.id if decl is not None else None,
                    region_code=ent.region_code, content="指标造假")
    _db.session.add(row)
    _db.session.flush()
    return row


def inspector(regulator, code: str, *, ties=(), regions=(), active: bool = True) -> Inspector:
    row = Inspector(regulator_id=regulator.id, code=code, name=f"检查员{code}",
                    tied_enterprise_ids=list(ties), tied_region_codes=list(regions),
                    active=active)
    _db.session.add(row)
    _db.session.flush()
    return row


def plan_payload(**overrides) -> dict:
    data = {
        "name": "2025 年企业标准双随机抽查",
        "region_code": "500000",
        "period_start": date(LAST_YEAR, 1, 1),
        "period_end": date(LAST_YEAR + 1, 12, 31),
    }
    data.update(overrides)
    return data


_HASHES: dict[str, str] = {}


def regulator_user(username: str, region_code: str) -> User:
    """A regulator account; the password hash is computed once per test session (scrypt is
    slow on purpose), so fixtures stay quick."""
    if PASSWORD not in _HASHES:
        _HASHES[PASSWORD] = generate_password_hash(PASSWORD)
    user = User(username=username, role=Role.REGULATOR, region_code=region_code,
                display_name=f"市场监管局 {region_code}", password_hash=_HASHES[PASSWORD])
    _db.session.add(user)
    _db.session.flush()
    return user


@pytest.fixture(name="region")
def region_fixture(db, catalogue, en_request):
    """Chongqing with 40 declarations (24 in 500112, 16 in 500113; every 4th a toilet),
    a pool of 6 inspectors, and Shanghai with its own regulator and one declaration."""
    regulator = regulator_user("cq", "500000")
    other = regulator_user("sh", "310000")
    ac, toilet = catalogue["room_ac"], catalogue["toilet"]
    ents, decls = [], []
    for i in range(20):
        ent = enterprise("500112" if i < 12 else "500113")
        ents.append(ent)
        for j in range(2):
            decls.append(declaration(ent, toilet if (2 * i + j) % 4 == 3 else ac))
    sh_ent = enterprise("310101")
    sh_decl = declaration(sh_ent, ac)
    pool = [inspector(regulator, f"CQ{i:02d}") for i in range(6)]
    _db.session.commit()
    return {
        "regulator": regulator,
        "other": other,
        "enterprises": ents,
        "declarations": decls,
        "pool": pool,
        "sh_enterprise": sh_ent,
        "sh_declaration": sh_decl,
        "catalogue": catalogue,
    }


def make_plan(regulator, **overrides):
    plan = draws.create_plan(regulator, plan_payload(**overrides))
    _db.session.commit()
    return plan


def make_draw(plan, regulator, seed_text: str = LOTTERY, **kw):
    made = draws.create_draw(plan, regulator, seed_text=seed_text, **kw)
    _db.session.commit()
    return made


class CountQueries:
    """Counts the SQL statements sent while it is active."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def years_ago(years: int, days: int = 0) -> datetime:
    now = datetime.now(UTC)
    return now.replace(year=now.year - years) - timedelta(days=days)
