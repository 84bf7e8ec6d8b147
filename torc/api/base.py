"""Shared pieces of every resource: the strict base schema, list arguments and the list envelope."""

import marshmallow as ma
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter, UnicodeConverter

from torc.api.errors import unprocessable
from torc.api.fields import INT32_RANGE, database_safe

BASE_PATH = "/torc-service/v1"

#: Upstream caps a page at 10,000 records (MAX_RECORD_TRANSFER_COUNT); larger limits are capped.
MAX_LIMIT = 10_000


class DatabaseSafe(ma.Schema):
    """Values the database cannot store are a 422: integers are 32-bit (the database's INTEGER)
    unless declared ``Int64`` or given a maximum, and strings hold no NUL (see ``database_safe``)."""

    def on_bind_field(self, field_name, field_obj):
        database_safe(field_obj)


class ApiSchema(DatabaseSafe):
    """Request bodies reject unknown fields: a typo must not be silently dropped."""

    class Meta:
        unknown = ma.RAISE


class Int32Converter(IntegerConverter):
    """``<int:...>`` path parameters: a number too large for an id column is a 404 (no such route)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_RANGE.max)
        super().__init__(map, *args, **kwargs)


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
