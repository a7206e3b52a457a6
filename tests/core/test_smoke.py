from core.models import AuditLog, Role


def test_home_page_renders_in_chinese_by_default(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert 'lang="zh-CN"' in resp.get_data(as_text=True)


def test_login_and_audit(client, db, login_as):
    user = login_as(Role.ADMIN)
    assert user.role is Role.ADMIN
    rows = db.session.scalars(db.select(AuditLog).where(AuditLog.entity == "users")).all()
    assert rows and rows[0].after["password_hash"] == "***"


import pytest  # noqa: E402


@pytest.fixture
def app_config():
    return {"BABEL_DEFAULT_LOCALE": "zh"}
