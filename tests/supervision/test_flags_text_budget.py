"""Text extraction in the flags job within PDF_TEXT_BUDGET: a text that passes the upload count
but cannot be read in time (or was stored under a larger budget) is flagged ``text_unchecked``
for a supervisor, with the reason, and the outcome is cached so a recompute does not spend the
budget again; the extraction process is killed at its limit and the next text still read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.models import Role
from supervision.flags import extraction, risk, tasks
from supervision.flags import operations as flag_store
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.hostile_pdfs import plain_text_pdf, text_bomb
from tests.supervision.test_flags_common import (
    STANDARD_TEXT,
    commit_and_run,
    flags,
    publish,
    text_pdf,
)

pytestmark = pytest.mark.usefixtures("en_request")


def unchecked(declaration_id: int):
    return [f for f in flags(declaration_id) if f.code == "text_unchecked"]


def review_files(app) -> list[Path]:
    return sorted((Path(app.config["UPLOAD_DIR"]) / "minhash").glob("unchecked-*.json"))


def test_a_text_not_read_in_time_is_flagged_once_and_not_read_again(
    app, db, catalogue, monkeypatch
):
    """600,000 text operators pass the upload count (2.4M tokens) but take ~15 s to read."""
    app.config["PDF_TEXT_BUDGET"] = {"seconds": 1}
    first = publish(catalogue, pdf=text_pdf(STANDARD_TEXT))
    started = time.monotonic()
    slow = publish(catalogue, pdf=text_bomb(600_000, pages=1), apf=5.4,
                   std_code="Q/XYZ 0001-2025")  # fmt: skip
    assert time.monotonic() - started < 12  # 1 s of extraction, not 15

    [flag] = unchecked(slow.declaration_id)
    assert (flag.severity, flag.key, flag.version_id) == ("medium", "", slow.id)
    assert flag.evidence["exceeded"] == "seconds" and flag.evidence["limit"] == 1
    assert flag.evidence["reason"] == (
        "Reading the standard text took longer than 1 s and was stopped, so it was not "
        "compared with other standards: compare it by hand."
    )
    assert unchecked(first.declaration_id) == []
    [review] = review_files(app)
    assert review.name.startswith(f"unchecked-{slow.text_attachment.sha256}-200-")

    def must_not_run(self, path, max_pages):
        raise AssertionError("the cached outcome was not used")

    monkeypatch.setattr(extraction.Extractor, "text", must_not_run)
    started = time.monotonic()
    tasks.flags_for_declarations([slow.declaration_id, first.declaration_id])
    tasks.recompute_all()
    commit_and_run()
    assert time.monotonic() - started < 5
    assert [f.id for f in unchecked(slow.declaration_id)] == [flag.id]


def test_a_text_stored_under_a_larger_budget_is_flagged_until_it_fits(app, db, catalogue):
    """The job counts before it extracts: a text over the budget is never parsed. A larger
    budget (another review file name) reads it, and the flag is cleared."""
    first = publish(catalogue, pdf=text_pdf(STANDARD_TEXT), run=False)
    big = publish(catalogue, pdf=plain_text_pdf(pages=3), apf=5.4, std_code="Q/XYZ 0001-2025",
                  run=False)  # fmt: skip
    app.config["PDF_TEXT_BUDGET"] = {"content_tokens": 1000}  # the big one has 1,833
    commit_and_run()
    [flag] = unchecked(big.declaration_id)
    assert flag.evidence["exceeded"] == "content_tokens" and flag.evidence["limit"] == 1000
    assert "more than 1000 drawing instructions" in flag.evidence["reason"]
    assert unchecked(first.declaration_id) == []
    assert '"seconds_spent"' in review_files(app)[0].read_text()

    app.config["PDF_TEXT_BUDGET"] = {}
    flag_store.request_recompute([big.declaration_id])
    commit_and_run()
    assert unchecked(big.declaration_id) == []
    [cleared] = [f for f in flags(big.declaration_id, open_only=False)
                 if f.code == "text_unchecked"]  # fmt: skip
    assert cleared.cleared_reason == "cause_removed"


@pytest.mark.parametrize("pages", [3, 200], ids=["drill", "200 pages"])
def test_the_drill_pdf_stored_before_the_budget_costs_the_job_no_extraction(
    app, db, catalogue, pages
):
    """The drill's file (900,000 operators shared by 3 pages) ran the flags job 71 s, and
    its 200-page variant past the job timeout. Stored before the upload count existed, it
    is now counted in the job, never parsed, and flagged at once."""
    app.config["PDF_TEXT_BUDGET"] = {"content_tokens": 10**9, "content_bytes": 10**10}
    publish(catalogue, pdf=text_pdf(STANDARD_TEXT), run=False)
    bomb = publish(catalogue, pdf=text_bomb(900_000, pages=pages), apf=5.4,
                   std_code="Q/XYZ 0001-2025", run=False)  # fmt: skip
    app.config["PDF_TEXT_BUDGET"] = {}
    started = time.monotonic()
    commit_and_run()
    assert time.monotonic() - started < 5
    [flag] = unchecked(bomb.declaration_id)
    assert flag.evidence["exceeded"] == "content_tokens"
    assert flag.evidence["limit"] == 3_000_000


def test_the_supervision_pages_show_the_reason(app, db, catalogue, client, login_as):
    publish(catalogue, pdf=text_pdf(STANDARD_TEXT), run=False)
    big = publish(catalogue, pdf=plain_text_pdf(pages=3), apf=5.4, std_code="Q/XYZ 0001-2025",
                  run=False)  # fmt: skip
    app.config["PDF_TEXT_BUDGET"] = {"content_tokens": 1000}
    commit_and_run()
    login_as(Role.REGULATOR, region_code="500000")
    page = client.get(f"/supervision/flags/declarations/{big.declaration_id}?lang=en")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Standard text not read automatically: compare by hand" in body
    assert "more than 1000 drawing instructions" in body
    listing = client.get("/supervision/flags/?code=text_unchecked&lang=en")
    assert listing.status_code == 200 and str(big.declaration_id) in listing.get_data(as_text=True)


# --------------------------------------------------------------------------- the process


def test_the_extraction_process_is_killed_at_its_limit_and_the_next_text_read(tmp_path):
    bomb, plain, broken = tmp_path / "bomb.pdf", tmp_path / "plain.pdf", tmp_path / "broken.pdf"
    bomb.write_bytes(text_bomb(900_000, pages=3))
    plain.write_bytes(plain_text_pdf(pages=2))
    broken.write_bytes(b"%PDF-1.7\n" + b"garbage " * 50)
    with extraction.Extractor(seconds=1, memory_mb=1024) as extractor:
        assert "Clause 2.40" in extractor.text(plain, 200)
        started = time.monotonic()
        with pytest.raises(extraction.TextBudgetExceeded) as err:
            extractor.text(bomb, 200)
        assert time.monotonic() - started < 3
        assert (err.value.reason, err.value.limit) == ("seconds", 1)
        assert extractor.text(broken, 200) == ""  # unreadable: not compared, as before
        assert "Clause 1.1" in extractor.text(plain, 1)  # a fresh process took over


def test_an_extraction_that_needs_too_much_memory_is_stopped(tmp_path):
    """Parsing the drill's page builds ~250 MB of Python objects before it yields a word."""
    bomb, plain = tmp_path / "bomb.pdf", tmp_path / "plain.pdf"
    bomb.write_bytes(text_bomb(900_000, pages=1))
    plain.write_bytes(plain_text_pdf(pages=1))
    with extraction.Extractor(seconds=60, memory_mb=80) as extractor:
        with pytest.raises(extraction.TextBudgetExceeded) as err:
            extractor.text(bomb, 200)
        assert (err.value.reason, err.value.limit) == ("memory_mb", 80)
        assert "Clause 1.40" in extractor.text(plain, 200)


def test_an_extraction_process_that_cannot_start_is_reported(tmp_path):
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(plain_text_pdf(pages=1))
    with extraction.Extractor(seconds=30, memory_mb=8) as extractor:  # below an interpreter
        with pytest.raises(extraction.TextBudgetExceeded) as err:
            extractor.text(plain, 200)
    assert (err.value.reason, err.value.limit) == ("failed", None)


# --------------------------------------------------------------------------- the flag rows


def test_text_unchecked_flags_name_the_limit():
    import pandas as pd

    rows = pd.DataFrame(
        [
            {"declaration_id": 1, "version_id": 10, "exceeded": "pages", "limit": 2000},
            {"declaration_id": 2, "version_id": 20, "exceeded": "failed", "limit": None},
        ]
    )
    out = risk.text_unchecked_flags(rows)
    assert out["code"].tolist() == ["text_unchecked"] * 2 and out["key"].tolist() == ["", ""]
    first, second = out["evidence"].tolist()
    assert first["reason"].startswith("The standard text has more than 2000 pages")
    assert "limit" not in second and second["reason"].startswith("The process reading")
    assert risk.flag_key("text_unchecked", first) == ""
    with pytest.raises(ValueError, match=r"exceeded must be one of .*got \['tokens'\]"):
        risk.text_unchecked_flags(rows.assign(exceeded="tokens"))
