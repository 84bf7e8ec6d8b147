"""Requesting allocations: one ``scheduled_compute_node`` record and one sbatch script per allocation.

Used by ``torc slurm schedule-nodes`` and ``torc submit`` on the login node, and by running
workers when an ``on_jobs_ready`` ``schedule_nodes`` action fires (they call sbatch from the
compute node). A record is created first (status ``pending``, scheduler id 0) so the Slurm job name
can carry its id; it gets the Slurm job id after ``sbatch``, and is deleted if ``sbatch`` fails.
The worker in the allocation moves it to ``active`` and, when it exits, to ``complete``.

Backlog cap (``max_queued``): allocations over the cap are not dropped but **deferred**: a record
with status ``deferred`` (no Slurm job yet) plus an ``allocation_deferred`` event that keeps its
submission options. :func:`submit_deferred` submits them, oldest first, while the cap leaves room;
workers call it when their allocation starts or ends (the moments the queue drains), and so does
``torc slurm sync``.
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
from torc.openapi_client.models import EventModel, ScheduledComputeNodesModel

logger = logging.getLogger(__name__)

SCHEDULER_TYPE = "slurm"
#: Status of an allocation held back by the backlog cap: no Slurm job yet.
DEFERRED = "deferred"
DEFERRED_EVENT = "allocation_deferred"
DEFAULT_MAX_RESUBMISSIONS = 3


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
    #: Replacement allocations the workers may request per workflow when one dies (0: never).
    max_resubmissions: int = DEFAULT_MAX_RESUBMISSIONS
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
        return [*args, "--max-resubmissions", str(self.max_resubmissions)]

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
    """Submit ``count`` allocations of one scheduler configuration; those over the backlog cap are deferred."""
    submission = _Submission(api, workflow_id, scheduler_config_id, launch, start_one_worker_per_node, max_parallel_jobs, hpc)
    now = count
    if launch.max_queued is not None:
        now = min(count, max(0, launch.max_queued - queued_allocations(api, workflow_id)))
    submitted = [submission.submit() for _ in range(now)]
    if count > now:
        submission.defer(count - now)
        logger.warning("workflow %s: %d allocations requested, %d submitted, %d deferred: at most %d may be queued at once",
                       workflow_id, count, now, count - now, launch.max_queued)
    return submitted


def submit_deferred(api: TorcApi, workflow_id: int, launch: WorkerLaunch, hpc: HpcScheduler | None = None) -> list[Allocation]:
    """Submit the workflow's deferred allocations while the backlog cap leaves room (oldest first).

    Dropped instead when the workflow is complete: nothing is left for them to run.
    """
    deferred = sorted(api.iter_scheduled_compute_nodes(workflow_id, status=DEFERRED), key=lambda r: r.id)
    if not deferred:
        return []
    if api.workflows.is_workflow_complete(workflow_id).is_complete:
        for record in deferred:
            api.scheduled_compute_nodes.delete_scheduled_compute_node(record.id)
        return []
    options = {e.data.get("scheduled_compute_node_id"): e.data for e in api.iter_events(workflow_id, category=DEFERRED_EVENT)}
    submitted = []
    for record in deferred:
        if not _promote(api, workflow_id, record, launch.max_queued):
            break
        opts = options.get(record.id, {})
        submission = _Submission(api, workflow_id, record.scheduler_config_id, launch, bool(opts.get("start_one_worker_per_node")),
                                 opts.get("max_parallel_jobs"), hpc)
        submitted.append(submission.submit(record))
    return submitted


def _promote(api: TorcApi, workflow_id: int, record, max_queued: int | None) -> bool:
    """Move a deferred record to ``pending`` if the cap has room, optimistically.

    Several workers may drain at once: each promotes, then keeps its record only if it is among
    the ``max_queued`` oldest pending ones, so the cap holds and the oldest record wins.
    """
    record.status = "pending"
    api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
    if max_queued is None:
        return True
    pending = sorted(r.id for r in api.iter_scheduled_compute_nodes(workflow_id, status="pending"))
    if record.id in pending[:max_queued]:
        return True
    record.status = DEFERRED
    api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
    return False


class _Submission:
    """One scheduler configuration's sbatch script, ready to submit as many allocations as asked."""

    def __init__(self, api, workflow_id, scheduler_config_id, launch: WorkerLaunch, start_one_worker_per_node, max_parallel_jobs, hpc):
        self.api, self.workflow_id, self.launch = api, workflow_id, launch
        self.hpc = hpc or get_scheduler()
        self.config = api.slurm_schedulers.get_slurm_scheduler(scheduler_config_id)
        if self.config.workflow_id != workflow_id:
            raise HpcError(f"Slurm scheduler {scheduler_config_id} belongs to workflow {self.config.workflow_id}, not {workflow_id}")
        workflow = api.workflows.get_workflow(workflow_id)
        self.defaults = json.loads(workflow.slurm_defaults) if workflow.slurm_defaults else {}
        self.options = {"start_one_worker_per_node": start_one_worker_per_node, "max_parallel_jobs": max_parallel_jobs}
        self.command = shell_command(launch.command(workflow_id, max_parallel_jobs), start_one_worker_per_node)

    def _record(self, status: str):
        return self.api.scheduled_compute_nodes.create_scheduled_compute_node(
            ScheduledComputeNodesModel(workflow_id=self.workflow_id, scheduler_config_id=self.config.id, scheduler_id=0,
                                       scheduler_type=SCHEDULER_TYPE, status=status)
        )

    def defer(self, count: int) -> None:
        for _ in range(count):
            record = self._record(DEFERRED)
            self.api.events.create_event(EventModel(workflow_id=self.workflow_id, data={
                "category": DEFERRED_EVENT, "scheduled_compute_node_id": record.id, "scheduler_config_id": self.config.id, **self.options}))

    def submit(self, record=None) -> Allocation:
        """sbatch one allocation (for ``record``, a promoted deferred one, or a new record)."""
        api, launch, workflow_id = self.api, self.launch, self.workflow_id
        record = record or self._record("pending")
        out = Path(launch.output_dir).absolute()
        out.mkdir(parents=True, exist_ok=True)  # Slurm does not create the directory of --output
        name = f"{launch.job_prefix or f'torc_wf{workflow_id}'}_{record.id}"
        script = out / f"{name}.sh"
        try:
            settings = self.config.to_dict()
            directives = sbatch_directives(settings, job_name=name, output_dir=out, workflow_id=workflow_id, slurm_defaults=self.defaults)
            script.write_text(render_script(launch.template, directives=directives, environment=launch.environment(),
                                            worker_command=self.command, workflow_id=workflow_id, job_name=name, output_dir=out, url=launch.url,
                                            scheduler=settings))
            job_id = self.hpc.submit(script)
        except BaseException:
            api.scheduled_compute_nodes.delete_scheduled_compute_node(record.id)
            script.unlink(missing_ok=True)
            raise
        record.scheduler_id = int(job_id)
        api.scheduled_compute_nodes.update_scheduled_compute_node(record.id, record)
        logger.info("workflow %s: submitted allocation %s (Slurm job %s, scheduler %s)", workflow_id, record.id, job_id, self.config.name or self.config.id)
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
