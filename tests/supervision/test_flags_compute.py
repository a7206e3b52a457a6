"""Each risk flag raised from real database rows, with its evidence, and cleared when its cause
goes away (revision, restored reference, closed complaint, leader removed, abolition)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from benchmarks import operations as catalogue_ops
from benchmarks.models import BenchmarkIndicator, StandardStatus
from core.models import OutboxJob
from declare import operations
from declare.queries import local_today
from supervision.flags import operations as flag_store
from supervision.flags import risk, tasks
from supervision.models import Complaint, ComplaintStatus, RiskFlag
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.supervision.test_flags_common import (
    STANDARD_TEXT,
    apf_row,
    codes,
    commit_and_run,
    extra_rows,
    flags,
    publish,
    publish_legacy,
    revise,
    text_pdf,
)

pytestmark = pytest.mark.usefixtures("en_request")


def new_edition(catalogue, **changes) -> BenchmarkIndicator:
    """A newer edition of the APF benchmark, in force since yesterday (a stricter standard)."""
    old = catalogue["apf"]
    fields = {
        "category_id": old.category_id,
        "code": old.code,
        "name": old.name,
        "name_en": old.name_en,
        "unit": old.unit,
        "direction": old.direction,
        "mandatory_limit": old.mandatory_limit,
        "mandatory_source_id": old.mandatory_source_id,
        "recommended_value": old.recommended_value,
        "recommended_source_id": old.recommended_source_id,
        "grades": old.grades,
        "valid_from": local_today() - timedelta(days=1),
        "citation": "test edition",
    }
    fields.update(changes)
    row = BenchmarkIndicator(**fields)
    from core.extensions import db

    db.session.add(row)
    db.session.commit()
    return row


def test_publish_flags_nothing_for_a_clean_declaration(db, catalogue):
    version = publish(catalogue)
    assert flags(version.declaration_id) == []
    done = db.session.scalars(
        select(OutboxJob.status).where(OutboxJob.func == "supervision.flags.tasks.flags_for_declarations")
    ).all()
    assert done == ["done"]


def test_below_mandatory_after_a_stricter_edition_and_cleared_by_revision(db, catalogue):
    version = publish(catalogue, apf=3.6, mingshi="出口机型，按合同要求")  # 3.30 ≤ 3.6 < 4.50
    assert codes(version.declaration_id) == {}
    new_edition(catalogue, mandatory_limit=4.0, recommended_value=5.0)
    tasks.recompute_all()  # the nightly run: editions come into force without any signal
    commit_and_run()

    [flag] = flags(version.declaration_id)
    assert (flag.code, flag.key, flag.severity, flag.version_id) == (
        "below_mandatory",
        "apf",
        "high",
        version.id,
    )
    ev = flag.evidence
    assert ev["value"] == pytest.approx(3.6) and ev["limit"] == pytest.approx(4.0)
    assert (ev["standard"], ev["unit"], ev["direction"]) == ("GB 21455-2019", "W/W", "higher")
    assert ev["reason"] == (
        "apf: the guaranteed value 3.6 is worse than the mandatory limit 4 of GB 21455-2019."
    )
    assert flag.enterprise_id == version.declaration.enterprise_id
    assert flag.region_code == "500112" and flag.category_id == catalogue["room_ac"].id

    revised = revise(version.declaration, catalogue, apf=4.2, mingshi="低于推荐值，出口机型")
    db.session.refresh(flag)
    assert flag.cleared_at is not None and flag.cleared_reason == "version_superseded"
    assert codes(version.declaration_id) == {}
    assert revised.status.value == "published"


def test_below_recommended_without_mingshi_and_cleared_by_a_revision_with_mingshi(db, catalogue):
    version = publish(catalogue, apf=5.1)
    new_edition(catalogue, recommended_value=5.5)
    tasks.recompute_all()
    commit_and_run()

    [flag] = flags(version.declaration_id)
    assert (flag.code, flag.key, flag.severity) == (
        "below_recommended_without_mingshi",
        "apf",
        "medium",
    )
    assert flag.evidence["recommended"] == pytest.approx(5.5)
    assert flag.evidence["mingshi"] is False
    assert "no 明示 statement is given" in flag.evidence["reason"]

    revise(version.declaration, catalogue, apf=5.1, mingshi="低于 5.5：压缩机供货受限")
    assert flags(version.declaration_id) == []
    cleared = flags(version.declaration_id, open_only=False)
    assert [(f.code, f.cleared_reason) for f in cleared] == [
        ("below_recommended_without_mingshi", "version_superseded")
    ]


def test_catalogue_correction_clears_the_flag_in_place(db, catalogue):
    version = publish(catalogue, apf=5.1)
    edition = new_edition(catalogue, recommended_value=5.5)
    tasks.recompute_all()
    commit_and_run()
    assert codes(version.declaration_id) == {"below_recommended_without_mingshi": ["apf"]}

    edition.recommended_value = 5.0  # the edition was typed wrong: corrected
    db.session.commit()
    tasks.recompute_all()
    commit_and_run()
    [flag] = flags(version.declaration_id, open_only=False)
    assert flag.cleared_reason == "cause_removed" and flag.cleared_at is not None


def test_withdrawn_reference_through_the_catalogue_signal_and_restored(db, catalogue):
    version = publish(catalogue)  # cites GB/T 7725-2022
    std = catalogue["gbt7725"]
    catalogue_ops.mark_withdrawn(std, withdrawn_date=local_today() - timedelta(days=1))
    queued = db.session.scalars(
        select(OutboxJob.func, OutboxJob.args).where(
            OutboxJob.queue == "supervision", OutboxJob.status == "pending"
        )
    ).all()
    assert queued == ["supervision.flags.tasks.flags_for_category"]
    commit_and_run()

    [flag] = flags(version.declaration_id)
    assert (flag.code, flag.key, flag.severity) == (
        "reference_withdrawn",
        "GB/T 7725-2022",
        "medium",
    )
    assert flag.evidence["status"] == "withdrawn" and flag.evidence["replaced_by"] is None
    assert flag.evidence["reason"] == "The cited standard GB/T 7725-2022 is withdrawn (废止)."

    # The catalogue is corrected: the standard is in force after all.
    std.status, std.withdrawn_date = StandardStatus.IN_FORCE, None
    db.session.flush()
    catalogue_ops.notify_catalogue_changed([std.id])
    commit_and_run()
    db.session.refresh(flag)
    assert flag.cleared_at is not None and flag.cleared_reason == "cause_removed"
    assert flags(version.declaration_id) == []


def test_replaced_reference_names_the_replacement(db, catalogue):
    version = publish(catalogue, reference_ids=[catalogue["gb21455"].id])
    std = catalogue["gb21455"]
    std.replaced_by_code = "GB 21455-2025"
    db.session.flush()
    catalogue_ops.notify_catalogue_changed([std.id])
    commit_and_run()
    [flag] = flags(version.declaration_id)
    assert flag.key == "GB 21455-2019"
    assert flag.evidence["replaced_by"] == "GB 21455-2025" and flag.evidence["status"] == "replaced"
    assert "replaced by GB 21455-2025" in flag.evidence["reason"]


def test_missing_test_method_on_a_migrated_record_cleared_by_revision(db, catalogue):
    rows = [apf_row(catalogue, 5.1, test_method=""), *extra_rows(n=1)]
    version = publish_legacy(catalogue, rows=rows)
    flag_store.request_recompute([version.declaration_id])
    commit_and_run()

    [flag] = flags(version.declaration_id)
    # Keyed by the benchmark indicator's code; the declared name is kept in the evidence.
    assert (flag.code, flag.key, flag.severity) == ("missing_test_method", "apf", "medium")
    assert flag.evidence["indicator_name"] == "APF"
    assert flag.evidence["reason"] == "apf has no test method (检验方法)."

    revise(version.declaration, catalogue, rows=[apf_row(catalogue, 5.1), *extra_rows(n=1)])
    assert flags(version.declaration_id) == []
    [old] = flags(version.declaration_id, open_only=False)
    assert old.cleared_reason == "version_superseded"


def test_implausible_value_against_the_category_and_cleared_by_revision(db, catalogue):
    for i in range(12):
        publish(catalogue, apf=4.9 + 0.05 * i, model=f"KFR-{i}")
    typo = publish(catalogue, apf=51.0)  # 5.10 typed as 51.0
    tasks.recompute_all()
    commit_and_run()

    [flag] = [f for f in flags() if f.code == "implausible_value"]
    assert flag.declaration_id == typo.declaration_id and flag.key == "apf"
    ev = flag.evidence
    assert ev["side"] == "better" and ev["value"] == pytest.approx(51.0)
    assert ev["category_median"] == pytest.approx(5.175, abs=0.03)
    assert ev["robust_z"] > ev["threshold"] == 3.5 and ev["group_size"] == 13
    assert "an overstated value?" in ev["reason"]
    assert flag.severity == "medium"  # |z| beyond 10: one step up from low
    assert flag.category_id == catalogue["room_ac"].id

    revise(typo.declaration, catalogue, apf=5.1)
    assert [f for f in flags() if f.code == "implausible_value"] == []


def test_near_identical_indicator_table_flags_both_sides_until_one_is_revised(db, catalogue):
    rows = [apf_row(catalogue, 5.3), *extra_rows(n=5)]
    original = publish(catalogue, rows=rows)
    copy = publish(catalogue, rows=rows, std_code="Q/ABC 0007-2025")  # another enterprise

    mine = flags(copy.declaration_id)
    theirs = flags(original.declaration_id)
    assert [(f.code, f.key) for f in mine] == [
        ("near_identical", f"indicator_table:{original.declaration_id}")
    ]
    assert [(f.code, f.key) for f in theirs] == [
        ("near_identical", f"indicator_table:{copy.declaration_id}")
    ]
    ev = mine[0].evidence
    assert ev["similarity"] == 1.0 and ev["subject"] == "indicator_table"
    assert ev["other_enterprise_id"] == original.declaration.enterprise_id
    assert mine[0].severity == "high"  # ≥ 0.95: one step up
    assert mine[0].category_id == catalogue["room_ac"].id

    # The same enterprise may reuse its own table: no flag between its two standards.
    own = publish(
        catalogue, enterprise=original.declaration.enterprise, rows=rows, std_code="Q/SJX 0002-2024"
    )
    assert {f.key for f in flags(own.declaration_id)} == {f"indicator_table:{copy.declaration_id}"}

    revise(copy.declaration, catalogue, rows=[apf_row(catalogue, 5.3), *extra_rows("B型", n=5)])
    assert flags(copy.declaration_id) == []
    assert [f.key for f in flags(original.declaration_id)] == []
    assert {f.cleared_reason for f in flags(original.declaration_id, open_only=False)} == {
        "cause_removed"
    }


def test_near_identical_standard_text_from_the_pdfs(db, catalogue):
    pdf = text_pdf(STANDARD_TEXT)
    first = publish(catalogue, pdf=pdf)
    second = publish(catalogue, pdf=pdf, apf=5.4, std_code="Q/XYZ 0001-2025")
    [flag] = flags(second.declaration_id)
    assert flag.key == f"text:{first.declaration_id}"
    assert flag.evidence["subject"] == "text" and flag.evidence["similarity"] == 1.0
    assert "The text is near-identical" in flag.evidence["reason"]
    assert [f.key for f in flags(first.declaration_id)] == [f"text:{second.declaration_id}"]


def test_open_complaint_counted_and_cleared_when_closed(db, catalogue):
    version = publish(catalogue)
    complaint = Complaint(
        number="JB-2026-0001",
        enterprise_id=version.declaration.enterprise_id,
        declaration_id=version.declaration_id,
        region_code="500112",
        content="标称能效与实测不符",
    )
    db.session.add(complaint)
    commit_and_run()  # the session hook enqueued the recompute with the complaint

    [flag] = flags(version.declaration_id)
    assert (flag.code, flag.key, flag.severity) == ("open_complaint", "", "medium")
    assert flag.evidence["open_complaints"] == 1
    assert flag.evidence["complaints"] == ["JB-2026-0001"]
    assert flag.evidence["reason"] == "1 open complaint(s) (举报) about this declaration."

    # Two more complaints about the enterprise as a whole: counted, severity raised in place.
    for n in (2, 3):
        db.session.add(
            Complaint(
                number=f"JB-2026-000{n}",
                enterprise_id=version.declaration.enterprise_id,
                region_code="500112",
                content="虚标",
            )
        )
    commit_and_run()
    [same] = flags(version.declaration_id)
    assert same.id == flag.id and same.severity == "high"
    assert same.evidence["open_complaints"] == 3
    assert same.evidence["enterprise_complaints"] == ["JB-2026-0002", "JB-2026-0003"]

    for row in db.session.scalars(select(Complaint)):
        row.status = ComplaintStatus.CLOSED
    commit_and_run()
    db.session.refresh(flag)
    assert flag.cleared_at is not None and flag.cleared_reason == "cause_removed"


def test_abolition_clears_every_flag_with_its_reason(db, catalogue):
    version = publish_legacy(catalogue, rows=[apf_row(catalogue, 5.1, test_method="")])
    flag_store.request_recompute([version.declaration_id])
    commit_and_run()
    assert codes(version.declaration_id) == {"missing_test_method": ["apf"]}
    operations.abolish(version.declaration, "产品停产")
    commit_and_run()
    assert flags(version.declaration_id) == []
    [flag] = flags(version.declaration_id, open_only=False)
    assert flag.cleared_reason == "declaration_ended"


def test_recompute_is_idempotent_and_updates_nothing_unchanged(db, catalogue):
    version = publish_legacy(catalogue, rows=[apf_row(catalogue, 5.1, test_method="")])
    first = flag_store.recompute(declaration_ids=[version.declaration_id])
    assert (first.opened, first.cleared, first.updated) == (1, 0, 0)
    db.session.commit()
    again = flag_store.recompute(declaration_ids=[version.declaration_id])
    assert (again.opened, again.cleared, again.updated) == (0, 0, 0)
    assert tasks.recompute_all() == {
        "declarations": 1,
        "opened": 0,
        "cleared": 0,
        "updated": 0,
        "by_code": {},
    }


def test_risk_scores_for_the_sampling_draw(db, catalogue):
    legacy = publish_legacy(catalogue, rows=[apf_row(catalogue, 5.1, test_method="")])
    clean = publish(catalogue, apf=5.2)
    flag_store.request_recompute([legacy.declaration_id])
    db.session.add(
        Complaint(
            number="JB-1",
            enterprise_id=legacy.declaration.enterprise_id,
            declaration_id=legacy.declaration_id,
            region_code="500112",
            content="x",
        )
    )
    commit_and_run()
    scores = flag_store.risk_scores([clean.declaration_id, legacy.declaration_id, 999999])
    weights = risk.RiskConfig().weights
    assert scores.to_dict() == {
        clean.declaration_id: 0.0,
        legacy.declaration_id: weights["medium"] * 2,  # missing test method + open complaint
        999999: 0.0,
    }
    assert list(scores.index) == [clean.declaration_id, legacy.declaration_id, 999999]


def test_other_slices_may_leave_flags_to_the_job_when_nothing_changed(db, catalogue):
    version = publish(catalogue)
    rows = flag_store.request_recompute([version.declaration_id, version.declaration_id])
    again = flag_store.request_recompute([version.declaration_id])
    assert [r.id for r in rows] == [again[0].id] or rows[0] is again[0]  # one waiting job
    assert flag_store.request_recompute([]) == []
    commit_and_run()
    assert db.session.scalars(select(RiskFlag)).all() == []


def test_the_full_recompute_reports_its_progress(db, catalogue):
    publish_legacy(catalogue, rows=[apf_row(catalogue, 5.1, test_method="")])
    seen: list[tuple[float, str]] = []
    result = flag_store.recompute(
        progress=lambda fraction, message: seen.append((fraction, message))
    )
    assert result.opened == 1
    fractions = [f for f, _m in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] < 1.0
    assert [m for _f, m in seen] == [
        "Loading declarations 1 to 1 of 1",
        "Judging the values against their categories",
        "Comparing texts and indicator tables",
        "Storing the flags",
    ]


def test_signatures_are_computed_once_per_published_version(app):
    """Published versions never change: their signatures are cached per category, only new
    versions are computed, and versions no longer in force leave the cache."""
    calls: list[list[int]] = []

    def compute(ids):
        calls.append(list(ids))
        return [None if i == 9 else (60 + i, np.full(128, i, np.uint32)) for i in ids]

    counts, sigs = flag_store.category_signatures(7, "indicator_table", [3, 1, 2], compute)
    assert calls == [[1, 2, 3]] and counts.tolist() == [63, 61, 62]
    assert sigs[:, 0].tolist() == [3, 1, 2]
    counts, _sigs = flag_store.category_signatures(7, "indicator_table", [2, 4, 9], compute)
    assert calls[-1] == [4, 9] and counts.tolist() == [62, 64, -1]  # 2 from the cache
    flag_store.category_signatures(7, "indicator_table", [1, 9], compute)
    assert calls[-1] == [1, 9]  # 1 left the cache with 3; 9 was unavailable: tried again
    flag_store.category_signatures(7, "text", [1], compute)
    assert calls[-1] == [1]  # another subject, another cache


def test_a_scope_past_the_bind_parameter_limit_is_computed(db, catalogue):
    """A bulk import hands the flags job every declaration it wrote: 70,000 ids are past the
    65,535 parameters of one PostgreSQL statement, and the scope still runs."""
    version = publish_legacy(catalogue, rows=[apf_row(catalogue, 5.1, test_method="")])
    ids = [version.declaration_id, *range(10_000_000, 10_070_000)]
    result = flag_store.recompute(declaration_ids=ids)
    assert (result.opened, result.cleared, result.updated) == (1, 0, 0)
    assert [f.code for f in flags(version.declaration_id)] == ["missing_test_method"]
