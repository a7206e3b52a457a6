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


def test_a_nul_in_a_text_path_segment_names_the_parameter(client):
    """A text route parameter (a plan key) is looked up in the database too (found by the drill:
    ``/api/v1/ranking/leaderboards/%00`` was a 500 on PostgreSQL)."""
    resp = client.get("/api/v1/ranking/leaderboards/%00")
    assert resp.status_code == 422
    assert "plan_key" in resp.get_json()["errors"]["json"]
    assert client.get("/leaderboards/a%00b").status_code == 422


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


def test_numbers_from_text_take_ascii_digits_only():
    from core.validation import DB_INT_MAX, integer, number

    assert number("4.50") == (4.5, True) and number("４.５") == (4.5, True)
    assert number("-1e3") == (-1000.0, True) and number("") == (None, True)
    for bad in ("١٢", "²", "1_000", "NaN", "1e999", "9" * 5000, "4,5"):
        assert number(bad) == (None, False), bad
    assert integer("12") == (12, True) and integer(3.0) == (3, True)
    assert integer(2**53 + 1) == (None, False)  # past the database integer, not rounded
    assert integer(DB_INT_MAX) == (DB_INT_MAX, True) and integer(DB_INT_MAX + 1) == (None, False)
    assert integer("²") == (None, False) and integer(3.5) == (None, False)


def test_form_whole_numbers_and_decimals_refuse_other_digits(app):
    from werkzeug.datastructures import MultiDict
    from wtforms import Form

    from core.forms import NumberField, int_or_none

    assert int_or_none("12") == 12 and int_or_none(" 7 ") == 7
    for bad in ("١٢", "²", "1e3", "3.0", "9" * 5000, str(2**31), ""):
        assert int_or_none(bad) is None, bad

    class F(Form):
        value = NumberField()

    assert F(MultiDict({"value": "４.５"})).value.data == 4.5
    form = F(MultiDict({"value": "²"}))
    assert not form.validate() and form.value.data is None


def test_db_id_and_whole_number_fields_name_the_range():
    from marshmallow import Schema, ValidationError

    from core.schemas import DbId, WholeNumber

    class S(Schema):
        enterprise_id = DbId(strict=True, load_default=None)
        category_id = DbId(load_default=None)
        days = WholeNumber(strict=True, low=1, high=365, load_default=None)

    assert S().load({"category_id": "7", "enterprise_id": 3}) == {
        "category_id": 7, "enterprise_id": 3, "days": None}
    for data in ({"enterprise_id": 2**40}, {"enterprise_id": "3"}, {"category_id": "²"},
                 {"category_id": "99999999999999999999"}, {"category_id": "-1"},
                 {"days": 366}, {"days": 1.5}):
        with pytest.raises(ValidationError) as caught:
            S().load(data)
        field = next(iter(data))
        assert "from" in caught.value.messages[field][0], data


def test_a_huge_page_is_a_422_naming_page_on_the_api_and_on_pages(client):
    resp = client.get("/api/v1/ranking/leaderboards?page=4349898482790066290688")
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["query"]["page"] == [
        f"Enter a whole number from 1 to {DB_INT_MAX} (digits 0-9)."]
    resp = client.get("/api/v1/catalogue/standards?page_size=1000")
    assert resp.status_code == 422 and "page_size" in resp.get_json()["errors"]["query"]
    assert client.get("/api/v1/catalogue/standards?page=2").status_code == 200
    page = client.get("/declarations?page=4349898482790066290688")
    assert page.status_code == 422 and "page" in page.get_data(as_text=True)
    assert client.get("/declarations?page=2").status_code == 200


def test_the_documented_page_has_a_maximum(app):
    from core.extensions import api

    params = api.spec.to_dict()["paths"]["/api/v1/ranking/leaderboards"]["get"]["parameters"]
    page = next(p for p in params if p["name"] == "page")
    assert page["schema"]["maximum"] == DB_INT_MAX


@pytest.mark.parametrize("seed", ["²", "9" * 5000, "١٢", str(2**128)])
def test_a_seed_takes_at_most_39_ascii_digits(app, seed):
    from core.errors import ValidationFailed
    from supervision.sampling.operations import _seed

    with app.test_request_context("/?lang=en"), pytest.raises(ValidationFailed) as caught:
        _seed(seed, None)
    assert "digits only, at most 39" in caught.value.errors["seed"][0]
    assert _seed(str(2**128 - 1), None) == 2**128 - 1
