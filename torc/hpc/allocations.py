"""Requesting allocations: one ``scheduled_compute_node`` record and one sbatch script per allocation.

Used by ``torc slurm schedule-nodes`` and ``torc submit`` on the login node, and by running
workers when an ``on_jobs_ready`` ``schedule_nodes`` action fires (they call sbatch from the
compute node). A record is created first (status ``pending``, scheduler id 0) so the Slurm job name
can carry its id; it gets the Slurm job id after ``sbatch``, and is deleted if ``sbatch`` fails.
The worker in the allocation moves it to ``active`` and, when it exits, to ``complete``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from torc.client import TorcApi
from torc.hpc.scheduler import HpcError, HpcScheduler, get_scheduler
from torc.hpc.templates import find_template, quote_args, render_script, sbatch_directives, shell_command
from torc.openapi_client.models import ScheduledComputeNodesModel

logger = logging.getLogger(__name__)

SCHEDULER_TYPE = "slurm"


@dataclass
class WorkerLaunch:
    """How an allocation starts its worker, and how allocations are requested.

    Everything here is carried into the allocation (options of ``torc slurm run-jobs`` or exported
    variables), so that allocations a worker requests later start their workers the same way.
    """

    url: str
    output_dir: Path
    #: The ``torc`` executable as a command line (e.g. ``/opt/venv/bin/python -m torc.cli.main``);
    #: default ``TORC_WORKER_COMMAND`` or ``torc``.
    worker_command: str | None = None
    template: str | None = None
    poll_interval: float | None = None
    heartbeat_interval: float | None = None
    lease_seconds: float | None = None
    idle_timeout: float | None = None
    keep_scripts: bool = False
    #: Slurm job names are ``<prefix>_<scheduled node id>``; default ``torc_wf<workflow id>``.
    job_prefix: str | None = None
    #: At most this many allocations of the workflow may wait in the queue at once (None: no cap).
    max_queued: int | None = None
    extra_env: dict = field(default_factory=dict)

    def resolved_worker_command(self) -> list[str]:
        return shlex.split(self.worker_command or os.environ.get("TORC_WORKER_COMMAND") or "torc")

    def command(self, workflow_id: int, max_parallel_jobs: int | None = None) -> list[str]:
        args = [*self.resolved_worker_command(), "slurm", "run-jobs", self.url, str(workflow_id), str(Path(self.output_dir).absolute())]
        for option, value in (
            ("--poll-interval", self.poll_interval),
            ("--heartbeat-interval", self.heartbeat_interval),
            ("--lease-seconds", self.lease_seconds),
            ("--idle-timeout", self.idle_timeout),
            ("--max-parallel-jobs", max_parallel_jobs),
        ):
            if value is not None:
                args += [option, str(value)]
        if self.keep_scripts:
            args.append("--keep-submission-scripts")
        if self.max_queued is not None:
            args += ["--max-queued-allocations", str(self.max_queued)]
        return args

    def environment(self) -> dict[str, str]:
        env = {"TORC_WORKER_COMMAND": quote_args(self.resolved_worker_command())}
        if self.template:
            env["TORC_SLURM_TEMPLATE"] = str(find_template(self.template))
        return {**env, **self.extra_env}


@dataclass
class Allocation:
    scheduled_compute_node_id: int
    slurm_job_id: str
    script: Path | None


def queued_allocations(api: TorcApi, workflow_id: int) -> int:
    """Allocations of the workflow that were requested and have not started yet."""
    return api.scheduled_compute_nodes.list_scheduled_compute_nodes(workflow_id, status="pending", limit=1).total_count


def schedule_allocations(
    api: TorcApi,
    workflow_id: int,
    scheduler_config_id: int,
    count: int,
    launch: WorkerLaunch,
    *,
    start_one_worker_per_node: bool = False,
    max_parallel_jobs: int | None = None,
    hpc: HpcScheduler | None = None,
) -> list[Allocation]:
    """Submit ``count`` allocations of one scheduler configuration (fewer if the backlog cap says so)."""
    hpc = hpc or get_scheduler()
    config = api.slurm_schedulers.get_slurm_scheduler(scheduler_config_id)
    if config.workflow_id != workflow_id:
        raise HpcError(f"Slurm scheduler {scheduler_config_id} belongs to workflow {config.workflow_id}, not {workflow_id}")
    workflow = api.workflows.get_workflow(workflow_id)
    defaults = json.loads(workflow.slurm_defaults) if workflow.slurm_defaults else {}
    if launch.max_queued is not None:
        room = max(0, launch.max_queued - queued_allocations(api, workflow_id))
        if room < count:
            logger.warning("workflow %s: %d allocations requested, %d submitted: at most %d may be queued at once",
                           workflow_id, count, room, launch.max_queued)
            count = room
    out = Path(launch.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)  # Slurm does not create the directory of --output
    command = shell_command(launch.command(workflow_id, max_parallel_jobs), start_one_worker_per_node)
    submitted = []
    for _ in range(count):
        submitted.append(_submit_one(api, workflow_id, config, defaults, launch, out, command, hpc))
    return submitted


def _submit_one(api, workflow_id, config, defaults, launch: WorkerLaunch, out: Path, command: str, hpc: HpcScheduler) -> Allocation:
    record = api.scheduled_compute_nodes.create_scheduled_compute_node(
        ScheduledComputeNodesModel(workflow_id=workflow_id, scheduler_config_id=config.id, scheduler_id=0,
                                   scheduler_type=SCHEDULER_TYPE, status="pending")
    )
    name = f"{launch.job_prefix or f'torc_wf{workflow_id}'}_{record.id}"
    script = out / f"{name}.sh"
    try:
        settings = config.to_dict()
        directives = sbatch_directives(settings, job_name=name, output_dir=out, workflow_id=workflow_id, slurm_defaults=defaults)
        script.write_text(render_script(launch.template, directives=directives, environment=launch.environment(),
                                        worker_command=command, workflow_id=workflow_id, job_name=name, output_dir=out, url=launch.url,
                                        scheduler=settings))
        job_id = hpc.submit(script)
    except BaseException:
        api.scheduled_compute_nodes.delete_scheduled_compute_node(record.id)
        script.unlink(missing_ok=True)
        raise
    record.scheduler_id = int(job_id)
    api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
    logger.info("workflow %s: submitted allocation %s (Slurm job %s, scheduler %s)", workflow_id, record.id, job_id, config.name or config.id)
    if not launch.keep_scripts:
        script.unlink(missing_ok=True)
        return Allocation(record.id, job_id, None)
    return Allocation(record.id, job_id, script)


def set_allocation_status(api: TorcApi, scheduled_compute_node_id: int, status: str) -> None:
    record = api.scheduled_compute_nodes.get_scheduled_compute_node(scheduled_compute_node_id)
    if record.status != status:
        record.status = status
        api.scheduled_compute_nodes.update_scheduled_compute_node(scheduled_compute_node_id, record)


def find_allocation(api: TorcApi, workflow_id: int, slurm_job_id: str):
    """The scheduled compute node of a Slurm job, or None (a worker started by hand)."""
    page = api.scheduled_compute_nodes.list_scheduled_compute_nodes(workflow_id, scheduler_id=str(slurm_job_id), limit=1)
    return page.items[0] if page.items else None
