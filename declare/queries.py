from sqlalchemy import func, select

from core.extensions import db
from declare.models import Declaration, DeclarationStatus, Enterprise, Product


def home_stats() -> dict:
    return {
        "enterprises": db.session.scalar(select(func.count(Enterprise.id))),
        "published": db.session.scalar(
            select(func.count(Declaration.id)).where(Declaration.status == DeclarationStatus.PUBLISHED)
        ),
        "products": db.session.scalar(select(func.count(Product.id))),
    }
