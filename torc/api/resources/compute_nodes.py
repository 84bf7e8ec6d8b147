"""Compute nodes: the worker processes that claim and run jobs."""

import json

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.api.fields import JsonObjectText
from torc.db.models import ComputeNode

blp = Blueprint("compute_nodes", __name__, url_prefix=BASE_PATH, description="Worker processes")


class ComputeNodeModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    hostname = fields.String(required=True)
    pid = fields.Integer(required=True)
    start_time = fields.String(required=True)
    duration_seconds = fields.Float(allow_none=True)
    is_active = fields.Boolean(allow_none=True)
    num_cpus = fields.Integer(required=True, validate=validate.Range(min=0))
    memory_gb = fields.Float(required=True, validate=validate.Range(min=0))
    num_gpus = fields.Integer(required=True, validate=validate.Range(min=0))
    num_nodes = fields.Integer(required=True, validate=validate.Range(min=1))
    time_limit = fields.String(allow_none=True)
    scheduler_config_id = fields.Integer(allow_none=True)
    compute_node_type = fields.String(required=True, metadata={"description": "local, slurm or remote"})
    scheduler = JsonObjectText(allow_none=True, metadata={"description": "Scheduler facts, e.g. slurm_job_id, scheduled_compute_node_id"})


class ListComputeNodesArgs(WorkflowListArgs):
    hostname = fields.String()
    is_active = fields.Boolean()
    scheduled_compute_node_id = fields.Integer()


def _prepare(data: dict, existing) -> None:
    if data.get("scheduler"):
        node_id = json.loads(data["scheduler"]).get("scheduled_compute_node_id")
        data["scheduled_compute_node_id"] = node_id if isinstance(node_id, int) else None


def _filters(query, args):
    for name in ("hostname", "is_active", "scheduled_compute_node_id"):
        if name in args:
            query = query.where(getattr(ComputeNode, name) == args[name])
    return query


register_crud(
    blp,
    Crud(
        kind="compute node",
        model=ComputeNode,
        schema=ComputeNodeModel,
        path="/compute_nodes",
        op_ids={
            "create": "create_compute_node",
            "list": "list_compute_nodes",
            "get": "get_compute_node",
            "update": "update_compute_node",
            "delete": "delete_compute_node",
            "delete_all": "delete_compute_nodes",
        },
        list_response="ListComputeNodesResponse",
        list_args=ListComputeNodesArgs,
        filters=_filters,
        prepare=_prepare,
    ),
)
