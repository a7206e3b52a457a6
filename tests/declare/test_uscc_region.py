"""Issue 9, finding 6: a USCC whose characters 3–8 are no administrative division is refused.

The check character is valid in every case here, so only the region can be wrong.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from declare.models import Enterprise
from declare.validators import USCCError, region_known, validate_uscc
from tests.factories import valid_uscc

NOWHERE = valid_uscc("999999")  # valid check character, no such region


def _enterprises(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Enterprise))


def test_region_table_comes_from_python_stdnum():
    assert region_known("500112") and region_known("110105") and region_known("440300")
    assert not region_known("999999")
    assert not region_known("509999")  # the province exists, the county does not
    assert not region_known("50011")


def test_validator_names_the_region():
    with pytest.raises(USCCError) as info:
        validate_uscc(NOWHERE)
    assert info.value.code == "region"
    assert "999999" in info.value.message and NOWHERE in info.value.message


def test_form_refuses_a_region_that_does_not_exist(client, db):
    resp = client.post(
        "/register",
        data={
            "uscc": NOWHERE,
            "name": "无名地方有限公司",
            "username": "nowhere",
            "password": "long enough 1",
            "password2": "long enough 1",
        },
    )
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "999999" in body and "行政区划" in body
    assert _enterprises(db) == 0


def test_api_refuses_a_region_that_does_not_exist(client, db):
    resp = client.post(
        "/api/v1/enterprises",
        json={
            "uscc": NOWHERE,
            "name": "无名地方有限公司",
            "username": "nowhere",
            "password": "long enough 1",
        },
    )
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]["json"]
    assert "uscc" in errors and "999999" in " ".join(errors["uscc"])
    assert _enterprises(db) == 0


def test_operation_refuses_it_too(db):
    from core.errors import ValidationFailed
    from declare import operations

    with pytest.raises(ValidationFailed) as info:
        operations.register_enterprise(
            uscc=NOWHERE, name="无名地方有限公司", username="nowhere", password="long enough 1"
        )
    assert "uscc" in info.value.errors
