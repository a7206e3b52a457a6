"""Every list in a draft has a maximum (issue 13): products, indicators, normative references
(config ``DRAFT_MAX_*``), a product's attributes, the long texts. Beyond it a field error that
says what is allowed and how many there are, through the operations, the API and the form,
before any work per row."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from core.errors import ValidationFailed
from core.models import Role
from declare import operations
from declare.models import Declaration
from declare.schemas import IndicatorIn
from tests.declare import (
    QueryCounter,
    en_request_fixture,  # noqa: F401
    enterprise_data,
    owner_fixture,  # noqa: F401
)
from tests.declare.test_views import own_standard_form

API = "/api/v1"


def indicator(catalogue, i: int = 0) -> dict:
    return {
        "kind": "performance",
        "name": f"APF {i}",
        "benchmark_indicator_id": catalogue["apf"].id,
        "op": "ge",
        "value": 5.1,
        "unit": "W/W",
        "test_method": "GB/T 7725-2022 附录 C",
    }


def declarations(db) -> int:
    return db.session.scalar(select(func.count(Declaration.id)))


# --------------------------------------------------------------------------- operations


def test_defaults_are_200_products_500_indicators_100_references(app):
    assert operations.draft_limits() == {
        "products": 200,
        "indicators": 500,
        "reference_ids": 100,
    }


def test_too_many_rows_are_refused_with_the_limit_and_the_count(db, owner, catalogue):
    data = enterprise_data(catalogue)
    data["products"] = data["products"] * 201
    data["indicators"] = [indicator(catalogue, i) for i in range(10_000)]
    data["reference_ids"] = [catalogue["gbt7725"].id] * 101
    enterprise = owner.enterprise
    with QueryCounter(db.engine) as counter, pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, data)
    assert err.value.errors == {
        "products": ["At most 200 products per draft; this draft has 201."],
        "indicators": ["At most 500 indicators per draft; this draft has 10,000."],
        "reference_ids": ["At most 100 normative references per draft; this draft has 101."],
    }
    assert counter.statements == []  # refused before any row is read or looked up
    assert declarations(db) == 0


def test_the_limit_itself_is_allowed(db, owner, catalogue, app):
    app.config["DRAFT_MAX_INDICATORS"] = 3
    data = enterprise_data(catalogue)
    data["indicators"] = [indicator(catalogue, i) for i in range(3)]
    version = operations.create_draft(owner.enterprise, data)
    assert len(version.indicators) == 3
    data["indicators"].append(indicator(catalogue, 3))
    with pytest.raises(ValidationFailed) as err:
        operations.update_draft(version, data, version.lock_version)
    assert err.value.errors == {
        "indicators": ["At most 3 indicators per draft; this draft has 4."]
    }


def test_publish_checks_the_stored_lists_again(db, owner, catalogue, app):
    """A draft saved under a higher limit cannot be published once the limit is lower."""
    data = enterprise_data(catalogue)
    data["products"] = data["products"] * 3
    version = operations.create_draft(owner.enterprise, data)
    app.config["DRAFT_MAX_PRODUCTS"] = 2
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    assert err.value.errors == {"products": ["At most 2 products per draft; this draft has 3."]}


def test_a_product_names_each_attribute_at_most_once(db, owner, catalogue):
    data = enterprise_data(catalogue)
    data["products"][0]["attributes"] = {f"x{i}": 1 for i in range(5_000)}
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, data)
    (message,) = err.value.errors["products.0.attributes"]
    assert message.startswith("A product has at most ") and "this one has 5,000" in message


def test_long_texts_are_bounded(db, owner, catalogue):
    data = enterprise_data(catalogue, revision_note="修" * 4001, mingshi_fewer="明" * 4001)
    data["indicators"][0]["mingshi"] = "示" * 4001
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, data)
    for field in ("revision_note", "mingshi_fewer", "indicators.0.mingshi"):
        assert err.value.errors[field] == ["At most 4000 characters."]


# --------------------------------------------------------------------------- API


@pytest.fixture
def auth(make_user, token_for, catalogue):
    return token_for(make_user(Role.ENTERPRISE))


def test_api_refuses_10000_indicators_before_reading_a_row(
    client, db, auth, catalogue, monkeypatch
):
    rows_read = []
    load = IndicatorIn.load

    def counted(self, *args, **kwargs):
        rows_read.append(1)
        return load(self, *args, **kwargs)

    monkeypatch.setattr(IndicatorIn, "load", counted)
    body = enterprise_data(catalogue)
    body["indicators"] = [indicator(catalogue, i) for i in range(10_000)]
    started = time.perf_counter()
    resp = client.post(f"{API}/declarations?lang=en", json=body, headers=auth)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"] == {
        "indicators": ["At most 500 indicators per draft; this draft has 10,000."]
    }
    assert rows_read == []
    assert declarations(db) == 0
    print(f"API refusal of 10,000 indicators: {elapsed * 1000:.0f} ms")


def test_api_refuses_too_many_products_and_references_on_update(
    client, db, auth, catalogue, app
):
    created = client.post(f"{API}/declarations", json=enterprise_data(catalogue), headers=auth)
    assert created.status_code == 201
    version = created.get_json()
    app.config.update(DRAFT_MAX_PRODUCTS=2, DRAFT_MAX_REFERENCES=1)
    body = enterprise_data(catalogue)
    body["products"] = body["products"] * 3
    body["reference_ids"] = [catalogue["gbt7725"].id, catalogue["gb21455"].id]
    resp = client.put(
        f"{API}/declarations/{version['declaration_id']}/draft?lang=en",
        json={**body, "lock_version": version["lock_version"]},
        headers=auth,
    )
    assert resp.status_code == 422
    assert resp.get_json()["errors"]["json"] == {
        "products": ["At most 2 products per draft; this draft has 3."],
        "reference_ids": ["At most 1 normative references per draft; this draft has 2."],
    }


def test_api_documents_the_limits(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    draft = spec["components"]["schemas"]["DraftIn"]["properties"]
    assert "DRAFT_MAX_INDICATORS" in draft["indicators"]["description"]
    assert "DRAFT_MAX_PRODUCTS" in draft["products"]["description"]


def test_the_chinese_message_keeps_the_numbers(client, auth, catalogue):
    body = enterprise_data(catalogue)
    body["indicators"] = [indicator(catalogue, i) for i in range(501)]
    resp = client.post(f"{API}/declarations?lang=zh", json=body, headers=auth)
    assert resp.status_code == 422
    (message,) = resp.get_json()["errors"]["json"]["indicators"]
    assert "500" in message and "501" in message


# --------------------------------------------------------------------------- form


@pytest.fixture
def browser(client, login_as, catalogue):
    login_as(Role.ENTERPRISE)
    return client


def indicator_rows(catalogue, start: int, count: int) -> dict:
    data = {}
    for i in range(start, start + count):
        data.update(
            {
                f"indicators-{i}-kind": "performance",
                f"indicators-{i}-name": f"指标 {i}",
                f"indicators-{i}-op": "ge",
                f"indicators-{i}-value": "1",
                f"indicators-{i}-test_method": "GB/T 7725-2022",
            }
        )
    return data


def test_form_refuses_10000_indicator_rows_without_building_them(browser, db, catalogue):
    data = own_standard_form(catalogue, **indicator_rows(catalogue, 3, 9_997))
    request = EnvironBuilder(
        path="/my/declarations/new/enterprise", query_string="lang=en", method="POST", data=data
    ).get_environ()  # the body encoded before the clock starts: the server's time only
    started = time.perf_counter()
    resp = browser.open(request)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "At most 500 indicators per draft; this draft has 10,000." in page
    assert 'name="indicators-0-name"' not in page  # not 500 rows drawn again
    assert declarations(db) == 0
    print(f"form refusal of 10,000 indicator rows: {elapsed * 1000:.0f} ms")


def test_form_counts_filled_rows_not_the_blank_ones(browser, db, catalogue, app):
    app.config["DRAFT_MAX_INDICATORS"] = 4
    # Rows 1 and 2 of the helper are filled, row 0 is blank; rows 3 and 4 filled, 5-8 blank.
    data = own_standard_form(catalogue, **indicator_rows(catalogue, 3, 2))
    data.update({f"indicators-{i}-kind": "performance" for i in range(5, 9)})
    saved = browser.post("/my/declarations/new/enterprise?lang=en", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    declaration = db.session.scalars(select(Declaration)).one()
    assert len(declaration.draft.indicators) == 4

    data = own_standard_form(catalogue, **indicator_rows(catalogue, 3, 3), lock=1)
    refused = browser.post(f"/my/declarations/{declaration.id}/draft?lang=en", data=data)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    # A few rows over: the form again, the message at the list and in the summary.
    assert page.count("At most 4 indicators per draft; this draft has 5.") == 2
    assert 'name="indicators-5-name"' in page


def test_a_stored_draft_longer_than_a_lowered_limit_still_opens(browser, db, catalogue, app):
    data = own_standard_form(catalogue, **indicator_rows(catalogue, 3, 4))
    assert browser.post("/my/declarations/new/enterprise", data=data).status_code == 302
    declaration = db.session.scalars(select(Declaration)).one()
    app.config["DRAFT_MAX_INDICATORS"] = 2
    page = browser.get(f"/my/declarations/{declaration.id}/draft?lang=en")
    assert page.status_code == 200
    assert 'name="indicators-5-name"' in page.get_data(as_text=True)


def test_live_comparison_takes_the_rows_a_form_may_have(browser, catalogue, app):
    app.config.update(DRAFT_MAX_INDICATORS=3, DRAFT_MAX_PRODUCTS=1)
    rows = [{"name": "APF", "op": "ge", "value": "5"}]
    ok = browser.post("/declarations/compare", json={"indicators": rows * 8})
    assert ok.status_code == 200 and len(ok.get_json()["rows"]) == 8
    too_many = browser.post("/declarations/compare?lang=en", json={"indicators": rows * 9})
    assert too_many.status_code == 400
    assert "at most 8 indicator rows" in too_many.get_json()["message"]
    products = [{"category_id": catalogue["room_ac"].id}] * 5
    refused = browser.post(
        "/declarations/compare?lang=en", json={"indicators": rows, "products": products}
    )
    assert refused.status_code == 400
    assert "at most 4 product rows" in refused.get_json()["message"]
