"""The tamper-evident audit log (core.audit_chain): every entry is chained by hash; a row changed
or deleted behind the service's back (raw SQL) is named by `flask audit verify` and by the
console's button; daily anchors are public."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import insert, select, text

from core import audit_chain
from core.models import AuditAnchor, AuditLog, Role, User, utcnow
from tests.conftest import PASSWORD


def _users(db, n: int, prefix: str = "u") -> list[User]:
    made = []
    for i in range(n):
        user = User(username=f"{prefix}{i}", role=Role.REGULATOR, region_code="500000")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        made.append(user)
    return made


def _chain(db) -> list[AuditLog]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog).order_by(AuditLog.seq)))


def _verify(db) -> audit_chain.Result:
    result = audit_chain.verify(db.session.connection())
    db.session.rollback()
    return result


def _raw(db, sql: str, **params) -> None:
    """A change behind the service's back: plain SQL on the engine, no session, no hooks."""
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_every_entry_is_chained_and_the_chain_verifies(db):
    users = _users(db, 3)
    users[0].display_name = "changed"
    db.session.commit()
    db.session.delete(users[1])
    db.session.commit()
    chain = _chain(db)
    assert [e.action for e in chain] == ["insert"] * 3 + ["update", "delete"]
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].prev_hash == audit_chain.GENESIS
    for prev, entry in zip(chain, chain[1:]):
        assert entry.prev_hash == prev.hash
    assert all(len(e.hash) == 64 for e in chain)
    result = _verify(db)
    assert result.ok and (result.checked, result.head_seq) == (5, 5)
    assert result.head_hash == chain[-1].hash


def test_summary_rows_inserted_with_core_are_sealed_too(db):
    """Operations log bulk work with insert(AuditLog) through the session: chained as well."""
    _users(db, 1)
    db.session.execute(insert(AuditLog).values(
        at=utcnow(), actor_label="job:x", action="update", entity="declarations",
        entity_id="*", before=None, after={"n": 3},
    ))
    db.session.commit()
    chain = _chain(db)
    assert [e.seq for e in chain] == [1, 2] and chain[1].actor_label == "job:x"
    assert _verify(db).ok


def test_a_rolled_back_write_leaves_no_entry_and_no_gap(db):
    _users(db, 1)
    user = User(username="gone", role=Role.ADMIN)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    db.session.rollback()
    _users(db, 1, prefix="v")
    assert [e.seq for e in _chain(db)] == [1, 2]
    assert _verify(db).ok


def test_a_row_changed_behind_the_services_back_is_named(db):
    _users(db, 4)
    victim = _chain(db)[1]
    _raw(db, "UPDATE audit_log SET actor_label = 'nobody' WHERE id = :id", id=victim.id)
    result = _verify(db)
    assert not result.ok
    assert (result.entry_id, result.seq, result.code) == (victim.id, 2, "content")
    assert result.checked == 1  # the entry before it is intact
    assert f"entry #{victim.id}" in result.describe() and "changed" in result.describe()


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link(db):
    _users(db, 4)
    chain = _chain(db)
    victim, after = chain[1], chain[2]
    _raw(db, "UPDATE audit_log SET entity_id = '999' WHERE id = :id", id=victim.id)
    row = db.session.execute(
        select(*audit_chain._FIELDS).where(AuditLog.id == victim.id)
    ).one()
    forged = audit_chain.entry_hash(row, row.seq, row.prev_hash)
    _raw(db, "UPDATE audit_log SET hash = :h WHERE id = :id", h=forged, id=victim.id)
    result = _verify(db)
    assert (result.entry_id, result.seq, result.code) == (after.id, 3, "link")


def test_a_deleted_row_is_named_by_the_gap_it_leaves(db):
    _users(db, 5)
    chain = _chain(db)
    _raw(db, "DELETE FROM audit_log WHERE id = :id", id=chain[2].id)
    result = _verify(db)
    assert (result.entry_id, result.seq, result.code) == (chain[3].id, 4, "gap")
    assert result.params["missing"] == "seq 3"
    assert "deleted" in result.describe()


def test_deleting_the_newest_rows_is_caught_by_the_days_anchor(db, client):
    _users(db, 3)
    anchor = audit_chain.anchor(db.session, date(2026, 12, 7))
    db.session.commit()
    assert (anchor.head_seq, anchor.entries) == (3, 3)
    assert audit_chain.anchor(db.session, date(2026, 12, 7)).id == anchor.id  # once a day
    assert _verify(db).ok
    _raw(db, "DELETE FROM audit_log WHERE seq = 3")
    result = _verify(db)
    assert (result.seq, result.code, result.params["day"]) == (3, "anchor_short", "2026-12-07")
    # Anyone can read the anchors (no login).
    html = client.get("/open/audit-anchors").get_data(as_text=True)
    assert 'id="anchor-2026-12-07"' in html and anchor.head_hash in html


def test_a_rewritten_chain_no_longer_matches_the_anchor(db):
    _users(db, 2)
    audit_chain.anchor(db.session, date(2026, 12, 6))
    db.session.commit()
    # Rewrite everything consistently (as someone with the database could): new content, new
    # hashes all along. The chain itself verifies; the published anchor does not.
    _raw(db, "UPDATE audit_log SET actor_label = 'forger', seq = NULL, hash = NULL, "
             "prev_hash = NULL")
    with db.engine.begin() as conn:
        audit_chain.seal(conn)
    result = _verify(db)
    assert (result.code, result.seq) == ("anchor_hash", 2)


def test_rows_without_hashes_are_sealed_by_the_backfill_command(app, db):
    """Rows written before the chain existed (or with the hooks bypassed): `flask audit seal`
    (and the migration) chain them in id order."""
    with db.engine.begin() as conn:
        for i in range(3):
            conn.execute(insert(AuditLog.__table__).values(
                at=utcnow(), actor_label="old", action="insert", entity="users",
                entity_id=str(i), before=None, after={"i": i},
            ))
    assert _verify(db).unsealed == 3
    runner = app.test_cli_runner()
    out = runner.invoke(args=["audit", "seal"])
    assert out.exit_code == 0 and "sealed 3" in out.output
    out = runner.invoke(args=["audit", "verify"])
    assert out.exit_code == 0 and "intact: 3 entries" in out.output


def test_the_cli_names_the_first_broken_link_and_fails(app, db):
    _users(db, 3)
    victim = _chain(db)[0]
    _raw(db, "UPDATE audit_log SET after = :a WHERE id = :id", a='{"x": 1}', id=victim.id)
    out = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 1
    assert f"broken at entry #{victim.id} (seq 1)" in out.output


def test_the_console_button_verifies_and_names_the_broken_entry(db, client, login_as):
    login_as(Role.ADMIN)
    page = client.post("/admin/audit/verify", follow_redirects=True)
    assert page.status_code == 200
    assert "flash-success" in page.get_data(as_text=True)
    victim = _chain(db)[0]
    _raw(db, "UPDATE audit_log SET action = 'delete' WHERE id = :id", id=victim.id)
    html = client.post("/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "flash-danger" in html and f"#{victim.id}" in html


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.EVALUATOR, Role.ENTERPRISE])
def test_only_admins_verify(client, login_as, role):
    login_as(role)
    assert client.post("/admin/audit/verify").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_concurrent_writers_never_fork_the_chain(app, db):
    """Writers in threads, each committing its own rows: one chain, no two entries with the
    same predecessor (PostgreSQL: advisory lock; SQLite: one writer at a time)."""
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with app.app_context():
                for i in range(4):
                    user = User(username=f"t{k}-{i}", role=Role.ADMIN, password_hash="x")
                    db.session.add(user)
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chain = _chain(db)
    assert len(chain) == 16 and [e.seq for e in chain] == list(range(1, 17))
    assert len({e.prev_hash for e in chain}) == 16
    assert _verify(db).ok
    assert db.session.scalar(select(AuditAnchor.id)) is None
