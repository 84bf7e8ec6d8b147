"""Results: one row per job attempt; ``workflow_result`` points at each job's latest one."""

from marshmallow import fields, validate

from torc.api.base import BASE_PATH, ApiSchema, Blueprint, WorkflowListArgs
from torc.api.crud import Crud, register_crud
from torc.api.fields import Int64, JobStatusField
from torc.db.models import Job, Result, WorkflowResult

blp = Blueprint("results", __name__, url_prefix=BASE_PATH, description="Results of job runs")


class ResultModel(ApiSchema):
    id = fields.Integer()
    job_id = fields.Integer(required=True)
    workflow_id = fields.Integer(required=True)
    run_id = fields.Integer(required=True, validate=validate.Range(min=1))
    attempt_id = fields.Integer(validate=validate.Range(min=1), metadata={"doc_default": 1})
    compute_node_id = fields.Integer(required=True)
    return_code = Int64(required=True)
    exec_time_minutes = fields.Float(required=True, validate=validate.Range(min=0))
    completion_time = fields.String(required=True)
    status = JobStatusField(required=True)
    peak_memory_bytes = Int64(allow_none=True)
    avg_memory_bytes = Int64(allow_none=True)
    peak_cpu_percent = fields.Float(allow_none=True)
    avg_cpu_percent = fields.Float(allow_none=True)
    message = fields.String(allow_none=True, metadata={"description": "Why the job ended this way (e.g. a missing output file, a lost worker)"})


class ListResultsArgs(WorkflowListArgs):
    job_id = fields.Integer()
    run_id = fields.Integer()
    return_code = Int64()
    status = JobStatusField()
    all_runs = fields.Boolean(load_default=False, metadata={"description": "false: only each job's latest result"})
    compute_node_id = fields.Integer()


def record_latest(result: Result) -> None:
    """Make ``result`` its job's latest result (insert or replace the workflow_result row)."""
    WorkflowResult.insert(workflow=result.workflow_id, job=result.job_id, result=result.id).on_conflict(
        conflict_target=[WorkflowResult.job], update={WorkflowResult.result: result.id}
    ).execute()


def _filters(query, args):
    for name in ("job_id", "run_id", "return_code", "status", "compute_node_id"):
        if name in args:
            query = query.where(getattr(Result, name) == args[name])
    if not args["all_runs"]:
        query = query.where(Result.id.in_(WorkflowResult.select(WorkflowResult.result).where(WorkflowResult.workflow == args["workflow_id"])))
    return query


def _after_write(result: Result, extra: dict, created: bool) -> None:
    if created:
        record_latest(result)


register_crud(
    blp,
    Crud(
        kind="result",
        model=Result,
        schema=ResultModel,
        path="/results",
        op_ids={"create": "create_result", "list": "list_results", "get": "get_result", "update": "update_result", "delete": "delete_result", "delete_all": "delete_results"},
        list_response="ListResultsResponse",
        list_args=ListResultsArgs,
        filters=_filters,
        references={"job_id": Job},
        after_write=_after_write,
    ),
)
