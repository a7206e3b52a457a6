"""API validation messages (marshmallow's own too) and error bodies in the request's language:
Chinese by default, English with ``Accept-Language: en`` or the language switch."""

from __future__ import annotations

import inspect
import re

import pytest
from flask_babel import refresh
from marshmallow import fields, validate

from core.i18n import MARSHMALLOW_MESSAGES, translate_errors, translate_message


@pytest.fixture
def app_config():
    """These tests are about the Chinese default."""
    return {"BABEL_DEFAULT_LOCALE": "zh"}


EN = {"Accept-Language": "en"}


def _token_errors(client, headers=None):
    resp = client.post(
        "/api/v1/auth/tokens", json={"username": 5, "name": "x" * 81}, headers=headers or {}
    )
    assert resp.status_code == 422 and resp.is_json
    return resp.get_json()["errors"]["json"]


def test_marshmallow_messages_are_chinese_by_default(client):
    errors = _token_errors(client)
    assert errors == {
        "username": ["不是有效的字符串。"],
        "password": ["必填字段缺少数据。"],
        "name": ["超过最大长度 80。"],
    }


def test_marshmallow_messages_follow_accept_language(client):
    assert _token_errors(client, EN) == {
        "username": ["Not a valid string."],
        "password": ["Missing data for required field."],
        "name": ["Longer than maximum length 80."],
    }
    assert _token_errors(client, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})[
        "password"] == ["必填字段缺少数据。"]


def test_the_language_switch_wins_over_accept_language(client):
    client.get("/lang/en")
    assert _token_errors(client, {"Accept-Language": "zh-CN"})["password"] == [
        "Missing data for required field."
    ]


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Not a valid integer.", "不是有效的整数。"),
        ("Must be greater than or equal to 1 and less than or equal to 10.",
         "必须大于或等于 1 且小于或等于 10。"),
        ("Must be greater than 0.", "必须大于 0。"),
        ("Must be one of: a, b.", "必须是以下之一：a, b。"),
        ("Length must be between 1 and 40.", "长度必须在 1 到 40 之间。"),
        ("Not a valid aware datetime.", "不是有效的带时区的日期时间。"),
        ("Unknown field.", "未知字段。"),
    ],
)
def test_each_marshmallow_template_is_read_back_with_its_parameters(app, english, chinese):
    with app.test_request_context("/api/v1/x"):
        assert translate_message(english) == chinese
    with app.test_request_context("/api/v1/x", headers=EN):
        refresh()  # the test's app context stays pushed: forget the locale chosen above
        assert translate_message(english) == english


def test_nested_errors_and_foreign_messages(app):
    with app.test_request_context("/api/v1/x"):
        out = translate_errors({"json": {"items": {"0": {"n": ["Not a valid number."]}},
                                         "x": ["a message of our own"]}})
    assert out == {"json": {"items": {"0": {"n": ["不是有效的数字。"]}},
                            "x": ["a message of our own"]}}


def _marshmallow_defaults() -> set[str]:
    """Every default message of marshmallow's fields, validators and Schema, as formatted."""
    found: set[str] = set()
    for _name, cls in inspect.getmembers(fields, inspect.isclass):
        found.update(str(v) for v in getattr(cls, "default_error_messages", {}).values())
    found.update(fields.Field.default_error_messages.values())
    from marshmallow import Schema

    found.update(Schema._default_error_messages.values())
    for _name, cls in inspect.getmembers(validate, inspect.isclass):
        if cls is validate.Range:
            continue
        for key, value in vars(cls).items():
            if (key.startswith("message") or key == "default_message") and isinstance(value, str):
                found.add(value)
    r = validate.Range
    for low in (r.message_gt, r.message_gte):
        found.add(r.message_min.format(min_op=low))
        for high in (r.message_lt, r.message_lte):
            found.add(r.message_all.format(min_op=low, max_op=high))
    for high in (r.message_lt, r.message_lte):
        found.add(r.message_max.format(max_op=high))
    return {re.sub(r"\{\{(\w+)\}\}", r"{\1}", m) for m in found}


def test_every_marshmallow_default_message_is_listed():
    """A marshmallow upgrade that adds or rewords a message fails here, naming it."""
    missing = sorted(_marshmallow_defaults() - set(MARSHMALLOW_MESSAGES))
    assert missing == []


# -- error bodies ------------------------------------------------------------------------------


def test_api_404_body_in_the_request_language(client):
    assert client.get("/api/v1/no-such-thing").get_json()["message"] == "页面或记录不存在。"
    assert client.get("/api/v1/no-such-thing", headers=EN).get_json()["message"] == "Not found."


def test_api_405_body_in_the_request_language(client):
    resp = client.get("/api/v1/auth/tokens")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    assert resp.get_json()["message"] == "此地址不接受 GET 请求方法。"
    resp = client.get("/api/v1/auth/tokens", headers=EN)
    assert resp.get_json()["message"] == "This address does not accept the GET method."


def test_api_413_body_in_the_request_language(app, client, probes):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/api/v1/_probe/echo", data=b"x" * 2048)
    assert resp.status_code == 413 and resp.get_json()["message"] == "上传的文件过大。"
    resp = client.post("/api/v1/_probe/echo", data=b"x" * 2048, headers=EN)
    assert resp.get_json()["message"] == "The upload is too large."


def test_429_body_in_the_request_language(client, probes):
    json_zh = {"Accept": "application/json"}
    resp = client.get("/_probe/abort/429", headers=json_zh)
    assert resp.status_code == 429
    assert resp.get_json()["message"] == "尝试次数过多，请稍候一分钟再试。"
    resp = client.get("/_probe/abort/429", headers={**json_zh, **EN})
    assert resp.get_json()["message"] == "Too many attempts; please wait a minute and try again."


def test_a_view_message_is_kept(client):
    resp = client.get("/api/v1/auth/me", headers=EN)
    assert resp.status_code == 401 and "Authorization: Bearer" in resp.get_json()["message"]


def test_pages_follow_the_switch_not_the_browser(client):
    """A page's language is its switch's; the browser's Accept-Language does not change it."""
    page = client.get("/no-such-page", headers=EN)
    assert page.status_code == 404 and "页面或记录不存在" in page.get_data(as_text=True)
    client.get("/lang/en")
    page = client.get("/no-such-page")
    assert "Not found." in page.get_data(as_text=True)


def test_405_page_says_what_happened(client):
    client.get("/lang/en")
    resp = client.put("/login")
    assert resp.status_code == 405
    assert "does not accept the PUT method" in resp.get_data(as_text=True)
