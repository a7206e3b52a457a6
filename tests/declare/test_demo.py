"""The demo dataset: through the real operations, valid, deterministic and idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from stdnum.cn import uscc

from benchmarks.importer import load_directory
from benchmarks.models import ProductCategory
from core import jobs
from core.models import Role, User
from declare import comparison, demo, queries
from declare.models import (
    ComplianceRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    Indicator,
    Product,
    VersionStatus,
)

pytestmark = pytest.mark.slow  # the whole demo, loaded several times


def _seed_catalogue(db) -> None:
    reports = load_directory()
    assert all(r.ok for r in reports), [r.summary() for r in reports]
    db.session.commit()


@pytest.fixture
def seed_catalogue(db):
    _seed_catalogue(db)


@pytest.fixture(scope="module")
def loaded(module_db):
    """The demo, loaded once for the tests that read it (they come first in this module)."""
    _seed_catalogue(module_db)
    counts = demo.load_demo(2026)
    module_db.session.commit()
    jobs.dispatch_pending()
    return counts


def _count(db, stmt) -> int:
    return db.session.scalar(stmt)


def test_deterministic_for_a_seed(db, seed_catalogue):
    def snapshot():
        return [
            (
                v.declaration.enterprise.uscc,
                v.version_no,
                v.number,
                [(i.name, i.value) for i in v.indicators],
            )
            for v in db.session.scalars(select(DeclarationVersion).order_by(DeclarationVersion.id))
        ]

    demo.load_demo(7)
    first = snapshot()
    db.session.rollback()
    assert db.session.scalar(select(func.count(Enterprise.id))) == 0
    demo.load_demo(7)
    assert snapshot() == first


def test_cli_loads_catalogue_and_demo_once_and_prints_passwords(app, db):
    """Without a catalogue the command loads the shipped seed catalogue first."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "published: " in result.output
    assert demo.DEMO_ENTERPRISE_PASSWORD in result.output
    assert all(password in result.output for _u, _r, password, _reg, _n in demo.STAFF_ACCOUNTS)
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0
    assert "already loaded" in again.output
    assert db.session.scalar(select(func.count(Enterprise.id))) == len(demo.COMPANIES)


# The tests below share one demo load (the module-scoped ``loaded``); they come last, so the
# tests above, which load into an empty database of their own, never see it.


def test_demo_content(module_db, loaded):
    db = module_db
    assert loaded["already_loaded"] is False
    enterprises = db.session.scalars(select(Enterprise)).all()
    assert len(enterprises) == len(demo.COMPANIES) == 40
    assert loaded["enterprises"] == 40 and loaded["declarations"] == 24 * 3 + 16
    for ent in enterprises:
        assert uscc.is_valid(ent.uscc), ent.uscc
        assert ent.uscc[2:8] == ent.region_code
    assert len({e.region_code for e in enterprises}) >= 7
    assert len({e.uscc for e in enterprises}) == len(enterprises)

    published = _count(
        db,
        select(func.count(Declaration.id)).where(Declaration.status == DeclarationStatus.PUBLISHED),
    )
    assert published >= 60
    assert loaded["published"] == published
    assert _count(
        db,
        select(func.count(Declaration.id)).where(Declaration.status == DeclarationStatus.ABOLISHED),
    ) in (1, 2)
    assert (
        _count(
            db,
            select(func.count(Declaration.id)).where(Declaration.kind == DeclarationKind.CATALOGUE),
        )
        >= 3
    )

    # 明示 where below the recommended value; never a violation of a mandatory limit.
    statuses = dict(
        db.session.execute(
            select(Indicator.cmp_status, func.count(Indicator.id))
            .join(DeclarationVersion)
            .where(DeclarationVersion.status != VersionStatus.DRAFT)
            .group_by(Indicator.cmp_status)
        ).all()
    )
    assert "violation" not in statuses
    assert statuses.get("below_recommended", 0) >= 3
    assert statuses.get("exceeds", 0) > statuses["below_recommended"]
    below = db.session.scalars(
        select(Indicator).where(Indicator.cmp_status == "below_recommended")
    ).all()
    assert all("明示" in row.mingshi and "原因" in row.mingshi for row in below)

    # Enterprise standards: Q/ numbers, test methods citing real standards, texts, references.
    versions = db.session.scalars(
        select(DeclarationVersion).where(DeclarationVersion.status == VersionStatus.PUBLISHED)
    ).all()
    for v in versions:
        assert v.products and v.published_at is not None
        if v.declaration.kind is DeclarationKind.ENTERPRISE:
            assert v.std_code.startswith("Q/") and v.std_year == v.approved_on.year
            assert v.text_attachment_id is not None and v.references
            assert all(row.test_method for row in v.indicators)
            assert any(row.test_method.startswith("按 GB") for row in v.indicators)
            checks = comparison.check_version(v)
            assert not any(c.blocks_publication for c in checks), [c.message for c in checks]
        else:
            assert v.standard is not None and not v.standard.code.startswith("Q/")


def test_gas_water_heaters_are_ready_to_rank(module_db, loaded):
    """Sixteen makers declare η1, η2 and NOx (the 领跑者 demo's category): values spread over
    the grades with equal values (ties), some below the recommended value with 明示, and one
    maker with a non-conforming spot check."""
    db = module_db
    gas = db.session.scalar(
        select(ProductCategory).where(ProductCategory.code == "gas_water_heater")
    )
    current = (
        select(DeclarationVersion)
        .join(Declaration, Declaration.current_version_id == DeclarationVersion.id)
        .where(
            Declaration.status == DeclarationStatus.PUBLISHED,
            DeclarationVersion.products.any(Product.category_id == gas.id),
        )
    )
    versions = db.session.scalars(current).all()
    assert len(versions) == 16
    assert len({v.declaration.enterprise_id for v in versions}) == 16
    values: dict[str, list[float]] = {"eta_rated": [], "eta_half": [], "nox": []}
    stated = 0
    for v in versions:
        keyed = {i.benchmark.code: i for i in v.indicators if i.benchmark is not None}
        assert set(keyed) == set(values)
        for code, row in keyed.items():
            assert row.cmp_status != "violation" and row.test_method.startswith("按 GB")
            values[code].append(row.value)
        stated += any(row.mingshi for row in keyed.values())
        assert not keyed["nox"].mingshi  # NOx has only a mandatory limit: nothing to state
    assert stated >= 2
    assert max(values["eta_rated"]) >= 98 and min(values["eta_rated"]) < 89  # grade 1 … 明示
    assert len(set(values["eta_rated"])) < len(values["eta_rated"])  # equal values: ties
    assert min(values["nox"]) <= 70 < max(values["nox"])

    record = db.session.scalars(select(ComplianceRecord)).one()
    assert loaded["spot_checks"] == 1
    assert (record.kind, record.result) == ("inspection", "nonconforming")
    checked = db.session.get(Declaration, record.declaration_id).current_version
    assert checked in versions and record.enterprise_id == checked.declaration.enterprise_id
    assert record.occurred_on > queries.local_date(checked.published_at)
    assert record.occurred_on < queries.local_today()
    assert "不符合" in record.details


def test_history_spreads_over_three_years(module_db, loaded):
    db = module_db
    today = queries.local_today()
    first = db.session.scalar(select(func.min(DeclarationVersion.published_at)))
    last = db.session.scalar(select(func.max(DeclarationVersion.published_at)))
    assert queries.local_date(first) >= today - timedelta(days=3 * 366)
    assert queries.local_date(first) <= today - timedelta(days=2 * 365)
    assert queries.local_date(last) <= today

    revised = db.session.scalars(
        select(Declaration)
        .join(DeclarationVersion, DeclarationVersion.declaration_id == Declaration.id)
        .where(
            DeclarationVersion.version_no == 2, DeclarationVersion.status == VersionStatus.PUBLISHED
        )
    ).all()
    assert len(revised) >= 3
    for decl in revised:
        v1, v2 = decl.versions[0], decl.versions[1]
        assert v1.status is VersionStatus.SUPERSEDED and v1.ended_at == v2.published_at
        assert queries.version_as_of(decl, queries.local_date(v1.published_at)).id == v1.id
        assert queries.version_as_of(decl, queries.local_date(v2.published_at)).id == v2.id
        assert queries.version_as_of(decl, today).id == v2.id
        assert (
            queries.version_as_of(decl, queries.local_date(v1.published_at) - timedelta(days=1))
            is None
        )

    abolished = db.session.scalars(
        select(Declaration).where(Declaration.status == DeclarationStatus.ABOLISHED)
    ).all()
    for decl in abolished:
        ended = decl.current_version
        assert ended.status is VersionStatus.ABOLISHED and ended.end_reason
        assert queries.version_as_of(decl, queries.local_date(ended.published_at)).id == ended.id
        assert queries.version_as_of(decl, today) is None


def test_accounts_drafts_and_idempotence(module_db, loaded):
    db = module_db
    ent01 = db.session.scalar(select(User).where(User.username == "ent01"))
    assert ent01.role is Role.ENTERPRISE and ent01.check_password(demo.DEMO_ENTERPRISE_PASSWORD)
    for username, role, password, region, _name in demo.STAFF_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.username == username))
        assert user.role is role and user.check_password(password)
        assert user.region_code == region
    drafts = db.session.scalars(
        select(DeclarationVersion).where(DeclarationVersion.status == VersionStatus.DRAFT)
    ).all()
    assert {d.declaration.enterprise.user.username for d in drafts} == {"ent01", "ent02"}

    before = (
        _count(db, select(func.count(Enterprise.id))),
        _count(db, select(func.count(DeclarationVersion.id))),
        _count(db, select(func.count(User.id))),
    )
    assert demo.load_demo(2026) == {"already_loaded": True}
    db.session.commit()
    after = (
        _count(db, select(func.count(Enterprise.id))),
        _count(db, select(func.count(DeclarationVersion.id))),
        _count(db, select(func.count(User.id))),
    )
    assert before == after


def test_the_near_identical_flags_are_the_planted_copies(module_db, loaded):
    """Issue 9, finding 7: of the demo's enterprise standards only the planted copies (one
    per line of ``demo.PLANTED_COPIES``) carry a near-identical flag, both sides of each."""
    from supervision.models import RiskFlag

    db = module_db
    rows = db.session.execute(
        select(RiskFlag.declaration_id, RiskFlag.key).where(
            RiskFlag.code == "near_identical", RiskFlag.cleared_at.is_(None)
        )
    ).all()
    pairs = {frozenset((decl, int(key.split(":")[1]))) for decl, key in rows}
    assert len(pairs) == len(demo.PLANTED_COPIES) == 3 and len(rows) == 6
    assert {key.split(":")[0] for _decl, key in rows} == {"text"}
    own = _count(db, select(func.count(Declaration.id)).where(
        Declaration.kind == DeclarationKind.ENTERPRISE,
        Declaration.status == DeclarationStatus.PUBLISHED,
    ))
    assert own > 70  # 6 of them flagged, not most
