"""Marshmallow fields that translate between database columns and API JSON."""

import json

from marshmallow import ValidationError, fields

from torc.status import LABELS, JobStatus


class JobStatusField(fields.String):
    """Job status: an integer code in the database, a name (``ready``, ``completed``…) in JSON."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"enum": LABELS, **kwargs.pop("metadata", {})}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return JobStatus(value).label

    def _deserialize(self, value, attr, data, **kwargs):
        label = super()._deserialize(value, attr, data, **kwargs)
        try:
            return int(JobStatus.from_label(label))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class JsonObjectText(fields.Dict):
    """A JSON object in the API, stored as JSON text in a text column."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return json.loads(value)
        return value

    def _deserialize(self, value, attr, data, **kwargs):
        return json.dumps(super()._deserialize(value, attr, data, **kwargs), sort_keys=True)


class JsonIntListText(fields.List):
    """A list of integers in the API, stored as JSON text."""

    def __init__(self, **kwargs):
        super().__init__(fields.Integer(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or value == "":
            return None
        return json.loads(value) if isinstance(value, str) else value

    def _deserialize(self, value, attr, data, **kwargs):
        return json.dumps(super()._deserialize(value, attr, data, **kwargs))


def validate_json_text(kind: type):
    """A validator: the string must parse as JSON of the given type (``dict`` or ``list``)."""

    def check(value: str) -> None:
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValidationError(f"not valid JSON: {exc}") from None
        if not isinstance(parsed, kind):
            raise ValidationError(f"must be a JSON {'object' if kind is dict else 'array'}")

    return check
