"""``flask supervision flags recompute``: the nightly run from cron, narrowed by region or
category, in process or queued."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user
from tests.supervision.test_flags_common import apf_row, flags, publish_legacy


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["supervision", "flags", *args])


@pytest.fixture
def legacy(db, catalogue, en_request):
    """Two migrated records without a test method, in Chongqing and Beijing, not flagged yet."""
    cq = publish_legacy(
        catalogue,
        make_enterprise_user(region="500112").enterprise,
        rows=[apf_row(catalogue, 5.1, test_method="")],
    )
    bj = publish_legacy(
        catalogue,
        make_enterprise_user(region="110101").enterprise,
        rows=[apf_row(catalogue, 5.2, test_method="")],
    )
    return cq.declaration_id, bj.declaration_id


def test_recompute_by_region_then_everything(cli, legacy, db):
    cq, bj = legacy
    result = cli("recompute", "--region", "500000")
    assert result.exit_code == 0, result.output
    assert "1 declarations in force; flags opened 1, cleared 0, updated 0" in result.output
    assert "opened missing_test_method: 1" in result.output
    assert [f.code for f in flags(cq)] == ["missing_test_method"] and flags(bj) == []

    result = cli("recompute")
    assert result.exit_code == 0, result.output
    assert "2 declarations in force; flags opened 1, cleared 0, updated 0" in result.output
    assert [f.code for f in flags(bj)] == ["missing_test_method"]


def test_recompute_by_category(cli, legacy, catalogue):
    result = cli("recompute", "--category", str(catalogue["room_ac"].id))
    assert result.exit_code == 0, result.output
    assert "2 declarations in force; flags opened 2" in result.output


def test_enqueue_hands_the_job_to_the_supervision_queue(cli, legacy, db):
    result = cli("recompute", "--enqueue")
    assert result.exit_code == 0, result.output
    row = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "supervision.flags.tasks.recompute_all")
    ).one()
    assert f"queued job {row.id}" in result.output
    assert (row.queue, row.status, row.progress) == ("supervision", "done", 1.0)  # inline here
    assert row.progress_message == "Storing the flags"  # reported while the job ran
    assert len(flags()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "5000"], "'5000' is not a 行政区划 code: write its 6 digits"),
        (["--category", "999"], "no product category with id 999"),
        (["--category", "0"], "0 is not in the range x>=1"),
        (["--region", "500000", "--category", "1"], "give --region or --category, not both"),
    ],
)
def test_bad_options_say_what_is_wrong(cli, legacy, args, message):
    result = cli("recompute", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert flags() == []
