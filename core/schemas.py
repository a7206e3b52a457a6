"""Schema pieces shared by every package's API."""

from marshmallow import Schema, pre_load


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
