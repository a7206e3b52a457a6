"""Bounds every request gets before a view (core.bounds): ids that fit the database, text
that can be stored, JSON that can be parsed. Each case answered 500 before (issue 13)."""

from __future__ import annotations

import pytest

from core.bounds import DB_INT_MAX


def test_every_int_route_refuses_an_id_past_the_database_integer(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.arguments or "_probe" in rule.rule:
            continue
        converters = rule._converters
        if not all(type(converters[a]).__name__ == "DatabaseIdConverter" for a in rule.arguments):
            continue
        too_big = rule.rule
        fits = rule.rule
        for name in rule.arguments:
            too_big = too_big.replace(f"<int:{name}>", str(DB_INT_MAX + 1))
            fits = fits.replace(f"<int:{name}>", str(DB_INT_MAX))
        assert client.get(too_big).status_code == 404, too_big
        assert client.get(fits).status_code in (302, 401, 403, 404), fits
        checked += 1
    assert checked > 20  # the API and the pages of every package


@pytest.mark.parametrize(
    "url", ["/declarations?q=%00", "/catalogue/standards?q=a%00b", "/login?next=%00"]
)
def test_a_nul_in_the_query_string_is_a_field_error(client, url):
    resp = client.get(url)
    assert resp.status_code == 422
    assert "NUL" in resp.get_data(as_text=True)


def test_a_nul_in_a_form_is_a_field_error_and_logs_nobody_in(client, make_user):
    user = make_user("admin")
    resp = client.post("/login", data={"username": user.username + "\x00", "password": "x"})
    assert resp.status_code == 422


def test_an_unpaired_surrogate_in_json_names_its_field(client):
    resp = client.post("/api/v1/auth/tokens", data='{"username": "\\udc80", "password": "x"}',
                       content_type="application/json")
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"] == {
        "username": ["Text must not contain NUL characters or unpaired surrogates."]
    }


def test_json_nested_without_end_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    resp = client.post("/api/v1/comparison", data=body, content_type="application/json")
    assert resp.status_code == 400


def test_db_id_takes_ascii_digits_within_the_database_integer():
    from core.validation import db_id

    assert db_id("42") == 42 and db_id(" 7 ") == 7 and db_id(42) == 42
    for bad in ("²", "١٢", "-1", "0", "1e3", "", None, True, str(DB_INT_MAX + 1), "9" * 5000):
        assert db_id(bad) is None, bad
    assert db_id(str(DB_INT_MAX)) == DB_INT_MAX


@pytest.mark.parametrize("value", ["%C2%B2", "99999999999999999999", "-3"])
def test_ids_in_the_query_string_that_fit_nothing_are_ignored(client, login_as, value):
    assert client.get(f"/supervision/inspections/complaints/new?declaration={value}"
                      f"&enterprise={value}").status_code == 200
    login_as("evaluator")
    assert client.get(f"/my/plans/new?category_id={value}").status_code == 200
