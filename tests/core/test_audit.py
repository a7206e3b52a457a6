"""The audit log: every ORM write, who made it, values before/after, and nothing on rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from core.audit import acting_as, reset_actor
from core.models import AuditLog, Role, User
from tests.conftest import PASSWORD


def _entries(db, entity: str | None = None, action: str | None = None) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id)
    if entity:
        query = query.where(AuditLog.entity == entity)
    if action:
        query = query.where(AuditLog.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def as_operator(db, make_user):
    operator = make_user(Role.ADMIN, username="operator")
    db.session.execute(delete(AuditLog))  # forget the operator's own creation
    db.session.commit()
    token = acting_as(operator.id, "operator")
    yield operator
    reset_actor(token)


def _new_user(db, username="audited", **kw) -> User:
    user = User(username=username, role=Role.REGULATOR, region_code="500000", **kw)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def test_insert_records_the_row_with_secrets_redacted(app, db, as_operator):
    user = _new_user(db, display_name="渝中区市场监管局")
    (entry,) = _entries(db, "users", "insert")
    assert (entry.actor_id, entry.actor_label) == (as_operator.id, "operator")
    assert entry.entity_id == str(user.id)
    assert entry.before is None
    assert entry.after["username"] == "audited"
    assert entry.after["display_name"] == "渝中区市场监管局"
    assert entry.after["role"] == "regulator" and entry.after["region_code"] == "500000"
    assert entry.after["enterprise_id"] is None
    assert entry.after["password_hash"] == "***"
    assert user.password_hash not in str(entry.after)


def test_update_records_old_and_new_values_even_after_a_commit(app, db, as_operator):
    user = _new_user(db, display_name="old name")
    # After the commit every attribute is expired: the old value is not in memory any more.
    user.display_name = "new name"
    user.region_code = "500100"
    db.session.commit()
    (entry,) = _entries(db, "users", "update")
    assert entry.entity_id == str(user.id)
    assert entry.before == {"display_name": "old name", "region_code": "500000"}
    assert entry.after == {"display_name": "new name", "region_code": "500100"}


def test_password_change_is_logged_without_the_hashes(app, db, as_operator):
    user = _new_user(db)
    old_hash = user.password_hash
    user.set_password("another secret 1")
    db.session.commit()
    (entry,) = _entries(db, "users", "update")
    assert entry.before == {"password_hash": "***"} and entry.after == {"password_hash": "***"}
    assert old_hash not in str(entry.before) and user.password_hash not in str(entry.after)


def test_setting_the_same_value_logs_nothing(app, db):
    user = _new_user(db, display_name="same")
    user.display_name = "same"
    db.session.commit()
    assert _entries(db, "users", "update") == []


def test_delete_records_the_whole_row_before(app, db, as_operator):
    user = _new_user(db, display_name="to delete")
    user_id = user.id
    db.session.expire(user)  # nothing in memory: the log must read the row before it goes
    db.session.delete(user)
    db.session.commit()
    (entry,) = _entries(db, "users", "delete")
    assert entry.entity_id == str(user_id) and entry.after is None
    assert entry.before["display_name"] == "to delete"
    assert entry.before["username"] == "audited"
    assert entry.before["password_hash"] == "***"


def test_rolled_back_transaction_leaves_no_audit_row(app, db):
    user = User(username="ghost", role=Role.ADMIN, password_hash="x")
    db.session.add(user)
    db.session.flush()  # the INSERT and its audit row are in the transaction ...
    assert len(_entries(db, "users")) == 1
    db.session.rollback()  # ... and leave with it
    assert _entries(db) == []


def test_failed_request_leaves_no_audit_row(client, db, login_as):
    login_as(Role.ADMIN)
    before = len(_entries(db))
    resp = client.post("/account/tokens", data={"name": ""})  # refused form: 422, rolled back
    assert resp.status_code == 422
    assert len(_entries(db)) == before


def test_page_writes_name_the_logged_in_user(client, db, login_as):
    user = login_as(Role.EVALUATOR)
    client.post("/account/tokens", data={"name": "laptop"})
    (entry,) = _entries(db, "api_tokens", "insert")
    assert (entry.actor_id, entry.actor_label) == (user.id, user.username)
    assert entry.after["token_sha256"] == "***" and entry.after["name"] == "laptop"


def test_api_writes_name_the_token_user(client, db, make_user, token_for):
    user = make_user(Role.ADMIN)
    headers = token_for(user)
    client.delete("/api/v1/auth/tokens/current", headers=headers)
    (entry,) = _entries(db, "api_tokens", "update")
    assert (entry.actor_id, entry.actor_label) == (user.id, user.username)
    assert list(entry.after) == ["revoked_at"] and entry.before == {"revoked_at": None}


def test_api_login_names_the_user_who_logged_in(client, db, make_user):
    user = make_user(Role.ADMIN)
    client.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD})
    (entry,) = _entries(db, "api_tokens", "insert")
    assert (entry.actor_id, entry.actor_label) == (user.id, user.username)


def test_writes_outside_requests_are_by_system(app, db):
    _new_user(db)
    assert _entries(db, "users")[0].actor_label == "system"


def test_audit_rows_are_not_themselves_audited(app, db, as_operator):
    _new_user(db)
    assert {e.entity for e in _entries(db)} == {"users"}
