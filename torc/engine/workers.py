"""Workers that die: leases, heartbeats and recovery of their jobs.

A worker renews its compute node's lease with a heartbeat. When a lease runs out (the worker was
killed, its node crashed, its allocation ended), the node is declared lost, exactly once: its
claimed-but-not-started jobs go back to ready, its running jobs get a result with return code
``LOST_WORKER_RETURN_CODE`` and are retried as a new attempt or failed, following the job's
failure handler (without one: up to ``LOST_WORKER_MAX_ATTEMPTS`` attempts). A late heartbeat or
completion from the lost worker is refused (409), so a job never runs for the same attempt twice.
"""

import datetime as dt
import json
import logging
import threading
import time

from torc.db.connection import database_proxy, write_transaction
from torc.db.models import ComputeNode, FailureHandler, Job, Result, WorkflowResult
from torc.engine import actions, propagation, queries
from torc.engine.errors import Conflict, NotFound
from torc.engine.events import record_event
from torc.engine.wakeup import jobs_changed
from torc.failure_rules import matching_rule, may_retry
from torc.status import JobStatus

S = JobStatus
logger = logging.getLogger(__name__)

LOST_WORKER_RETURN_CODE = -128
LOST_WORKER_MAX_ATTEMPTS = 3


def heartbeat(node_id: int, lease_seconds: float) -> ComputeNode:
    node = ComputeNode.get_or_none(ComputeNode.id == node_id)
    if node is None:
        raise NotFound(f"compute node {node_id} not found")
    if node.is_active is False:
        raise Conflict(f"compute node {node_id} is no longer active (closed, or declared lost); stop its jobs and exit")
    ComputeNode.update(lease_expires_at=time.time() + lease_seconds).where(ComputeNode.id == node_id).execute()
    return ComputeNode.get_by_id(node_id)


def _rules_by_handler(handler_ids) -> dict[int, list]:
    if not handler_ids:
        return {}
    return {h.id: json.loads(h.rules) for h in FailureHandler.select().where(FailureHandler.id.in_(list(handler_ids)))}


def recover_lost_workers(workflow_id: int | None = None, dry_run: bool = False) -> dict:
    """Declare expired compute nodes lost and recover their jobs. Idempotent; safe to race."""
    now = time.time()
    query = ComputeNode.select().where(
        (ComputeNode.is_active.is_null(True)) | (ComputeNode.is_active == True),  # noqa: E712
        ComputeNode.lease_expires_at.is_null(False),
        ComputeNode.lease_expires_at < now,
    )
    if workflow_id is not None:
        queries.workflow_status(workflow_id)
        query = query.where(ComputeNode.workflow == workflow_id)
    report = {"lost_compute_nodes": [], "requeued_jobs": [], "failed_jobs": []}
    for node in query:
        jobs = list(Job.select().where(Job.active_compute_node == node.id, Job.status.in_([S.PENDING, S.RUNNING])))
        if dry_run:
            report["lost_compute_nodes"].append(node.id)
            report["requeued_jobs"].extend(j.id for j in jobs)
            continue
        # Only the recoverer whose conditional update wins handles this node.
        won = ComputeNode.update(is_active=False, duration_seconds=_duration(node, now)).where(
            ComputeNode.id == node.id,
            ComputeNode.is_active.is_null(True) | (ComputeNode.is_active == True),  # noqa: E712
            ComputeNode.lease_expires_at < now,
        )
        if won.execute() != 1:
            continue
        report["lost_compute_nodes"].append(node.id)
        requeued, failed = _recover_jobs(node, jobs)
        report["requeued_jobs"].extend(requeued)
        report["failed_jobs"].extend(failed)
        record_event(
            node.workflow_id, "worker_lost",
            f"compute node {node.id} on {node.hostname} (pid {node.pid}) stopped renewing its lease; "
            f"{len(requeued)} jobs requeued, {len(failed)} failed",
            compute_node_id=node.id, requeued_jobs=requeued, failed_jobs=failed,
        )
    if report["lost_compute_nodes"] and not dry_run:
        jobs_changed()
    return report


def _duration(node: ComputeNode, now: float) -> float | None:
    try:
        started = dt.datetime.fromisoformat(node.start_time.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return node.duration_seconds
    return max(0.0, now - started)


def _recover_jobs(node: ComputeNode, jobs: list[Job]) -> tuple[list[int], list[int]]:
    rules = _rules_by_handler({j.failure_handler_id for j in jobs if j.failure_handler_id})
    run_id = queries.workflow_status(node.workflow_id).run_id
    requeued, failed = [], []
    completion = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    for job in jobs:
        if job.status == S.PENDING:
            Job.update(status=S.READY, active_compute_node=None).where(Job.id == job.id, Job.status == S.PENDING).execute()
            requeued.append(job.id)
            continue
        if job.failure_handler_id:
            retry = may_retry(matching_rule(rules.get(job.failure_handler_id, []), LOST_WORKER_RETURN_CODE), job.attempt_id)
        else:
            retry = job.attempt_id < LOST_WORKER_MAX_ATTEMPTS
        final = S.TERMINATED if retry else S.FAILED
        saved = Result.create(
            workflow=job.workflow_id, job=job.id, run_id=run_id, attempt_id=job.attempt_id, compute_node_id=node.id,
            return_code=LOST_WORKER_RETURN_CODE, exec_time_minutes=0.0, completion_time=completion, status=int(final),
            message=f"lost worker: compute node {node.id} on {node.hostname} stopped renewing its lease",
        )
        WorkflowResult.insert(workflow=job.workflow_id, job=job.id, result=saved.id).on_conflict(
            conflict_target=[WorkflowResult.job], update={WorkflowResult.result: saved.id}
        ).execute()
        if retry:
            Job.update(status=S.READY, attempt_id=job.attempt_id + 1, active_compute_node=None).where(Job.id == job.id).execute()
            requeued.append(job.id)
        else:
            Job.update(status=S.FAILED, active_compute_node=None).where(Job.id == job.id).execute()
            failed.append(job.id)
    changed = set(requeued) | set(failed)
    if failed:
        ready, canceled = propagation.release_dependents(set(), set(failed))
        changed |= ready | canceled
    actions.count_job_triggers(changed)
    if queries.is_complete(node.workflow_id):
        actions.fire_workflow_complete(node.workflow_id)
    return requeued, failed


def start_sweeper(interval_seconds: float) -> threading.Thread | None:
    """Recover lost workers every ``interval_seconds`` in a daemon thread of this process."""
    if interval_seconds <= 0:
        return None

    def sweep():
        while True:
            time.sleep(interval_seconds)
            try:
                with database_proxy.connection_context(), write_transaction():
                    report = recover_lost_workers()
                if report["lost_compute_nodes"]:
                    logger.warning("recovered lost compute nodes %s", report["lost_compute_nodes"])
            except Exception:  # noqa: BLE001 - the sweeper must survive a database hiccup
                logger.exception("lost-worker sweep failed; retrying in %s s", interval_seconds)

    thread = threading.Thread(target=sweep, name="torc-lost-worker-sweeper", daemon=True)
    thread.start()
    return thread
