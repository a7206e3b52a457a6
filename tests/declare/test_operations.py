"""declare.operations, queries and comparison: registration, drafts, publication, history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from core.clock import local_today
from benchmarks.models import BenchmarkIndicator, StandardStatus
from core.errors import Conflict, ValidationFailed
from core.models import Role, User
from declare import comparison, operations, queries
from declare.models import (
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    Indicator,
    Product,
    VersionStatus,
)
from tests.declare import (
    GOOD_BARCODE,
    QueryCounter,
    catalogue_data,
    en_request_fixture,  # noqa: F401
    enterprise_data,
    owner_fixture,  # noqa: F401
    pdf_bytes,
    publish_enterprise,
    shanghai,
    upload,
    with_indicator,
)
from tests.factories import make_enterprise_user, valid_uscc

pytestmark = pytest.mark.usefixtures("en_request")


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.errors


# --------------------------------------------------------------------------- registration


def register(**kw):
    args = {
        "uscc": valid_uscc("440300"),
        "name": "深圳示例电器有限公司",
        "username": "shili",
        "password": "long enough",
    }
    args.update(kw)
    return operations.register_enterprise(**args)


def test_register_creates_enterprise_and_user_with_region(db):
    code = valid_uscc("440305")
    user = register(uscc=code.lower()[:9] + " " + code.lower()[9:], address="深圳市南山区")
    db.session.commit()
    assert user.role is Role.ENTERPRISE and user.check_password("long enough")
    assert user.enterprise.uscc == code
    assert user.enterprise.region_code == "440305"
    assert user.enterprise.address == "深圳市南山区"


def test_second_registration_of_same_uscc_is_refused_however_typed(db):
    code = "9144030071526726XG"
    register(uscc=code, username="first")
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        register(uscc=" 9144 0300 7152 6726 xg", username="second")
    assert list(errors_of(err)) == ["uscc"]
    assert "already exists" in errors_of(err)["uscc"][0]
    assert db.session.scalar(select(func.count(Enterprise.id))) == 1


@pytest.mark.parametrize("field", ["uscc", "username"])
def test_a_registration_losing_a_race_gets_the_field_error_not_a_crash(db, monkeypatch, field):
    """Another request registers the same USCC (or user name) between our checks and our
    insert: the unique constraint refuses ours, reported as the field error the checks give."""
    code = "9144030071526726XG"
    other_code = valid_uscc("440305")
    set_password = User.set_password

    def competitor_commits_first(self, password):
        with db.engine.begin() as conn:  # a separate connection: the other request
            enterprise_id = conn.execute(
                Enterprise.__table__.insert().values(
                    uscc=code if field == "uscc" else other_code, name="先到企业",
                    region_code="440300", address="", contact_name="", contact_phone="",
                )
            ).inserted_primary_key[0]
            conn.execute(
                User.__table__.insert().values(
                    username="first" if field == "username" else "someone",
                    password_hash="x", role="ENTERPRISE", display_name="",
                    enterprise_id=enterprise_id, is_active_account=True,
                )
            )
        set_password(self, password)

    monkeypatch.setattr(User, "set_password", competitor_commits_first)
    with pytest.raises(ValidationFailed) as err:
        register(uscc=code, username="first")
    assert list(errors_of(err)) == [field]
    db.session.rollback()
    assert db.session.scalar(select(func.count(Enterprise.id))) == 1


def test_registration_refusals_are_collected_by_field(db):
    register(username="taken")
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        register(uscc="914403007152672OXG", username="TAKEN", password="short", name=" ")
    errors = errors_of(err)
    assert set(errors) == {"uscc", "username", "password", "name"}
    assert "at least 8 characters" in errors["password"][0]
    assert "taken" in errors["username"][0]
    assert "I, O, S, V and Z" in errors["uscc"][0]
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_registration_refuses_a_bad_check_character(db):
    with pytest.raises(ValidationFailed) as err:
        register(uscc="9144030071526726XH")
    assert "check character" in errors_of(err)["uscc"][0]


# --------------------------------------------------------------------------- draft formats


def test_create_draft_stores_parsed_number_products_indicators_references(db, owner, catalogue):
    version = operations.create_draft(
        owner.enterprise, enterprise_data(catalogue, std_code="q/sjx 0001s－2024")
    )
    db.session.commit()
    assert version.version_no == 1 and version.status is VersionStatus.DRAFT
    assert version.declaration.status is DeclarationStatus.DRAFT
    assert version.declaration.kind is DeclarationKind.ENTERPRISE
    assert (
        version.std_code,
        version.std_enterprise_code,
        version.std_sequence,
        version.std_year,
    ) == (
        "q/sjx 0001s-2024",
        "SJX",
        "0001S",
        2024,
    )
    assert [p.barcode for p in version.products] == [GOOD_BARCODE]
    assert [(i.position, i.name) for i in version.indicators] == [(0, "APF"), (1, "自清洁")]
    assert [r.standard.code for r in version.references] == ["GB/T 7725-2022"]
    assert version.lock_version == 1


def test_format_errors_are_collected_with_dotted_paths(db, owner, catalogue):
    data = enterprise_data(catalogue, std_code="GB/T 7725-2022", reference_ids=[999999])
    data["products"][0].update(barcode="6901234567893", category_id=999999)
    data["products"].append({"name": "", "model": "X1", "category_id": catalogue["room_ac"].id})
    data["indicators"][0].update(unit="kg")
    data["indicators"].append(
        {"kind": "performance", "name": "噪声", "op": "range", "low": 40, "high": 30}
    )
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, data)
    errors = errors_of(err)
    assert set(errors) >= {
        "std_code",
        "products.0.barcode",
        "products.0.category_id",
        "products.1.name",
        "indicators.0.unit",
        "indicators.2.low",
        "reference_ids.0",
    }
    assert "must start with Q/" in errors["std_code"][0]
    assert "check digit" in errors["products.0.barcode"][0]
    assert "cannot be converted to W/W" in errors["indicators.0.unit"][0]
    assert db.session.scalar(select(func.count(Declaration.id))) == 0


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"op": "ge", "value": None}, "indicators.0.value"),
        ({"op": "range", "value": None, "low": 4.0}, "indicators.0.high"),
        ({"op": "ge", "value": 5, "low": 4}, "indicators.0.low"),
        ({"op": "gt"}, "indicators.0.op"),
        ({"value": "five"}, "indicators.0.value"),
        ({"unit": ""}, "indicators.0.unit"),
        ({"benchmark_indicator_id": 999999}, "indicators.0.benchmark_indicator_id"),
        ({"kind": "other"}, "indicators.0.kind"),
    ],
)
def test_indicator_consistency(db, owner, catalogue, changes, field):
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, with_indicator(catalogue, **changes))
    assert field in errors_of(err)


def test_benchmark_of_another_category_is_refused(db, owner, catalogue):
    data = with_indicator(catalogue, benchmark_indicator_id=catalogue["avg_water"].id, unit="L")
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(owner.enterprise, data)
    assert (
        "none of the declared products" in errors_of(err)["indicators.0.benchmark_indicator_id"][0]
    )


def test_convertible_unit_is_accepted(db, owner, catalogue):
    data = enterprise_data(catalogue)
    data["products"][0]["category_id"] = catalogue["toilet"].id
    data["indicators"][0].update(
        name="平均用水量",
        benchmark_indicator_id=catalogue["avg_water"].id,
        op="le",
        value=4800,
        unit="mL",
    )
    version = operations.create_draft(owner.enterprise, data)
    assert version.indicators[0].unit == "mL"


def test_catalogue_kind_needs_a_catalogue_standard_in_force(db, owner, catalogue):
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(
            owner.enterprise, catalogue_data(catalogue, standard_id=None, std_code="GB/T 7725-2022")
        )
    assert "from the catalogue" in errors_of(err)["standard_id"][0]
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(
            owner.enterprise, catalogue_data(catalogue, standard_id=catalogue["gbt7725_old"].id)
        )
    message = errors_of(err)["standard_id"][0]
    assert "GB/T 7725-2004 was withdrawn on 2023-05-01 and replaced by GB/T 7725-2022" in message
    version = operations.create_draft(owner.enterprise, catalogue_data(catalogue))
    assert version.standard.code == "GB/T 7725-2022" and version.std_code == ""
    assert version.number == "GB/T 7725-2022"


def test_withdrawn_reference_is_refused(db, owner, catalogue):
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(
            owner.enterprise,
            enterprise_data(catalogue, reference_ids=[catalogue["gbt7725_old"].id]),
        )
    assert "withdrawn" in errors_of(err)["reference_ids.0"][0]


def test_same_enterprise_number_cannot_be_declared_twice(db, owner, catalogue):
    operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        operations.create_draft(
            owner.enterprise, enterprise_data(catalogue, std_code="Q/SJX0001-2024")
        )
    assert "already declared" in errors_of(err)["std_code"][0]
    other = make_enterprise_user()  # another enterprise may use the same number (joint drafting)
    operations.create_draft(other.enterprise, enterprise_data(catalogue))


# --------------------------------------------------------------------------- update and lock


def test_update_replaces_children_and_bumps_lock(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    data = enterprise_data(
        catalogue,
        std_name="房间空气调节器（修改）",
        reference_ids=[catalogue["gbt7725"].id, catalogue["gb21455"].id],
    )
    data["products"].append(
        {"name": "柜机", "model": "KFR-72LW", "category_id": catalogue["room_ac"].id}
    )
    data["indicators"] = data["indicators"][:1]
    operations.update_draft(version, data, lock_version=1)
    db.session.commit()
    assert version.lock_version == 2
    assert version.std_name == "房间空气调节器（修改）"
    assert [p.model for p in version.products] == ["KFR-35GW/A1", "KFR-72LW"]
    assert len(version.indicators) == 1
    assert sorted(r.standard.code for r in version.references) == [
        "GB 21455-2019",
        "GB/T 7725-2022",
    ]
    assert db.session.scalar(select(func.count(Product.id))) == 2
    assert db.session.scalar(select(func.count(Indicator.id))) == 1


def test_stale_lock_version_is_a_conflict_and_overwrites_nothing(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    operations.update_draft(
        version, enterprise_data(catalogue, std_name="第一次修改"), lock_version=1
    )
    db.session.commit()
    with pytest.raises(Conflict) as err:
        operations.update_draft(
            version, enterprise_data(catalogue, std_name="过期的修改", products=[]), lock_version=1
        )
    assert err.value.current_version == 2
    db.session.rollback()
    assert (
        version.std_name == "第一次修改"
        and len(version.products) == 1
        and version.lock_version == 2
    )


def test_stale_lock_answers_409_through_the_error_handler(app, db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    with pytest.raises(Conflict) as err:
        operations.update_draft(version, enterprise_data(catalogue), lock_version=0)
    handler = app.error_handler_spec[None][None][Conflict]
    _body, status = handler(err.value)
    assert status == 409


def test_discard_draft_removes_a_never_published_declaration(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    operations.discard_draft(version)
    db.session.commit()
    assert db.session.scalar(select(func.count(Declaration.id))) == 0
    assert db.session.scalar(select(func.count(DeclarationVersion.id))) == 0


# --------------------------------------------------------------------------- publication


def test_publish_writes_comparison_and_status(db, owner, catalogue):
    version = publish_enterprise(owner.enterprise, catalogue)
    apf = version.indicators[0]
    assert (apf.cmp_status, apf.cmp_grade, apf.cmp_guaranteed) == ("exceeds", "1级", 5.1)
    assert apf.cmp_margin_pct == pytest.approx((5.1 - 4.5) / 4.5 * 100)
    assert version.indicators[1].cmp_status is None  # not mapped to a benchmark
    declaration = version.declaration
    assert version.status is VersionStatus.PUBLISHED and version.published_at is not None
    assert declaration.status is DeclarationStatus.PUBLISHED
    assert declaration.current_version is version


def test_violation_is_refused_naming_standard_limit_and_value(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, with_indicator(catalogue, value=3.1))
    operations.attach_text(version, upload(pdf_bytes()))
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    assert errors_of(err) == {
        "indicators.0.value": [
            (
                "APF 3.10 W/W is worse than the mandatory limit 3.30 W/W of GB 21455-2019: "
                "this declaration cannot be published."
            )
        ]
    }
    assert version.status is VersionStatus.DRAFT


def test_below_recommended_needs_mingshi(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, with_indicator(catalogue, value=4.0))
    operations.attach_text(version, upload(pdf_bytes()))
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    assert errors_of(err) == {
        "indicators.0.mingshi": [
            (
                "APF 4.00 W/W is below the recommended value 4.50 W/W of GB 21455-2019: "
                "state it explicitly (明示) with a reason."
            )
        ]
    }
    data = with_indicator(catalogue, value=4.0, mingshi="低于推荐值：为降低成本采用定频压缩机。")
    operations.update_draft(version, data, lock_version=version.lock_version)
    operations.publish(version)
    assert version.indicators[0].cmp_status == "below_recommended"
    assert version.indicators[0].cmp_grade == "3级"


def test_lower_is_better_converts_units_and_names_the_direction(db, owner, catalogue):
    rows = [
        {
            "name": "平均用水量",
            "benchmark_indicator_id": catalogue["avg_water"].id,
            "op": "le",
            "value": 6800,
            "unit": "mL",
        },
        {
            "name": "平均用水量",
            "benchmark_indicator_id": catalogue["avg_water"].id,
            "op": "le",
            "value": 5.5,
            "unit": "升",
        },
        {
            "name": "平均用水量",
            "benchmark_indicator_id": catalogue["avg_water"].id,
            "op": "ge",
            "value": 3,
            "unit": "L",
        },
        {
            "name": "平均用水量",
            "benchmark_indicator_id": catalogue["avg_water"].id,
            "op": "le",
            "value": 3,
            "unit": "kg",
        },
        {
            "name": "平均用水量",
            "benchmark_indicator_id": catalogue["avg_water"].id,
            "op": "le",
            "value": 3.9,
            "unit": "L",
        },
    ]
    checks = comparison.check_indicators(rows, date(2024, 1, 1))
    assert [c.problem for c in checks] == [
        "violation",
        "mingshi_missing",
        "unbounded",
        "unit",
        None,
    ]
    assert checks[0].message.startswith(
        "平均用水量 6.80 L is worse than the mandatory limit 6.40 L of GB 25502-2017"
    )
    assert "is above the recommended value 5.00 L" in checks[1].message
    assert [c.field for c in checks] == [
        "indicators.0.value",
        "indicators.1.mingshi",
        "indicators.2.op",
        "indicators.3.unit",
        "indicators.4.value",
    ]
    assert (
        checks[4].comparison.grade == "1级" and checks[4].benchmark_id == catalogue["avg_water"].id
    )


def test_comparison_uses_the_edition_valid_on_the_day_in_one_query(db, owner, catalogue):
    old = catalogue["apf"]
    newer = BenchmarkIndicator(
        category_id=old.category_id,
        code=old.code,
        name=old.name,
        unit="W/W",
        direction="higher",
        mandatory_limit=4.0,
        mandatory_source_id=old.mandatory_source_id,
        grades=[["1级", 5.5], ["2级", 4.0]],
        valid_from=date(2030, 1, 1),
    )
    db.session.add(newer)
    db.session.commit()
    rows = [
        {"name": "APF", "benchmark_indicator_id": old.id, "op": "ge", "value": 3.8, "unit": "W/W"}
    ] * 5
    with QueryCounter(db.engine) as counter:
        before = comparison.check_indicators(rows, date(2029, 12, 31))
    assert counter.count == 1
    after = comparison.check_indicators(rows, date(2030, 1, 1))
    assert before[0].problem == "mingshi_missing" and before[0].benchmark_id == old.id
    assert after[0].problem == "violation" and after[0].benchmark_id == newer.id
    too_early = comparison.check_indicators(rows[:1], date(2019, 1, 1))
    assert too_early[0].comparison is None and too_early[0].problem is None


def test_enterprise_kind_completeness(db, owner, catalogue):
    data = enterprise_data(catalogue, commitment_accepted=False, approved_by="")
    data["indicators"][0]["test_method"] = ""
    data["indicators"][0]["kind"] = "function"
    version = operations.create_draft(owner.enterprise, data)
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    errors = errors_of(err)
    assert set(errors) == {
        "commitment_accepted",
        "approved_by",
        "text",
        "indicators",
        "indicators.0.test_method",
    }
    assert errors["indicators.0.test_method"] == [
        "Give the test method (检验方法) of APF (Art. 12)."
    ]
    assert errors["text"] == ["Upload the text of the standard as PDF."]
    assert "performance indicator" in errors["indicators"][0]


def test_missing_products_and_commitment_refuse_a_catalogue_declaration(db, owner, catalogue):
    version = operations.create_draft(
        owner.enterprise, catalogue_data(catalogue, products=[], commitment_accepted=False)
    )
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    assert set(errors_of(err)) == {"products", "commitment_accepted"}
    operations.update_draft(version, catalogue_data(catalogue), lock_version=version.lock_version)
    operations.publish(version)  # no text, indicators or approver needed for a catalogue standard
    assert version.status is VersionStatus.PUBLISHED


def test_publish_rechecks_the_catalogue(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, catalogue_data(catalogue))
    db.session.commit()
    catalogue["gbt7725"].withdrawn_date = local_today() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(ValidationFailed) as err:
        operations.publish(version)
    assert "withdrawn" in errors_of(err)["standard_id"][0]


# --------------------------------------------------------------------------- lifecycle and history


def test_lifecycle_draft_publish_revise_publish_abolish(db, owner, catalogue, monkeypatch):
    clock = [shanghai(2024, 3, 1, 10)]
    monkeypatch.setattr(operations, "utcnow", lambda: clock[0])

    v1 = publish_enterprise(owner.enterprise, catalogue)
    declaration = v1.declaration
    assert v1.published_at == shanghai(2024, 3, 1, 10)

    v2 = operations.start_revision(declaration)
    db.session.commit()
    assert (v2.version_no, v2.status) == (2, VersionStatus.DRAFT)
    assert [p.model for p in v2.products] == [p.model for p in v1.products]
    assert [i.name for i in v2.indicators] == [i.name for i in v1.indicators]
    assert v2.indicators[0].cmp_status is None
    assert [r.standard_id for r in v2.references] == [r.standard_id for r in v1.references]
    assert v2.text_attachment_id == v1.text_attachment_id
    with pytest.raises(Conflict) as conflict:
        operations.start_revision(declaration)
    assert "already in progress" in conflict.value.message

    data = with_indicator(catalogue, value=5.3)
    operations.update_draft(v2, data, lock_version=v2.lock_version)
    clock[0] = shanghai(2024, 6, 1, 23, 30)
    operations.publish(v2)
    db.session.commit()
    assert v1.status is VersionStatus.SUPERSEDED and v1.ended_at == v2.published_at
    assert v1.indicators[0].value == 5.1 and v2.indicators[0].value == 5.3
    assert declaration.current_version is v2 and declaration.status is DeclarationStatus.PUBLISHED

    with pytest.raises(ValidationFailed) as err:
        operations.abolish(declaration, "  ")
    assert "reason" in errors_of(err)
    clock[0] = shanghai(2024, 9, 2, 0, 30)
    ended = operations.abolish(declaration, "产品停产")
    db.session.commit()
    assert ended is v2 and v2.status is VersionStatus.ABOLISHED and v2.end_reason == "产品停产"
    assert v2.ended_at == shanghai(2024, 9, 2, 0, 30)
    assert declaration.status is DeclarationStatus.ABOLISHED
    with pytest.raises(ValidationFailed):
        operations.start_revision(declaration)

    # version_as_of: the end of the day in Beijing, whatever the UTC date.
    assert queries.version_as_of(declaration, date(2024, 2, 29)) is None  # before publication
    assert queries.version_as_of(declaration, date(2024, 3, 1)) == v1
    assert queries.version_as_of(declaration, date(2024, 5, 31)) == v1
    assert queries.version_as_of(declaration, date(2024, 6, 1)) == v2  # revised late that day
    assert queries.version_as_of(declaration, date(2024, 9, 1)) == v2  # abolished 00:30 on 9-2
    assert queries.version_as_of(declaration, date(2024, 9, 2)) is None  # nothing in force
    assert [v.version_no for v in queries.version_history(declaration)] == [1, 2]


def test_revoke_ends_the_version_and_discards_an_open_revision(db, owner, catalogue):
    v1 = publish_enterprise(owner.enterprise, catalogue)
    declaration = v1.declaration
    operations.start_revision(declaration)
    db.session.commit()
    operations.revoke(declaration, "抽查不符合，责令撤销")
    db.session.commit()
    assert v1.status is VersionStatus.REVOKED and declaration.status is DeclarationStatus.REVOKED
    assert [v.version_no for v in queries.version_history(declaration, include_drafts=True)] == [1]


def test_a_published_version_cannot_be_updated_or_discarded(db, owner, catalogue):
    v1 = publish_enterprise(owner.enterprise, catalogue)
    with pytest.raises(ValidationFailed) as err:
        operations.update_draft(v1, enterprise_data(catalogue), lock_version=v1.lock_version)
    assert "cannot change" in errors_of(err)["_schema"][0]
    with pytest.raises(ValidationFailed):
        operations.discard_draft(v1)
    with pytest.raises(ValidationFailed):
        operations.publish(v1)


# --------------------------------------------------------------------------- queries


def test_owned_lookups_hide_other_enterprises_records(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    assert queries.owned_declaration(version.declaration_id, owner) == version.declaration
    assert queries.owned_version(version.id, owner) == version
    stranger = make_enterprise_user()
    for lookup, ident in (
        (queries.owned_declaration, version.declaration_id),
        (queries.owned_version, version.id),
    ):
        with pytest.raises(NotFound):
            lookup(ident, stranger)
        with pytest.raises(NotFound):
            lookup(ident, None)
    with pytest.raises(NotFound):
        queries.owned_declaration(987654, owner)


def test_declarations_of_lists_with_status_filter(db, owner, catalogue):
    published = publish_enterprise(owner.enterprise, catalogue)
    draft = operations.create_draft(owner.enterprise, catalogue_data(catalogue))
    db.session.commit()
    db.session.expire_all()
    with QueryCounter(db.engine) as counter:
        rows = queries.declarations_of(owner.enterprise)
        numbers = [(d.latest.number, d.draft is not None) for d in rows]
    assert sorted(numbers) == sorted([("GB/T 7725-2022", True), ("Q/SJX 0001-2024", False)])
    assert counter.count <= 3
    assert [d.id for d in queries.declarations_of(owner.enterprise, status="published")] == [
        published.declaration_id
    ]
    assert [
        d.id for d in queries.declarations_of(owner.enterprise, status=DeclarationStatus.DRAFT)
    ] == [draft.declaration_id]


def test_published_versions_search_filters_and_fixed_query_count(db, catalogue):
    a = make_enterprise_user(region="500112", name="重庆空调制造有限公司")
    b = make_enterprise_user(region="440305", name="深圳卫浴有限公司")
    publish_enterprise(a.enterprise, catalogue)
    toilet = enterprise_data(
        catalogue, std_code="Q/WY 0002-2023", std_name="节水坐便器", reference_ids=[]
    )
    toilet["products"] = [
        {"name": "节水坐便器", "model": "WC-100", "category_id": catalogue["toilet"].id}
    ]
    toilet["indicators"][0].update(
        name="平均用水量",
        benchmark_indicator_id=catalogue["avg_water"].id,
        op="le",
        value=3.9,
        unit="L",
    )
    publish_enterprise(
        b.enterprise,
        catalogue,
        **{
            k: toilet[k]
            for k in ("std_code", "std_name", "reference_ids", "products", "indicators")
        },
    )
    for _ in range(3):
        publish_enterprise(make_enterprise_user().enterprise, catalogue, std_code="Q/ABC 0001-2024")
    operations.create_draft(a.enterprise, catalogue_data(catalogue))  # drafts are never listed
    db.session.commit()
    db.session.expire_all()

    with QueryCounter(db.engine) as counter:
        page = queries.published_versions(per_page=10)
        listed = [
            (v.number, v.declaration.enterprise.name, [p.category.code for p in v.products])
            for v in page.items
        ]
    assert page.total == 5 and len(listed) == 5
    assert counter.count == 4  # count, the newest rows, the page, products (with categories)

    def found(**kw):
        return sorted(v.number for v in queries.published_versions(**kw).items)

    assert found(q="wc-100") == ["Q/WY 0002-2023"]
    assert found(q="坐便器") == ["Q/WY 0002-2023"]
    assert found(q="重庆空调") == ["Q/SJX 0001-2024"]
    assert found(q="q/wy") == ["Q/WY 0002-2023"]
    # Token search (declare.search): "%" is no wildcard and no text, so "100%" is the atom 100.
    assert found(q="100%") == ["Q/WY 0002-2023"]
    assert found(q="%%") == []
    assert found(category_id=catalogue["toilet"].id) == ["Q/WY 0002-2023"]
    assert found(region="44") == ["Q/WY 0002-2023"]
    assert found(region="440000") == ["Q/WY 0002-2023"]
    assert len(found(region="500112")) == 4
    assert found(kind="catalogue") == []
    assert len(found(kind="enterprise")) == 5
    second = queries.published_versions(per_page=2, page=3)
    assert len(second.items) == 1 and second.pages == 3


def test_home_stats_counts(db, owner, catalogue):
    publish_enterprise(owner.enterprise, catalogue)
    stats = queries.home_stats()
    assert stats == {"enterprises": 1, "published": 1, "products": 1}


def test_catalogue_standard_status_change_does_not_affect_published_history(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, catalogue_data(catalogue))
    operations.publish(version)
    db.session.commit()
    catalogue["gbt7725"].status = StandardStatus.WITHDRAWN
    db.session.commit()
    assert version.status is VersionStatus.PUBLISHED and version.standard.code == "GB/T 7725-2022"
