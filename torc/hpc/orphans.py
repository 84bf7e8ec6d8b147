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

Either way the jobs become ready again; a live allocation, or a new one (``torc slurm sync
--resubmit``), runs them and the workflow can finish.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from torc.client import TorcApi, describe_error
from torc.hpc.scheduler import HpcError, HpcScheduler
from torc.openapi_client.exceptions import ApiException

logger = logging.getLogger(__name__)

#: Attempts a job gets when allocations keep dying under it (the server's lost-worker limit).
ORPHAN_MAX_ATTEMPTS = 3
#: Return codes of a job killed by SIGTERM/SIGKILL (directly, or through its shell).
SIGNAL_DEATHS = frozenset({-15, -9, 143, 137})
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
    for node in alive:
        try:
            api.compute_nodes.heartbeat_compute_node(node.id, lease_seconds=EXPIRE_LEASE_SECONDS)
        except ApiException as exc:  # 409: already closed or declared lost
            logger.info("compute node %s: %s", node.id, describe_error(exc))
    if alive:
        time.sleep(EXPIRE_LEASE_SECONDS + 0.2)
        recovered = api.workflows.sync_workflow_status(workflow_id)
        report.lost_compute_nodes = list(recovered.lost_compute_nodes)
        report.requeued_jobs += list(recovered.requeued_jobs)
        report.failed_jobs = list(recovered.failed_jobs)
    report.requeued_jobs += requeue_killed_jobs(api, workflow_id, [n.id for n in nodes])
    for record in dead:
        record.status = "complete"
        api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
    return report


def replacement_counts(api: TorcApi, workflow_id: int, report: SyncReport) -> Counter:
    """Allocations to request again: one per dead allocation, per scheduler configuration, if
    jobs are ready and no allocation of the workflow is queued or running any more."""
    if not report.dead_allocations:
        return Counter()
    still_open = [r for r in api.iter_scheduled_compute_nodes(workflow_id) if r.status in ("pending", "active")]
    ready = api.workflows.get_ready_job_requirements(workflow_id).num_jobs
    if still_open or not ready:
        return Counter()
    return Counter(a["scheduler_config_id"] for a in report.dead_allocations)
