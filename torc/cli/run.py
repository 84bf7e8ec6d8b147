"""``torc run SPEC_OR_ID``: run a workflow's jobs on this machine.

Given a spec file it creates and initializes the workflow first; given an id it runs that
workflow (initializing it if it never was). ``--standalone`` starts a private torc server on a
SQLite file for the duration of the run, so nothing else needs to be running.
"""

import datetime as dt
import logging
import os
import socket
from pathlib import Path

import click

from torc import workflow_ops
from torc.cli.context import CliState, pass_state
from torc.runner.environment import RemoteEnvironment
from torc.runner.resources import detect
from torc.runner.worker import JobRunner, RunnerConfig
from torc.spec import load_workflow_spec
from torc.units import parse_time_limit_seconds

logger = logging.getLogger("torc.runner")


class PrefetchDepth(click.ParamType):
    """``auto`` (None: the worker adapts it) or a number of jobs from 0 to 10,000."""

    name = "auto|N"

    def convert(self, value, param, ctx):
        if value is None or value == "auto":
            return None
        try:
            depth = int(value)
        except (TypeError, ValueError):
            depth = -1
        if not 0 <= depth <= 10_000:
            self.fail(f"{value!r} is neither auto nor a number of jobs from 0 to 10000", param, ctx)
        return depth


def worker_options(command):
    """Options shared by every command that starts the worker loop (``run``, Slurm, remote)."""
    options = [
        click.option("--num-cpus", type=click.IntRange(1), help="CPUs to offer (default: all)."),
        click.option("--memory-gb", type=click.FloatRange(min=0, min_open=True), help="Memory to offer (default: all)."),
        click.option("--num-gpus", type=click.IntRange(0), help="GPUs to offer (default: all that nvidia-smi lists)."),
        click.option("--max-parallel-jobs", type=click.IntRange(1), help="Queue mode: run up to N jobs at once, ignoring their resource requirements."),
        click.option("--prefetch", default="auto", show_default=True, type=PrefetchDepth(),
                     help="Also hold up to N claimed jobs, each started the moment a slot (queue mode) or its resources free up, and "
                          "report them in batches. auto: about half a second of work by the jobs' run times so far (at most 200; "
                          "none for jobs of half a second or longer); 0: never."),
        click.option("-o", "--output-dir", default="torc_output", show_default=True, type=click.Path(file_okay=False), help="Job stdout/stderr, logs and metrics."),
        click.option("-p", "--poll-interval", default=1.0, show_default=True, type=click.FloatRange(min=0.05), help="Seconds between checks for new work while jobs run."),
        click.option("--idle-timeout", type=click.FloatRange(min=0), help="Exit after this many seconds without work (default: the workflow's compute_node_wait_for_new_jobs_seconds)."),
        click.option("--heartbeat-interval", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between lease renewals."),
        click.option("--lease-seconds", default=60.0, show_default=True, type=click.FloatRange(min=1), help="The server requeues this worker's jobs if it misses its heartbeats this long."),
        click.option("--termination-grace", default=10.0, show_default=True, type=click.FloatRange(min=0), help="Seconds SIGTERMed jobs get before SIGKILL."),
        click.option("--kill-on-runtime-exceeded", is_flag=True, help="SIGTERM jobs that run longer than their runtime requirement (SIGKILL after --termination-grace)."),
        click.option("--script-timeout", default=600.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Seconds a recovery script or action command may run before it is killed."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def runner_config(output_dir, num_cpus, memory_gb, num_gpus, max_parallel_jobs, poll_interval, idle_timeout,
                  heartbeat_interval, lease_seconds, termination_grace, kill_on_runtime_exceeded, script_timeout=600.0, prefetch=None, end_time=None) -> RunnerConfig:
    return RunnerConfig(
        output_dir=Path(output_dir),
        resources=detect(num_cpus, memory_gb, num_gpus),
        max_parallel_jobs=max_parallel_jobs,
        prefetch=prefetch,
        poll_interval=poll_interval,
        idle_timeout=idle_timeout,
        end_time=end_time,
        heartbeat_interval=heartbeat_interval,
        lease_seconds=lease_seconds,
        termination_grace_seconds=termination_grace,
        kill_on_runtime_exceeded=kill_on_runtime_exceeded,
        script_timeout_seconds=script_timeout,
    )


def log_to_file(output_dir: Path, workflow_id: int) -> Path:
    """The runner log of this worker: ``<output>/job_runner_<host>_wf<W>_<pid>.log``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"job_runner_{socket.gethostname()}_wf{workflow_id}_{os.getpid()}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("torc.runner", "torc.client"):
        logging.getLogger(name).addHandler(handler)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
    return path


def _end_time(time_limit: str | None, end_time: str | None) -> float | None:
    ends = []
    if time_limit:
        try:
            ends.append(dt.datetime.now().timestamp() + parse_time_limit_seconds(time_limit))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--time-limit") from None
    if end_time:
        try:
            ends.append(dt.datetime.fromisoformat(end_time).timestamp())
        except ValueError:
            raise click.BadParameter(f"{end_time!r} is not an ISO-8601 time such as 2026-12-01T18:00", param_hint="--end-time") from None
    return min(ends) if ends else None


def initialize_if_needed(state: CliState, workflow_id: int, skip_checks: bool = False) -> None:
    """Start the workflow's first run if it never was, so that workers find ready jobs.

    Done once before starting workers: several workers initializing at once would race.
    """
    if state.api.workflows.is_workflow_uninitialized(workflow_id).is_uninitialized:
        workflow_ops.initialize_workflow(state.api, workflow_id, ignore_missing_data=skip_checks)


def _workflow_id(state: CliState, spec_or_id: str, skip_checks: bool) -> int:
    """An existing workflow's id, or the id of the workflow created from a spec file."""
    if spec_or_id.isdigit() and not Path(spec_or_id).exists():
        workflow_id = int(spec_or_id)
        initialize_if_needed(state, workflow_id, skip_checks)
        return workflow_id
    created = workflow_ops.create_and_initialize_workflow(state.api, load_workflow_spec(spec_or_id), ignore_missing_data=skip_checks)
    workflow_id = created.workflow.id
    click.echo(f"Created workflow {workflow_id} ({created.workflow.name}) with {created.num_jobs} jobs", err=True)
    return workflow_id


@click.command()
@click.argument("spec_or_id")
@worker_options
@click.option("--time-limit", help="Walltime this worker must respect: ISO-8601 (PT2H) or HH:MM:SS. Jobs that would not finish in time are not claimed.")
@click.option("--end-time", help="Clock time (ISO-8601) when this worker must be done.")
@click.option("--skip-checks", is_flag=True, help="Start even if input files that no job produces are missing.")
@click.option("--standalone", is_flag=True, help="Start a private torc server on --database for this run.")
@click.option("--database", default="torc.db", show_default=True, help="SQLite file of the --standalone server.")
@click.option("--remote", is_flag=True, hidden=True, help="Register as a remote (SSH) worker; set by torc remote run.")
@pass_state
def run(state: CliState, spec_or_id, time_limit, end_time, skip_checks, standalone, database, remote, **worker):
    """Run the jobs of a workflow (a SPEC file or a workflow ID) on this machine."""
    config = runner_config(**worker, end_time=_end_time(time_limit, end_time))
    server = None
    if standalone:
        from torc.api.launcher import ServerProcess

        server = ServerProcess(database).start()
        state.use_url(server.api_url)
        click.echo(f"Started a torc server for this run at {server.api_url} (database {database})", err=True)
    try:
        workflow_id = _workflow_id(state, spec_or_id, skip_checks)
        log_path = log_to_file(config.output_dir, workflow_id)
        stats = JobRunner(state.api, workflow_id, config, RemoteEnvironment() if remote else None).run()
        summary = {"workflow_id": workflow_id, **stats, "log": str(log_path)}
        state.object(summary, f"Workflow {workflow_id}: " + ", ".join(f"{n} {k}" for k, n in stats.items() if n) + f" (log: {log_path})")
    finally:
        if server is not None:
            state.close()
            server.stop()
