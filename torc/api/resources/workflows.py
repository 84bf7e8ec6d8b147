"""Workflows: CRUD, run status, and the read-only graph queries over a workflow's jobs."""

import datetime as dt

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, ListArgs, envelope, paginate
from torc.api.crud import workflow_or_404
from torc.api.errors import unprocessable
from torc.api.fields import Int64, validate_json_text
from torc.db.connection import write_transaction
from torc.db.models import Event, Workflow, WorkflowStatus
from torc.engine.creation import create_workflow_row

blp = Blueprint("workflows", __name__, url_prefix=BASE_PATH, description="Workflows and their run status")

SORT_METHODS = ["gpus_runtime_memory", "gpus_memory_runtime", "none"]

class WorkflowModel(ApiSchema):
    id = fields.Integer()
    name = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "Name of the workflow"})
    user = fields.String(required=True, metadata={"description": "User that created the workflow"})
    description = fields.String(allow_none=True)
    timestamp = fields.String(metadata={"description": "Creation time (UTC, ISO 8601); set by the server"})
    project = fields.String(allow_none=True)
    metadata = fields.String(allow_none=True, metadata={"description": "Arbitrary metadata as a JSON string"})
    compute_node_expiration_buffer_seconds = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 180})
    compute_node_wait_for_new_jobs_seconds = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 90})
    compute_node_ignore_workflow_completion = fields.Boolean(metadata={"doc_default": False})
    compute_node_wait_for_healthy_database_minutes = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 20})
    compute_node_min_time_for_new_jobs_seconds = fields.Integer(validate=validate.Range(min=0), metadata={"doc_default": 300})
    jobs_sort_method = fields.String(validate=validate.OneOf(SORT_METHODS), metadata={"enum": SORT_METHODS})
    resource_monitor_config = fields.String(allow_none=True, validate=validate_json_text(dict))
    slurm_defaults = fields.String(allow_none=True, validate=validate_json_text(dict))
    use_pending_failed = fields.Boolean(metadata={"doc_default": False})
    status_id = fields.Integer()


class WorkflowStatusModel(ApiSchema):
    id = fields.Integer()
    is_canceled = fields.Boolean(required=True)
    is_archived = fields.Boolean(metadata={"doc_default": False})
    run_id = fields.Integer(required=True, validate=validate.Range(min=1))
    has_detected_need_to_run_completion_script = fields.Boolean(metadata={"doc_default": False})


class ListWorkflowsArgs(ListArgs):
    name = fields.String()
    user = fields.String()
    description = fields.String()
    is_archived = fields.Boolean()


class IsUninitializedResponse(ApiSchema):
    is_uninitialized = fields.Boolean(required=True)


class LatestEventTimestampResponse(ApiSchema):
    timestamp = Int64(allow_none=True, required=True, metadata={"description": "Milliseconds since the epoch, null without events"})


def attach_status(workflows) -> None:
    """``status_id`` is the id of the workflow's status row."""
    by_workflow = {
        row.workflow_id: row.id
        for row in WorkflowStatus.select(WorkflowStatus.id, WorkflowStatus.workflow).where(
            WorkflowStatus.workflow.in_([w.id for w in workflows])
        )
    }
    for workflow in workflows:
        workflow.status_id = by_workflow.get(workflow.id)


def status_of(workflow_id: int) -> WorkflowStatus:
    return WorkflowStatus.get(WorkflowStatus.workflow == workflow_id)


@blp.route("/workflows", methods=["POST"], endpoint="create_workflow")
@blp.arguments(WorkflowModel)
@blp.response(200, WorkflowModel)
@blp.doc(operationId="create_workflow", summary="Create a workflow (with its status and a 'default' resource requirement).")
def create_workflow(data):
    with write_transaction():
        workflow = create_workflow_row(data)
    attach_status([workflow])
    return workflow


@blp.route("/workflows", methods=["GET"], endpoint="list_workflows")
@blp.arguments(ListWorkflowsArgs, location="query")
@blp.response(200, envelope("ListWorkflowsResponse", WorkflowModel))
@blp.doc(operationId="list_workflows", summary="List workflows; archived ones only when is_archived=true.")
def list_workflows(args):
    query = Workflow.select()
    for name in ("name", "user", "description"):
        if name in args:
            query = query.where(getattr(Workflow, name) == args[name])
    if "is_archived" in args:
        query = query.join(WorkflowStatus).where(WorkflowStatus.is_archived == args["is_archived"])
    return paginate(query, args, Workflow, attach_status)


@blp.route("/workflows/<int:id>", methods=["GET"], endpoint="get_workflow")
@blp.response(200, WorkflowModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="get_workflow", summary="Get a workflow.")
def get_workflow(id):
    workflow = workflow_or_404(id)
    attach_status([workflow])
    return workflow


@blp.route("/workflows/<int:id>", methods=["PUT"], endpoint="update_workflow")
@blp.arguments(WorkflowModel)
@blp.response(200, WorkflowModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="update_workflow", summary="Update a workflow; optional fields left out keep their values.")
def update_workflow(data, id):
    with write_transaction():
        workflow = workflow_or_404(id)
        for read_only in ("id", "status_id", "timestamp"):
            data.pop(read_only, None)
        if data:
            Workflow.update(**data).where(Workflow.id == id).execute()
        workflow = Workflow.get_by_id(id)
    attach_status([workflow])
    return workflow


@blp.route("/workflows/<int:id>", methods=["DELETE"], endpoint="delete_workflow")
@blp.response(200, WorkflowModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="delete_workflow", summary="Delete a workflow and everything it owns.")
def delete_workflow(id):
    with write_transaction():
        workflow = workflow_or_404(id)
        attach_status([workflow])
        Workflow.delete().where(Workflow.id == id).execute()
    return workflow


@blp.route("/workflows/<int:id>/status", methods=["GET"], endpoint="get_workflow_status")
@blp.response(200, WorkflowStatusModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="get_workflow_status", summary="Get the run status of a workflow.")
def get_workflow_status(id):
    workflow_or_404(id)
    return status_of(id)


@blp.route("/workflows/<int:id>/status", methods=["PUT"], endpoint="update_workflow_status")
@blp.arguments(WorkflowStatusModel)
@blp.response(200, WorkflowStatusModel)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="update_workflow_status", summary="Update the run status of a workflow (archive, run id).")
def update_workflow_status(data, id):
    with write_transaction():
        workflow_or_404(id)
        current = status_of(id)
        data.pop("id", None)
        if data.get("run_id", current.run_id) < current.run_id:
            unprocessable(f"run_id cannot go back from {current.run_id}", "run_id")
        WorkflowStatus.update(**data).where(WorkflowStatus.id == current.id).execute()
    return status_of(id)


@blp.route("/workflows/<int:id>/is_uninitialized", methods=["GET"], endpoint="is_workflow_uninitialized")
@blp.response(200, IsUninitializedResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="is_workflow_uninitialized", summary="True when no job of the workflow has left 'uninitialized'.")
def is_workflow_uninitialized(id):
    from torc.db.models import Job
    from torc.status import JobStatus

    workflow_or_404(id)
    started = Job.select().where(
        Job.workflow == id, Job.status.not_in([JobStatus.UNINITIALIZED, JobStatus.DISABLED])
    ).exists()
    return {"is_uninitialized": not started}


@blp.route("/workflows/<int:id>/latest_event_timestamp", methods=["GET"], endpoint="get_latest_event_timestamp")
@blp.response(200, LatestEventTimestampResponse)
@blp.alt_response(404, description="No such workflow")
@blp.doc(operationId="get_latest_event_timestamp", summary="Timestamp of the workflow's newest event.")
def get_latest_event_timestamp(id):
    from peewee import fn

    workflow_or_404(id)
    return {"timestamp": Event.select(fn.MAX(Event.timestamp)).where(Event.workflow == id).scalar()}
