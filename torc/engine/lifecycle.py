"""Workflow-level transitions: initialize, reinitialize, reset, cancel, and rerunning what changed."""

from torc.db.connection import database_proxy
from torc.db.models import File, Job, UserData, WorkflowResult, WorkflowStatus
from torc.engine import actions, cycles, fingerprints, propagation, queries
from torc.engine.creation import check_references, create_from_records, insert_implicit_edges
from torc.engine.errors import Conflict
from torc.engine.events import record_event
from torc.engine.sql import bulk_update, in_chunks
from torc.engine.wakeup import jobs_changed
from torc.status import JobStatus

S = JobStatus

#: Statuses ``reset_job_status(failed_only=True)`` reruns (with everything downstream).
UNSUCCESSFUL_FINAL = {S.FAILED, S.CANCELED, S.TERMINATED, S.PENDING_FAILED}


def initialize_jobs(workflow_id: int, only_uninitialized: bool = False, clear_ephemeral_user_data: bool = True) -> dict:
    """Make a workflow runnable: add implicit edges, place every job (ready/blocked/canceled).

    ``only_uninitialized`` (used by reinitialize) keeps finished jobs and re-places only the jobs
    that were reset, and everything downstream of them. Refuses a dependency cycle.
    """
    status = queries.workflow_status(workflow_id)
    new_edges = insert_implicit_edges(workflow_id)
    if new_edges:
        cycles.check_workflow(workflow_id)  # edges from files and user data no check has seen yet
    if only_uninitialized:
        seed = f"SELECT id FROM job WHERE workflow_id = {database_proxy.obj.param} AND status = {int(S.UNINITIALIZED)}"
        propagation.reset_with_downstream(workflow_id, seed, (workflow_id,))
    else:
        # Touch only rows that change: a new workflow's jobs are already uninitialized.
        Job.update(status=S.UNINITIALIZED, num_blocking=0, active_compute_node=None).where(
            Job.workflow == workflow_id,
            Job.status.not_in([S.DISABLED, S.UNINITIALIZED]) | (Job.num_blocking != 0) | Job.active_compute_node.is_null(False),
            Job.status != S.DISABLED,
        ).execute()
    if clear_ephemeral_user_data:
        UserData.update(data=None).where(UserData.workflow == workflow_id, UserData.is_ephemeral == True).execute()  # noqa: E712
    # Results of jobs about to run again are no longer their latest results.
    WorkflowResult.delete().where(
        WorkflowResult.workflow == workflow_id,
        WorkflowResult.job.in_(Job.select(Job.id).where(Job.workflow == workflow_id, Job.status == S.UNINITIALIZED)),
    ).execute()
    fingerprints.refresh_placed(workflow_id, all_jobs=not only_uninitialized, stale=status.input_hashes_stale or new_edges > 0)
    ready, canceled = propagation.evaluate_uninitialized(workflow_id)
    return _run_started(status, ready, canceled, "workflow_reinitialized" if only_uninitialized else "workflow_started")


def create_and_initialize(records: dict) -> dict:
    """Create a workflow from an expanded spec and start its first run, in the caller's transaction.

    The same outcome as ``create_from_records`` followed by ``initialize_jobs``, but each job row
    is written once, already placed: a new workflow has no finished, reset or canceled job, so a
    job is ready without upstream edges and blocked by all of them otherwise. Returns what
    creation returns, with ``num_ready``.
    """
    created = create_from_records(records, place=True)
    workflow_id = created["workflow"].id
    UserData.update(data=None).where(UserData.workflow == workflow_id, UserData.is_ephemeral == True).execute()  # noqa: E712
    started = _run_started(queries.workflow_status(workflow_id), set(created.pop("ready_ids")), set(), "workflow_started")
    return {**created, "num_ready": started["num_ready"]}


def _run_started(status: WorkflowStatus, ready: set[int], canceled: set[int], kind: str) -> dict:
    """What every (re)initialization ends with, once the jobs are placed: actions, event, wake-up."""
    workflow_id = status.workflow_id
    WorkflowStatus.update(is_canceled=False, has_detected_need_to_run_completion_script=False).where(WorkflowStatus.id == status.id).execute()
    actions.reset_actions(workflow_id)
    if queries.is_complete(workflow_id):
        actions.fire_workflow_complete(workflow_id)
    record_event(workflow_id, kind, f"{len(ready)} jobs ready", num_ready=len(ready), num_canceled=len(canceled), run_id=status.run_id)
    jobs_changed()
    return {"workflow_id": workflow_id, "num_ready": len(ready), "num_canceled": len(canceled)}


def _refuse_while_busy(workflow_id: int, force: bool, what: str) -> None:
    busy = Job.select().where(Job.workflow == workflow_id, Job.status.in_([S.PENDING, S.RUNNING])).count()
    if busy and not force:
        raise Conflict(f"workflow {workflow_id} has {busy} pending or running jobs; {what}")


def reinitialize(workflow_id: int, run_id: int, reset_job_ids: list[int], file_mtimes: dict[int, float | None], force: bool) -> dict:
    """Start a new run that reruns what changed, in one transaction (all of it or nothing).

    The client compares the workflow's files with the disk (only it sees them) and sends what it
    found for the run ``run_id``: new recorded ``st_mtime`` values and the jobs to rerun because
    of their files. This bumps the run id, records the times, resets those jobs, resets the jobs
    whose input fingerprint changed, and places them and everything downstream of them.
    """
    status = queries.workflow_status(workflow_id)
    if run_id != status.run_id:
        raise Conflict(f"run_id {run_id} is not the workflow's current run {status.run_id}: plan the reinitialization again")
    _refuse_while_busy(workflow_id, force, "their workers could no longer report results: wait for them, cancel the workflow, or pass force=true")
    check_references({"reset_job_ids": Job, "file_mtimes": File}, {"reset_job_ids": reset_job_ids, "file_mtimes": list(file_mtimes)}, workflow_id)
    WorkflowStatus.update(run_id=status.run_id + 1, is_canceled=False, has_detected_need_to_run_completion_script=False).where(
        WorkflowStatus.id == status.id
    ).execute()
    bulk_update("file", "st_mtime", [(file_id, mtime) for file_id, mtime in file_mtimes.items() if mtime is not None])
    for chunk in in_chunks([file_id for file_id, mtime in file_mtimes.items() if mtime is None]):
        File.update(st_mtime=None).where(File.id.in_(chunk)).execute()
    for chunk in in_chunks(dict.fromkeys(reset_job_ids)):
        Job.update(status=S.UNINITIALIZED, num_blocking=0, active_compute_node=None).where(Job.id.in_(chunk), Job.status != S.DISABLED).execute()
    changed = process_changed_job_inputs(workflow_id, dry_run=False)["reinitialized_jobs"]
    placed = initialize_jobs(workflow_id, only_uninitialized=True, clear_ephemeral_user_data=False)
    return {**placed, "run_id": status.run_id + 1, "reinitialized_jobs": changed}


def reset_job_status(workflow_id: int, failed_only: bool) -> dict:
    """Put jobs back to uninitialized (all, or the unsuccessful ones and their dependents)."""
    queries.workflow_status(workflow_id)
    p = database_proxy.obj.param
    if failed_only:
        codes = ", ".join(str(int(s)) for s in sorted(UNSUCCESSFUL_FINAL))
        seed = f"SELECT id FROM job WHERE workflow_id = {p} AND status IN ({codes})"
        count = len(propagation.reset_with_downstream(workflow_id, seed, (workflow_id,)))
    else:
        count = Job.update(status=S.UNINITIALIZED, num_blocking=0, active_compute_node=None).where(
            Job.workflow == workflow_id, Job.status != S.DISABLED
        ).execute()
    record_event(workflow_id, "user_action", f"reset {count} jobs to uninitialized", failed_only=failed_only)
    return {
        "workflow_id": workflow_id,
        "updated_count": count,
        "status": S.UNINITIALIZED.label,
        "reset_type": "failed_only" if failed_only else "all",
    }


def reset_workflow_status(workflow_id: int, force: bool) -> dict:
    """Clear the canceled flag; refused while jobs run unless forced."""
    status = queries.workflow_status(workflow_id)
    _refuse_while_busy(workflow_id, force, "pass force=true to reset anyway")
    WorkflowStatus.update(is_canceled=False, has_detected_need_to_run_completion_script=False).where(WorkflowStatus.id == status.id).execute()
    record_event(workflow_id, "user_action", "workflow status reset", force=force)
    return {"workflow_id": workflow_id, "is_canceled": False}


def cancel_workflow(workflow_id: int) -> dict:
    """Cancel: nothing new is claimed; jobs not yet running are canceled at once; workers see the
    flag on their next poll, stop their running jobs and report them canceled."""
    status = queries.workflow_status(workflow_id)
    WorkflowStatus.update(is_canceled=True).where(WorkflowStatus.id == status.id).execute()
    count = Job.update(status=S.CANCELED, active_compute_node=None, num_blocking=0).where(
        Job.workflow == workflow_id, Job.status.in_([S.UNINITIALIZED, S.BLOCKED, S.READY, S.PENDING])
    ).execute()
    record_event(workflow_id, "workflow_canceled", f"workflow canceled; {count} waiting jobs canceled")
    jobs_changed()
    return {"workflow_id": workflow_id, "is_canceled": True, "num_canceled_jobs": count}


def process_changed_job_inputs(workflow_id: int, dry_run: bool) -> dict:
    """Jobs whose input fingerprint changed since they were placed go back to uninitialized (their
    new fingerprint is stored). Jobs never fingerprinted have nothing to compare with."""
    queries.workflow_status(workflow_id)
    changed = [(job_id, name, fresh) for job_id, (name, stored, fresh) in fingerprints.compute(workflow_id).items() if stored not in (None, fresh)]
    if not dry_run and changed:
        ids = [job_id for job_id, _, _ in changed]
        for chunk in in_chunks(ids):
            Job.update(status=S.UNINITIALIZED).where(Job.id.in_(chunk), Job.status != S.DISABLED).execute()
        bulk_update("job", "input_hash", [(job_id, fresh) for job_id, _, fresh in changed])
    return {"reinitialized_jobs": sorted(name for _, name, _ in changed)}
