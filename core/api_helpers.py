"""What every package's JSON API module shares: a blueprint with the decorators they use, and
``abort`` with the message in the JSON body.

``blp = Blueprint(...)``, then ``@blp.documented(404, 409)`` documents error responses (the
default error body), ``blp.roles_only(Role.REGULATOR)`` makes a decorator that requires a bearer
token of those roles (401 without one, 403 for other roles, both documented), ``@blp.public``
marks an endpoint that needs no token, ``@blp.public_or_token`` one that answers more with one.
``@blp.paginate(...)`` is flask-smorest's with the page bounded
(``core.schemas.pagination_schema``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import NoReturn

import flask_smorest
from flask import request

from core.auth import api_roles_required
from core.models import Role
from core.schemas import pagination_schema

__all__ = ["Blueprint", "abort", "paginated"]


class Blueprint(flask_smorest.Blueprint):
    def paginate(self, pager=None, *, page=None, page_size=None, max_page_size=None):
        """flask-smorest's pagination with ``page`` at most ``PAGE_MAX``: its own schema has no
        maximum, and a page of 10²¹ reached the database as an offset no integer holds. The
        bounded schema is parsed first (422 naming ``page`` or ``page_size`` and the range) and
        is the one the OpenAPI document shows."""
        defaults = self.DEFAULT_PAGINATION_PARAMETERS
        page = defaults["page"] if page is None else page
        page_size = defaults["page_size"] if page_size is None else page_size
        max_page_size = defaults["max_page_size"] if max_page_size is None else max_page_size
        bounded = pagination_schema(page, page_size, max_page_size)
        smorest = super().paginate(
            pager, page=page, page_size=page_size, max_page_size=max_page_size
        )

        def deco(func):
            inner = smorest(func)

            @wraps(inner)
            def checked(*args, **kwargs):
                self.PAGINATION_ARGUMENTS_PARSER.parse(bounded, request, location="query")
                return inner(*args, **kwargs)

            checked._apidoc["pagination"]["parameters"]["schema"] = bounded
            return checked

        return deco

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
