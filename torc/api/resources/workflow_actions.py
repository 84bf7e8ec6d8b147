"""Workflow actions: commands or allocations fired by workflow, job and worker triggers.

A non-persistent action is claimed with a conditional UPDATE so exactly one worker runs it; the
others get 409, as in upstream torc. Persistent (worker-lifecycle) actions only record who ran
them last, so every worker runs them.
"""

import datetime as dt
import json

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint
from torc.api.crud import workflow_or_404
from torc.engine.creation import check_references
from torc.api.errors import conflict, not_found, unprocessable
from torc.api.fields import JsonIntListText, JsonObjectText
from torc.db.connection import write_transaction
from torc.db.models import ComputeNode, Job, WorkflowAction
from torc.engine import actions

blp = Blueprint("workflow_actions", __name__, url_prefix=BASE_PATH, description="Actions fired by workflow triggers")

TRIGGER_TYPES = ["on_workflow_start", "on_workflow_complete", "on_jobs_ready", "on_jobs_complete", "on_worker_start", "on_worker_complete"]
ACTION_TYPES = ["run_commands", "schedule_nodes"]


class WorkflowActionModel(ApiSchema):
    id = fields.Integer()
    workflow_id = fields.Integer(required=True)
    trigger_type = fields.String(required=True, validate=validate.OneOf(TRIGGER_TYPES), metadata={"enum": TRIGGER_TYPES})
    action_type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES), metadata={"enum": ACTION_TYPES})
    action_config = JsonObjectText(required=True)
    job_ids = JsonIntListText(allow_none=True, metadata={"description": "Jobs whose state fires a job trigger"})
    executed = fields.Boolean(metadata={"doc_default": False})
    executed_at = fields.String(allow_none=True)
    executed_by = fields.Integer(allow_none=True)
    persistent = fields.Boolean(metadata={"doc_default": False})


class PendingActionsArgs(ApiSchema):
    trigger_type = fields.List(fields.String(validate=validate.OneOf(TRIGGER_TYPES)))


class ClaimActionRequest(ApiSchema):
    compute_node_id = fields.Integer(required=True, metadata={"description": "ID of the compute node claiming the action"})


class ClaimActionResponse(ApiSchema):
    action_id = fields.Integer(required=True)
    success = fields.Boolean(required=True, metadata={"description": "Always true: a claim that fails is a 409"})
    claimed = fields.Boolean(
        required=True,
        metadata={"description": "Same as success; the field upstream torc's server answers and its clients read"},
    )


def action_or_404(workflow_id: int, action_id: int) -> WorkflowAction:
    action = WorkflowAction.get_or_none(WorkflowAction.id == action_id, WorkflowAction.workflow == workflow_id)
    if action is None:
        not_found(f"action {action_id} of workflow", workflow_id)
    return action


def pending_actions_query(workflow_id: int, trigger_types=None):
    """Actions whose trigger has fired and that are still to run (persistent ones always are)."""
    query = WorkflowAction.select().where(
        WorkflowAction.workflow == workflow_id,
        WorkflowAction.trigger_count >= WorkflowAction.required_triggers,
        (WorkflowAction.executed == False) | (WorkflowAction.persistent == True),  # noqa: E712
    )
    if trigger_types:
        query = query.where(WorkflowAction.trigger_type.in_(trigger_types))
    return query.order_by(WorkflowAction.id)


@blp.route("/workflows/<int:id>/actions", methods=["POST"], endpoint="create_workflow_action")
@blp.arguments(WorkflowActionModel)
@blp.response(200, WorkflowActionModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="create_workflow_action", summary="Create a workflow action.")
def create_workflow_action(data, id):
    data.pop("id", None)
    if data["workflow_id"] != id:
        unprocessable(f"differs from the path's workflow {id}", "workflow_id")
    with write_transaction():
        workflow_or_404(id)
        job_ids = json.loads(data.pop("job_ids") or "[]") if "job_ids" in data else []
        check_references({"job_ids": Job}, {"job_ids": job_ids}, id)
        data.pop("workflow_id")
        return actions.create_action(id, data, job_ids)


@blp.route("/workflows/<int:id>/actions", methods=["GET"], endpoint="get_workflow_actions")
@blp.response(200, WorkflowActionModel(many=True))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="get_workflow_actions", summary="List the actions of a workflow.")
def get_workflow_actions(id):
    workflow_or_404(id)
    return list(WorkflowAction.select().where(WorkflowAction.workflow == id).order_by(WorkflowAction.id))


@blp.route("/workflows/<int:id>/actions/pending", methods=["GET"], endpoint="get_pending_actions")
@blp.arguments(PendingActionsArgs, location="query")
@blp.response(200, WorkflowActionModel(many=True))
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="get_pending_actions", summary="Actions whose trigger fired and that still have to run.")
def get_pending_actions(args, id):
    workflow_or_404(id)
    return list(pending_actions_query(id, args.get("trigger_type")))


@blp.route("/workflows/<int:id>/actions/<int:action_id>/claim", methods=["POST"], endpoint="claim_action")
@blp.arguments(ClaimActionRequest)
@blp.response(200, ClaimActionResponse)
@blp.alt_response(404, description="No such workflow or action")
@blp.alt_response(409, description="Another worker claimed the (non-persistent) action first, or its trigger has not fired")
@blp.doc(operationId="claim_action", summary="Atomically claim a workflow action.")
def claim_action(data, id, action_id):
    with write_transaction():
        action = action_or_404(id, action_id)
        check_references({"compute_node_id": ComputeNode}, data, id)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        update = WorkflowAction.update(executed=True, executed_at=now, executed_by=data["compute_node_id"]).where(
            WorkflowAction.id == action.id, WorkflowAction.trigger_count >= WorkflowAction.required_triggers
        )
        if not action.persistent:
            update = update.where(WorkflowAction.executed == False)  # noqa: E712
        if update.execute() != 1:
            now_stored = WorkflowAction.get_by_id(action.id)  # after the winner's commit (PostgreSQL)
            if now_stored.trigger_count < now_stored.required_triggers:
                conflict(f"action {action_id} cannot be claimed: its trigger ({action.trigger_type}) has not fired")
            conflict(f"action {action_id} was already claimed by compute node {now_stored.executed_by}")
    return {"action_id": action_id, "success": True, "claimed": True}
