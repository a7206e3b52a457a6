"""Reads of declarations used by pages, the API and jobs.

Owner lookups answer 404 for records of other enterprises, so nobody learns that a record
exists. List queries load everything their pages show in a fixed number of statements.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from flask import abort, current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from benchmarks.models import Standard
from core.clock import end_of_day, local_date, local_today, local_zone  # noqa: F401 (re-exported)
from core.extensions import db
from declare import search
from declare.models import (
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    NormativeReference,
    Product,
    VersionStatus,
)

__all__ = [
    "DeclarationLabel",
    "declaration_labels",
    "declarations_of",
    "home_stats",
    "local_date",
    "local_today",
    "local_zone",
    "owned_declaration",
    "owned_version",
    "published_versions",
    "shown_version",
    "version_as_of",
    "version_at",
    "version_history",
    "version_with_details",
]


# -- labels of rows that point at a declaration ---------------------------------------------------


class DeclarationLabel(NamedTuple):
    """What a list shows of the declaration a row points at: the enterprise, the standard
    followed (the catalogue's number and title, or the enterprise's own) and the product."""

    enterprise: str = ""
    uscc: str = ""
    standard_code: str = ""
    standard_title: str = ""
    product: str = ""
    model: str = ""

    @classmethod
    def of(cls, row) -> DeclarationLabel:
        """The label of a row of a select given to ``declaration_labels``."""
        m = row._mapping
        return cls(
            m["label_enterprise"],
            m["label_uscc"],
            m.get("label_catalogue_code") or m.get("label_std_code") or "",
            m.get("label_catalogue_title") or m.get("label_std_name") or "",
            m.get("label_product") or "",
            m.get("label_model") or "",
        )


def declaration_labels(
    stmt: Select, *, enterprise_id: Any, version_id: Any = None, product_id: Any = None
) -> Select:
    """``stmt`` with the labelled columns and joins that label its rows (in the same query,
    never one more): the enterprise's name and USCC (join on ``enterprise_id``), with
    ``version_id`` the standard's number and name (the catalogue's if the version follows
    one), with ``product_id`` the product's name and model. Read them back per row with
    ``DeclarationLabel.of(row)``; the row's own columns come first, as selected."""
    stmt = stmt.add_columns(
        Enterprise.name.label("label_enterprise"), Enterprise.uscc.label("label_uscc")
    ).join(Enterprise, Enterprise.id == enterprise_id)
    if version_id is not None:
        stmt = (
            stmt.add_columns(
                DeclarationVersion.std_code.label("label_std_code"),
                DeclarationVersion.std_name.label("label_std_name"),
                Standard.code.label("label_catalogue_code"),
                Standard.title.label("label_catalogue_title"),
            )
            .join(DeclarationVersion, DeclarationVersion.id == version_id)
            .outerjoin(Standard, Standard.id == DeclarationVersion.standard_id)
        )
    if product_id is not None:
        stmt = stmt.add_columns(
            Product.name.label("label_product"), Product.model.label("label_model")
        ).outerjoin(Product, Product.id == product_id)
    return stmt


# -- owner lookups ------------------------------------------------------------------------------


def _enterprise_id(user) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "enterprise_id", None)


def owned_declaration(declaration_id: int, user) -> Declaration:
    """The declaration if it belongs to ``user``'s enterprise, else 404 (never 403)."""
    enterprise_id = _enterprise_id(user)
    if enterprise_id is None:
        abort(404)
    found = db.session.scalar(
        select(Declaration)
        .where(Declaration.id == declaration_id, Declaration.enterprise_id == enterprise_id)
        .options(
            selectinload(Declaration.versions).joinedload(DeclarationVersion.standard),
            joinedload(Declaration.current_version),
        )
    )
    if found is None:
        abort(404)
    return found


def owned_version(
    version_id: int, user, *, declaration_id: int | None = None
) -> DeclarationVersion:
    """The version if its declaration belongs to ``user``'s enterprise (and to
    ``declaration_id`` when given), else 404; products, indicators and references loaded."""
    enterprise_id = _enterprise_id(user)
    if enterprise_id is None:
        abort(404)
    stmt = _with_details(
        select(DeclarationVersion)
        .join(DeclarationVersion.declaration)
        .where(DeclarationVersion.id == version_id, Declaration.enterprise_id == enterprise_id)
    )
    if declaration_id is not None:
        stmt = stmt.where(DeclarationVersion.declaration_id == declaration_id)
    found = db.session.scalar(stmt)
    if found is None:
        abort(404)
    return found


def _with_details(stmt: Select) -> Select:
    return stmt.options(
        joinedload(DeclarationVersion.declaration).joinedload(Declaration.enterprise),
        joinedload(DeclarationVersion.standard),
        joinedload(DeclarationVersion.text_attachment),
        selectinload(DeclarationVersion.products),
        selectinload(DeclarationVersion.indicators),
        selectinload(DeclarationVersion.references),
        selectinload(DeclarationVersion.reference_flags),
    )


def version_with_details(version_id: int) -> DeclarationVersion | None:
    """Any version with everything a detail page shows (no ownership check: public pages
    must still refuse drafts themselves)."""
    return db.session.scalar(
        _with_details(select(DeclarationVersion).where(DeclarationVersion.id == version_id))
    )


def shown_version(declaration: Declaration) -> DeclarationVersion | None:
    """The newest non-draft version: what the public sees (pages and API alike)."""
    current = declaration.current_version
    if current is not None and current.status is not VersionStatus.DRAFT:
        return current
    done = [v for v in declaration.versions if v.status is not VersionStatus.DRAFT]
    return done[-1] if done else None


# -- history -----------------------------------------------------------------------------------


def version_at(declaration: Declaration | int, moment: datetime) -> DeclarationVersion | None:
    """The version in force at ``moment``: published at or before it and not ended by then.

    An abolished or revoked declaration has no version in force after its end: None.
    """
    declaration_id = declaration if isinstance(declaration, int) else declaration.id
    return db.session.scalar(
        _with_details(
            select(DeclarationVersion)
            .where(
                DeclarationVersion.declaration_id == declaration_id,
                DeclarationVersion.published_at.is_not(None),
                DeclarationVersion.published_at <= moment,
                or_(DeclarationVersion.ended_at.is_(None), DeclarationVersion.ended_at > moment),
            )
            .order_by(DeclarationVersion.published_at.desc(), DeclarationVersion.version_no.desc())
            .limit(1)
        )
    )


def version_as_of(declaration: Declaration | int, day: date) -> DeclarationVersion | None:
    """What was declared as of the end of ``day`` (Beijing time), as a regulator sampling that
    day sees it: the version published on or before that day and not ended by its end.

    Before the first publication: None. Between two revisions: the older one until the day the
    newer one is published. After abolition or revocation: None (nothing was in force); the
    ended version is still in ``version_history``.
    """
    return version_at(declaration, end_of_day(day) - timedelta(microseconds=1))


def version_history(
    declaration: Declaration | int, *, include_drafts: bool = False
) -> list[DeclarationVersion]:
    """Every version of a declaration, oldest first; drafts only when asked (owner pages)."""
    declaration_id = declaration if isinstance(declaration, int) else declaration.id
    stmt = (
        select(DeclarationVersion)
        .where(DeclarationVersion.declaration_id == declaration_id)
        .options(joinedload(DeclarationVersion.standard))
        .order_by(DeclarationVersion.version_no)
    )
    if not include_drafts:
        stmt = stmt.where(DeclarationVersion.status != VersionStatus.DRAFT)
    return list(db.session.scalars(stmt))


# -- lists ---------------------------------------------------------------------------------------


def declarations_of(
    enterprise: Enterprise | int, status: DeclarationStatus | str | None = None
) -> list[Declaration]:
    """An enterprise's declarations, newest first, with every version and its standard
    loaded (``Declaration.latest``/``.draft``/``.current_version`` cost no further query)."""
    enterprise_id = enterprise if isinstance(enterprise, int) else enterprise.id
    stmt = (
        select(Declaration)
        .where(Declaration.enterprise_id == enterprise_id)
        .options(
            selectinload(Declaration.versions).joinedload(DeclarationVersion.standard),
            joinedload(Declaration.current_version).joinedload(DeclarationVersion.standard),
        )
        .order_by(Declaration.created_at.desc(), Declaration.id.desc())
    )
    if status:
        stmt = stmt.where(Declaration.status == DeclarationStatus(status))
    return list(db.session.scalars(stmt))


def published_versions(
    *,
    q: str = "",
    category_id: int | None = None,
    kind: DeclarationKind | str | None = None,
    region: str | None = "",
    status: str | None = None,
    page: int = 1,
    per_page: int | None = None,
    max_per_page: int = 100,
):
    """Public search over the declarations shown to the public, through the search index
    (``declare.search``): by default the versions in force (现行有效).

    ``q`` is matched token by token (Chinese by characters and character pairs, Latin and
    digits by runs, so ``KFR-35GW`` and ``Q/ABC 001-2024`` match with or without their
    separators) against the standard number and name, the enterprise name and USCC, and the
    products' names, brands and models; results are ordered exact number first, then matches
    in enterprise or product names, then the rest, newest first within each.
    ``category_id`` keeps versions with a product in that category; ``kind`` is
    catalogue/enterprise; ``region`` is a 行政区划 prefix ("50", "5001") or a 6-digit code
    (500000 → all of "50"); ``status`` published (default), abolished or revoked.

    Returns a ``declare.search.SearchPage`` (``items``, ``total``, ``approximate``, ``pages``
    …) whose items are DeclarationVersion with declaration, enterprise, standard and products
    (with categories) loaded: 3 statements in all. Raises ``declare.search.SearchTimeout``
    when the query runs past ``SEARCH_TIMEOUT_MS``.
    """
    per_page = per_page or current_app.config.get("PAGE_SIZE", 20)
    return search.search(
        q=q,
        category_id=category_id,
        kind=kind,
        region=region,
        status=status,
        page=page,
        per_page=per_page,
        max_per_page=max_per_page,
    )


def home_stats() -> dict:
    return {
        "enterprises": db.session.scalar(select(func.count(Enterprise.id))),
        "published": db.session.scalar(
            select(func.count(Declaration.id)).where(
                Declaration.status == DeclarationStatus.PUBLISHED
            )
        ),
        "products": db.session.scalar(select(func.count(Product.id))),
    }


def declarations_citing(standard_ids: list[int]) -> Select:
    """(version_id, standard_id) of versions in force that cite or follow the standards."""
    cited = (
        select(NormativeReference.version_id, NormativeReference.standard_id)
        .join(DeclarationVersion, DeclarationVersion.id == NormativeReference.version_id)
        .where(
            DeclarationVersion.status == VersionStatus.PUBLISHED,
            NormativeReference.standard_id.in_(standard_ids),
        )
    )
    followed = select(DeclarationVersion.id, DeclarationVersion.standard_id).where(
        DeclarationVersion.status == VersionStatus.PUBLISHED,
        DeclarationVersion.standard_id.in_(standard_ids),
    )
    return cited.union(followed)
