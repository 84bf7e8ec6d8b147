"""Where a worker runs: the part of the worker loop that differs between a laptop, a Slurm
allocation and an SSH host.

The worker loop (``torc.runner.worker``) is the same everywhere; an environment tells it what kind
of compute node to register, when its time runs out, and which workflow actions it can execute
(a Slurm environment can submit allocations for ``schedule_nodes`` actions; a laptop cannot).
"""

import logging

logger = logging.getLogger(__name__)


class WorkerEnvironment:
    """A plain machine: no end time, no scheduler, only ``run_commands`` actions."""

    compute_node_type = "local"

    def scheduler_info(self) -> dict:
        """Facts stored with the compute node (e.g. the Slurm job id)."""
        return {}

    def scheduler_config_id(self) -> int | None:
        """The scheduler configuration this worker was started for (claims prefer its jobs)."""
        return None

    def end_time(self) -> float | None:
        """Epoch seconds when the worker's resources go away, or None."""
        return None

    def can_execute(self, action) -> bool:
        return action.action_type == "run_commands"

    def schedule_nodes(self, api, workflow_id: int, action) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot schedule nodes")

    def worker_started(self, api, workflow_id: int, compute_node_id: int) -> None:
        """Hook: e.g. mark the Slurm allocation active."""

    def worker_stopped(self, api, workflow_id: int, stop_reason: str) -> None:
        """Hook: e.g. mark the Slurm allocation complete. Called as soon as the jobs are reported,
        before the worker's closing actions. ``stop_reason`` is e.g. ``done``, ``SIGTERM``,
        ``end time reached``, ``canceled``."""


class RemoteEnvironment(WorkerEnvironment):
    """A worker started over SSH by ``torc remote run``: a local worker, registered as remote."""

    compute_node_type = "remote"
