"""``torc remote ...``: workers on SSH hosts (workstations, cloud VMs) without a scheduler.

* ``add-workers``/``add-workers-from-file``/``list-workers``/``remove-worker``: the workflow's
  hosts, stored on the server;
* ``run``: start a detached ``torc run`` worker on every host;
* ``status``/``stop``/``collect-logs``/``delete-logs``: those workers and their output directories.

The host commands print one row per host; a host that fails is listed with its error (also on
stderr, in full) and the others carry on; the command then exits with 1. See
``docs/remote-workers.md``.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import click

from torc.cli.context import ID, CliState, pass_state
from torc.cli.errors import CommandFailed
from torc.cli.output import columns
from torc.cli.run import initialize_if_needed, worker_options
from torc.remote.fanout import DEFAULT_MAX_CONNECTIONS, for_each_host
from torc.remote.hosts import WorkerAddress, parse_worker, read_worker_file, reject_duplicates
from torc.remote.ssh import SshSettings
from torc.remote.workers import RemoteWorkers, WorkerLaunch

workflow_id_argument = click.argument("workflow_id", metavar="WORKFLOW_ID", type=ID)

output_dir_option = click.option(
    "-o", "--output-dir", default="torc_output", show_default=True,
    help="The workers' output directory on the hosts, as given to 'remote run' (relative: to the login directory).",
)


def ssh_options(command):
    """How to reach the hosts; the command receives ``ssh`` (SshSettings) and ``max_connections``."""

    @functools.wraps(command)
    def wrapper(*args, ssh_config, accept_new_host_keys, connect_timeout, **kwargs):
        settings = SshSettings(config_file=ssh_config, accept_new_host_keys=accept_new_host_keys, connect_timeout=connect_timeout)
        return command(*args, ssh=settings, **kwargs)

    options = [
        click.option("-F", "--ssh-config", envvar="TORC_SSH_CONFIG", type=click.Path(dir_okay=False),
                     help="ssh_config file to use instead of ~/.ssh/config, like ssh -F (env TORC_SSH_CONFIG)."),
        click.option("--accept-new-host-keys", is_flag=True,
                     help="Accept and record the keys of hosts not yet in known_hosts (StrictHostKeyChecking=accept-new); changed keys are still refused."),
        click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True),
                     help="Seconds to connect and log in to a host (default: the ssh config's ConnectTimeout, else 10)."),
        click.option("--max-connections", default=DEFAULT_MAX_CONNECTIONS, show_default=True, type=click.IntRange(1),
                     help="Hosts contacted at once."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


@click.group()
def remote():
    """Run workflow jobs on SSH hosts: workers started over SSH share the work through the server."""


# ---------------------------------------------------------------------- the workflow's hosts


def stored_workers(state: CliState, workflow_id: int) -> list[str]:
    return [w.worker for w in state.api.remote_workers.list_remote_workers(workflow_id)]


def add_workers(state: CliState, workflow_id: int, entries: list[tuple[str, WorkerAddress]]) -> dict:
    """Store the new addresses; ones already stored (same spelling) are left alone, and another
    spelling of a stored host and port is a duplicate."""
    stored = stored_workers(state, workflow_id)
    new = [(description, address) for description, address in entries if str(address) not in stored]
    known = [(f"{w} (already a worker of workflow {workflow_id})", parse_worker(w)) for w in stored]
    reject_duplicates(known + new)
    if new:
        state.api.remote_workers.create_remote_workers(workflow_id, [str(address) for _, address in new])
    added = [str(address) for _, address in new]
    return {"workflow_id": workflow_id, "added": added, "workers": stored_workers(state, workflow_id)}


def _show_added(state: CliState, result: dict) -> None:
    added, total = result["added"], len(result["workers"])
    summary = (f"Added {len(added)} worker(s) to workflow {result['workflow_id']}: {', '.join(added)} ({total} in all)"
               if added else f"No new workers: workflow {result['workflow_id']} already has them ({total} in all)")
    state.object(result, summary)


@remote.command("add-workers")
@workflow_id_argument
@click.argument("workers", metavar="WORKER...", nargs=-1, required=True)
@pass_state
def add_workers_command(state: CliState, workflow_id, workers):
    """Add hosts ([user@]host[:port], IPv6 as [addr]:port) to the workflow's remote workers."""
    _show_added(state, add_workers(state, workflow_id, [(text, parse_worker(text)) for text in workers]))


@remote.command("add-workers-from-file")
@workflow_id_argument
@click.argument("worker_file", type=click.Path(dir_okay=False))
@pass_state
def add_workers_from_file(state: CliState, workflow_id, worker_file):
    """Add the hosts of a worker file: one [user@]host[:port] per line, # comments."""
    addresses = read_worker_file(worker_file)
    _show_added(state, add_workers(state, workflow_id, [(f"{a} ({worker_file})", a) for a in addresses]))


@remote.command("list-workers")
@workflow_id_argument
@pass_state
def list_workers(state: CliState, workflow_id):
    """The workflow's remote workers."""
    state.records([{"worker": w, "workflow_id": workflow_id} for w in stored_workers(state, workflow_id)], columns("worker"))


@remote.command("remove-worker")
@workflow_id_argument
@click.argument("worker")
@pass_state
def remove_worker(state: CliState, workflow_id, worker):
    """Remove a host from the workflow's remote workers (its worker, if running, is not stopped)."""
    removed = state.api.remote_workers.delete_remote_worker(workflow_id, str(parse_worker(worker)))
    state.object({"workflow_id": workflow_id, "worker": removed.worker}, f"Removed worker {removed.worker} from workflow {workflow_id}")


# ---------------------------------------------------------------------- operations on every host


def _on_every_host(state: CliState, workflow_id: int, operation: Callable[[WorkerAddress], dict], max_connections: int,
                   cols: list, what: str) -> None:
    """Run ``operation`` on every host of the workflow and print one row per host; exit 1 if any failed."""
    addresses = [parse_worker(w) for w in stored_workers(state, workflow_id)]
    if not addresses:
        raise CommandFailed(f"workflow {workflow_id} has no remote workers: add them with 'torc remote add-workers {workflow_id} HOST...'")
    results = for_each_host(addresses, operation, max_connections)
    table = columns("worker", *cols)
    # Every row has the same keys (JSON scripts rely on them), failed hosts' values are null.
    keys = dict.fromkeys([c.value for c in table if isinstance(c.value, str)] + [k for r in results if r.ok for k in r.value])
    state.records([{**keys, "worker": str(r.host), **(r.value or {"state": "failed"}), "error": r.error} for r in results], table)
    failed = [r for r in results if not r.ok]
    for result in failed:
        click.echo(f"{result.host}: {result.error}", err=True)
    if failed:
        names = ", ".join(str(r.host) for r in failed)
        raise CommandFailed(f"{what} failed on {len(failed)} of {len(results)} workers: {names}")


def _run_arguments(worker: dict) -> list[str]:
    """The worker options of this ``remote run`` as options of the remote ``torc run``."""
    params = {param.name: param for param in click.get_current_context().command.params}
    args = []
    for name, value in worker.items():
        option = params[name]
        flag = max(option.opts, key=len)
        if option.is_flag:
            args += [flag] if value else []
        elif value is not None:
            args += [flag, str(value)]
    return args


@remote.command("run")
@workflow_id_argument
@click.option("--workers", "workers_file", type=click.Path(dir_okay=False), help="Worker file whose hosts are added to the workflow first.")
@worker_options
@click.option("--torc-command", envvar="TORC_REMOTE_COMMAND", default="torc", show_default=True,
              help="The torc executable on the hosts, e.g. /opt/venv/bin/torc (env TORC_REMOTE_COMMAND).")
@click.option("--worker-url", help="URL the workers use to reach the server (default: --url; must work from the hosts).")
@click.option("--skip-version-check", is_flag=True, help="Do not check that the hosts run a compatible torc version.")
@click.option("--startup-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds a started worker has to register with the server.")
@ssh_options
@pass_state
def run(state: CliState, workflow_id, workers_file, torc_command, worker_url, skip_version_check, startup_timeout, ssh,
        max_connections, **worker):
    """Start a detached worker on every remote host of the workflow, and check that each one runs."""
    if workers_file:
        addresses = read_worker_file(workers_file)
        add_workers(state, workflow_id, [(f"{a} ({workers_file})", a) for a in addresses])
    initialize_if_needed(state, workflow_id)
    done = state.api.workflows.is_workflow_complete(workflow_id)
    if done.is_complete or done.is_canceled:
        raise CommandFailed(f"workflow {workflow_id} is {'canceled' if done.is_canceled else 'complete'}: nothing to run "
                            "(torc workflows reset-status starts it again)")
    try:
        command = shlex.split(torc_command)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--torc-command") from None
    launch = WorkerLaunch(
        url=worker_url or state.url,
        torc_command=command,
        run_args=_run_arguments(worker),
        global_args=["--skip-version-check"] if state.skip_version_check else [],
        check_version=not skip_version_check,
        startup_timeout=startup_timeout,
        password=os.environ.get("TORC_PASSWORD"),
    )
    workers = RemoteWorkers(workflow_id, worker["output_dir"], ssh)
    cols = ["state", "pid", "hostname", ("compute_node", "compute_node_id"), "log"]
    _on_every_host(state, workflow_id, lambda address: workers.start(address, launch, state.api), max_connections, cols, "starting workers")


@remote.command()
@workflow_id_argument
@output_dir_option
@ssh_options
@pass_state
def status(state: CliState, workflow_id, output_dir, ssh, max_connections):
    """Whether the worker on each host is alive (from its pid file)."""
    workers = RemoteWorkers(workflow_id, output_dir, ssh)
    _on_every_host(state, workflow_id, workers.status, max_connections, ["state", "pid", "log"], "status")


@remote.command()
@workflow_id_argument
@output_dir_option
@click.option("--force", is_flag=True, help="SIGKILL instead of SIGTERM: the worker ends at once, its jobs are requeued when its lease expires.")
@click.option("--wait", "wait_seconds", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait for each worker to exit (0: do not wait).")
@ssh_options
@pass_state
def stop(state: CliState, workflow_id, output_dir, force, wait_seconds, ssh, max_connections):
    """Stop the workers: SIGTERM, so that their running jobs end as terminated."""
    workers = RemoteWorkers(workflow_id, output_dir, ssh)
    _on_every_host(state, workflow_id, lambda address: workers.stop(address, force, wait_seconds), max_connections,
                   ["state", "signal", "pid"], "stopping workers")


@remote.command("collect-logs")
@workflow_id_argument
@output_dir_option
@click.option("-l", "--local-dir", default="remote_logs", show_default=True, type=click.Path(file_okay=False),
              help="Where to put the logs: one folder per host.")
@click.option("--delete", is_flag=True, help="Delete each host's output directory once its logs are here.")
@ssh_options
@pass_state
def collect_logs(state: CliState, workflow_id, output_dir, local_dir, delete, ssh, max_connections):
    """Download every host's output directory (worker logs, job output) over SFTP."""
    workers = RemoteWorkers(workflow_id, output_dir, ssh)
    _on_every_host(state, workflow_id, lambda address: workers.collect_logs(address, Path(local_dir), delete), max_connections,
                   ["state", "files", "bytes", "local_dir", "deleted"], "collecting logs")


@remote.command("delete-logs")
@workflow_id_argument
@output_dir_option
@ssh_options
@pass_state
def delete_logs(state: CliState, workflow_id, output_dir, ssh, max_connections):
    """Delete the output directory on every host (refused on a host whose worker still runs)."""
    workers = RemoteWorkers(workflow_id, output_dir, ssh)
    _on_every_host(state, workflow_id, workers.delete_logs, max_connections, ["state", "output_dir"], "deleting logs")
