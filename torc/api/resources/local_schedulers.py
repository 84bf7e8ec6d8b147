"""Local scheduler configurations: the resources a local worker offers."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.db.models import LocalScheduler
from torc.units import parse_memory_bytes

blp = Blueprint("local_schedulers", __name__, url_prefix=BASE_PATH, description="Local scheduler configurations")


def _valid_memory(value: str) -> None:
    try:
        parse_memory_bytes(value)
    except ValueError as exc:
        raise validate.ValidationError(str(exc)) from None


class LocalSchedulerModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    name = fields.String(metadata={"doc_default": "default"})
    memory = fields.String(allow_none=True, validate=_valid_memory)
    num_cpus = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class ListLocalSchedulersArgs(WorkflowListArgs):
    memory = fields.String()
    num_cpus = fields.Integer()


def _filters(query, args):
    for name in ("memory", "num_cpus"):
        if name in args:
            query = query.where(getattr(LocalScheduler, name) == args[name])
    return query


register_crud(
    blp,
    Crud(
        kind="local scheduler",
        model=LocalScheduler,
        schema=LocalSchedulerModel,
        path="/local_schedulers",
        op_ids={
            "create": "create_local_scheduler",
            "list": "list_local_schedulers",
            "get": "get_local_scheduler",
            "update": "update_local_scheduler",
            "delete": "delete_local_scheduler",
            "delete_all": "delete_local_schedulers",
        },
        list_response="ListLocalSchedulersResponse",
        list_args=ListLocalSchedulersArgs,
        filters=_filters,
    ),
)
