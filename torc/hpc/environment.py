"""The worker inside a Slurm allocation: what it offers, when it must stop, what it may submit.

:class:`SlurmEnvironment` plugs into the common worker loop (:mod:`torc.runner.worker`):

* resources come from the ``SLURM_*`` variables of the allocation (what Slurm granted, not what
  the node has): :func:`slurm_resources`;
* the end time is the allocation's (``squeue``), re-read now and then because an administrator
  can extend a job; the loop claims only jobs whose runtime fits before it (minus the workflow's
  expiration buffer) and terminates the rest before Slurm kills them;
* it can execute ``schedule_nodes`` actions (``on_jobs_ready`` stages request their allocations
  from the compute node, when their jobs become ready);
* its ``scheduled_compute_node`` goes ``active`` when the worker starts and ``complete`` when it
  exits; if the allocation is ending (scancel, time limit), the jobs it had to kill are orphans and
  go back to ready as a new attempt (:mod:`torc.hpc.orphans`) for another allocation to run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from torc.client import TorcApi, describe_error
from torc.hpc import orphans
from torc.hpc.allocations import WorkerLaunch, find_allocation, schedule_allocations, set_allocation_status, submit_deferred
from torc.hpc.scheduler import HpcError, HpcScheduler
from torc.runner.environment import WorkerEnvironment
from torc.runner.resources import Resources, detect

logger = logging.getLogger("torc.runner")

#: How often the allocation's end time is re-read (an admin may extend the job).
END_TIME_REFRESH_SECONDS = 300.0


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name, "")
        digits = value.split("(")[0].split(",")[0]  # SLURM_JOB_CPUS_PER_NODE: "8(x2)" or "8,4"
        if digits.strip().isdigit():
            return int(digits)
    return None


def is_subtask(env: Mapping[str, str] = os.environ) -> bool:
    """True for a worker started by ``srun`` (one per node) rather than by the batch script."""
    return "SLURM_STEP_ID" in env and env.get("SLURM_STEP_ID") not in ("", "4294967294", "batch")


def slurm_resources(env: Mapping[str, str] = os.environ, num_cpus: int | None = None, memory_gb: float | None = None,
                    num_gpus: int | None = None) -> Resources:
    """What this worker may use, from the allocation's variables; explicit values win.

    CPUs: ``SLURM_CPUS_PER_TASK`` for a per-node worker, else ``SLURM_CPUS_ON_NODE``. Memory:
    ``SLURM_MEM_PER_NODE`` (MB), or ``SLURM_MEM_PER_CPU`` × CPUs, else the node's memory (no
    ``--mem``: the whole node's). GPUs: ``SLURM_GPUS_ON_NODE`` or the ids in ``SLURM_JOB_GPUS``.
    Nodes: 1 for a per-node worker, else ``SLURM_JOB_NUM_NODES`` (multi-node jobs run from it).
    """
    subtask = is_subtask(env)
    cpus = num_cpus or (_int(env, "SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE") if subtask else _int(env, "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"))
    if memory_gb is None:
        per_node = _int(env, "SLURM_MEM_PER_NODE")
        per_cpu = _int(env, "SLURM_MEM_PER_CPU")
        if per_node:
            memory_gb = per_node / 1024
        elif per_cpu and cpus:
            memory_gb = per_cpu * cpus / 1024
    if num_gpus is None:
        num_gpus = _int(env, "SLURM_GPUS_ON_NODE")
        if num_gpus is None and env.get("SLURM_JOB_GPUS"):
            num_gpus = len([g for g in env["SLURM_JOB_GPUS"].split(",") if g.strip()])
    resources = detect(cpus, memory_gb, num_gpus)
    resources.num_nodes = 1 if subtask else (_int(env, "SLURM_JOB_NUM_NODES", "SLURM_NNODES") or 1)
    return resources


class SlurmEnvironment(WorkerEnvironment):
    """A worker running in Slurm allocation ``SLURM_JOB_ID``."""

    compute_node_type = "slurm"

    def __init__(self, api: TorcApi, workflow_id: int, launch: WorkerLaunch, hpc: HpcScheduler,
                 env: Mapping[str, str] = os.environ):
        self.launch = launch
        self.hpc = hpc
        self.job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
        if not self.job_id:
            raise HpcError("SLURM_JOB_ID is not set: `torc slurm run-jobs` runs inside a Slurm allocation (use `torc run` elsewhere)")
        self.node_index = _int(env, "SLURM_NODEID") or 0
        self.allocation = find_allocation(api, workflow_id, self.job_id)
        if self.allocation is None:
            logger.warning("no scheduled compute node of workflow %s has Slurm job id %s: a worker started by hand?", workflow_id, self.job_id)
        self._end: float | None = None
        self._end_read_at = 0.0
        self.compute_node_id: int | None = None

    @property
    def is_head(self) -> bool:
        """The worker on the allocation's first node keeps the allocation's record up to date."""
        return self.node_index == 0

    def scheduler_info(self) -> dict:
        info = {"slurm_job_id": self.job_id, "slurm_node_id": self.node_index, "hostname": socket.gethostname()}
        if self.allocation is not None:
            info["scheduled_compute_node_id"] = self.allocation.id
        return info

    def scheduler_config_id(self) -> int | None:
        return self.allocation.scheduler_config_id if self.allocation is not None else None

    def end_time(self) -> float | None:
        now = time.time()
        if now - self._end_read_at >= END_TIME_REFRESH_SECONDS:
            try:
                self._end = self.hpc.end_time(self.job_id)
                self._end_read_at = now
            except HpcError as exc:  # keep the last known end; try again soon
                logger.warning("could not read the end time of Slurm job %s: %s", self.job_id, exc)
                self._end_read_at = now - END_TIME_REFRESH_SECONDS + 30
        return self._end

    def can_execute(self, action) -> bool:
        if action.action_type == "schedule_nodes":
            return (action.action_config or {}).get("scheduler_type", "slurm") == "slurm"
        return super().can_execute(action)

    def schedule_nodes(self, api, workflow_id: int, action) -> None:
        """Submit the allocations of a fired ``schedule_nodes`` action (from this compute node)."""
        config = action.action_config or {}
        try:
            submitted = schedule_allocations(
                api, workflow_id, int(config["scheduler_id"]), int(config.get("num_allocations", 1)), self.launch,
                start_one_worker_per_node=bool(config.get("start_one_worker_per_node", False)),
                max_parallel_jobs=config.get("max_parallel_jobs"), hpc=self.hpc,
            )
            logger.info("action %s (%s): submitted Slurm jobs %s", action.id, action.trigger_type, [a.slurm_job_id for a in submitted])
        except Exception as exc:  # noqa: BLE001 - a failed submission must not stop the running jobs
            logger.error("action %s (%s): could not submit allocations: %s", action.id, action.trigger_type, describe_error(exc))

    def worker_started(self, api, workflow_id: int, compute_node_id: int) -> None:
        self.compute_node_id = compute_node_id
        if self.is_head and self.allocation is not None:
            set_allocation_status(api, self.allocation.id, "active")
            self._refill_queue(api, workflow_id, orphans_too=False)

    def worker_stopped(self, api, workflow_id: int, stop_reason: str) -> None:
        # A SIGTERM to a Slurm worker means its allocation is going away (scancel, time limit,
        # preemption) even while squeue still says RUNNING; otherwise ask Slurm.
        ending = stop_reason in ("SIGTERM", "end time reached") or orphans.allocation_is_ending(self.hpc, self.job_id)
        if self.compute_node_id is not None and ending:
            orphans.requeue_killed_jobs(api, workflow_id, [self.compute_node_id])
        if self.is_head and self.allocation is not None:
            set_allocation_status(api, self.allocation.id, "complete")
            self._refill_queue(api, workflow_id, orphans_too=ending)

    def _refill_queue(self, api, workflow_id: int, orphans_too: bool) -> None:
        """The queue just drained (this allocation started or ended): submit deferred allocations,
        and, when this allocation dies with work left and none other, a replacement."""
        try:
            submit_deferred(api, workflow_id, self.launch, self.hpc)
            if orphans_too:
                orphans.resubmit_orphans(api, workflow_id, self.launch, self.hpc)
        except Exception as exc:  # noqa: BLE001 - a failed submission must not stop the running jobs
            logger.error("workflow %s: could not submit allocations: %s", workflow_id, describe_error(exc))
