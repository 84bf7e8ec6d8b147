"""Scheduled compute nodes: allocations requested from a scheduler (pending → active → complete)."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.api.fields import Int64
from torc.db.models import ScheduledComputeNode

blp = Blueprint("scheduled_compute_nodes", __name__, url_prefix=BASE_PATH, description="Allocations requested from schedulers")


class ScheduledComputeNodesModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    scheduler_id = Int64(required=True, metadata={"description": "The scheduler's job id, e.g. the Slurm job id"})
    scheduler_config_id = fields.Integer(required=True)
    scheduler_type = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending, active or complete"})


class ListScheduledComputeNodesArgs(WorkflowListArgs):
    scheduler_id = fields.String(
        validate=validate.Regexp(r"^[0-9]{1,18}$", error="must be a scheduler job id (digits)"),
        metadata={"description": "The scheduler's job id, as digits"},
    )
    scheduler_config_id = fields.Integer()
    status = fields.String()


def _filters(query, args):
    if "scheduler_id" in args:
        query = query.where(ScheduledComputeNode.scheduler_id == int(args["scheduler_id"]))
    for name in ("scheduler_config_id", "status"):
        if name in args:
            query = query.where(getattr(ScheduledComputeNode, name) == args[name])
    return query


register_crud(
    blp,
    Crud(
        kind="scheduled compute node",
        model=ScheduledComputeNode,
        schema=ScheduledComputeNodesModel,
        path="/scheduled_compute_nodes",
        op_ids={
            "create": "create_scheduled_compute_node",
            "list": "list_scheduled_compute_nodes",
            "get": "get_scheduled_compute_node",
            "update": "update_scheduled_compute_node",
            "delete": "delete_scheduled_compute_node",
            "delete_all": "delete_scheduled_compute_nodes",
        },
        list_response="ListScheduledComputeNodesResponse",
        list_args=ListScheduledComputeNodesArgs,
        filters=_filters,
    ),
)
