"""Re-flagging declarations when the catalogue withdraws or replaces a standard they rely on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.clock import local_today
from benchmarks import operations as catalogue_ops
from benchmarks.models import StandardKind, StandardStatus
from core import jobs
from core.models import OutboxJob
from declare import operations, tasks
from declare.models import ReferenceFlag, VersionStatus
from tests.declare import (
    QueryCounter,
    catalogue_data,
    en_request_fixture,  # noqa: F401
    enterprise_data,
    owner_fixture,  # noqa: F401
    publish_enterprise,
)
from tests.factories import make_enterprise_user, standard

pytestmark = pytest.mark.usefixtures("en_request")

REFLAG = "declare.tasks.reflag_references"


def commit_and_run_jobs(db) -> None:
    """What the request teardown does: commit, then run the outbox (inline: REDIS_URL unset)."""
    db.session.commit()
    jobs.dispatch_pending()


def open_flags(db) -> list[tuple[int, int, str, str | None]]:
    rows = db.session.execute(
        select(
            ReferenceFlag.version_id,
            ReferenceFlag.standard_id,
            ReferenceFlag.reason,
            ReferenceFlag.replaced_by_code,
        )
        .where(ReferenceFlag.cleared_at.is_(None))
        .order_by(ReferenceFlag.version_id)
    )
    return [tuple(r) for r in rows]


def all_flags(db) -> int:
    return db.session.scalar(select(func.count(ReferenceFlag.id)))


@pytest.fixture
def declared(db, owner, catalogue):
    """GB/T 7725-2022 cited by an enterprise standard and followed by a catalogue declaration;
    a draft also cites it (drafts are not flagged)."""
    cited = publish_enterprise(owner.enterprise, catalogue)
    other = make_enterprise_user()
    followed = operations.create_draft(other.enterprise, catalogue_data(catalogue))
    operations.publish(followed)
    operations.create_draft(make_enterprise_user().enterprise, enterprise_data(catalogue))
    db.session.commit()
    return {"cited": cited, "followed": followed, "std": catalogue["gbt7725"]}


def test_withdrawal_through_the_catalogue_signal_opens_flags(db, declared):
    std = declared["std"]
    catalogue_ops.mark_withdrawn(std, withdrawn_date=local_today() - timedelta(days=1))
    # Other packages may react to the catalogue too; declare's part is the re-flagging job.
    assert REFLAG in db.session.scalars(
        select(OutboxJob.func).where(OutboxJob.status == "pending")
    ).all()
    commit_and_run_jobs(db)
    assert db.session.scalar(select(OutboxJob.status).where(OutboxJob.func == REFLAG)) == "done"
    assert open_flags(db) == [
        (declared["cited"].id, std.id, "withdrawn", None),
        (declared["followed"].id, std.id, "withdrawn", None),
    ]

    # Idempotent: running again (a retried job, the nightly run) opens nothing new.
    assert tasks.reflag_references([std.id]) == {"opened": 0, "cleared": 0}
    assert tasks.reflag_all() == {"opened": 0, "cleared": 0}
    db.session.commit()
    assert all_flags(db) == 2

    # Un-withdrawn (a catalogue correction): the flags are cleared, not deleted.
    std.status, std.withdrawn_date = StandardStatus.IN_FORCE, None
    db.session.flush()
    catalogue_ops.notify_catalogue_changed([std.id])
    commit_and_run_jobs(db)
    assert open_flags(db) == []
    assert all_flags(db) == 2
    assert (
        db.session.scalar(
            select(func.count(ReferenceFlag.id)).where(ReferenceFlag.cleared_at.is_not(None))
        )
        == 2
    )


def test_announced_replacement_flags_as_replaced_then_withdrawn(db, declared):
    std = declared["std"]
    successor = standard(
        "GB/T 7725-2026",
        StandardKind.NATIONAL_RECOMMENDED,
        "房间空气调节器",
        effective_date=local_today() + timedelta(days=365),
    )
    db.session.flush()
    catalogue_ops.mark_withdrawn(std, replaced_by="GB/T 7725-2026")
    assert std.status_on(local_today()) is StandardStatus.IN_FORCE  # replacement not yet in force
    commit_and_run_jobs(db)
    assert {(v, r, code) for v, _s, r, code in open_flags(db)} == {
        (declared["cited"].id, "replaced", "GB/T 7725-2026"),
        (declared["followed"].id, "replaced", "GB/T 7725-2026"),
    }

    # The replacement comes into force: the reason changes, the old flag is kept as history.
    successor.effective_date = local_today() - timedelta(days=1)
    db.session.flush()
    catalogue_ops.mark_withdrawn(std, replaced_by="GB/T 7725-2026")
    commit_and_run_jobs(db)
    assert {r for _v, _s, r, _c in open_flags(db)} == {"withdrawn"}
    assert all_flags(db) == 4


def test_publishing_a_version_citing_a_replaced_standard_flags_it_at_once(db, owner, catalogue):
    std = catalogue["gbt7725"]
    std.replaced_by_code = "GB/T 7725-2026"  # announced, not yet in force
    db.session.commit()
    version = operations.create_draft(owner.enterprise, catalogue_data(catalogue))
    operations.publish(version)
    commit_and_run_jobs(db)
    assert open_flags(db) == [(version.id, std.id, "replaced", "GB/T 7725-2026")]


def test_superseded_and_abolished_versions_keep_closed_flags(db, declared):
    std = declared["std"]
    std.replaced_by_code = "GB/T 7725-2026"
    db.session.flush()
    tasks.reflag_references([std.id])
    db.session.commit()
    cited = declared["cited"]
    revision = operations.start_revision(cited.declaration)
    operations.publish(revision)
    commit_and_run_jobs(db)
    flagged_versions = {v for v, *_ in open_flags(db)}
    assert cited.id not in flagged_versions and revision.id in flagged_versions
    assert cited.status is VersionStatus.SUPERSEDED
    assert all(f.cleared_at == cited.ended_at for f in cited.reference_flags)

    operations.abolish(revision.declaration, "停产")
    commit_and_run_jobs(db)
    assert {v for v, *_ in open_flags(db)} == {declared["followed"].id}


def test_nightly_run_catches_a_withdrawal_date_passing(db, declared):
    std = declared["std"]
    std.withdrawn_date = local_today()  # recorded earlier as a future date; no signal today
    db.session.commit()
    result = tasks.reflag_all()
    db.session.commit()
    assert result == {"opened": 2, "cleared": 0}


def test_reflag_is_set_based(db, owner, catalogue):
    """The job (and the one signal it sends for the batch) costs the same number of queries
    for one declaration as for six."""
    std = catalogue["gbt7725"]

    def run() -> int:
        # The jobs the set-up enqueued have run (a waiting one would be looked up by the
        # receivers' debouncing, which is not what this test measures).
        jobs.discard_pending()
        db.session.execute(update(OutboxJob).values(status="done"))
        std.withdrawn_date = local_today()
        db.session.commit()
        with QueryCounter(db.engine) as counter:
            tasks.reflag_references([std.id, catalogue["gb21455"].id])
        std.withdrawn_date = None
        db.session.commit()
        tasks.reflag_references([std.id])  # clear again for the next round
        db.session.commit()
        jobs.discard_pending()
        return counter.count

    publish_enterprise(owner.enterprise, catalogue)
    few = run()
    for _ in range(5):
        publish_enterprise(make_enterprise_user().enterprise, catalogue)
    assert run() == few
