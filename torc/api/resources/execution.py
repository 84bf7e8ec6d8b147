"""Execution endpoints: initialize, claim, start, complete, retry, reset, cancel.

Thin HTTP wrappers over ``torc.engine``: they parse the request, call one engine function inside
one write transaction, and shape the answer. The job returned by start/complete/retry/status
changes omits the relationship id lists (five more queries on the hottest path); claims include
them, and ``get_job`` always does. Claims take two additive query parameters:
``wait_seconds`` (long poll: wait for work instead of returning empty) and ``compute_node_id``
(record the claiming worker so its jobs can be recovered if it dies).
"""

from marshmallow import fields, validate

from torc.api.base import ApiSchema, Blueprint
from torc.api.errors import unprocessable
from torc.api.fields import Int64, JobStatusField
from torc.api.resources.jobs import JobModel, job_records
from torc.api.resources.jobs import blp as jobs_blp
from torc.api.resources.results import ResultModel
from torc.api.resources.workflows import SORT_METHODS
from torc.api.resources.workflows import blp as workflows_blp
from torc.db.connection import write_transaction
from torc.engine import claims, lifecycle, queries, transitions
from torc.status import JobStatus

MAX_CLAIM_LIMIT = 10_000
#: 8 EiB: the offered memory is compared in bytes with a 64-bit column.
MAX_MEMORY_GB = 2**33 - 1
WAIT_DOC = {
    "description": f"Long poll: when nothing can be claimed, wait up to this many seconds (capped at {claims.DEFAULT_MAX_WAIT_SECONDS:g} "
    "unless the server sets TORC_MAX_CLAIM_WAIT_SECONDS) for work, returning as soon as jobs are claimed or the workflow "
    "completes or is canceled."
}

wf_blp: Blueprint = workflows_blp
job_blp: Blueprint = jobs_blp


class InitializeJobsArgs(ApiSchema):
    only_uninitialized = fields.Boolean(load_default=False, metadata={"description": "Reinitialize: keep finished jobs"})
    clear_ephemeral_user_data = fields.Boolean(load_default=True)


class InitializeJobsResponse(ApiSchema):
    workflow_id = fields.Integer(required=True)
    num_ready = fields.Integer(required=True)
    num_canceled = fields.Integer(required=True)


class FileMtime(ApiSchema):
    file_id = fields.Integer(required=True)
    st_mtime = fields.Float(
        required=True, allow_none=True,
        metadata={"description": "Modification time to record; null: the file is absent, or a rerunning job rewrites it"},
    )


class ReinitializeWorkflowRequest(ApiSchema):
    run_id = fields.Integer(required=True, metadata={"description": "The run the client planned against (409 if another run started since)"})
    reset_job_ids = fields.List(
        fields.Integer(), load_default=list,
        metadata={"description": "Jobs to rerun because of their files (modified or new inputs, missing outputs); their dependents follow"},
    )
    file_mtimes = fields.List(fields.Nested(FileMtime), load_default=list, metadata={"description": "File times to record for the new run"})
    force = fields.Boolean(load_default=False, metadata={"description": "Proceed while jobs are pending or running (their workers can no longer report)"})


class ReinitializeWorkflowResponse(InitializeJobsResponse):
    run_id = fields.Integer(required=True, metadata={"description": "The new run"})
    reinitialized_jobs = fields.List(fields.String(), required=True, metadata={"description": "Jobs reset because their input fingerprint changed"})


class CancelWorkflowResponse(ApiSchema):
    workflow_id = fields.Integer(required=True)
    is_canceled = fields.Boolean(required=True)
    num_canceled_jobs = fields.Integer(required=True)


class ResetWorkflowStatusResponse(ApiSchema):
    workflow_id = fields.Integer(required=True)
    is_canceled = fields.Boolean(required=True)


class IsCompleteResponse(ApiSchema):
    is_canceled = fields.Boolean(required=True)
    is_complete = fields.Boolean(required=True)
    needs_to_run_completion_script = fields.Boolean(required=True)


class ListMissingUserDataResponse(ApiSchema):
    user_data = fields.List(fields.Integer(), required=True)


class ListRequiredExistingFilesResponse(ApiSchema):
    files = fields.List(fields.Integer(), required=True, metadata={"description": "Ids of files jobs read and no job writes"})


class ProcessChangedJobInputsResponse(ApiSchema):
    reinitialized_jobs = fields.List(fields.String(), required=True)


class GetReadyJobRequirementsResponse(ApiSchema):
    num_jobs = fields.Integer(required=True)
    num_cpus = Int64(required=True, metadata={"description": "Sum over the ready jobs"})
    num_gpus = Int64(required=True, metadata={"description": "Sum over the ready jobs"})
    memory_gb = fields.Float(required=True)
    max_num_nodes = fields.Integer(required=True)
    max_runtime = fields.String(required=True)


class ResetJobStatusResponse(ApiSchema):
    workflow_id = fields.Integer(required=True)
    updated_count = fields.Integer(required=True)
    status = fields.String(required=True)
    reset_type = fields.String()


class ComputeNodesResources(ApiSchema):
    id = fields.Integer(allow_none=True)
    num_cpus = fields.Integer(required=True, validate=validate.Range(min=0))
    memory_gb = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_MEMORY_GB))
    num_gpus = fields.Integer(required=True, validate=validate.Range(min=0))
    num_nodes = fields.Integer(required=True, validate=validate.Range(min=0))
    time_limit = fields.String(allow_none=True, metadata={"description": "Remaining walltime, ISO-8601 (e.g. PT55M)"})
    scheduler_config_id = fields.Integer(allow_none=True)


ROUNDS_DOC = {
    "description": "Fill the offer this many times over (additive): each job still fits the offer on its own, and together "
    "they fit `rounds` copies of it. For a worker that holds claimed jobs and starts each one when its resources free up "
    "(prefetch); 1 claims what fits now."
}


class ClaimArgs(ApiSchema):
    wait_seconds = fields.Float(load_default=0.0, validate=validate.Range(min=0), metadata=WAIT_DOC)
    compute_node_id = fields.Integer(metadata={"description": "The claiming worker (recorded on the jobs)"})
    start = fields.Boolean(
        load_default=False,
        metadata={"description": "Also start the jobs on compute_node_id (ready → running in this request; saves a start_job call per job)"},
    )


class ClaimNextJobsArgs(ClaimArgs):
    limit = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_CLAIM_LIMIT))


class ClaimByResourcesArgs(ClaimArgs):
    sort_method = fields.String(validate=validate.OneOf(SORT_METHODS), metadata={"enum": SORT_METHODS})
    strict_scheduler_match = fields.Boolean(load_default=False)
    rounds = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_CLAIM_LIMIT), metadata=ROUNDS_DOC)


class ClaimNextJobsResponse(ApiSchema):
    jobs = fields.List(fields.Nested(JobModel), required=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why nothing was claimed"})


class ClaimJobsBasedOnResourcesResponse(ClaimNextJobsResponse):
    pass


class JobCompletion(ApiSchema):
    job_id = fields.Integer(required=True)
    status = JobStatusField(required=True, metadata={"description": "Final status: completed, failed, canceled, terminated or pending_failed"})
    result = fields.Nested(ResultModel, required=True)


class ClaimAfterCompletion(ApiSchema):
    limit = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_CLAIM_LIMIT))
    resources = fields.Nested(ComputeNodesResources, metadata={"description": "Offer as in claim_jobs_based_on_resources; omit for claim_next_jobs"})
    compute_node_id = fields.Integer(metadata={"description": "The claiming worker (recorded on the jobs)"})
    start = fields.Boolean(load_default=False, metadata={"description": "Also start the claimed jobs on compute_node_id"})
    sort_method = fields.String(validate=validate.OneOf(SORT_METHODS), metadata={"enum": SORT_METHODS})
    strict_scheduler_match = fields.Boolean(load_default=False)
    rounds = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_CLAIM_LIMIT), metadata=ROUNDS_DOC)


class CompleteJobsRequest(ApiSchema):
    completions = fields.List(fields.Nested(JobCompletion), load_default=list, validate=validate.Length(max=MAX_CLAIM_LIMIT))
    compute_node_id = fields.Integer(metadata={"description": "The reporting worker; needed with started_job_ids"})
    started_job_ids = fields.List(
        fields.Integer(), load_default=list, validate=validate.Length(max=MAX_CLAIM_LIMIT),
        metadata={"description": "Jobs this worker claimed (pending) and has started since its last report: pending → running"},
    )
    claim = fields.Nested(ClaimAfterCompletion, metadata={"description": "Claim right after completing (no waiting)"})


class CompletionError(ApiSchema):
    job_id = fields.Integer(required=True)
    status_code = fields.Integer(required=True, metadata={"description": "What complete_job would have answered: 404, 409 or 422"})
    message = fields.String(required=True)


class CompleteJobsResponse(ApiSchema):
    started_job_ids = fields.List(fields.Integer(), required=True, metadata={"description": "Jobs that moved to running"})
    completed_job_ids = fields.List(fields.Integer(), required=True)
    errors = fields.List(fields.Nested(CompletionError), required=True, metadata={"description": "Completions that were refused"})
    claimed = fields.Nested(ClaimNextJobsResponse, metadata={"description": "The claim's answer, when the request had one"})


class ForceArgs(ApiSchema):
    force = fields.Boolean(load_default=False)


class FailedOnlyArgs(ApiSchema):
    failed_only = fields.Boolean(load_default=False)


class DryRunArgs(ApiSchema):
    dry_run = fields.Boolean(load_default=False)


class SchedulerArgs(ApiSchema):
    scheduler_config_id = fields.Integer()


class RetryArgs(ApiSchema):
    max_retries = fields.Integer(validate=validate.Range(min=1), metadata={"description": "Refuse when attempt_id >= max_retries"})


def _status(label: str) -> JobStatus:
    try:
        return JobStatus.from_label(label)
    except ValueError as exc:
        unprocessable(str(exc), "status")


def _jobs(claim: claims.Claim) -> dict:
    return {"jobs": job_records(claim.job_ids), "reason": claim.reason}


def _in_transaction(function, *args):
    with write_transaction():
        return function(*args)


@wf_blp.route("/workflows/<int:id>/initialize_jobs", methods=["POST"], endpoint="initialize_jobs")
@wf_blp.arguments(InitializeJobsArgs, location="query")
@wf_blp.response(200, InitializeJobsResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="initialize_jobs", summary="Place every job: ready, blocked, or canceled (adds implicit dependencies).")
def initialize_jobs(args, id):
    return _in_transaction(lifecycle.initialize_jobs, id, args["only_uninitialized"], args["clear_ephemeral_user_data"])


@wf_blp.route("/workflows/<int:id>/reinitialize", methods=["POST"], endpoint="reinitialize_workflow")
@wf_blp.arguments(ReinitializeWorkflowRequest)
@wf_blp.response(200, ReinitializeWorkflowResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.alt_response(409, description="run_id is not current, or jobs are pending or running and force is false")
@wf_blp.doc(
    operationId="reinitialize_workflow",
    summary="Start a new run that reruns what changed, atomically (additive): record file times, reset the given jobs and the jobs "
    "whose inputs changed, and place them with everything downstream, in one transaction.",
)
def reinitialize_workflow(body, id):
    mtimes = {item["file_id"]: item["st_mtime"] for item in body["file_mtimes"]}
    return _in_transaction(lifecycle.reinitialize, id, body["run_id"], body["reset_job_ids"], mtimes, body["force"])


@wf_blp.route("/workflows/<int:id>/cancel", methods=["PUT"], endpoint="cancel_workflow")
@wf_blp.response(200, CancelWorkflowResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="cancel_workflow", summary="Cancel a workflow; workers stop its running jobs.")
def cancel_workflow(id):
    return _in_transaction(lifecycle.cancel_workflow, id)


@wf_blp.route("/workflows/<int:id>/reset_status", methods=["POST"], endpoint="reset_workflow_status")
@wf_blp.arguments(ForceArgs, location="query")
@wf_blp.response(200, ResetWorkflowStatusResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.alt_response(409, description="Jobs are running and force is false")
@wf_blp.doc(operationId="reset_workflow_status", summary="Clear the canceled flag.")
def reset_workflow_status(args, id):
    return _in_transaction(lifecycle.reset_workflow_status, id, args["force"])


@wf_blp.route("/workflows/<int:id>/reset_job_status", methods=["POST"], endpoint="reset_job_status")
@wf_blp.arguments(FailedOnlyArgs, location="query")
@wf_blp.response(200, ResetJobStatusResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="reset_job_status", summary="Set jobs back to uninitialized (all, or failed ones and their dependents).")
def reset_job_status(args, id):
    return _in_transaction(lifecycle.reset_job_status, id, args["failed_only"])


@wf_blp.route("/workflows/<int:id>/process_changed_job_inputs", methods=["POST"], endpoint="process_changed_job_inputs")
@wf_blp.arguments(DryRunArgs, location="query")
@wf_blp.response(200, ProcessChangedJobInputsResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="process_changed_job_inputs", summary="Set jobs whose inputs changed since initialization back to uninitialized.")
def process_changed_job_inputs(args, id):
    return _in_transaction(lifecycle.process_changed_job_inputs, id, args["dry_run"])


@wf_blp.route("/workflows/<int:id>/is_complete", methods=["GET"], endpoint="is_workflow_complete")
@wf_blp.response(200, IsCompleteResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="is_workflow_complete", summary="Whether every job finished, and whether the workflow was canceled.")
def is_workflow_complete(id):
    return queries.completion_state(id)


@wf_blp.route("/workflows/<int:id>/missing_user_data", methods=["GET"], endpoint="list_missing_user_data")
@wf_blp.response(200, ListMissingUserDataResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="list_missing_user_data", summary="User data jobs need that no job produces and that has no data.")
def list_missing_user_data(id):
    return {"user_data": queries.missing_user_data(id)}


@wf_blp.route("/workflows/<int:id>/required_existing_files", methods=["GET"], endpoint="list_required_existing_files")
@wf_blp.response(200, ListRequiredExistingFilesResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="list_required_existing_files", summary="Files jobs read that no job writes (must exist before the run).")
def list_required_existing_files(id):
    return {"files": queries.required_existing_files(id)}


@wf_blp.route("/workflows/<int:id>/ready_job_requirements", methods=["GET"], endpoint="get_ready_job_requirements")
@wf_blp.arguments(SchedulerArgs, location="query")
@wf_blp.response(200, GetReadyJobRequirementsResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="get_ready_job_requirements", summary="Total resources of the ready jobs.")
def get_ready_job_requirements(args, id):
    return queries.ready_job_requirements(id, args.get("scheduler_config_id"))


def _claim_attempt(id: int, limit: int, resources: dict | None, args: dict):
    """Check a claim request and return the function that tries it once (queue mode without
    ``resources``); shared by the claim endpoints and the claim that rides on ``complete_jobs``."""
    queries.workflow_status(id)
    claims.check_holder(id, args.get("compute_node_id"), args["start"])
    if resources is None:
        return lambda: claims.claim_next_jobs(id, limit, args.get("compute_node_id"), args["start"])
    resources = {key: value for key, value in resources.items() if key != "id"}
    capacity = claims.Capacity(**resources)
    capacity.time_limit_seconds()  # reject a bad time_limit before waiting
    return lambda: claims.claim_by_resources(
        id, limit, capacity, args.get("sort_method"), args["strict_scheduler_match"], args.get("compute_node_id"), args["start"], args["rounds"]
    )


@wf_blp.route("/workflows/<int:id>/claim_next_jobs", methods=["POST"], endpoint="claim_next_jobs")
@wf_blp.arguments(ClaimNextJobsArgs, location="query")
@wf_blp.response(200, ClaimNextJobsResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="claim_next_jobs", summary="Claim up to `limit` ready jobs whatever their requirements.")
def claim_next_jobs(args, id):
    return _jobs(claims.claim_with_wait(id, _claim_attempt(id, args["limit"], None, args), args["wait_seconds"]))


@wf_blp.route("/workflows/<int:id>/claim_jobs_based_on_resources/<int:limit>", methods=["POST"], endpoint="claim_jobs_based_on_resources")
@wf_blp.arguments(ComputeNodesResources)
@wf_blp.arguments(ClaimByResourcesArgs, location="query")
@wf_blp.response(200, ClaimJobsBasedOnResourcesResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.doc(operationId="claim_jobs_based_on_resources", summary="Claim ready jobs that fit together in the offered resources and time.")
def claim_jobs_based_on_resources(resources, args, id, limit):
    if not 1 <= limit <= MAX_CLAIM_LIMIT:
        unprocessable(f"must be between 1 and {MAX_CLAIM_LIMIT}", "limit")
    return _jobs(claims.claim_with_wait(id, _claim_attempt(id, limit, resources, args), args["wait_seconds"]))


@job_blp.route("/jobs/<int:id>/start_job/<int:run_id>/<int:compute_node_id>", methods=["PUT"], endpoint="start_job")
@job_blp.response(200, JobModel)
@job_blp.alt_response(404, description="No such job")
@job_blp.alt_response(409, description="The job is not pending, or run_id is not current")
@job_blp.doc(operationId="start_job", summary="pending → running on a compute node.")
def start_job(id, run_id, compute_node_id):
    return _in_transaction(transitions.start_job, id, run_id, compute_node_id)


@job_blp.route("/jobs/<int:id>/complete_job/<string:status>/<int:run_id>", methods=["POST"], endpoint="complete_job")
@job_blp.arguments(ResultModel)
@job_blp.response(200, JobModel)
@job_blp.alt_response(404, description="No such job")
@job_blp.alt_response(409, description="The job is not pending, running or pending_failed, or run_id is not current")
@job_blp.doc(
    operationId="complete_job",
    summary="Record a job's result and final status; dependents are released (or canceled) at once.",
)
def complete_job(result, id, status, run_id):
    return _in_transaction(transitions.complete_job, id, _status(status), run_id, result)


@wf_blp.route("/workflows/<int:id>/complete_jobs/<int:run_id>", methods=["POST"], endpoint="complete_jobs")
@wf_blp.arguments(CompleteJobsRequest)
@wf_blp.response(200, CompleteJobsResponse)
@wf_blp.alt_response(404, description="No such workflow")
@wf_blp.alt_response(409, description="run_id is not current")
@wf_blp.doc(
    operationId="complete_jobs",
    summary="A worker's batched report (additive): jobs it started (pending → running) and complete_job for many jobs, in one "
    "transaction; refused completions are listed, the rest complete. With `claim`, the worker's next claim rides on the "
    "same request: one round trip per batch.",
)
def complete_jobs(body, id, run_id):
    request = body.get("claim")
    attempt = _claim_attempt(id, request["limit"], request.get("resources"), request) if request else None
    if body["started_job_ids"] and body.get("compute_node_id") is None:
        unprocessable("started_job_ids needs compute_node_id: the node the jobs run on", "compute_node_id")
    items = [transitions.Completion(c["job_id"], JobStatus(c["status"]), c["result"]) for c in body["completions"]]
    with write_transaction():
        started = transitions.start_claimed_jobs(id, body["compute_node_id"], body["started_job_ids"]) if body["started_job_ids"] else []
        outcome = transitions.complete_jobs(id, run_id, items)
    answer = {
        "started_job_ids": started,
        "completed_job_ids": outcome.completed,
        "errors": [{"job_id": job_id, "status_code": error.http_status, "message": str(error)} for job_id, error in outcome.errors],
    }
    if attempt is not None:
        answer["claimed"] = _jobs(attempt())
    return answer


@job_blp.route("/jobs/<int:id>/manage_status_change/<string:status>/<int:run_id>", methods=["PUT"], endpoint="manage_status_change")
@job_blp.response(200, JobModel)
@job_blp.alt_response(404, description="No such job")
@job_blp.alt_response(409, description="The change is not allowed from the job's status")
@job_blp.alt_response(422, description="Unknown status")
@job_blp.doc(operationId="manage_status_change", summary="Manual non-final status change (disable, hand back, reset).")
def manage_status_change(id, status, run_id):
    return _in_transaction(transitions.manage_status_change, id, _status(status), run_id)


@job_blp.route("/jobs/<int:id>/retry/<int:run_id>", methods=["POST"], endpoint="retry_job")
@job_blp.arguments(RetryArgs, location="query")
@job_blp.response(200, JobModel)
@job_blp.alt_response(404, description="No such job")
@job_blp.alt_response(409, description="No retries left, or the job cannot be retried from its status")
@job_blp.doc(operationId="retry_job", summary="Send a job back to ready with the next attempt id.")
def retry_job(args, id, run_id):
    return _in_transaction(transitions.retry_job, id, run_id, args.get("max_retries"))
