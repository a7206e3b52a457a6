"""Page numbers of one page of a list, for lists that count their own total (a capped or
estimated count, a page of computed rows) instead of Flask-SQLAlchemy's ``paginate``.
``templates/_macros.html``'s ``pager`` reads these names."""

from __future__ import annotations

import math


class PageNumbers:
    """Mixed into a page dataclass with ``total``, ``page`` and ``per_page``."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None
