"""What a job's state means for the jobs that wait on it.

Every job keeps ``num_blocking``: how many of its upstream jobs have not finished. Finishing a job
decrements the counters of its blocked dependents (cost proportional to its out-degree, no rescan
of the workflow), and a dependent whose counter reaches zero becomes ready in the same
transaction. A failed, canceled or terminated upstream cancels the dependents that ask for it
(``cancel_on_blocking_job_failure``), and their dependents in turn, level by level.
"""

from collections import Counter

from torc.db.connection import database_proxy
from torc.engine.sql import execute, ids_of, in_chunks, marks, rows
from torc.status import DONE, JobStatus

S = JobStatus

#: Upstream states that no longer hold a dependent back.
RELEASING = DONE | {S.DISABLED}
#: Upstream outcomes that cancel dependents with ``cancel_on_blocking_job_failure``.
UNSUCCESSFUL = {S.FAILED, S.CANCELED, S.TERMINATED}


def _codes(statuses) -> str:
    return ", ".join(str(int(s)) for s in sorted(statuses))


def release_dependents(succeeded: set[int], unsuccessful: set[int]) -> tuple[set[int], set[int]]:
    """Account for jobs that just finished; return (jobs made ready, jobs canceled by cascade)."""
    made_ready: set[int] = set()
    canceled: set[int] = set()
    blocked = int(S.BLOCKED)
    while succeeded or unsuccessful:
        finished = succeeded | unsuccessful
        edges = []
        for chunk in in_chunks(finished):
            edges.extend(rows(
                f"SELECT d.job_id, d.depends_on_job_id FROM job_depends_on d JOIN job ON job.id = d.job_id "
                f"WHERE d.depends_on_job_id IN ({marks(len(chunk))}) AND job.status = {blocked}",
                chunk,
            ))
        if not edges:
            break
        decrements = Counter(job for job, _ in edges)
        by_amount: dict[int, list[int]] = {}
        for job, amount in decrements.items():
            by_amount.setdefault(amount, []).append(job)
        for amount, jobs in by_amount.items():
            for chunk in in_chunks(jobs):
                execute(f"UPDATE job SET num_blocking = num_blocking - {int(amount)} WHERE id IN ({marks(len(chunk))}) AND status = {blocked}", chunk)
        hit_by_failure = {job for job, upstream in edges if upstream in unsuccessful}
        newly_canceled = set()
        for chunk in in_chunks(hit_by_failure):
            newly_canceled.update(ids_of(
                f"UPDATE job SET status = {int(S.CANCELED)}, num_blocking = 0 "
                f"WHERE id IN ({marks(len(chunk))}) AND status = {blocked} AND cancel_on_blocking_job_failure = {marks(1)} RETURNING id",
                (*chunk, True),
            ))
        for chunk in in_chunks(set(decrements) - newly_canceled):
            made_ready.update(ids_of(
                f"UPDATE job SET status = {int(S.READY)} WHERE id IN ({marks(len(chunk))}) AND status = {blocked} AND num_blocking <= 0 RETURNING id",
                chunk,
            ))
        canceled |= newly_canceled
        succeeded, unsuccessful = set(), newly_canceled
    return made_ready, canceled


def evaluate_uninitialized(workflow_id: int) -> tuple[set[int], set[int]]:
    """Give every uninitialized job of the workflow its place: ready, blocked or canceled.

    Returns (ready, canceled) job ids. A job with an unsuccessful upstream is canceled when it
    asks for it, whether or not its other upstreams have finished (as completing that upstream
    would have done: a job reset and placed again must not lose the cascade of a failure that
    happened before), and the cancellation cascades.

    Each job row is written once: jobs with upstream edges by one UPDATE joined to their edge
    counts (grouped, set-based: no per-job subquery, which PostgreSQL's planner would run as a
    scan per job on freshly loaded tables), the others by a second UPDATE.
    """
    db = database_proxy.obj
    p = db.param
    uninitialized = int(S.UNINITIALIZED)
    canceling = "counts.unsuccessful > 0 AND job.cancel_on_blocking_job_failure"
    placed = db.execute_sql(
        f"""UPDATE job SET
                num_blocking = CASE WHEN {canceling} THEN 0 ELSE counts.blocking END,
                status = CASE
                    WHEN {canceling} THEN {int(S.CANCELED)}
                    WHEN counts.blocking > 0 THEN {int(S.BLOCKED)}
                    ELSE {int(S.READY)} END
            FROM (
                SELECT d.job_id AS job_id,
                       SUM(CASE WHEN u.status NOT IN ({_codes(RELEASING)}) THEN 1 ELSE 0 END) AS blocking,
                       SUM(CASE WHEN u.status IN ({_codes(UNSUCCESSFUL)}) THEN 1 ELSE 0 END) AS unsuccessful
                FROM job_depends_on d JOIN job u ON u.id = d.depends_on_job_id
                WHERE d.workflow_id = {p} GROUP BY d.job_id) AS counts
            WHERE job.id = counts.job_id AND job.status = {uninitialized}
            RETURNING job.id, job.status""",
        (workflow_id,),
    ).fetchall()
    unconnected = db.execute_sql(
        f"UPDATE job SET status = {int(S.READY)}, num_blocking = 0 WHERE workflow_id = {p} AND status = {uninitialized} RETURNING id",
        (workflow_id,),
    ).fetchall()
    ready = {job for job, status in placed if status == S.READY} | {row[0] for row in unconnected}
    doomed = {job for job, status in placed if status == S.CANCELED}
    more_ready, cascaded = release_dependents(set(), doomed)
    return ready | more_ready, doomed | cascaded


def reset_with_downstream(workflow_id: int, seed_sql: str, seed_params: tuple) -> list[int]:
    """Set the seed jobs and everything downstream of them back to uninitialized.

    ``seed_sql`` selects job ids (one column). Disabled jobs stay disabled. Returns the ids reset.
    """
    db = database_proxy.obj
    p = db.param
    cursor = db.execute_sql(
        f"""WITH RECURSIVE down(id) AS (
                {seed_sql}
                UNION SELECT d.job_id FROM job_depends_on d JOIN down ON d.depends_on_job_id = down.id)
            UPDATE job SET status = {int(S.UNINITIALIZED)}, num_blocking = 0, active_compute_node_id = NULL
            WHERE workflow_id = {p} AND status != {int(S.DISABLED)} AND id IN (SELECT id FROM down)
            RETURNING id""",
        (*seed_params, workflow_id),
    )
    return [row[0] for row in cursor.fetchall()]
