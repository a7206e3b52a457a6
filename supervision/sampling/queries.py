"""Reads of draws used by the pages and the API: which draw a caller sees, a page of items with
their labels, the exclusions, the population's file name."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from core.extensions import db
from core.models import User
from core.paging import PageNumbers
from declare.models import Declaration
from declare.queries import DeclarationLabel, declaration_labels
from supervision.models import Draw, DrawItem, Inspection, Inspector
from supervision.sampling import operations as draws
from supervision.sampling.labels import exclusion_text, reason_label

ITEMS_PER_PAGE = 100
EXCLUSIONS_SHOWN = 200

def redo_limit() -> str:
    """Redoing a draw recomputes it: public, so abuse-limited (SAMPLING_REDO_RATE_LIMIT)."""
    return current_app.config.get("SAMPLING_REDO_RATE_LIMIT", "10 per minute")


def visible_draw(user: User | None, draw_id: int) -> tuple[Draw, bool] | None:
    """(draw, the user is one of its regulators): a publicised (or closed) draw for anyone
    else; None when the draw is neither the user's nor public."""
    if user is not None and user.is_authenticated:
        mine = draws.draw_for(user, draw_id)
        if mine is not None:
            return mine, True
    found = draws.public_draw(draw_id)
    return None if found is None else (found, False)


@dataclass
class ItemPage(PageNumbers):
    total: int
    rows: list[dict]
    page: int
    per_page: int


def draw_items(draw: Draw, *, page: int = 1, per_page: int = ITEMS_PER_PAGE) -> ItemPage:
    """One page of a draw's items with enterprise, standard and inspection: two statements."""
    total = db.session.scalar(select(func.count(DrawItem.id)).where(DrawItem.draw_id == draw.id))
    stmt = (
        declaration_labels(
            select(DrawItem, Inspection.id, Inspection.inspector_ids),
            enterprise_id=DrawItem.enterprise_id,
            version_id=DrawItem.version_id,
        )
        .outerjoin(Inspection, Inspection.draw_item_id == DrawItem.id)
        .where(DrawItem.draw_id == draw.id)
        .order_by(DrawItem.position)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    rows = []
    for found in db.session.execute(stmt):
        item, inspection_id, inspector_ids = found[:3]
        label = DeclarationLabel.of(found)
        rows.append({
            "position": item.position,
            "declaration_id": item.declaration_id,
            "version_id": item.version_id,
            "enterprise_id": item.enterprise_id,
            "enterprise": label.enterprise,
            "uscc": label.uscc,
            "standard_code": label.standard_code,
            "region_code": item.region_code,
            "stratum": item.stratum,
            "reason": item.reason.value,
            "reason_label": reason_label(item.reason),
            "inclusion_probability": item.inclusion_probability,
            "risk_score": item.risk_score,
            "inspection_id": inspection_id,
            "inspector_ids": list(inspector_ids or []),
        })
    return ItemPage(total or 0, rows, max(page, 1), per_page)


def exclusion_rows(draw: Draw, *, page: int = 1, per_page: int = EXCLUSIONS_SHOWN,
                   population=None) -> tuple[int, list[dict]]:
    """(total, one page) of the excluded objects with their reasons and enterprises."""
    excluded = draws.excluded_of(draw, population)
    shown = excluded.iloc[(max(page, 1) - 1) * per_page : max(page, 1) * per_page]
    ids = [int(i) for i in shown["id"].tolist()]
    names = {
        row.id: DeclarationLabel.of(row).enterprise
        for row in db.session.execute(declaration_labels(
            select(Declaration.id).where(Declaration.id.in_(ids)),
            enterprise_id=Declaration.enterprise_id,
        ))
    } if ids else {}
    rows = [
        {
            "declaration_id": ident,
            "enterprise": names.get(ident, ""),
            "stratum": str(stratum),
            "reason": str(reason),
            "reason_text": exclusion_text(str(reason)),
        }
        for ident, stratum, reason in zip(ids, shown["stratum"].tolist(),
                                          shown["exclusion_reason"].tolist(), strict=True)
    ]
    return len(excluded), rows


def population_filename(draw: Draw) -> str:
    return f"population-{draw.number}.csv.gz"


def _inspector_names(regulator_id: int) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(Inspector.id, Inspector.name).where(Inspector.regulator_id == regulator_id)
        ).all()
    )
