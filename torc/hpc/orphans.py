"""Orphaned allocations: allocations that died while their jobs ran, and getting those jobs rerun.

An allocation dies by ``scancel``, its time limit, a node failure or preemption. Two cases:

* **The worker got to clean up** (SIGTERM from Slurm, end time reached): it terminated its jobs
  and reported them ``terminated`` (or, when Slurm's SIGTERM reached a job first, ``failed`` with
  a signal's return code). When it exits inside an allocation that is ending, it sends those jobs
  back to ready as a new attempt (:func:`requeue_killed_jobs`).
* **The worker died with it** (SIGKILL, node failure): its jobs stay ``running`` until the
  server's lost-worker recovery sees the worker's lease expire and requeues them (a ``terminated``
  result with return code -128, then ready as a new attempt). :func:`sync_allocations` does not
  wait for the lease: it asks Slurm which allocations are gone, expires the leases of their
  workers at once and lets the server recover them (``POST /workflows/{id}/sync_status``).

Either way the jobs become ready again; a live allocation, or a new one, runs them and the
workflow can finish. When no allocation of the workflow is left, :func:`resubmit_orphans`
requests replacements: the dying allocation's worker does it on its way out (automatic
resubmission, at most ``WorkerLaunch.max_resubmissions`` per workflow, each recorded as an
``allocation_resubmitted`` event), and ``torc slurm sync --resubmit`` does it after a node failure.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from torc.client import TorcApi, describe_error
from torc.hpc.allocations import DEFERRED, WorkerLaunch, schedule_allocations
from torc.hpc.scheduler import HpcError, HpcScheduler
from torc.openapi_client.exceptions import ApiException
from torc.openapi_client.models import EventModel

logger = logging.getLogger(__name__)

#: Attempts a job gets when allocations keep dying under it (the server's lost-worker limit).
ORPHAN_MAX_ATTEMPTS = 3
#: Return codes of a job killed by SIGTERM/SIGKILL (directly, or through its shell).
SIGNAL_DEATHS = frozenset({-15, -9, 143, 137})
RESUBMIT_EVENT = "allocation_resubmitted"
#: The shortest lease the server accepts; a dead allocation's workers get it to be recovered now.
EXPIRE_LEASE_SECONDS = 1


@dataclass
class SyncReport:
    dead_allocations: list[dict] = field(default_factory=list)
    lost_compute_nodes: list[int] = field(default_factory=list)
    requeued_jobs: list[int] = field(default_factory=list)
    failed_jobs: list[int] = field(default_factory=list)
    resubmitted: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(vars(self))


def allocation_is_ending(hpc: HpcScheduler, job_id: str) -> bool:
    """True while Slurm tears the allocation down (COMPLETING after scancel, TIMEOUT, gone)."""
    try:
        info = hpc.status([job_id]).get(str(job_id))
    except HpcError as exc:
        logger.warning("could not ask Slurm about job %s: %s", job_id, exc)
        return False
    return info is None or info.state != "RUNNING"


def requeue_killed_jobs(api: TorcApi, workflow_id: int, compute_node_ids: list[int], include_signal_deaths: bool = True) -> list[int]:
    """Jobs whose latest result came from these compute nodes and says they were killed: back to ready."""
    run_id = api.workflows.get_workflow_status(workflow_id).run_id
    requeued = []
    for node_id in compute_node_ids:
        for result in api.iter_results(workflow_id, compute_node_id=node_id, run_id=run_id):
            killed = result.status == "terminated" or (
                include_signal_deaths and result.status in ("failed", "pending_failed") and result.return_code in SIGNAL_DEATHS
            )
            if killed and _retry(api, result, run_id):
                requeued.append(result.job_id)
                if result.status != "terminated":
                    _mark_terminated(api, result)
    if requeued:
        logger.warning("workflow %s: jobs %s were killed with their allocation; they are ready again as a new attempt", workflow_id, requeued)
    return requeued


def _retry(api: TorcApi, result, run_id: int) -> bool:
    job = api.jobs.get_job(result.job_id)
    if job.status != result.status or job.attempt_id != result.attempt_id:
        return False  # already retried (or changed) by someone else
    if job.attempt_id >= ORPHAN_MAX_ATTEMPTS:
        logger.error("job %s (%s) was killed with its allocation in %s attempts: not retrying", job.id, job.name, job.attempt_id)
        return False
    try:
        api.jobs.retry_job(job.id, run_id)
    except ApiException as exc:  # e.g. a concurrent retry won
        logger.warning("could not retry job %s: %s", job.id, describe_error(exc))
        return False
    return True


def _mark_terminated(api: TorcApi, result) -> None:
    """Slurm's SIGTERM reached the job before the worker's: record the attempt as terminated, as it was."""
    result.status = "terminated"
    result.message = "; ".join(filter(None, [result.message, "killed with its allocation"]))
    try:
        api.results.update_result(result.id, result)
    except ApiException as exc:
        logger.warning("could not mark result %s terminated: %s", result.id, describe_error(exc))


def sync_allocations(api: TorcApi, workflow_id: int, hpc: HpcScheduler, *, dry_run: bool = False) -> SyncReport:
    """Find the workflow's allocations that Slurm no longer runs and recover their jobs."""
    report = SyncReport()
    open_records = [r for r in api.iter_scheduled_compute_nodes(workflow_id) if r.status in ("pending", "active") and r.scheduler_id]
    if not open_records:
        return report
    states = hpc.status(str(r.scheduler_id) for r in open_records)
    dead = [r for r in open_records if str(r.scheduler_id) not in states or not states[str(r.scheduler_id)].is_active]
    for record in dead:
        info = states.get(str(record.scheduler_id))
        report.dead_allocations.append({"scheduled_compute_node_id": record.id, "slurm_job_id": str(record.scheduler_id),
                                        "scheduler_config_id": record.scheduler_config_id, "state": info.state if info else "GONE"})
    if dry_run or not dead:
        return report
    nodes = [n for r in dead for n in api.iter_compute_nodes(workflow_id, scheduled_compute_node_id=r.id)]
    alive = [n for n in nodes if n.is_active]
    if alive:
        _recover_lost(api, workflow_id, alive, report)
    report.requeued_jobs += requeue_killed_jobs(api, workflow_id, [n.id for n in nodes])
    for record in dead:
        record.status = "complete"
        api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
    return report


def _recover_lost(api: TorcApi, workflow_id: int, alive: list, report: SyncReport) -> None:
    """Expire the leases of a dead allocation's workers and let the server recover their jobs.

    The report is read back from the jobs, not from the sync answer: the server's own lost-worker
    sweep may recover them first, and the outcome is the same.
    """
    held = {j.id for n in alive for j in api.iter_jobs(workflow_id, active_compute_node_id=n.id)}
    for node in alive:
        try:
            api.compute_nodes.heartbeat_compute_node(node.id, lease_seconds=EXPIRE_LEASE_SECONDS)
        except ApiException as exc:  # 409: already closed or declared lost
            logger.info("compute node %s: %s", node.id, describe_error(exc))
    time.sleep(EXPIRE_LEASE_SECONDS + 0.2)
    api.workflows.sync_workflow_status(workflow_id)
    report.lost_compute_nodes = sorted(n.id for n in alive if not api.compute_nodes.get_compute_node(n.id).is_active)
    for job_id in sorted(held):
        status = api.jobs.get_job(job_id).status
        if status == "ready":
            report.requeued_jobs.append(job_id)
        elif status == "failed":
            report.failed_jobs.append(job_id)


def replacement_counts(api: TorcApi, workflow_id: int) -> Counter:
    """Allocations to request so that orphaned jobs run again: scheduler configuration → count.

    Only when no allocation of the workflow is queued or running (a live one will pick the jobs
    up) and jobs are ready. A ready job that ran before is an orphan; it asks for its own
    scheduler, else the configuration of the allocation it last ran in. One replacement per
    allocation those jobs ran in.
    """
    if any(r.status in ("pending", "active", DEFERRED) for r in api.iter_scheduled_compute_nodes(workflow_id)):
        return Counter()
    ready = list(api.iter_jobs(workflow_id, status="ready"))
    if not ready:
        return Counter()
    last_node = {r.job_id: r.compute_node_id for r in api.iter_results(workflow_id)}
    nodes = {n.id: n for n in api.iter_compute_nodes(workflow_id) if n.compute_node_type == "slurm"}
    allocations: dict[int, set] = {}
    for job in ready:
        node = nodes.get(last_node.get(job.id))
        if node is None:
            continue  # never ran in an allocation: its stage's action requests one
        config = job.scheduler_id or node.scheduler_config_id
        if config is not None:
            allocations.setdefault(config, set()).add((node.scheduler or {}).get("slurm_job_id"))
    return Counter({config: len(jobs) for config, jobs in allocations.items()})


def resubmit_orphans(api: TorcApi, workflow_id: int, launch: WorkerLaunch, hpc: HpcScheduler) -> list[dict]:
    """Request replacement allocations for orphaned ready jobs, within the workflow's resubmission budget.

    The budget is ``launch.max_resubmissions`` per workflow, counted from the recorded
    ``allocation_resubmitted`` events, so a workflow whose allocations keep dying stops asking.
    """
    counts = replacement_counts(api, workflow_id)
    if not counts:
        return []
    left = launch.max_resubmissions - sum(1 for _ in api.iter_events(workflow_id, category=RESUBMIT_EVENT))
    if left <= 0:
        logger.warning("workflow %s: orphaned jobs are ready but no allocation is left, and automatic resubmission is %s: "
                       "request one with `torc slurm schedule-nodes`", workflow_id, "off" if launch.max_resubmissions <= 0 else "used up")
        return []
    resubmitted = []
    for config_id, count in counts.items():
        for allocation in schedule_allocations(api, workflow_id, config_id, min(count, left - len(resubmitted)), launch, hpc=hpc):
            record = {"scheduled_compute_node_id": allocation.scheduled_compute_node_id, "slurm_job_id": allocation.slurm_job_id,
                      "scheduler_config_id": config_id}
            api.events.create_event(EventModel(workflow_id=workflow_id, data={"category": RESUBMIT_EVENT, **record}))
            logger.warning("workflow %s: requested replacement allocation %s (Slurm job %s) for orphaned jobs",
                           workflow_id, allocation.scheduled_compute_node_id, allocation.slurm_job_id)
            resubmitted.append(record)
    return resubmitted
