"""Job-level transitions: start, complete, retry, and manual status changes.

Every function checks the run id (a worker from an earlier run cannot touch the current one) and
the job's current status, then changes it with a conditional UPDATE (``WHERE status = <expected>``)
so that a transition happens once even if two requests race.
"""

from dataclasses import dataclass, field

from torc.db.connection import database_proxy
from torc.db.models import Job, Result
from torc.engine import actions, propagation, queries
from torc.engine.errors import Conflict, EngineError, Invalid, NotFound
from torc.engine.sql import bulk_insert, exists, ids_of, in_chunks, marks, rows
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


def _workflow_of(job_id: int) -> int:
    found = rows(f"SELECT workflow_id FROM job WHERE id = {marks(1)}", (job_id,))
    if not found:
        raise NotFound(f"job {job_id} not found")
    return found[0][0]


def start_job(job_id: int, run_id: int, compute_node_id: int) -> Job:
    """pending → running on a compute node of the same workflow (plain SQL: a worker that does not
    prefetch calls this once per job)."""
    workflow_id = _workflow_of(job_id)
    current = queries.run_state(workflow_id).run_id
    if run_id != current:
        raise Conflict(f"run_id {run_id} is not the workflow's current run {current}")
    p = marks(1)
    if not exists(f"SELECT 1 FROM compute_node WHERE id = {p} AND workflow_id = {p}", (compute_node_id, workflow_id)):
        raise Invalid(f"compute_node_id {compute_node_id} is not a compute node of workflow {workflow_id}")
    if not ids_of(f"UPDATE job SET status = {int(S.RUNNING)}, active_compute_node_id = {p} WHERE id = {p} AND status = {int(S.PENDING)} RETURNING id",
                  (compute_node_id, job_id)):
        now = rows(f"SELECT status FROM job WHERE id = {p}", (job_id,))[0][0]
        raise Conflict(f"job {job_id} is {S(now).label}; expected {S.PENDING.label}")
    return Job.get_by_id(job_id)


#: Statuses complete_job finishes a job from: claimed or running, and also ``pending_failed`` (a
#: failure awaiting a decision; completing it with ``failed`` is that decision, as upstream).
CLAIMED = frozenset({S.PENDING, S.RUNNING})


def _completable_from(final: JobStatus) -> frozenset:
    return CLAIMED if final == S.PENDING_FAILED else CLAIMED | {S.PENDING_FAILED}


@dataclass
class Completion:
    """One job to finish: its final status and the result to record."""

    job_id: int
    status: JobStatus
    result: dict


@dataclass
class CompletionOutcome:
    completed: list[int] = field(default_factory=list)
    #: (job id, error) for each completion that was refused; the others went through.
    errors: list[tuple[int, EngineError]] = field(default_factory=list)


def _check_completion(item: Completion, workflow_id: int) -> None:
    status, result = item.status, item.result
    if status not in TERMINAL:
        raise Invalid(f"complete_job needs a final status ({', '.join(s.label for s in sorted(TERMINAL))}), not {S(status).label}")
    if result.get("job_id", item.job_id) != item.job_id or result.get("workflow_id", workflow_id) != workflow_id:
        raise Invalid("the result's job_id/workflow_id do not match the job")
    if result.get("status") is not None and result["status"] != status:
        raise Invalid(f"the result's status {S(result['status']).label} differs from the job's final status {S(status).label}")


def complete_jobs(workflow_id: int, run_id: int, completions: list[Completion]) -> CompletionOutcome:
    """Record results and finish many jobs of one workflow in one transaction.

    Set-based, so a worker reporting a batch costs about what one job costs: one read of the jobs,
    one conditional UPDATE per final status, one INSERT of the results, one pass releasing (or
    canceling) dependents. A completion that is refused (unknown job, wrong attempt, job no longer
    running, lost race) is returned with its error and does not hold back the others.
    """
    current = queries.run_state(workflow_id).run_id
    if run_id != current:
        raise Conflict(f"run_id {run_id} is not the workflow's current run {current}")
    outcome = CompletionOutcome()
    wanted: dict[int, Completion] = {}
    for item in completions:
        try:
            if item.job_id in wanted:
                raise Invalid(f"job {item.job_id} is listed twice")
            _check_completion(item, workflow_id)
            wanted[item.job_id] = item
        except EngineError as exc:
            outcome.errors.append((item.job_id, exc))
    found = {}
    for chunk in in_chunks(wanted):
        found.update((row[0], row[1:]) for row in rows(f"SELECT id, workflow_id, status, attempt_id FROM job WHERE id IN ({marks(len(chunk))})", chunk))
    movable: dict[int, list[int]] = {}
    for job_id, item in wanted.items():
        job_workflow, status, attempt = found.get(job_id, (None, None, None))
        attempt_wanted = item.result.get("attempt_id", attempt)
        if job_workflow != workflow_id:
            outcome.errors.append((job_id, NotFound(f"job {job_id} not found in workflow {workflow_id}")))
        elif attempt_wanted != attempt:
            outcome.errors.append((job_id, Conflict(f"attempt {attempt_wanted} of job {job_id} is over; the job is on attempt {attempt}")))
        elif status not in _completable_from(item.status):
            expected = " or ".join(s.label for s in sorted(_completable_from(item.status)))
            outcome.errors.append((job_id, Conflict(f"job {job_id} is {S(status).label}; expected {expected}")))
        else:
            movable.setdefault(int(item.status), []).append(job_id)
            item.result = {**item.result, "attempt_id": attempt}
    for status, job_ids in movable.items():
        sources = ", ".join(str(int(s)) for s in sorted(_completable_from(status)))
        for chunk in in_chunks(job_ids):
            moved = set(ids_of(
                f"UPDATE job SET status = {status}, active_compute_node_id = NULL "
                f"WHERE id IN ({marks(len(chunk))}) AND status IN ({sources}) RETURNING id",
                chunk,
            ))
            outcome.completed.extend(job_id for job_id in chunk if job_id in moved)
            outcome.errors.extend((job_id, Conflict(f"job {job_id} was finished by another request")) for job_id in chunk if job_id not in moved)
    if outcome.completed:
        _record_results(workflow_id, run_id, [wanted[job_id] for job_id in outcome.completed])
        _after_completion(workflow_id, [wanted[job_id] for job_id in outcome.completed])
    return outcome


def _record_results(workflow_id: int, run_id: int, items: list[Completion]) -> None:
    """Insert the results, then point each job's latest-result row at its new result."""
    columns = [name for name in Result._meta.sorted_field_names if name not in ("id", "workflow", "job", "run_id", "status")]
    rows = [
        (workflow_id, item.job_id, run_id, int(item.status), *(item.result.get(name, Result._meta.fields[name].default) for name in columns))
        for item in items
    ]
    bulk_insert("result", ["workflow_id", "job_id", "run_id", "status", *(Result._meta.fields[name].column_name for name in columns)], rows)
    job_ids = [item.job_id for item in items]
    for chunk in in_chunks(job_ids):
        database_proxy.obj.execute_sql(
            "INSERT INTO workflow_result (job_id, workflow_id, result_id) "
            f"SELECT job_id, workflow_id, MAX(id) FROM result WHERE job_id IN ({marks(len(chunk))}) AND run_id = {marks(1)} "
            "GROUP BY job_id, workflow_id "
            "ON CONFLICT (job_id) DO UPDATE SET result_id = excluded.result_id",
            (*chunk, run_id),
        )


def _after_completion(workflow_id: int, items: list[Completion]) -> None:
    """Release or cancel dependents, recount job triggers, fire workflow completion, wake waiters."""
    succeeded = {item.job_id for item in items if item.status == S.COMPLETED}
    unsuccessful = {item.job_id for item in items if item.status in DONE and item.status != S.COMPLETED}
    changed = {item.job_id for item in items}
    if succeeded or unsuccessful:
        ready, canceled = propagation.release_dependents(succeeded, unsuccessful)
        changed |= ready | canceled
        if canceled:
            causes = sorted(unsuccessful)
            status = {item.job_id: item.status for item in items}
            why = f"job {causes[0]} ended {S(status[causes[0]]).label}" if len(causes) == 1 else f"jobs {', '.join(map(str, causes))} did not succeed"
            record_event(workflow_id, "jobs_canceled", f"{len(canceled)} jobs canceled because {why}", job_id=causes[0], num_canceled=len(canceled))
    actions.count_job_triggers(changed)
    if queries.is_complete(workflow_id):
        actions.fire_workflow_complete(workflow_id)
    jobs_changed()


def start_claimed_jobs(workflow_id: int, compute_node_id: int, job_ids: list[int]) -> list[int]:
    """pending → running for jobs that ``compute_node_id`` claimed and has started since it last
    reported (a worker that prefetches reports its starts in batches). Jobs no longer pending on
    that node (finished, handed back, recovered) are skipped; the ones that moved are returned."""
    p = marks(1)
    moved = []
    for chunk in in_chunks(dict.fromkeys(job_ids)):
        moved.extend(ids_of(
            f"UPDATE job SET status = {int(S.RUNNING)} WHERE workflow_id = {p} AND active_compute_node_id = {p} "
            f"AND status = {int(S.PENDING)} AND id IN ({marks(len(chunk))}) RETURNING id",
            (workflow_id, compute_node_id, *chunk),
        ))
    if moved:
        jobs_changed()
    return sorted(moved)


def complete_job(job_id: int, status: JobStatus, run_id: int, result: dict) -> Job:
    """Record the result and finish the job; release or cancel its dependents in the same transaction."""
    outcome = complete_jobs(_workflow_of(job_id), run_id, [Completion(job_id, status, result)])
    if outcome.errors:
        raise outcome.errors[0][1]
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
    changed = {job_id}
    if was_done:
        changed.update(_put_dependents_back(job))
    record_event(job.workflow_id, "job_retried", f"job {job_id} ({job.name}) retried as attempt {job.attempt_id + 1}", job_id=job_id, attempt_id=job.attempt_id + 1)
    actions.count_job_triggers(changed)
    jobs_changed()
    return Job.get_by_id(job_id)


def _reset_dependents(job: Job) -> list[int]:
    """Everything downstream of ``job`` back to uninitialized; returns their ids."""
    seed = f"SELECT job_id FROM job_depends_on WHERE depends_on_job_id = {database_proxy.obj.param}"
    return propagation.reset_with_downstream(job.workflow_id, seed, (job.id,))


def _put_dependents_back(job: Job) -> list[int]:
    """Dependents of a job that is no longer finished wait for it again; returns their ids."""
    reset = _reset_dependents(job)
    propagation.evaluate_uninitialized(job.workflow_id)
    return reset


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
        actions.count_job_triggers([job_id, *_reset_dependents(job)])
    elif current in MANUAL_MOVES.get(status, set()):
        _move(job, {current}, status=status, active_compute_node=None)
        if status == S.DISABLED:
            # A disabled job no longer holds its dependents back.
            ready, _ = propagation.release_dependents({job_id}, set())
            actions.count_job_triggers(ready | {job_id})
    else:
        raise Conflict(f"job {job_id} cannot go from {current.label} to {status.label}")
    jobs_changed()
    return Job.get_by_id(job_id)
