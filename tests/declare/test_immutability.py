"""A published version is never edited in place (declare.models before_flush guard)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from declare import operations
from declare.models import (
    Attachment,
    ImmutableVersionError,
    Indicator,
    NormativeReference,
    Product,
    VersionStatus,
)
from tests.declare import (
    en_request_fixture,  # noqa: F401
    owner_fixture,  # noqa: F401
    publish_enterprise,
    with_indicator,
)

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def published(db, owner, catalogue):
    return publish_enterprise(owner.enterprise, catalogue)


def test_editing_a_published_indicator_raises(db, published):
    published.indicators[0].value = 9.9
    with pytest.raises(ImmutableVersionError):
        db.session.flush()
    db.session.rollback()
    assert (
        db.session.scalar(select(Indicator.value).where(Indicator.id == published.indicators[0].id))
        == 5.1
    )


def test_editing_published_version_content_raises(db, published):
    published.std_name = "悄悄改名"
    with pytest.raises(ImmutableVersionError) as err:
        db.session.flush()
    assert "std_name" in str(err.value)
    db.session.rollback()
    assert published.std_name == "房间空气调节器"


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.products.append(
            Product(name="新品", model="N1", category_id=v.products[0].category_id)
        ),
        lambda v: v.products.__setitem__(
            0, Product(name="换", model="X", category_id=v.products[0].category_id)
        ),
        lambda v: setattr(v.products[0], "barcode", ""),
        lambda v: v.indicators.pop(),
        lambda v: v.references.append(NormativeReference(standard_id=v.standard_id or 1)),
    ],
    ids=["add product", "replace product", "edit product", "remove indicator", "add reference"],
)
def test_children_of_a_published_version_are_frozen(db, published, change):
    change(published)
    with pytest.raises(ImmutableVersionError):
        db.session.flush()
    db.session.rollback()


def test_repointing_the_text_of_a_published_version_raises(db, published):
    published.text_attachment = Attachment(
        sha256="0" * 64,
        size=1,
        filename="x.pdf",
        content_type="application/pdf",
        enterprise_id=published.declaration.enterprise_id,
    )
    with pytest.raises(ImmutableVersionError) as err:
        db.session.flush()
    assert "text_attachment" in str(err.value)
    db.session.rollback()


def test_deleting_a_published_version_raises(db, published):
    db.session.delete(published)
    with pytest.raises(ImmutableVersionError):
        db.session.flush()
    db.session.rollback()


def test_lifecycle_columns_may_change(db, published):
    published.status = VersionStatus.ABOLISHED
    published.end_reason = "停产"
    db.session.flush()  # no error: status, ended_at and end_reason are the lifecycle
    db.session.rollback()


def test_revision_leaves_the_old_version_untouched(db, published, catalogue):
    def snapshot(version):
        return (
            version.std_code,
            version.std_name,
            [(p.name, p.model, p.barcode) for p in version.products],
            [
                (i.name, i.op, i.value, i.unit, i.test_method, i.cmp_status, i.cmp_grade)
                for i in version.indicators
            ],
            [r.standard_id for r in version.references],
            version.text_attachment_id,
            version.published_at,
        )

    before = snapshot(published)
    lock = published.lock_version
    draft = operations.start_revision(published.declaration)
    db.session.commit()
    db.session.expire_all()
    assert snapshot(published) == before and published.lock_version == lock
    data = with_indicator(catalogue, value=4.8, test_method="新方法")
    data["products"][0]["model"] = "KFR-35GW/B2"
    operations.update_draft(draft, data, lock_version=draft.lock_version)
    operations.publish(draft)
    db.session.commit()
    db.session.expire_all()
    after = snapshot(published)
    assert after == before
    assert published.status is VersionStatus.SUPERSEDED and published.ended_at == draft.published_at
    assert [p.model for p in draft.products] == ["KFR-35GW/B2"]
    assert {p.id for p in draft.products}.isdisjoint({p.id for p in published.products})
