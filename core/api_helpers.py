"""What every package's JSON API module shares: a blueprint with the decorators they use, and
``abort`` with the message in the JSON body.

``blp = Blueprint(...)``, then ``@blp.documented(404, 409)`` documents error responses (the
default error body), ``blp.roles_only(Role.REGULATOR)`` makes a decorator that requires a bearer
token of those roles (401 without one, 403 for other roles, both documented), ``@blp.public``
marks an endpoint that needs no token, ``@blp.public_or_token`` one that answers more with one.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import NoReturn

import flask_smorest

from core.auth import api_roles_required
from core.models import Role

__all__ = ["Blueprint", "abort", "paginated"]


class Blueprint(flask_smorest.Blueprint):
    def documented(self, *codes: int) -> Callable[[Callable], Callable]:
        """Document the error responses an endpoint may give (the default error body)."""

        def deco(func):
            for code in codes:
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return func

        return deco

    def roles_only(self, *roles: Role) -> Callable[[Callable], Callable]:
        """A decorator: a bearer token of one of ``roles``; 401 without one, 403 for others."""

        def deco(func):
            return api_roles_required(*roles)(self.documented(401, 403)(func))

        return deco

    def public(self, func: Callable) -> Callable:
        """No token needed (OpenAPI: no security)."""
        return self.doc(security=[])(func)

    def public_or_token(self, func: Callable) -> Callable:
        """No token needed; a bearer token may show more."""
        return self.doc(security=[{}, {"bearer": []}])(func)


def abort(code: int, message: str) -> NoReturn:
    """Stop with ``code``; ``message`` is the JSON body's message (``flask_smorest.abort``)."""
    flask_smorest.abort(code, message=message)


def paginated(stmt, pagination_parameters) -> list:
    """One page of ``stmt`` for a ``@blp.paginate()`` endpoint: the items, with the total
    count handed to flask-smorest for its pagination header."""
    from core.extensions import db

    page = db.paginate(
        stmt,
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total
    return page.items
