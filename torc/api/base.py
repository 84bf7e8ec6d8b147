"""Shared pieces of every resource: the strict base schema, list arguments and the list envelope."""

import flask_smorest
import marshmallow as ma
from flask_smorest.utils import resolve_schema_instance
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter, UnicodeConverter

from torc.api.errors import DefaultErrorResponse, unprocessable
from torc.api.fields import INT32_RANGE, database_safe, json_type_error

BASE_PATH = "/torc-service/v1"

#: Upstream caps a page at 10,000 records (MAX_RECORD_TRANSFER_COUNT); larger limits are capped.
MAX_LIMIT = 10_000


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint, documenting the JSON error body of every error answer.

    ``@blp.alt_response(404, description="No such job")`` then says what the 404 body looks like
    (``default_error_response``), so generated clients and the schemathesis test know it too.
    """

    def alt_response(self, status_code, response=None, *, schema=None, **kwargs):
        if response is None and schema is None and int(status_code) >= 400:
            schema = DefaultErrorResponse
        return super().alt_response(status_code, response, schema=schema, **kwargs)

    def arguments(self, schema, *, location="json", **kwargs):
        """flask-smorest documents the 422 of invalid arguments; a JSON body may also be no JSON at all (400).

        The schema is instantiated here, once: given a class, webargs would build an instance (and
        one per nested schema, with every field deep-copied and bound) on every request, which
        was a fifth of a claim or completion request's server time.
        """
        parse = super().arguments(resolve_schema_instance(schema), location=location, **kwargs)
        if location != "json":
            return parse
        return lambda view: self.alt_response(400, description="The body is not valid JSON")(parse(view))


class DatabaseSafe(ma.Schema):
    """Values the database cannot store are a 422: integers are 32-bit (the database's INTEGER)
    unless declared ``Int64`` or given a maximum, and strings hold no NUL (see ``database_safe``).
    In JSON bodies numbers and booleans must have the documented JSON type (see ``json_type_error``)."""

    def on_bind_field(self, field_name, field_obj):
        database_safe(field_obj)

    @ma.pre_load
    def _refuse_loose_json_types(self, data, **kwargs):
        if type(data) is not dict:  # query arguments: text in a webargs MultiDictProxy, parsed leniently
            return data
        errors = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            if key in data and (problem := json_type_error(field, data[key])):
                errors[key] = problem
        if errors:
            raise ma.ValidationError(errors)
        return data


class ApiSchema(DatabaseSafe):
    """Request bodies reject unknown fields: a typo must not be silently dropped."""

    class Meta:
        unknown = ma.RAISE


def decimal_at_most(limit: int) -> str:
    """A regular expression for the decimal numbers 0..``limit`` (``limit`` ≥ 0)."""
    digits = str(limit)
    alternatives = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 and len(digits) > 1 else 0  # no leading zero
        if int(digit) > lowest:  # same prefix, a smaller digit here, anything after
            smaller = str(lowest) if int(digit) - 1 == lowest else f"[{lowest}-{int(digit) - 1}]"
            rest = len(digits) - position - 1
            alternatives.append(digits[:position] + smaller + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class Int32Converter(IntegerConverter):
    """``<int:...>`` path parameters: a number too large for an id column is a 404 (no such route).

    The range is in the regular expression, not only in werkzeug's ``max`` check: a value that
    fails that check after the path matched makes werkzeug answer 405 when another method is
    routed on the same path (``PUT /jobs/2147483648`` would be "method not allowed").
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_RANGE.max)
        super().__init__(map, *args, **kwargs)
        self.regex = decimal_at_most(self.max)


class NoNulStringConverter(UnicodeConverter):
    """``<string:...>`` path parameters: a NUL (``%00``) cannot name anything stored, so no route matches (404)."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]")


class PageArgs(DatabaseSafe):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(
        load_default=MAX_LIMIT,
        validate=validate.Range(min=0),
        metadata={"description": f"Page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}."},
    )


class ListArgs(PageArgs):
    sort_by = fields.String(metadata={"description": "Field of the item to sort by (default: id)."})
    reverse_sort = fields.Boolean(load_default=False)


class WorkflowListArgs(ListArgs):
    workflow_id = fields.Integer(required=True)


class DeleteCountResponse(ApiSchema):
    count = fields.Integer(required=True, metadata={"description": "Number of records deleted"})


#: The upstream list envelope's counters (access-group lists use ``offset, limit, total_count, has_more``).
ENVELOPE_COUNTERS = ("offset", "max_limit", "count", "total_count", "has_more")


def envelope(name: str, item_schema: type[ma.Schema], counters: tuple[str, ...] = ENVELOPE_COUNTERS) -> type[ma.Schema]:
    """A list envelope schema: ``items`` and the given counters (``has_more`` is a boolean)."""
    attrs = {"items": fields.List(fields.Nested(item_schema), required=True)}
    for counter in counters:
        attrs[counter] = fields.Boolean(required=True) if counter == "has_more" else fields.Integer(required=True)
    return type(name, (ApiSchema,), attrs)


def sort_field(model, name: str | None):
    """The model field behind an API field name (``workflow_id`` → ``workflow``), or 422."""
    if not name:
        return model._meta.primary_key
    field = model._meta.combined.get(name)
    if field is None:
        unprocessable(f"cannot sort by unknown field {name!r}", "sort_by")
    return field


def paginate(query, args: dict, model, decorate=None) -> dict:
    """One page of ``query`` in the list envelope, sorted by ``sort_by`` then id for stability."""
    offset = args.get("offset", 0)
    limit = min(args.get("limit", MAX_LIMIT), MAX_LIMIT)
    total = query.count()
    key = sort_field(model, args.get("sort_by"))
    pk = model._meta.primary_key
    order = [key.desc() if args.get("reverse_sort") else key.asc()]
    if key is not pk and not isinstance(pk, type(None)) and hasattr(pk, "asc"):
        order.append(pk.asc())
    items = list(query.order_by(*order).offset(offset).limit(limit)) if limit else []
    if decorate:
        decorate(items)
    return {
        "items": items,
        "offset": offset,
        "max_limit": MAX_LIMIT,
        "count": len(items),
        "total_count": total,
        "has_more": offset + len(items) < total,
    }
