"""``torc submit`` and ``torc submit-slurm``: start a workflow on a Slurm cluster from the login node.

``submit`` creates the workflow (given a spec), initializes it and executes its
``on_workflow_start`` ``schedule_nodes`` actions: those allocations start the first jobs. Later
stages (``on_jobs_ready`` actions) are requested by the running workers when their jobs become
ready, so no allocation waits in the queue for jobs that cannot start yet.

``submit-slurm`` first writes those schedulers and actions itself, from the jobs' resource
requirements and an HPC profile (see :mod:`torc.hpc.planning`).
"""

from __future__ import annotations

import datetime as dt
import os
import socket

import click

from torc.cli.context import CliState, pass_state
from torc.cli.run import _workflow_id as create_or_initialize
from torc.cli.slurm import hpc_errors, launch_options, make_launch, make_plan, plan_options
from torc.openapi_client.models import ComputeNodeModel


def register_submitter(api, workflow_id: int) -> int:
    """A compute node record for this login-node process: actions are claimed by compute nodes."""
    node = api.compute_nodes.create_compute_node(ComputeNodeModel(
        workflow_id=workflow_id, hostname=socket.gethostname(), pid=os.getpid(),
        start_time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), is_active=False, duration_seconds=0.0,
        num_cpus=0, memory_gb=0.0, num_gpus=0, num_nodes=1, compute_node_type="local", scheduler={"role": "submitter"},
    ))
    return node.id


def start_allocations(api, workflow_id: int, launch) -> list[dict]:
    """Claim and execute the workflow's fired ``on_workflow_start`` ``schedule_nodes`` actions."""
    from torc.hpc.allocations import schedule_allocations
    from torc.hpc.scheduler import HpcError, get_scheduler

    actions = [a for a in api.workflow_actions.get_pending_actions(workflow_id, trigger_type=["on_workflow_start"])
               if a.action_type == "schedule_nodes"]
    if not actions:
        raise HpcError(f"workflow {workflow_id} has no on_workflow_start schedule_nodes action: add one to the spec, "
                       "use `torc submit-slurm` to generate them, or submit with `torc slurm schedule-nodes`")
    hpc = get_scheduler()
    submitter = register_submitter(api, workflow_id)
    submitted = []
    for action in actions:
        if not api.try_claim_action(workflow_id, action.id, submitter):
            continue
        config = action.action_config or {}
        for allocation in schedule_allocations(
            api, workflow_id, int(config["scheduler_id"]), int(config.get("num_allocations", 1)), launch,
            start_one_worker_per_node=bool(config.get("start_one_worker_per_node", False)),
            max_parallel_jobs=config.get("max_parallel_jobs"), hpc=hpc,
        ):
            submitted.append({"action_id": action.id, "scheduler": config.get("scheduler"), "scheduled_compute_node_id": allocation.scheduled_compute_node_id,
                              "slurm_job_id": allocation.slurm_job_id})
    return submitted


def _report(state: CliState, workflow_id: int, submitted: list[dict]) -> None:
    jobs = ", ".join(s["slurm_job_id"] for s in submitted) or "none"
    state.object({"workflow_id": workflow_id, "allocations": submitted},
                 f"Workflow {workflow_id}: submitted {len(submitted)} allocation(s) (Slurm jobs {jobs})")


@click.command()
@click.argument("spec_or_id")
@click.option("-i", "--ignore-missing-data", "--skip-checks", "skip_checks", is_flag=True, help="Start even if input files that no job produces are missing.")
@launch_options
@pass_state
@hpc_errors
def submit(state: CliState, spec_or_id: str, skip_checks: bool, **launch):
    """Create (from a SPEC) and initialize a workflow, then request its first allocations."""
    workflow_id = create_or_initialize(state, spec_or_id, skip_checks)
    _report(state, workflow_id, start_allocations(state.api, workflow_id, make_launch(state, **launch)))


@click.command("submit-slurm")
@click.argument("spec", type=click.Path(dir_okay=False, exists=True))
@plan_options
@click.option("-i", "--ignore-missing-data", "--skip-checks", "skip_checks", is_flag=True, help="Start even if input files that no job produces are missing.")
@launch_options
@pass_state
@hpc_errors
def submit_slurm(state: CliState, spec, skip_checks, **options):
    """Plan Slurm allocations for a SPEC from its resource requirements and an HPC profile, then submit it."""
    from torc import workflow_ops
    from torc.cli.slurm import split_launch

    launch_args, plan_args = split_launch(options)
    expanded, plan, profile = make_plan(spec, **plan_args)
    launch = make_launch(state, **launch_args)
    if launch.max_queued is None:
        launch.max_queued = profile.max_queued_allocations
    launch.template = launch.template or profile.template
    created = workflow_ops.create_and_initialize_workflow(state.api, expanded, ignore_missing_data=skip_checks)
    workflow_id = created.workflow.id
    click.echo(f"Created workflow {workflow_id} ({created.workflow.name}) with {created.num_jobs} jobs and "
               f"{len(plan.schedulers)} Slurm schedulers (profile {profile.name})", err=True)
    _report(state, workflow_id, start_allocations(state.api, workflow_id, launch))
