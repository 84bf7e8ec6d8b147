"""Handing ready jobs to workers: atomic claims, resource packing, long-poll waits.

A claim is one short write transaction: select ready jobs, mark them ``pending``, commit.
On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the write lock is held from the first
read, so two claimers never see the same ready rows). On PostgreSQL the candidate rows are read
``FOR UPDATE SKIP LOCKED``: concurrent claimers lock disjoint rows and never wait for each other.
The final UPDATE also requires ``status = ready``, so a job can only go ready → pending once.
"""

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass

from torc.db.connection import write_transaction
from torc.engine import queries
from torc.engine.errors import Conflict, Invalid
from torc.engine.sql import ids_of, marks, pinned_sort_key, row_lock, rows
from torc.engine.wakeup import HUB
from torc.status import JobStatus
from torc.units import parse_duration_seconds

S = JobStatus

#: Longest a claim may wait for work (seconds) unless the server's environment sets
#: ``TORC_MAX_CLAIM_WAIT_SECONDS``; longer requests are capped.
DEFAULT_MAX_WAIT_SECONDS = 60.0


def _max_wait_seconds() -> float:
    raw = os.environ.get("TORC_MAX_CLAIM_WAIT_SECONDS")
    if raw is None:
        return DEFAULT_MAX_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ValueError(f"TORC_MAX_CLAIM_WAIT_SECONDS={raw!r}: expected a number of seconds from 0 to 3600")
    return value


MAX_WAIT_SECONDS = _max_wait_seconds()

#: Above this many fitting resource-requirement classes, one ordered scan of the ready jobs is
#: cheaper than one index probe per class.
MAX_CLASS_PROBES = 32

#: ORDER BY terms of the resource-requirement classes (``rr``) per ``jobs_sort_method``.
SORT_ORDERS = {
    "gpus_runtime_memory": "rr.num_gpus DESC, rr.runtime_s DESC, rr.memory_bytes DESC, ",
    "gpus_memory_runtime": "rr.num_gpus DESC, rr.memory_bytes DESC, rr.runtime_s DESC, ",
    "none": "",
}


@dataclass
class Claim:
    job_ids: list[int]
    reason: str | None = None


@dataclass
class Capacity:
    num_cpus: int
    memory_gb: float
    num_gpus: int
    num_nodes: int
    time_limit: str | None = None
    scheduler_config_id: int | None = None

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * 1024**3)

    def time_limit_seconds(self) -> int | None:
        if not self.time_limit:
            return None
        try:
            return parse_duration_seconds(self.time_limit)
        except ValueError as exc:
            raise Invalid(f"time_limit: {exc}") from None


def _take(job_ids: list[int], compute_node_id: int | None, start: bool) -> list[int]:
    """ready → pending (or straight to running on the compute node, when ``start``), in one
    conditional UPDATE; returns the ids that moved, in the order they were chosen."""
    if not job_ids:
        return []
    status = int(S.RUNNING if start else S.PENDING)
    node = f"active_compute_node_id = {marks(1)}, " if compute_node_id is not None else ""
    params = ([compute_node_id] if compute_node_id is not None else []) + list(job_ids)
    moved = set(ids_of(
        f"UPDATE job SET {node}status = {status} WHERE id IN ({marks(len(job_ids))}) AND status = {int(S.READY)} RETURNING id", params
    ))
    return [job_id for job_id in job_ids if job_id in moved]


def check_holder(workflow_id: int, compute_node_id: int | None, start: bool) -> None:
    """Jobs can only be recorded on (and started on) an active compute node of the workflow."""
    if compute_node_id is None:
        if start:
            raise Invalid("start=true needs compute_node_id: the node the jobs run on")
        return
    found = rows(f"SELECT is_active FROM compute_node WHERE id = {marks(1)} AND workflow_id = {marks(1)}", (compute_node_id, workflow_id))
    if not found:
        raise Invalid(f"compute_node_id {compute_node_id} is not a compute node of workflow {workflow_id}")
    if found[0][0] is not None and not found[0][0]:
        raise Conflict(f"compute node {compute_node_id} is no longer active")


def claim_next_jobs(workflow_id: int, limit: int, compute_node_id: int | None = None, start: bool = False) -> Claim:
    """The first ``limit`` ready jobs, whatever their requirements (queue mode)."""
    with write_transaction():
        if queries.run_state(workflow_id).is_canceled:
            return Claim([], "workflow is canceled")
        status, lead = pinned_sort_key("job.status", int(S.READY))
        ready = ids_of(
            f"SELECT id FROM job WHERE workflow_id = {marks(1)} AND {status} ORDER BY {lead}id LIMIT {marks(1)}{row_lock()}",
            (workflow_id, limit),
        )
        ids = _take(ready, compute_node_id, start)
    return Claim(ids, None if ids else "no ready jobs")


def claim_by_resources(
    workflow_id: int,
    limit: int,
    capacity: Capacity,
    sort_method: str | None = None,
    strict_scheduler_match: bool = False,
    compute_node_id: int | None = None,
    start: bool = False,
    rounds: int = 1,
) -> Claim:
    """Ready jobs that fit together in the offered CPUs, memory, GPUs, nodes and time (first fit).

    With ``rounds`` > 1 every job still fits the offer on its own, and together they fit that many
    copies of it: a prefetching worker offers its whole node and starts each job when it fits.
    """
    time_limit = capacity.time_limit_seconds()
    with write_transaction():
        if queries.run_state(workflow_id).is_canceled:
            return Claim([], "workflow is canceled")
        if sort_method is None:
            sort_method = rows(f"SELECT jobs_sort_method FROM workflow WHERE id = {marks(1)}", (workflow_id,))[0][0]
        # Scan a bounded window: every candidate fits on its own, so the window fills the worker.
        window = min(limit * 4 + 64, 10_000)
        found = []
        if capacity.scheduler_config_id is not None:
            found = _candidates(workflow_id, capacity, time_limit, sort_method, window, capacity.scheduler_config_id)
            if not found and strict_scheduler_match:
                return Claim([], "no ready job matches this scheduler")
        if not found:
            found = _candidates(workflow_id, capacity, time_limit, sort_method, window)
        chosen = _first_fit(found, capacity, limit, rounds)
        ids = _take(chosen, compute_node_id, start)
    if ids:
        return Claim(ids)
    reason = "no ready job fits the offered resources" if queries.has_ready_jobs(workflow_id) else "no ready jobs"
    return Claim([], reason)


def _candidates(workflow_id: int, capacity: Capacity, time_limit: int | None, sort_method: str, window: int,
                scheduler_id: int | None = None) -> list[tuple]:
    """Up to ``window`` ready jobs that fit the offer on their own, best first:
    ``(job id, cpus, memory bytes, gpus, nodes)``, locked on PostgreSQL. With ``scheduler_id``,
    only jobs without a scheduler or with that one.

    A workflow has few resource-requirement classes and many jobs, so the classes that fit are
    sorted first (a small table) and each one is probed through the (workflow, status,
    resource_requirements) index in job-id order: a claim costs the same with 100 or 1,000,000
    ready jobs. With many classes, or no class order (``none``), one ordered scan is used instead.
    """
    p = marks(1)
    fitting = f"rr.workflow_id = {p} AND rr.num_cpus <= {p} AND rr.memory_bytes <= {p} AND rr.num_gpus <= {p} AND rr.num_nodes <= {p}"
    fitting_params = [workflow_id, capacity.num_cpus, capacity.memory_bytes, capacity.num_gpus, capacity.num_nodes]
    if time_limit is not None:
        fitting += f" AND rr.runtime_s <= {p}"
        fitting_params.append(time_limit)
    status, lead = pinned_sort_key("job.status", int(S.READY))
    ready = f"job.workflow_id = {p} AND {status}"
    ready_params = [workflow_id]
    if scheduler_id is not None:
        ready += f" AND (job.scheduler_id IS NULL OR job.scheduler_id = {p})"
        ready_params.append(scheduler_id)
    order = SORT_ORDERS[sort_method]
    classes = []
    if sort_method != "none":
        classes = rows(
            f"SELECT rr.id, rr.num_cpus, rr.memory_bytes, rr.num_gpus, rr.num_nodes FROM resource_requirements rr "
            f"WHERE {fitting} ORDER BY {order}rr.id LIMIT {p}",
            (*fitting_params, MAX_CLASS_PROBES + 1),
        )
        if not classes:
            return []
    if not classes or len(classes) > MAX_CLASS_PROBES:
        return rows(
            f"SELECT job.id, rr.num_cpus, rr.memory_bytes, rr.num_gpus, rr.num_nodes FROM job "
            f"JOIN resource_requirements rr ON rr.id = job.resource_requirements_id "
            f"WHERE {ready} AND {fitting} ORDER BY {order}job.id LIMIT {p}{row_lock()}",
            (*ready_params, *fitting_params, window),
        )
    found: list[tuple] = []
    probe = f"SELECT id FROM job WHERE {ready} AND job.resource_requirements_id = {p} ORDER BY {lead}id LIMIT {p}{row_lock()}"
    for rr_id, *needs in classes:
        found.extend((job_id, *needs) for job_id in ids_of(probe, (*ready_params, rr_id, window - len(found))))
        if len(found) >= window:
            break
    return found


def _first_fit(rows, capacity: Capacity, limit: int, rounds: int = 1) -> list[int]:
    cpus, memory, gpus, nodes = (rounds * amount for amount in (capacity.num_cpus, capacity.memory_bytes, capacity.num_gpus, capacity.num_nodes))
    chosen = []
    for job_id, need_cpus, need_memory, need_gpus, need_nodes in rows:
        if len(chosen) >= limit:
            break
        # Multi-node jobs take whole nodes; single-node jobs share the node's CPUs and memory.
        if need_nodes > 1:
            if need_nodes > nodes:
                continue
            nodes -= need_nodes
            chosen.append(job_id)
            continue
        if need_cpus <= cpus and need_memory <= memory and need_gpus <= gpus:
            cpus, memory, gpus = cpus - need_cpus, memory - need_memory, gpus - need_gpus
            chosen.append(job_id)
    return chosen


def claim_with_wait(workflow_id: int, attempt, wait_seconds: float) -> Claim:
    """Run ``attempt()`` until it returns jobs, the workflow is complete or canceled, or the wait ends.

    No transaction or lock is held between attempts: the request sleeps on the wake-up hub, and
    counts as waiting there (``HUB.waiting``) from its first empty attempt until it returns.
    """
    deadline = time.monotonic() + min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
    counted = False
    with ExitStack() as stack:
        while True:
            seen = HUB.generation
            claim = attempt()
            if claim.job_ids or claim.reason == "workflow is canceled":
                return claim
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return claim
            state = queries.completion_state(workflow_id)
            if state["is_canceled"]:
                return Claim([], "workflow is canceled")
            if state["is_complete"]:
                return Claim([], "workflow is complete")
            if not counted:
                stack.enter_context(HUB.waiter())
                counted = True
            HUB.wait(seen, min(remaining, 1.0))
