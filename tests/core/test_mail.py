"""core.mail: through a real SMTP server process, into the folder without one, and never
before the commit."""

from __future__ import annotations

import pytest

from core import jobs, mail
from core.extensions import db
from core.models import Role, User


def test_send_mail_goes_through_smtp(app, smtp_server):
    mail.send_mail("ent@example.com", "标准自我声明", "正文：已公开。", html="<p>已公开</p>")
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "ent@example.com"
    assert message["Subject"] == "标准自我声明"
    assert "企业标准信息公共服务" in message["From"]
    assert message.get_body(("plain",)).get_content().strip() == "正文：已公开。"
    assert message.get_body(("html",)).get_content().strip() == "<p>已公开</p>"


def test_without_mail_url_messages_land_in_the_folder(app, tmp_path):
    app.config["MAIL_URL"] = None
    app.config["MAIL_FOLDER"] = str(tmp_path / "outbox")
    mail.send_mail(["a@example.com", "b@example.com"], "Subject", "Body")
    (written,) = list((tmp_path / "outbox").iterdir())
    text = written.read_text()
    assert "To: a@example.com, b@example.com" in text
    assert "Subject: Subject" in text


def test_send_later_waits_for_the_commit_and_a_rollback_sends_nothing(app, smtp_server):
    # What the request's commit hook does (core._register_commit) on an error, then a success.
    mail.send_later("rolled@example.com", "never", "never")
    db.session.rollback()
    jobs.discard_pending()
    mail.send_later("kept@example.com", "after commit", "body")
    db.session.add(User(username="mailer", role=Role.ADMIN, password_hash="x"))
    db.session.flush()
    assert smtp_server.messages() == []  # nothing before the commit
    db.session.commit()
    jobs.dispatch_pending()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "kept@example.com"
    assert len(smtp_server.messages()) == 1  # the rolled-back one never went


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mx.example.cn", {"host": "mx.example.cn", "port": 25, "use_tls": False}),
        (
            "smtp://u%40x:p%2Fw@mx.example.cn:587?starttls=1",
            {"port": 587, "use_tls": True, "username": "u@x", "password": "p/w"},
        ),
        ("smtps://mx.example.cn", {"port": 465, "use_ssl": True, "use_tls": False}),
    ],
)
def test_mail_url_settings(url, expected):
    settings = mail.smtp_settings(url)
    assert {k: settings[k] for k in expected} == expected


@pytest.mark.parametrize("url", ["http://mx.example.cn", "smtp://", "mx.example.cn:25"])
def test_a_bad_mail_url_is_refused_with_the_reason(url):
    with pytest.raises(ValueError, match="MAIL_URL"):
        mail.smtp_settings(url)


def test_the_console_shows_the_mail_written_to_the_folder(app, client, login_as, tmp_path):
    app.config["MAIL_URL"] = None
    app.config["MAIL_FOLDER"] = str(tmp_path / "outbox")
    mail.send_mail("first@example.com", "第一封", "正文一")
    mail.send_mail("second@example.com", "第二封", "正文二\n第二行")
    login_as(Role.ADMIN)
    page = client.get("/admin/mail").get_data(as_text=True)
    assert 'id="mail-folder"' in page
    assert page.index("第二封") < page.index("第一封")  # newest first
    assert "second@example.com" in page and "正文二\n第二行" in page


@pytest.mark.parametrize("role", [None, Role.ENTERPRISE, Role.REGULATOR])
def test_only_admins_see_the_mail_folder(client, login_as, role):
    if role is not None:
        login_as(role)
    assert client.get("/admin/mail").status_code in (302, 403)
