"""Shared helpers of the risk-flag tests (no tests here; the test_flags_* modules import it).

Declarations are made through ``declare.operations`` and published for real; jobs run inline
after each commit (REDIS_URL unset), exactly as a request would run them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core import jobs
from core.extensions import db
from declare import operations
from declare.models import DeclarationStatus, VersionStatus
from supervision.models import RiskFlag
from tests.declare import GOOD_BARCODE, pdf_bytes, upload
from tests.factories import make_enterprise_user
from tests.hostile_pdfs import pdf_of

TEST_METHOD = "GB/T 7725-2022 附录 C"


def commit_and_run() -> None:
    """What a request does after its work: commit, then run the jobs it enqueued (inline)."""
    db.session.commit()
    jobs.dispatch_pending()


def apf_row(catalogue: dict, value: float, *, mingshi: str = "", test_method: str = TEST_METHOD):
    return {
        "kind": "performance",
        "name": "APF",
        "benchmark_indicator_id": catalogue["apf"].id,
        "op": "ge",
        "value": value,
        "unit": "W/W",
        "test_method": test_method,
        "mingshi": mingshi,
    }


def extra_rows(prefix: str = "", n: int = 0) -> list[dict]:
    """Function indicators in words (not compared with benchmarks): they make an indicator
    table large enough to tell a copy from a common specification."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "kind": "function",
                "name": f"{prefix}功能要求{i + 1}：室内机面板防护与自清洁",
                "op": "eq",
                "text_value": f"{prefix}具备第{i + 1}项蒸发器自清洁、防霉抑菌和低噪运行功能",
                "test_method": f"{prefix}按企业检验规程第{i + 1}条目测并记录",
            }
        )
    return rows


def draft_data(
    catalogue: dict,
    *,
    apf: float = 5.1,
    mingshi: str = "",
    rows=None,
    std_code: str = "Q/SJX 0001-2024",
    reference_ids=None,
    model="KFR-35GW/A1",
):
    return {
        "kind": "enterprise",
        "std_code": std_code,
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [
            {"name": "挂壁式空调", "model": model, "category_id": catalogue["room_ac"].id,
             "barcode": GOOD_BARCODE, "brand": "示例"},
        ],
        "indicators": rows if rows is not None else [apf_row(catalogue, apf, mingshi=mingshi)],
        "reference_ids": [catalogue["gbt7725"].id] if reference_ids is None else reference_ids,
    }  # fmt: skip


def publish(catalogue: dict, enterprise=None, *, pdf: bytes | None = None, run: bool = True, **kw):
    """Publish an enterprise standard for a room air conditioner; returns the version."""
    enterprise = enterprise or make_enterprise_user().enterprise
    version = operations.create_draft(enterprise, draft_data(catalogue, **kw))
    operations.attach_text(version, upload(pdf or pdf_bytes()))
    operations.publish(version)
    if run:
        commit_and_run()
    return version


def revise(declaration, catalogue: dict, **kw):
    """Revise the declaration in force with new data and publish the revision."""
    draft = operations.start_revision(declaration)
    operations.update_draft(draft, draft_data(catalogue, **kw), draft.lock_version)
    operations.publish(draft)
    commit_and_run()
    return draft


def publish_legacy(catalogue: dict, enterprise=None, **kw):
    """A version in force that today's publication checks would refuse (e.g. an indicator
    without a test method): a record migrated from the old platform before Art. 12 was
    enforced. The draft is saved through the operations, then marked published as the
    migration did; no publication check runs."""
    enterprise = enterprise or make_enterprise_user().enterprise
    version = operations.create_draft(enterprise, draft_data(catalogue, **kw))
    operations.attach_text(version, upload(pdf_bytes()))
    db.session.flush()
    version.status = VersionStatus.PUBLISHED
    version.published_at = datetime(2021, 3, 1, tzinfo=UTC)
    declaration = version.declaration
    declaration.status = DeclarationStatus.PUBLISHED
    declaration.current_version = version
    db.session.commit()
    return version


def flags(declaration_id: int | None = None, *, open_only: bool = True) -> list[RiskFlag]:
    stmt = select(RiskFlag).order_by(RiskFlag.id)
    if declaration_id is not None:
        stmt = stmt.where(RiskFlag.declaration_id == declaration_id)
    if open_only:
        stmt = stmt.where(RiskFlag.cleared_at.is_(None))
    return list(db.session.scalars(stmt))


def codes(declaration_id: int) -> dict[str, list[str]]:
    """{code: [keys]} of the open flags of a declaration."""
    out: dict[str, list[str]] = {}
    for flag in flags(declaration_id):
        out.setdefault(flag.code, []).append(flag.key)
    return out


def text_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF whose text pypdf extracts (Helvetica, ASCII)."""
    shown = " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
        for line in lines
    )
    body = f"BT /F1 9 Tf 40 800 Td 11 TL {shown} ET"
    stream = body.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_of(objects)


STANDARD_TEXT = [
    "Q/SJX 0001-2024 Room air conditioners - enterprise standard",
    "1 Scope: this standard specifies the terms, requirements, test methods, inspection",
    "rules, marking, packaging, transport and storage of split wall-mounted room air",
    "conditioners with a rated cooling capacity up to 4500 W made by the enterprise.",
    "2 Normative references: GB/T 7725-2022 Room air conditioners; GB 21455-2019 Minimum",
    "allowable values of the energy efficiency and energy efficiency grades.",
    "3 Requirements: the annual performance factor shall be at least the declared value;",
    "the indoor unit noise shall not exceed the declared value; the evaporator shall clean",
    "itself automatically; the standby power shall be at most the declared value.",
    "4 Test methods: APF per GB/T 7725-2022 annex C; noise per annex D in a hemi-anechoic room.",
]
