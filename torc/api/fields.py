"""Marshmallow fields that translate between database columns and API JSON."""

import json

from marshmallow import ValidationError, fields, validate
from marshmallow.utils import missing as ma_missing

from torc.status import LABELS, JobStatus

#: Integer columns (ids, counts, seconds) are 32-bit on PostgreSQL; BIGINT ones are 64-bit, as are
#: all SQLite integers. Outside these ranges the database raises instead of answering.
INT32_RANGE = validate.Range(min=-(2**31), max=2**31 - 1)
INT64_RANGE = validate.Range(min=-(2**63), max=2**63 - 1)


class Int64(fields.Integer):
    """An integer stored in a 64-bit (BIGINT) column, e.g. a timestamp in milliseconds or a byte count.

    Plain ``fields.Integer`` fields of an ``ApiSchema`` are bounded to 32 bits (see
    ``database_safe``); this field carries the wider 64-bit range instead.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, INT64_RANGE)


def no_nul(value: str) -> None:
    """PostgreSQL text cannot hold U+0000; refused on every backend so both behave alike."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain NUL (U+0000) characters")


def database_safe(field: fields.Field) -> None:
    """Make a field (or the items of a list field) refuse, with a 422, values the database cannot store.

    An Integer without an upper bound gets the 32-bit column range (validated on load, documented as
    ``minimum``/``maximum``); a String refuses NUL characters. Without this the database raises and
    the answer is a 500.
    """
    for candidate in (field, getattr(field, "inner", None)):
        # Bound fields are shallow copies sharing ``validators`` with the declared field: replace the
        # list, never append to it.
        if isinstance(candidate, fields.Integer) and not any(
            isinstance(v, validate.Range) and v.max is not None for v in candidate.validators
        ):
            candidate.validators = [INT32_RANGE, *candidate.validators]
        elif isinstance(candidate, fields.String) and no_nul not in candidate.validators:
            candidate.validators = [no_nul, *candidate.validators]


def json_type_error(field: fields.Field, value):
    """Why ``value``, taken from a JSON body, does not have the JSON type ``field`` documents (or None).

    marshmallow is lenient where the OpenAPI document is not: an Integer takes ``2.5`` (and stores
    2) or ``"3"``, a Boolean takes ``0``, ``1`` and ``"yes"``. In a JSON body those are mistakes and
    get a 422; a whole number written as ``2.0`` is still an integer (JSON Schema agrees).
    """
    if value is None:
        return None  # allow_none is marshmallow's business
    if isinstance(field, fields.List) and isinstance(value, list) and not isinstance(field.inner, fields.Nested):
        problems = {index: problem for index, item in enumerate(value) if (problem := json_type_error(field.inner, item))}
        return problems or None
    if isinstance(field, fields.Boolean):
        valid = isinstance(value, bool)
    elif isinstance(field, fields.Integer):
        valid = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    elif isinstance(field, fields.Number):
        valid = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        return None
    return None if valid else [field.error_messages["invalid"]]


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


class FastNestedList(fields.List):
    """A list of flat objects (bulk payloads: 100,000 jobs) validated quickly.

    The per-item check is derived from the nested schema's own declared fields (types, required,
    allow_none, defaults, validators), so the rules live in one place. Only an item that fails the
    quick check goes through marshmallow proper, which produces the usual field messages. In the
    OpenAPI document it is an ordinary array of the nested schema.
    """

    #: Exact Python types the JSON decoder gives for each simple field (``bool`` is no Integer).
    _TYPES = {fields.String: {str}, fields.Integer: {int}, fields.Boolean: {bool}, fields.Float: {int, float}}

    def __init__(self, schema_cls, **kwargs):
        super().__init__(fields.Nested(schema_cls), **kwargs)
        self._schema = schema_cls()
        loadable = {name: field for name, field in self._schema.fields.items() if not field.dump_only}
        #: JSON key → (attribute, accepted types, item types of a list, allow_none, validators).
        self._checks = {field.data_key or name: self._field_check(name, field) for name, field in loadable.items()}
        self._required = {field.data_key or name for name, field in loadable.items() if field.required}
        self._renamed = any((field.data_key or name) != (field.attribute or name) for name, field in loadable.items())
        defaults = {field.attribute or name: field.load_default for name, field in loadable.items() if field.load_default is not ma_missing}
        self._fixed_defaults = {attribute: d for attribute, d in defaults.items() if not callable(d)}
        self._made_defaults = [(attribute, d) for attribute, d in defaults.items() if callable(d)]

    @classmethod
    def _field_check(cls, name, field):
        inner = None
        if isinstance(field, fields.List):
            inner, types = cls._simple_type(field.inner), {list}
        else:
            types = cls._simple_type(field)
        return field.attribute or name, types, inner, field.allow_none, field.validators

    @classmethod
    def _simple_type(cls, field):
        for kind, types in cls._TYPES.items():
            if type(field) is kind:
                return frozenset(types)
        return None  # anything else: let marshmallow load it

    def _quick(self, item):
        """The loaded item, or None where marshmallow proper must judge it. Works over the keys
        the item has (a job sends three or four of its dozen fields), then adds the defaults."""
        if type(item) is not dict or not self._required.issubset(item):
            return None
        checks = self._checks
        for key, value in item.items():
            check = checks.get(key)
            if check is None:
                return None  # unknown or dump-only: marshmallow's message
            _, types, inner, allow_none, validators = check
            if value is None:
                if not allow_none:
                    return None
                continue
            if types is None or type(value) not in types:
                return None
            if inner is not None and value and not inner.issuperset(map(type, value)):
                return None
            try:
                for validator in validators:
                    validator(value)
            except ValidationError:
                return None
        loaded = dict(self._fixed_defaults)
        for attribute, make in self._made_defaults:
            loaded[attribute] = make()
        if self._renamed:
            loaded.update((checks[key][0], value) for key, value in item.items())
        else:
            loaded.update(item)
        return loaded

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        result = []
        for index, item in enumerate(value):
            loaded = self._quick(item)
            if loaded is None:
                try:
                    loaded = self._schema.load(item)
                except ValidationError as exc:
                    raise ValidationError({index: exc.messages}) from None
            result.append(loaded)
        return result
