"""Who may enter a ranking (准入条件): one set-based read of a plan's candidates into pandas.

``snapshot(plan)`` reads, in ONE SQLAlchemy Core select (no ORM objects, no query per row),
every declaration whose version in force (or, for a window after it ended, its last version)
has a product in the plan's category, with

* its value for each of the plan's core indicators (``Indicator.cmp_guaranteed``, already in
  the benchmark's canonical unit; several indicators of one code: the worst in the direction),
* the facts behind the entry requirements: declaration status, the followed number, open
  ReferenceFlags, indicators with a mandatory-limit violation, 明示 on a core indicator
  (a statement, or a value below the recommended value), the latest non-conforming or serious
  ComplianceRecord of the enterprise inside the window, the label product (first product of
  the category in that version).

Then it splits them, vectorised, into the eligible matrix (index declaration id, one column per
core indicator key = benchmark code) and the exclusions with every reason that applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, exists, func, null, or_, select

from benchmarks.models import BenchmarkIndicator
from benchmarks.numbers import NumberError, parse_enterprise_number
from core.extensions import db
from core.models import utcnow
from declare.models import (
    ComplianceRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Indicator,
    Product,
    ReferenceFlag,
)
from declare.queries import local_date

__all__ = [
    "DEFAULT_ENTRY_RULES",
    "EXCLUSION_CODES",
    "Snapshot",
    "eligible",
    "entry_rules_of",
    "plan_keys",
    "snapshot",
]

#: Entry requirements (准入条件) of DOMAIN.md, configurable per plan in ``entry_rules``.
DEFAULT_ENTRY_RULES: dict = {
    "exclude_mingshi_on_core": True,
    "require_references_valid": True,
    "inspection_window_days": 1095,  # 3 years; 0 switches the check off
}

#: Every exclusion code, in the order reasons are listed.
EXCLUSION_CODES = (
    "not_published",
    "number_invalid",
    "reference_invalid",
    "violation",
    "mingshi_on_core",
    "nonconforming_inspection",
    "missing_value",
    "below_floor",
)

BAD_RESULTS = ("nonconforming", "serious")


def entry_rules_of(plan) -> dict:
    rules = dict(DEFAULT_ENTRY_RULES)
    rules.update({k: v for k, v in (plan.entry_rules or {}).items() if k in DEFAULT_ENTRY_RULES})
    return rules


def plan_keys(plan) -> list[str]:
    """The matrix column of each core indicator, in the plan's order: its benchmark code."""
    return [pi.benchmark_code for pi in plan.indicators]


@dataclass
class Snapshot:
    """The candidates of a plan at ``as_of``, split into eligible and excluded.

    ``candidates``: one row per declaration (index declaration id, sorted) with version_id,
    enterprise_id, product_id, status and one column per indicator key. ``matrix``: the
    eligible rows, indicator columns only (float64). ``exclusions``: the excluded rows with
    column ``reasons`` = [{"code", "detail"}, ...].
    """

    as_of: datetime
    keys: list[str]
    candidates: pd.DataFrame
    matrix: pd.DataFrame
    exclusions: pd.DataFrame


def _select(plan, as_of: datetime, rules: Mapping):
    cat = plan.category_id
    codes = plan_keys(plan)
    directions = [pi.direction for pi in plan.indicators]
    today = local_date(as_of)
    window = int(rules["inspection_window_days"])

    worst = []
    mingshi = []
    for i, (code, direction) in enumerate(zip(codes, directions)):
        value = case((BenchmarkIndicator.code == code, Indicator.cmp_guaranteed))
        agg = func.min(value) if direction == "higher" else func.max(value)
        worst.append(agg.label(f"v{i}"))
        stated = and_(
            BenchmarkIndicator.code == code,
            or_(
                func.coalesce(Indicator.mingshi, "") != "",
                Indicator.cmp_status == "below_recommended",
            ),
        )
        mingshi.append(func.max(case((stated, 1), else_=0)).label(f"m{i}"))
    values = (
        select(Indicator.version_id.label("version_id"), *worst, *mingshi)
        .join(BenchmarkIndicator, BenchmarkIndicator.id == Indicator.benchmark_indicator_id)
        .join(Declaration, Declaration.current_version_id == Indicator.version_id)
        .where(BenchmarkIndicator.category_id == cat, BenchmarkIndicator.code.in_(codes))
        .group_by(Indicator.version_id)
        .subquery("core_values")
    )

    V = DeclarationVersion
    product = (
        select(func.min(Product.id))
        .where(Product.version_id == V.id, Product.category_id == cat)
        .correlate(V)
        .scalar_subquery()
    )
    in_category = exists().where(Product.version_id == V.id, Product.category_id == cat)
    open_flags = (
        select(func.count(ReferenceFlag.id))
        .where(ReferenceFlag.version_id == V.id, ReferenceFlag.cleared_at.is_(None))
        .correlate(V)
        .scalar_subquery()
    )
    violations = (
        select(func.count(Indicator.id))
        .where(Indicator.version_id == V.id, Indicator.cmp_status == "violation")
        .correlate(V)
        .scalar_subquery()
    )
    if window > 0:
        bad_record = (
            select(func.max(ComplianceRecord.occurred_on))
            .where(
                ComplianceRecord.enterprise_id == Declaration.enterprise_id,
                ComplianceRecord.result.in_(BAD_RESULTS),
                ComplianceRecord.occurred_on >= today - timedelta(days=window),
            )
            .correlate(Declaration)
            .scalar_subquery()
        )
    else:
        bad_record = None
    ended_since = as_of - timedelta(days=max(window, 0))
    columns = [
        Declaration.id.label("declaration_id"),
        V.id.label("version_id"),
        Declaration.enterprise_id.label("enterprise_id"),
        Declaration.status.label("status"),
        Declaration.kind.label("kind"),
        V.std_code.label("std_code"),
        V.standard_id.label("standard_id"),
        product.label("product_id"),
        open_flags.label("open_flags"),
        violations.label("violations"),
        (bad_record if bad_record is not None else null()).label("bad_record_on"),
        *[values.c[f"v{i}"] for i in range(len(codes))],
        *[values.c[f"m{i}"] for i in range(len(codes))],
    ]
    return (
        select(*columns)
        .join(V, V.id == Declaration.current_version_id)
        .outerjoin(values, values.c.version_id == V.id)
        .where(
            in_category,
            or_(
                Declaration.status == DeclarationStatus.PUBLISHED,
                and_(
                    Declaration.status.in_(
                        [DeclarationStatus.ABOLISHED, DeclarationStatus.REVOKED]
                    ),
                    V.ended_at >= ended_since,
                ),
            ),
        )
        .order_by(Declaration.id)
    )


def _number_valid(kinds: pd.Series, codes: pd.Series, standard_ids: pd.Series) -> np.ndarray:
    """Enterprise numbers must still parse (Q/ + code + sequence + year); catalogue
    declarations must name their standard."""
    valid = np.ones(len(kinds), dtype=bool)
    enterprise = (kinds == DeclarationKind.ENTERPRISE.value).to_numpy()
    cache: dict[str, bool] = {}
    for pos in np.flatnonzero(enterprise):
        text = codes.iat[pos] or ""
        if text not in cache:
            try:
                parse_enterprise_number(text)
                cache[text] = True
            except NumberError:
                cache[text] = False
        valid[pos] = cache[text]
    catalogue = ~enterprise
    valid[catalogue] = ~pd.isna(standard_ids.to_numpy(dtype=object)[catalogue])
    return valid


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def snapshot(plan, *, as_of: datetime | None = None) -> Snapshot:
    """Read and split a plan's candidates (see the module docstring)."""
    as_of = as_of or utcnow()
    rules = entry_rules_of(plan)
    keys = plan_keys(plan)
    stmt = _select(plan, as_of, rules)
    result = db.session.execute(stmt)
    names = list(result.keys())
    frame = pd.DataFrame(result.all(), columns=names)
    rename = {f"v{i}": k for i, k in enumerate(keys)}
    rename.update({f"m{i}": f"mingshi:{k}" for i, k in enumerate(keys)})
    frame = frame.rename(columns=rename).set_index("declaration_id")
    frame.index = frame.index.astype("int64")
    for col in ("status", "kind"):
        frame[col] = frame[col].map(lambda v: getattr(v, "value", v)).astype(object)
    for k in keys:
        frame[k] = pd.to_numeric(frame[k], errors="coerce").astype("float64")
    n = len(frame)

    reasons: dict[str, tuple[np.ndarray, object]] = {}

    status = frame["status"].to_numpy(dtype=object)
    not_published = status != DeclarationStatus.PUBLISHED.value
    reasons["not_published"] = (not_published, lambda pos: str(status[pos]))

    valid_number = _number_valid(frame["kind"], frame["std_code"], frame["standard_id"])
    std_codes = frame["std_code"].to_numpy(dtype=object)
    reasons["number_invalid"] = (~valid_number, lambda pos: str(std_codes[pos] or ""))

    flags = frame["open_flags"].fillna(0).to_numpy(dtype=np.int64)
    if rules["require_references_valid"]:
        reasons["reference_invalid"] = (flags > 0, lambda pos: str(int(flags[pos])))

    violations = frame["violations"].fillna(0).to_numpy(dtype=np.int64)
    reasons["violation"] = (violations > 0, lambda pos: str(int(violations[pos])))

    if rules["exclude_mingshi_on_core"] and keys:
        stated = np.column_stack(
            [frame[f"mingshi:{k}"].fillna(0).to_numpy(dtype=np.int64) > 0 for k in keys]
        )
        reasons["mingshi_on_core"] = (
            stated.any(axis=1),
            lambda pos: ", ".join(k for j, k in enumerate(keys) if stated[pos, j]),
        )

    bad_on = frame["bad_record_on"].to_numpy(dtype=object)
    has_bad = ~pd.isna(bad_on) if n else np.zeros(0, dtype=bool)
    reasons["nonconforming_inspection"] = (
        np.asarray(has_bad, dtype=bool),
        lambda pos: getattr(bad_on[pos], "isoformat", lambda: str(bad_on[pos]))(),
    )

    values = np.column_stack([frame[k].to_numpy() for k in keys]) if keys else np.zeros((n, 0))
    missing = np.isnan(values)
    reasons["missing_value"] = (
        missing.any(axis=1),
        lambda pos: ", ".join(k for j, k in enumerate(keys) if missing[pos, j]),
    )
    below = np.zeros_like(missing)
    for j, pi in enumerate(plan.indicators):
        v = values[:, j]
        with np.errstate(invalid="ignore"):
            below[:, j] = (v < pi.floor) if pi.direction == "higher" else (v > pi.floor)
    below &= ~missing
    floors = [pi.floor for pi in plan.indicators]
    reasons["below_floor"] = (
        below.any(axis=1),
        lambda pos: "; ".join(
            f"{k}: {_fmt(values[pos, j])} (floor {_fmt(floors[j])})"
            for j, k in enumerate(keys)
            if below[pos, j]
        ),
    )

    excluded = np.zeros(n, dtype=bool)
    for mask, _detail in reasons.values():
        excluded |= mask
    lists: dict[int, list[dict]] = {int(pos): [] for pos in np.flatnonzero(excluded)}
    for code in EXCLUSION_CODES:
        if code not in reasons:
            continue
        mask, detail = reasons[code]
        for pos in np.flatnonzero(mask):
            lists[int(pos)].append({"code": code, "detail": detail(int(pos))})

    index = frame.index
    excluded_pos = np.flatnonzero(excluded)
    exclusions = pd.DataFrame(
        {"reasons": [lists[int(p)] for p in excluded_pos]},
        index=index[excluded_pos],
    )
    matrix = frame.loc[~excluded, keys].astype("float64")
    frame = frame.drop(columns=[f"mingshi:{k}" for k in keys])
    return Snapshot(as_of=as_of, keys=keys, candidates=frame, matrix=matrix, exclusions=exclusions)


def eligible(plan, *, as_of: datetime | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(matrix of the eligible declarations, exclusions with their reasons) for a plan."""
    snap = snapshot(plan, as_of=as_of)
    return snap.matrix, snap.exclusions
