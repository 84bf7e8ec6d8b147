"""Events: timestamped JSON records of what happened in a workflow."""

import json

from marshmallow import fields

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.api.fields import Int64, JsonObjectText
from torc.db.models import Event
from torc.engine.events import now_ms

blp = Blueprint("events", __name__, url_prefix=BASE_PATH, description="Workflow events")


class EventModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    timestamp = Int64(metadata={"description": "Milliseconds since the epoch; the server's clock when omitted"})
    data = JsonObjectText(required=True, metadata={"description": "Event data; data.category is filterable"})


class ListEventsArgs(WorkflowListArgs):
    category = fields.String()
    after_timestamp = Int64(metadata={"description": "Only events strictly after this time (ms)"})


def _prepare(data: dict, existing) -> None:
    if existing is None:
        data.setdefault("timestamp", now_ms())
    if "data" in data:
        category = json.loads(data["data"]).get("category")
        data["category"] = str(category) if category is not None else None


def _filters(query, args):
    if "category" in args:
        query = query.where(Event.category == args["category"])
    if "after_timestamp" in args:
        query = query.where(Event.timestamp > args["after_timestamp"])
    return query


register_crud(
    blp,
    Crud(
        kind="event",
        model=Event,
        schema=EventModel,
        path="/events",
        op_ids={"create": "create_event", "list": "list_events", "get": "get_event", "update": "update_event", "delete": "delete_event", "delete_all": "delete_events"},
        list_response="ListEventsResponse",
        list_args=ListEventsArgs,
        filters=_filters,
        prepare=_prepare,
    ),
)
