"""``torc slurm ...``: Slurm schedulers of a workflow, allocations, the allocation worker, recovery.

* ``schedule-nodes``: request allocations for a scheduler configuration (login node);
* ``run-jobs``: the worker an allocation's sbatch script runs;
* ``sync``: find dead allocations, rerun their jobs, optionally request replacements;
* ``sacct``/``parse-logs``: what happened to the allocations;
* ``create``/``list``/``get``/``delete``: the workflow's scheduler configurations;
* ``generate``: preview the schedulers and actions ``torc submit-slurm`` would create.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import click

from torc.cli.context import ID, CliState, pass_state
from torc.cli.errors import CommandFailed
from torc.cli.listing import show_list
from torc.cli.output import columns, record_of, render_fields
from torc.cli.run import log_to_file, runner_config, worker_options
from torc.hpc.allocations import DEFAULT_MAX_RESUBMISSIONS
from torc.hpc.scheduler import HpcError

logger = logging.getLogger("torc.cli")

SCHEDULER_COLUMNS = columns("id", "name", "account", "partition", "nodes", "walltime", "mem", "gres", "qos", "extra", "template")
ALLOCATION_COLUMNS = columns("id", "slurm_job_id", "scheduler", "status", "state", "start", "end", "elapsed", "exit_code", "nodes")

workflow_id_argument = click.argument("workflow_id", metavar="WORKFLOW_ID", type=ID)


def hpc_errors(command):
    """Scheduler failures (sbatch errors, bad templates) as one ``Error:`` line, like other failures."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except HpcError as exc:
            raise CommandFailed(str(exc)) from None

    return wrapper


def launch_options(command):
    """How allocations start their workers: shared by schedule-nodes, submit, submit-slurm and sync."""
    options = [
        click.option("-o", "--output-dir", default="torc_output", show_default=True, type=click.Path(file_okay=False), help="Scripts, Slurm output and worker logs."),
        click.option("--worker-url", help="URL the workers use to reach the server (default: --url; must work from compute nodes)."),
        click.option("--worker-command", envvar="TORC_WORKER_COMMAND", help="The torc executable on compute nodes, e.g. '/opt/venv/bin/torc' (env TORC_WORKER_COMMAND; default: torc)."),
        click.option("--template", envvar="TORC_SLURM_TEMPLATE", help="sbatch script template: a file, or a name in slurm_templates/ (env TORC_SLURM_TEMPLATE; default: default.sh)."),
        click.option("-p", "--poll-interval", type=click.FloatRange(min=0.05), help="Workers: seconds between checks for new work."),
        click.option("--heartbeat-interval", type=click.FloatRange(min=0.1), help="Workers: seconds between lease renewals."),
        click.option("--lease-seconds", type=click.FloatRange(min=1), help="Workers: the server requeues a worker's jobs after this long without a heartbeat."),
        click.option("--idle-timeout", type=click.FloatRange(min=0), help="Workers: exit after this long without work (default: the workflow's setting)."),
        click.option("--keep-submission-scripts", is_flag=True, help="Keep the rendered sbatch scripts in the output directory."),
        click.option("--max-queued-allocations", type=click.IntRange(min=0), envvar="TORC_SLURM_MAX_QUEUED", help="At most this many allocations of the workflow wait in the queue; the others are deferred and submitted as the queue drains."),
        click.option("--max-resubmissions", type=click.IntRange(min=0), default=DEFAULT_MAX_RESUBMISSIONS, show_default=True,
                     help="Replacement allocations requested automatically per workflow when an allocation dies with jobs left and no other."),
        click.option("--no-auto-resubmit", is_flag=True, help="Never request replacement allocations automatically (same as --max-resubmissions 0)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_launch(state: CliState, output_dir, worker_url, worker_command, template, poll_interval, heartbeat_interval,
                lease_seconds, idle_timeout, keep_submission_scripts, max_queued_allocations, max_resubmissions, no_auto_resubmit):
    from torc.hpc.allocations import WorkerLaunch

    return WorkerLaunch(
        url=worker_url or state.url, output_dir=Path(output_dir), worker_command=worker_command, template=template,
        poll_interval=poll_interval, heartbeat_interval=heartbeat_interval, lease_seconds=lease_seconds,
        idle_timeout=idle_timeout, keep_scripts=keep_submission_scripts, max_queued=max_queued_allocations,
        max_resubmissions=0 if no_auto_resubmit else max_resubmissions,
    )


def split_launch(options: dict) -> tuple[dict, dict]:
    """(launch options, the rest) of a command's keyword arguments."""
    names = {"output_dir", "worker_url", "worker_command", "template", "poll_interval", "heartbeat_interval", "lease_seconds",
             "idle_timeout", "keep_submission_scripts", "max_queued_allocations", "max_resubmissions", "no_auto_resubmit"}
    return {k: v for k, v in options.items() if k in names}, {k: v for k, v in options.items() if k not in names}


def plan_options(command):
    """Options of the allocation planner: shared by ``submit-slurm`` and ``slurm generate``."""
    options = [
        click.option("--account", help="Slurm account to charge (default: the profile's default_account)."),
        click.option("--hpc-profile", help="HPC profile name or file (default: the detected one; see `torc hpc list`)."),
        click.option("--group-by", type=click.Choice(["resource-requirements", "partition"]), default="resource-requirements", show_default=True,
                     help="One scheduler per resource requirements (and stage), or per partition (and stage)."),
        click.option("--single-allocation", is_flag=True, help="One multi-node allocation per group, with a worker on every node."),
        click.option("--walltime-multiplier", type=click.FloatRange(min=1), default=1.5, show_default=True, help="Walltime = longest job runtime × this (+ buffers)."),
        click.option("--max-partition-time", help="Never request more walltime than this (Slurm time, e.g. 04:00:00)."),
        click.option("--overwrite", is_flag=True, help="Replace the spec's own Slurm schedulers and schedule_nodes actions."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_plan(spec: str, account, hpc_profile, group_by, single_allocation, walltime_multiplier, max_partition_time, overwrite):
    """(expanded spec with the planned schedulers and actions, the plan, the profile)."""
    from torc.hpc.planning import plan_workflow
    from torc.hpc.profiles import resolve_profile
    from torc.hpc.scheduler import HpcError
    from torc.spec import load_workflow_spec
    from torc.units import parse_walltime_seconds

    expanded = load_workflow_spec(spec)
    if not overwrite and (expanded.slurm_schedulers or any(a["action_type"] == "schedule_nodes" for a in expanded.actions)):
        raise HpcError(f"{spec} has its own Slurm schedulers or schedule_nodes actions: use `torc submit`, or --overwrite to replace them")
    profile = resolve_profile(hpc_profile)
    account = account or profile.default_account
    if not account:
        raise HpcError(f"--account is required (profile {profile.name} has no default_account)")
    try:
        cap = parse_walltime_seconds(max_partition_time) if max_partition_time else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-partition-time") from None
    plan = plan_workflow(expanded, profile, account, group_by=group_by, multiplier=walltime_multiplier,
                         max_partition_time=cap, single_allocation=single_allocation)
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return plan.apply(expanded), plan, profile


@click.group()
def slurm():
    """Slurm: allocations for workflows, the allocation worker, and recovery."""


# ------------------------------------------------------------------ scheduler configurations


@slurm.command("create")
@workflow_id_argument
@click.option("--name", required=True, help="Name of the configuration (actions refer to it).")
@click.option("--account", required=True, help="Slurm account to charge.")
@click.option("--walltime", default="01:00:00", show_default=True, help="Slurm time limit.")
@click.option("--nodes", type=click.IntRange(1), default=1, show_default=True)
@click.option("--partition")
@click.option("--qos")
@click.option("--mem", help="Memory per node, e.g. 240G.")
@click.option("--gres", help="Generic resources, e.g. gpu:4.")
@click.option("--tmp", help="Local disk per node.")
@click.option("--ntasks-per-node", type=click.IntRange(1))
@click.option("--extra", help="Raw sbatch flags, e.g. '--exclusive --signal=B:TERM@300'.")
@click.option("--template", help="This scheduler's sbatch template: a file (stored as an absolute path) or a name in slurm_templates/; wins over --template at submission and the HPC profile's.")
@pass_state
@hpc_errors
def create(state: CliState, workflow_id, **fields):
    """Add a Slurm scheduler configuration to a workflow."""
    from torc.hpc.templates import find_template, sbatch_directives
    from torc.openapi_client.models import SlurmSchedulerModel

    sbatch_directives(fields, job_name="check", output_dir=Path("."), workflow_id=workflow_id)  # reject bad values now
    if fields["template"]:
        found = find_template(fields["template"])  # a clear "not found" now, not at the first allocation
        if Path(fields["template"]).expanduser().is_file():  # a file: allocations are submitted from other directories
            fields["template"] = str(found)
    created = state.api.slurm_schedulers.create_slurm_scheduler(SlurmSchedulerModel(workflow_id=workflow_id, **fields))
    state.object(record_of(created), f"Created Slurm scheduler {created.id} ({created.name}) for workflow {workflow_id}")


@slurm.command("list")
@workflow_id_argument
@pass_state
def list_schedulers(state: CliState, workflow_id):
    """The Slurm scheduler configurations of a workflow."""
    show_list(state, state.api.slurm_schedulers.list_slurm_schedulers, workflow_id, cols=SCHEDULER_COLUMNS)


@slurm.command("get")
@click.argument("scheduler_id", type=ID)
@pass_state
def get(state: CliState, scheduler_id):
    """One Slurm scheduler configuration."""
    state.object(record_of(state.api.slurm_schedulers.get_slurm_scheduler(scheduler_id)))


@slurm.command("delete")
@click.argument("scheduler_id", type=ID)
@pass_state
def delete(state: CliState, scheduler_id):
    """Delete a Slurm scheduler configuration."""
    deleted = state.api.slurm_schedulers.delete_slurm_scheduler(scheduler_id)
    state.object(record_of(deleted), f"Deleted Slurm scheduler {scheduler_id}")


# ------------------------------------------------------------------ allocations


@slurm.command("schedule-nodes")
@workflow_id_argument
@click.option("--scheduler-config-id", type=ID, required=True, help="The Slurm scheduler configuration to request.")
@click.option("-n", "--num-hpc-jobs", type=click.IntRange(1), default=1, show_default=True, help="Number of allocations.")
@click.option("--start-one-worker-per-node", is_flag=True, help="Start a worker on every node of the allocation (srun).")
@click.option("--max-parallel-jobs", type=click.IntRange(1), help="Workers run at most N jobs at once, ignoring resource requirements.")
@click.option("--job-prefix", help="Slurm job names are PREFIX_<id> (default: torc_wf<workflow id>).")
@launch_options
@pass_state
@hpc_errors
def schedule_nodes(state: CliState, workflow_id, scheduler_config_id, num_hpc_jobs, start_one_worker_per_node, max_parallel_jobs, job_prefix, **launch):
    """Submit allocations (sbatch) whose workers run the workflow's jobs."""
    from torc.hpc.allocations import schedule_allocations

    settings = make_launch(state, **launch)
    settings.job_prefix = job_prefix
    submitted = schedule_allocations(state.api, workflow_id, scheduler_config_id, num_hpc_jobs, settings,
                                     start_one_worker_per_node=start_one_worker_per_node, max_parallel_jobs=max_parallel_jobs)
    records = [{"scheduled_compute_node_id": a.scheduled_compute_node_id, "slurm_job_id": a.slurm_job_id, "script": str(a.script) if a.script else None}
               for a in submitted]
    state.records(records, columns("scheduled_compute_node_id", "slurm_job_id", "script"), empty="(nothing submitted)")


def _without_option(name: str):
    """Drop an option that a shared decorator added (``run-jobs`` takes the output directory as an argument)."""

    def decorate(command):
        command.__click_params__ = [p for p in getattr(command, "__click_params__", []) if p.name != name]
        return command

    return decorate


@slurm.command("run-jobs")
@click.argument("url")
@workflow_id_argument
@click.argument("output_dir", type=click.Path(file_okay=False))
@_without_option("output_dir")
@worker_options
@click.option("--keep-submission-scripts", is_flag=True, help="Keep the scripts of allocations this worker submits.")
@click.option("--max-queued-allocations", type=click.IntRange(min=0), help="Backlog cap for allocations this worker submits.")
@click.option("--max-resubmissions", type=click.IntRange(min=0), default=DEFAULT_MAX_RESUBMISSIONS, show_default=True,
              help="Replacement allocations per workflow this worker may request when its allocation dies.")
@pass_state
@hpc_errors
def run_jobs(state: CliState, url, workflow_id, output_dir, keep_submission_scripts, max_queued_allocations, max_resubmissions, **worker):
    """The worker of a Slurm allocation (what torc's sbatch scripts run): claim and run jobs until
    the workflow is done, the allocation ends, or there is no more work."""
    from torc.hpc.allocations import WorkerLaunch
    from torc.hpc.environment import SlurmEnvironment, slurm_resources
    from torc.hpc.scheduler import get_scheduler
    from torc.runner.worker import JobRunner

    state.use_url(url)
    resources = slurm_resources(os.environ, worker.pop("num_cpus"), worker.pop("memory_gb"), worker.pop("num_gpus"))
    config = runner_config(output_dir=output_dir, num_cpus=resources.num_cpus, memory_gb=resources.memory_gb,
                           num_gpus=resources.num_gpus, **worker)
    config.resources.num_nodes = resources.num_nodes
    launch = WorkerLaunch(url=url, output_dir=Path(output_dir), poll_interval=worker["poll_interval"],
                          heartbeat_interval=worker["heartbeat_interval"], lease_seconds=worker["lease_seconds"],
                          idle_timeout=worker["idle_timeout"], keep_scripts=keep_submission_scripts, max_queued=max_queued_allocations,
                          max_resubmissions=max_resubmissions)
    log_path = log_to_file(config.output_dir, workflow_id)
    environment = SlurmEnvironment(state.api, workflow_id, launch, get_scheduler())
    stats = JobRunner(state.api, workflow_id, config, environment).run()
    summary = {"workflow_id": workflow_id, "slurm_job_id": environment.job_id, **stats, "log": str(log_path)}
    state.object(summary, f"Workflow {workflow_id}, Slurm job {environment.job_id}: " + ", ".join(f"{n} {k}" for k, n in stats.items() if n))


@slurm.command("sync")
@workflow_id_argument
@click.option("--dry-run", is_flag=True, help="Only report the dead allocations.")
@click.option("--resubmit", is_flag=True, help="If orphaned jobs are ready and no allocation is left, request replacements "
              "(same configurations, within --max-resubmissions), and submit deferred allocations the backlog cap allows.")
@launch_options
@pass_state
@hpc_errors
def sync(state: CliState, workflow_id, dry_run, resubmit, **launch):
    """Find allocations Slurm no longer runs (scancel, time limit, node failure) and rerun their jobs."""
    from torc.hpc.allocations import submit_deferred
    from torc.hpc.orphans import resubmit_orphans, sync_allocations
    from torc.hpc.scheduler import get_scheduler

    hpc = get_scheduler()
    report = sync_allocations(state.api, workflow_id, hpc, dry_run=dry_run)
    if resubmit and not dry_run:
        settings = make_launch(state, **launch)
        submit_deferred(state.api, workflow_id, settings, hpc)
        report.resubmitted = resubmit_orphans(state.api, workflow_id, settings, hpc)
    record = report.as_dict()
    state.object(record, f"Workflow {workflow_id}:\n" + render_fields({k: ", ".join(map(str, v)) if v else "none" for k, v in record.items()}))


@slurm.command("sacct")
@workflow_id_argument
@pass_state
@hpc_errors
def sacct(state: CliState, workflow_id):
    """Slurm's accounting of the workflow's allocations, one line each."""
    from torc.hpc.accounting import allocation_summary
    from torc.hpc.scheduler import get_scheduler

    state.records(allocation_summary(state.api, workflow_id, get_scheduler()), ALLOCATION_COLUMNS)


@slurm.command("parse-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--workflow-id", type=ID, help="Only the Slurm output files of this workflow (slurm_output_wf<ID>_*).")
@pass_state
def parse_logs(state: CliState, paths, workflow_id):
    """Scan Slurm output and torc logs (files or directories) for known errors: out of memory,
    time limit, node failure, preemption, CUDA errors, segfaults, tracebacks, quotas, ..."""
    from torc.hpc.logs import scan_paths

    findings = scan_paths([Path(p) for p in paths], workflow_id)
    state.records([f.as_dict() for f in findings], columns("file", "line", "category", "severity", "text"), empty="(no known errors found)")


@slurm.command("generate")
@click.argument("spec", type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the planned slurm_schedulers and actions as spec YAML.")
@plan_options
@pass_state
@hpc_errors
def generate(state: CliState, spec, output, **plan_args):
    """Preview the Slurm schedulers and actions `torc submit-slurm` would create (no server needed)."""
    _, plan, _ = make_plan(spec, **plan_args)
    if output:
        import yaml

        Path(output).write_text(yaml.safe_dump(plan.spec_sections(), sort_keys=False))
        click.echo(f"Wrote the planned slurm_schedulers and actions to {output}", err=True)
    state.records([s.summary() for s in plan.schedulers],
                  columns("scheduler", "partition", "trigger", "stage", "jobs", "allocations", "nodes", "walltime", "jobs_per_allocation", "mem", "extra"))
