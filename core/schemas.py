"""Schema pieces shared by every package's API: the trimming load schema, the bounded whole
numbers every load schema uses (``DbId`` for ids, ``WholeNumber`` for counts, years and days,
``pagination_schema`` for pages), and the reference schemas several packages dump (a job's
progress, an enterprise in brief, a cited standard)."""

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from core.validation import DB_INT_MAX, DB_INT_MIN, PAGE_MAX, number_text


def strip_strings(data):
    """Trim surrounding spaces of every top-level string value (numbers are left alone)."""
    if isinstance(data, dict):
        return {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
    return data


class TrimmedSchema(Schema):
    """A load schema that ignores spaces typed around values."""

    @pre_load
    def _trim(self, data, **kwargs):
        return strip_strings(data)


# --------------------------------------------------------------------------- whole numbers


class WholeNumber(fields.Integer):
    """A whole number within ``low``..``high`` (default: what an ``integer`` column holds), so
    a number no column holds is a 422 naming the field, never a database error. Text (a query
    string, or a body field when not ``strict``) takes ASCII digits only: ``int`` also reads
    "١٢", and a 5,000-digit string costs time before it fails."""

    default_error_messages = {
        "invalid": _l("Enter a whole number from {min} to {max} (digits 0-9)."),
    }

    def __init__(self, *, low: int = DB_INT_MIN, high: int = DB_INT_MAX, **kwargs) -> None:
        self.low, self.high = low, high
        extra = kwargs.pop("validate", None)
        extra = [extra] if callable(extra) else list(extra or ())
        super().__init__(**kwargs)
        # The message is formatted when it is shown (in the reader's language).
        self.validators.insert(
            0, validate.Range(min=low, max=high, error=self.error_messages["invalid"])
        )
        self.validators.extend(extra)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            text = number_text(value) if len(value) <= 24 else None
            if text is None or not text.lstrip("+-").isdigit():
                raise self.make_error("invalid")
        elif isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)

    def make_error(self, key: str, **kwargs) -> ValidationError:
        if key in ("invalid", "too_large"):
            message = str(self.error_messages["invalid"])
            return ValidationError(message.format(min=self.low, max=self.high))
        return super().make_error(key, **kwargs)


class DbId(WholeNumber):
    """The id of a database row: 1..2³¹−1 (PostgreSQL's ``integer``)."""

    default_error_messages = {
        "invalid": _l("An id is a whole number from {min} to {max} (digits 0-9)."),
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(low=1, high=DB_INT_MAX, **kwargs)


class PaginationParameters:
    """A page of a list (what flask-smorest's ``pagination_parameters`` carries)."""

    def __init__(self, page: int, page_size: int) -> None:
        self.page, self.page_size, self.item_count = page, page_size, None

    @property
    def first_item(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def last_item(self) -> int:
        return self.first_item + self.page_size - 1


def pagination_schema(
    default_page: int, default_page_size: int, max_page_size: int
) -> type[Schema]:
    """The query schema of a paginated endpoint: ``page`` 1..``PAGE_MAX`` and ``page_size``
    1..``max_page_size`` (flask-smorest's own has no maximum page, so a huge one reached the
    database)."""

    class PaginationParametersSchema(Schema):
        class Meta:
            unknown = "exclude"

        page = WholeNumber(low=1, high=PAGE_MAX, load_default=default_page)
        page_size = WholeNumber(low=1, high=max_page_size, load_default=default_page_size)

        @post_load
        def _parameters(self, data, **kwargs):
            return PaginationParameters(**data)

    return PaginationParametersSchema


# --------------------------------------------------------------------------- references


class JobOut(Schema):
    """An outbox job and its progress (``core.models.OutboxJob``)."""

    id = fields.Integer(metadata={"description": "the outbox job id"})
    status = fields.String(
        metadata={"description": "pending, queued, running, retrying, done or failed"}
    )
    func = fields.String()
    created_at = fields.AwareDateTime()
    dispatched_at = fields.AwareDateTime(allow_none=True)
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    progress = fields.Float(
        allow_none=True, metadata={"description": "0..1 when the worker reports it"}
    )
    message = fields.String(allow_none=True)


class EnterpriseBriefOut(Schema):
    """An enterprise named inside another record."""

    id = fields.Integer()
    name = fields.String()
    uscc = fields.String()
    region_code = fields.String()


class CitedStandardOut(Schema):
    """A catalogue standard cited or followed, with its status."""

    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    kind = fields.Function(lambda s: s.kind.value)
    status = fields.Function(lambda s: s.status.value)
    replaced_by_code = fields.String(allow_none=True)
