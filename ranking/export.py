"""CSV and Excel (.xlsx) exports of a ranking run: every entry with its values, tiers, composite,
leader status and exclusion reasons.

Headers are Chinese: the files are the formal list as evaluation bodies and regulators file it,
whatever language the page was in. The CSV starts with a UTF-8 byte-order mark so Excel opens
it in the right encoding. :func:`run_table` reads the run in one query; :func:`to_csv` and
:func:`to_xlsx` are pure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from core.extensions import db
from core.i18n import render_coded
from declare.models import Enterprise
from declare.queries import DeclarationLabel, declaration_labels
from ranking import reasons  # noqa: F401  (registers the renderers of the stored reasons)
from ranking.models import RankingRun, RunEntry

BOM = "\ufeff"

TIER_NAMES = "一二三四五六七八九十"

STATUS_TEXT = {"abolished": "已废止", "revoked": "已撤销", "draft": "草稿"}


def _exclusion(code: str, detail: str) -> str:
    """One reason (codes of ranking.eligibility) in the Chinese of the plan's entry rules."""
    texts = {
        "not_published": lambda d: f"声明未处于现行有效状态（{STATUS_TEXT.get(d, d)}）",
        "number_invalid": lambda d: f"标准编号无效：{d}",
        "reference_invalid": lambda d: f"规范性引用文件已废止或被代替：{d} 项",
        "violation": lambda d: f"指标低于强制性标准限定值：{d} 项",
        "mingshi_on_core": lambda d: f"核心指标存在明示（低于推荐性标准）：{d}",
        "nonconforming_inspection": lambda d: f"评估窗口内存在不合格抽查或严重失信记录：{d}",
        "missing_value": lambda d: f"缺少核心指标数值：{d}",
        "below_floor": lambda d: f"核心指标低于方案底线：{d}",
    }
    if code in texts:
        return texts[code](detail)
    return f"{code}：{detail}" if detail else code


def indicator_key(plan_indicator) -> str:
    """The key of a core indicator in ``RunEntry.values`` / ``tiers``."""
    return plan_indicator.benchmark_code


def tier_name(tier: int | None) -> str:
    """第一档, 第二档, … (0 or None: not ranked)."""
    if not tier:
        return ""
    if tier <= len(TIER_NAMES):
        return f"第{TIER_NAMES[tier - 1]}档"
    return f"第{tier}档"


def reasons_text(reasons: Iterable[dict] | None) -> str:
    parts = []
    for reason in reasons or []:
        if isinstance(reason, dict):
            code, detail = reason.get("code", ""), reason.get("detail", "")
        else:
            code, detail = str(reason), ""
        parts.append(_exclusion(code, str(detail or "")))
    return "；".join(parts)


def columns(indicators: Sequence) -> list[str]:
    """The header row: fixed columns, then value and tier per core indicator, then results."""
    head = ["序号", "企业名称", "统一社会信用代码", "标准编号", "标准名称", "产品名称", "型号"]
    for pi in indicators:
        bench = getattr(pi, "benchmark", None)
        name = bench.name if bench is not None else pi.benchmark_code
        unit = f"（{pi.unit}）" if pi.unit else ""
        head += [f"{name}{unit}", f"{name}档次"]
    head += ["综合得分", "综合排名", "是否领跑者", "星级", "是否入围", "未入围原因", "移出原因"]
    return head


def run_table(run: RankingRun, *, reasons: bool = True) -> tuple[list[str], list[list]]:
    """Header and rows of a run, leaders and eligible entries first (by composite rank), then
    the excluded ones; ties and the excluded listed by enterprise name (排名不分先后).

    ``reasons=False`` (the public's copy) leaves the exclusion reasons out: the evaluation
    body and each enterprise for itself see why an entry was excluded.
    """
    indicators = list(run.plan.indicators)
    keys = [indicator_key(pi) for pi in indicators]
    stmt = declaration_labels(
        select(RunEntry).where(RunEntry.run_id == run.id),
        enterprise_id=RunEntry.enterprise_id,
        version_id=RunEntry.version_id,
        product_id=RunEntry.product_id,
    ).order_by(
        RunEntry.eligible.desc(),
        RunEntry.composite_rank.is_(None),
        RunEntry.composite_rank,
        Enterprise.name,
        RunEntry.id,
    )
    rows = []
    for i, found in enumerate(db.session.execute(stmt), start=1):
        entry, label = found[0], DeclarationLabel.of(found)
        values, tiers = entry.values or {}, entry.tiers or {}
        row = [i, *label]
        for key in keys:
            row += [values.get(key), tier_name(tiers.get(key))]
        row += [
            entry.composite,
            entry.composite_rank or None,
            "是" if entry.is_leader and not entry.removed_reason else "否",
            entry.stars or None,
            "是" if entry.eligible else "否",
            reasons_text(entry.exclusion_reasons) if reasons else "",
            render_coded(entry.removed_reason),
        ]
        rows.append(row)
    return columns(indicators), rows


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)[:-2] if repr(value).endswith(".0") else repr(value)
    return str(value)


def to_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """UTF-8 with a byte-order mark (Excel), CRLF line ends (RFC 4180)."""
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence], *, title: str = "领跑者") -> bytes:
    """One sheet: a bold, frozen header row, numbers kept as numbers."""
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for row in rows:
        ws.append(list(row))
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(name)) * 2 + 2))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join(c for c in title if c not in "[]:*?/\\").strip()
    return (cleaned or "Sheet")[:31]


def filename(run: RankingRun, ext: str) -> str:
    plan = run.plan
    kind = "official" if run.kind.value == "official" else "preview"
    return f"ranking-{plan.plan_key}-v{plan.version_no}-{kind}-run{run.id}.{ext}"
