"""Schema pieces shared by every package's API: the trimming load schema and the reference
schemas several packages dump (a job's progress, an enterprise in brief, a cited standard)."""

from marshmallow import Schema, fields, pre_load


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
