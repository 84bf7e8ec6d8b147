"""Job-level transitions: start, complete, retry, and manual status changes.

Every function checks the run id (a worker from an earlier run cannot touch the current one) and
the job's current status, then changes it with a conditional UPDATE (``WHERE status = <expected>``)
so that a transition happens once even if two requests race.
"""

from torc.db.connection import database_proxy
from torc.db.models import ComputeNode, Job, Result, WorkflowResult
from torc.engine import actions, propagation, queries
from torc.engine.errors import Conflict, Invalid
from torc.engine.events import record_event
from torc.engine.wakeup import jobs_changed
from torc.status import DONE, TERMINAL, JobStatus

S = JobStatus


def _check_run_id(job: Job, run_id: int) -> None:
    current = queries.workflow_status(job.workflow_id).run_id
    if run_id != current:
        raise Conflict(f"run_id {run_id} is not the workflow's current run {current}")


def _move(job: Job, expected: set, **changes) -> None:
    """Conditional update; a lost race surfaces as a Conflict, not as a double transition."""
    updated = Job.update(**changes).where(Job.id == job.id, Job.status.in_(list(expected))).execute()
    if updated != 1:
        now = Job.get_by_id(job.id).status
        raise Conflict(f"job {job.id} is {S(now).label}; expected {' or '.join(sorted(S(s).label for s in expected))}")


def start_job(job_id: int, run_id: int, compute_node_id: int) -> Job:
    """pending → running on a compute node of the same workflow."""
    job = queries.job_or_error(job_id)
    _check_run_id(job, run_id)
    if not ComputeNode.select().where(ComputeNode.id == compute_node_id, ComputeNode.workflow == job.workflow_id).exists():
        raise Invalid(f"compute_node_id {compute_node_id} is not a compute node of workflow {job.workflow_id}")
    _move(job, {S.PENDING}, status=S.RUNNING, active_compute_node=compute_node_id)
    return Job.get_by_id(job_id)


def complete_job(job_id: int, status: JobStatus, run_id: int, result: dict) -> Job:
    """Record the result and finish the job; release or cancel its dependents in the same transaction."""
    if status not in TERMINAL:
        raise Invalid(f"complete_job needs a final status ({', '.join(s.label for s in sorted(TERMINAL))}), not {status.label}")
    job = queries.job_or_error(job_id)
    _check_run_id(job, run_id)
    if result.get("job_id", job_id) != job_id or result.get("workflow_id", job.workflow_id) != job.workflow_id:
        raise Invalid("the result's job_id/workflow_id do not match the job")
    if result.get("status") is not None and result["status"] != status:
        raise Invalid(f"the result's status {S(result['status']).label} differs from the path's {status.label}")
    if result.get("attempt_id", job.attempt_id) != job.attempt_id:
        raise Conflict(f"attempt {result['attempt_id']} of job {job_id} is over; the job is on attempt {job.attempt_id}")
    _move(job, {S.PENDING, S.RUNNING}, status=status, active_compute_node=None)
    row = {**result, "job_id": job_id, "workflow_id": job.workflow_id, "run_id": run_id, "status": int(status)}
    row.pop("id", None)
    row.setdefault("attempt_id", job.attempt_id)
    saved = Result.create(**row)
    WorkflowResult.insert(workflow=job.workflow_id, job=job_id, result=saved.id).on_conflict(
        conflict_target=[WorkflowResult.job], update={WorkflowResult.result: saved.id}
    ).execute()
    changed = {job_id}
    if status in DONE:
        ready, canceled = propagation.release_dependents(
            {job_id} if status == S.COMPLETED else set(), set() if status == S.COMPLETED else {job_id}
        )
        changed |= ready | canceled
        if canceled:
            record_event(job.workflow_id, "jobs_canceled", f"{len(canceled)} jobs canceled because job {job_id} ended {status.label}", job_id=job_id, num_canceled=len(canceled))
    actions.recount_job_triggers(job.workflow_id, changed)
    if queries.is_complete(job.workflow_id):
        actions.fire_workflow_complete(job.workflow_id)
    jobs_changed()
    return Job.get_by_id(job_id)


def retry_job(job_id: int, run_id: int, max_retries: int | None = None) -> Job:
    """Send a failed (or still running) job back to ready with the next attempt id.

    If the job had already finished, its dependents (released or canceled meanwhile) are put back
    behind it.
    """
    job = queries.job_or_error(job_id)
    _check_run_id(job, run_id)
    if max_retries is not None and job.attempt_id >= max_retries:
        raise Conflict(f"job {job_id} used {job.attempt_id} of {max_retries} attempts")
    retryable = {S.RUNNING, S.PENDING, S.FAILED, S.TERMINATED, S.CANCELED, S.PENDING_FAILED}
    was_done = job.status in DONE
    _move(job, retryable, status=S.READY, attempt_id=job.attempt_id + 1, active_compute_node=None, num_blocking=0)
    if was_done:
        _put_dependents_back(job)
    record_event(job.workflow_id, "job_retried", f"job {job_id} ({job.name}) retried as attempt {job.attempt_id + 1}", job_id=job_id, attempt_id=job.attempt_id + 1)
    actions.recount_job_triggers(job.workflow_id, {job_id})
    jobs_changed()
    return Job.get_by_id(job_id)


def _put_dependents_back(job: Job) -> None:
    """Dependents of a job that is no longer finished wait for it again."""
    seed = f"SELECT job_id FROM job_depends_on WHERE depends_on_job_id = {database_proxy.obj.param}"
    propagation.reset_with_downstream(job.workflow_id, seed, (job.id,))
    propagation.evaluate_uninitialized(job.workflow_id)


#: Manual moves: target status → statuses it may come from. Taking any job back to
#: ``uninitialized`` is always allowed (with everything downstream of it).
MANUAL_MOVES = {
    S.DISABLED: {S.UNINITIALIZED, S.BLOCKED, S.READY},
    # A worker hands back a job it claimed (and maybe started with the claim) but will not run.
    S.READY: {S.PENDING, S.RUNNING},
}


def manage_status_change(job_id: int, status: JobStatus, run_id: int) -> Job:
    """Manual, non-final status changes: disable a job, hand a claimed job back, or take a job back
    to uninitialized (everything downstream follows; then reinitialize with ``only_uninitialized``).
    """
    if status in TERMINAL:
        raise Invalid(f"{status.label} is a final status: use complete_job")
    job = queries.job_or_error(job_id)
    _check_run_id(job, run_id)
    current = S(job.status)
    if status == current:
        return job
    if status == S.UNINITIALIZED:
        Job.update(status=S.UNINITIALIZED, num_blocking=0, active_compute_node=None).where(Job.id == job_id).execute()
        seed = f"SELECT job_id FROM job_depends_on WHERE depends_on_job_id = {database_proxy.obj.param}"
        propagation.reset_with_downstream(job.workflow_id, seed, (job_id,))
    elif current in MANUAL_MOVES.get(status, set()):
        _move(job, {current}, status=status, active_compute_node=None)
        if status == S.DISABLED:
            # A disabled job no longer holds its dependents back.
            ready, _ = propagation.release_dependents({job_id}, set())
            actions.recount_job_triggers(job.workflow_id, ready | {job_id})
    else:
        raise Conflict(f"job {job_id} cannot go from {current.label} to {status.label}")
    jobs_changed()
    return Job.get_by_id(job_id)
