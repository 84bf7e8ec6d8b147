"""Worker leases: heartbeats from workers and recovery of the jobs of workers that died.

Additive to the upstream API: ``heartbeat_compute_node`` renews a worker's lease and
``sync_workflow_status`` recovers the jobs of workers whose lease expired (the server also does
this on a background schedule, see ``torc-server run --lost-worker-check-seconds``).
"""

from marshmallow import fields, validate

from torc.api.base import ApiSchema
from torc.api.resources.compute_nodes import ComputeNodeModel
from torc.api.resources.compute_nodes import blp as compute_nodes_blp
from torc.api.resources.workflows import blp as workflows_blp
from torc.db.connection import write_transaction
from torc.engine import workers


class HeartbeatArgs(ApiSchema):
    lease_seconds = fields.Float(
        load_default=60.0,
        validate=validate.Range(min=1, max=86400),
        metadata={"description": "The worker is declared lost if no heartbeat arrives within this many seconds"},
    )


class SyncStatusArgs(ApiSchema):
    dry_run = fields.Boolean(load_default=False)


class SyncStatusResponse(ApiSchema):
    lost_compute_nodes = fields.List(fields.Integer(), required=True)
    requeued_jobs = fields.List(fields.Integer(), required=True, metadata={"description": "Back to ready (running ones as a new attempt)"})
    failed_jobs = fields.List(fields.Integer(), required=True, metadata={"description": "Failed: no retries left"})


@compute_nodes_blp.route("/compute_nodes/<int:id>/heartbeat", methods=["PUT"], endpoint="heartbeat_compute_node")
@compute_nodes_blp.arguments(HeartbeatArgs, location="query")
@compute_nodes_blp.response(200, ComputeNodeModel)
@compute_nodes_blp.alt_response(404, description="No such compute node")
@compute_nodes_blp.alt_response(409, description="The node was closed or declared lost: the worker must stop")
@compute_nodes_blp.doc(operationId="heartbeat_compute_node", summary="Renew a worker's lease.")
def heartbeat_compute_node(args, id):
    with write_transaction():
        return workers.heartbeat(id, args["lease_seconds"])


@workflows_blp.route("/workflows/<int:id>/sync_status", methods=["POST"], endpoint="sync_workflow_status")
@workflows_blp.arguments(SyncStatusArgs, location="query")
@workflows_blp.response(200, SyncStatusResponse)
@workflows_blp.alt_response(404, description="No such workflow")
@workflows_blp.doc(operationId="sync_workflow_status", summary="Recover the jobs of this workflow's workers whose lease expired.")
def sync_workflow_status(args, id):
    with write_transaction():
        return workers.recover_lost_workers(id, args["dry_run"])
