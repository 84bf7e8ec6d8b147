"""``torc workflows ...``: create workflows from specs, inspect them, and drive their runs."""

import click

from torc import workflow_ops
from torc.cli.context import ID, CliState, pass_state
from torc.cli.listing import page_options, show_list
from torc.cli.output import TerminalProgress, columns, record_of, render_fields, render_table
from torc.spec import ExpandedWorkflow, load_workflow_spec
from torc.spec.graph import implicit_upstreams
from torc.status import LABELS

WORKFLOW_COLUMNS = columns("id", "name", "user", "description", "timestamp")
FILE_UPDATE_COLUMNS = columns("path", "change")
#: File changes that make jobs rerun (the others only update records; JSON shows them all).
SHOWN_FILE_CHANGES = {"modified", "appeared", "missing"}

workflow_id_argument = click.argument("workflow_id", metavar="WORKFLOW_ID", type=ID)
force_option = click.option("--force", is_flag=True, help="Proceed even while jobs are pending or running.")


@click.group()
def workflows():
    """Create, inspect and run workflows."""


@workflows.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate and summarize the spec; create nothing (no server needed).")
@click.option("--user", help="Owner of the new workflow (default: the spec's user, else $USER).")
@pass_state
def create(state: CliState, spec: str, dry_run: bool, user: str | None):
    """Create a workflow from a SPEC file (.yaml, .yml, .json, .json5 or .kdl).

    On a terminal, stderr shows the progress: jobs expanded and resolved, bytes uploaded, and the
    time the server takes to create them (one transaction: all of them or none).
    """
    progress = TerminalProgress()
    with progress.running():
        expanded = load_workflow_spec(spec, progress=progress.update if progress.enabled else None)
    if dry_run:
        state.object(dry_run_summary(expanded, user))
        return
    count = f"{len(expanded.jobs):,} jobs"
    with progress.step(f"Preparing {count}"):
        records = workflow_ops.spec_records(expanded, user)
    created = _upload(state, records, progress, count)
    workflow = created.workflow
    record = {
        "workflow_id": workflow.id,
        "name": workflow.name,
        "user": workflow.user,
        "num_jobs": created.num_jobs,
        "num_dependencies": created.num_dependencies,
        "num_files": created.num_files,
        "num_user_data": created.num_user_data,
    }
    state.object(record, f"Created workflow {workflow.id} ({workflow.name}) with {created.num_jobs} jobs")


def _upload(state: CliState, records: dict, progress: TerminalProgress, count: str):
    """Send the records (a bar of bytes sent), then wait for the server (ticking seconds)."""
    if not progress.enabled:
        return state.api.create_workflow_from_records(records)
    def uploaded(sent: int, total: int) -> None:
        progress.update(f"uploading {total / 1e6:,.1f} MB to {state.url}", sent, total)
        if sent == total:
            progress.update(f"creating {count} on the server", 0, 0)

    with progress.running():
        return state.api.create_workflow_from_records(records, on_upload=uploaded)


def dry_run_summary(expanded: ExpandedWorkflow, user: str | None) -> dict:
    """What ``create`` would create: record counts, with the job→job edges that files and user
    data imply (a reader waits for the writer) counted apart from the explicit ``depends_on`` ones."""
    stats = expanded.stats()
    return {
        "dry_run": True,
        "name": expanded.workflow["name"],
        "user": user or expanded.workflow["user"],
        "jobs": stats.pop("jobs"),
        "explicit_edges": stats.pop("explicit_edges"),
        "implicit_edges": sum(map(len, implicit_upstreams(expanded.jobs).values())),
        **stats,
    }


@workflows.command(name="list")
@click.option("--user", help="Only workflows of this user.")
@click.option("--archived", "archived", flag_value="only", help="Only archived workflows.")
@click.option("--all", "archived", flag_value="all", help="Archived and active workflows.")
@page_options
@pass_state
def list_workflows(state: CliState, user: str | None, archived: str | None, limit: int | None, offset: int):
    """List workflows (archived ones are hidden unless asked for)."""
    is_archived = {None: False, "only": True, "all": None}[archived]
    show_list(state, state.api.workflows.list_workflows, cols=WORKFLOW_COLUMNS, limit=limit, offset=offset, user=user, is_archived=is_archived)


@workflows.command()
@workflow_id_argument
@pass_state
def get(state: CliState, workflow_id: int):
    """Show one workflow."""
    state.object(record_of(state.api.workflows.get_workflow(workflow_id)))


@workflows.command()
@workflow_id_argument
@pass_state
def status(state: CliState, workflow_id: int):
    """Show the run status: run id, canceled/complete flags, and how many jobs are in each status."""
    api = state.api
    run = api.workflows.get_workflow_status(workflow_id)
    completion = api.workflows.is_workflow_complete(workflow_id)
    counts = {label: api.jobs.list_jobs(workflow_id, status=label, limit=0).total_count for label in LABELS}
    record = {
        "workflow_id": workflow_id,
        "run_id": run.run_id,
        "is_canceled": run.is_canceled,
        "is_archived": bool(run.is_archived),
        "is_complete": completion.is_complete,
        "num_jobs": sum(counts.values()),
        "job_counts": counts,
    }
    if state.json:
        state.object(record)
        return
    flags = {key: value for key, value in record.items() if key != "job_counts"}
    rows = [{"status": label, "jobs": n} for label, n in counts.items() if n]
    click.echo(render_fields(flags))
    if rows:
        click.echo()
        click.echo(render_table(rows, columns("status", "jobs")))


@workflows.command()
@workflow_id_argument
@click.option("--ignore-missing-data", is_flag=True, help="Initialize even if input files no job produces are missing.")
@pass_state
def initialize(state: CliState, workflow_id: int, ignore_missing_data: bool):
    """Start a run: record input file times and make jobs ready or blocked.

    File paths are relative to the current directory.
    """
    placed = workflow_ops.initialize_workflow(state.api, workflow_id, ignore_missing_data=ignore_missing_data)
    state.object(record_of(placed), f"Initialized workflow {workflow_id}: {placed.num_ready} jobs ready, {placed.num_canceled} canceled")


@workflows.command()
@workflow_id_argument
@pass_state
def cancel(state: CliState, workflow_id: int):
    """Cancel a workflow: waiting jobs are canceled now, running ones by their workers."""
    canceled = state.api.workflows.cancel_workflow(workflow_id)
    state.object(record_of(canceled), f"Canceled workflow {workflow_id}: {canceled.num_canceled_jobs} waiting jobs canceled")


@workflows.command(name="reset-status")
@workflow_id_argument
@click.option("--failed-only", is_flag=True, help="Reset only failed, canceled and terminated jobs (and their dependents).")
@click.option("-r", "--reinitialize", is_flag=True, help="Start a new run right away (see 'reinitialize').")
@force_option
@pass_state
def reset_status(state: CliState, workflow_id: int, failed_only: bool, reinitialize: bool, force: bool):
    """Clear the canceled flag and put jobs back to uninitialized."""
    summary = workflow_ops.reset_workflow(state.api, workflow_id, failed_only=failed_only, reinitialize=reinitialize, force=force)
    if state.json:
        state.object(summary)
        return
    click.echo(f"Reset {summary['num_reset_jobs']} jobs of workflow {workflow_id} to uninitialized")
    if summary["reinitialized"]:
        _echo_reinitialized(summary["reinitialized"])


@workflows.command()
@workflow_id_argument
@click.option("--dry-run", is_flag=True, help="Show what would rerun; change nothing.")
@force_option
@pass_state
def reinitialize(state: CliState, workflow_id: int, dry_run: bool, force: bool):
    """Start a new run that reruns only what changed.

    Jobs whose input files changed (by modification time), completed jobs whose output files are
    missing, jobs whose command or inputs changed, and everything downstream of them. File paths
    are relative to the current directory.
    """
    result = workflow_ops.reinitialize_workflow(state.api, workflow_id, dry_run=dry_run, force=force)
    for warning in result.plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if state.json:
        state.object(result.to_dict())
    else:
        _echo_reinitialized(result.to_dict())


def _echo_reinitialized(outcome: dict) -> None:
    """Table rendering of ``ReinitializeResult.to_dict()``."""
    changed = [f for f in outcome["files"] if f["change"] in SHOWN_FILE_CHANGES]
    if changed:
        click.echo(render_table(changed, FILE_UPDATE_COLUMNS))
        click.echo()
    if outcome["dry_run"]:
        click.echo(f"Workflow {outcome['workflow_id']} would rerun {len(outcome['jobs'])} jobs (dry run, nothing changed)")
        status_header = "status"
    else:
        click.echo(f"Workflow {outcome['workflow_id']} started run {outcome['run_id']}: {len(outcome['jobs'])} jobs to run")
        status_header = "previous status"
    if outcome["jobs"]:
        click.echo(render_table(outcome["jobs"], columns("id", "name", (status_header, "status"), "reason")))


@workflows.command()
@click.argument("workflow_ids", metavar="WORKFLOW_ID...", type=ID, nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete(state: CliState, workflow_ids: tuple[int, ...], yes: bool):
    """Delete workflows with all their jobs, files, results and events."""
    for workflow_id in workflow_ids:  # all must exist before any is deleted
        state.api.workflows.get_workflow(workflow_id)
    listed = ", ".join(map(str, workflow_ids))
    if not yes:
        click.confirm(f"Delete workflow(s) {listed} and everything they own?", abort=True, err=True)
    deleted = [record_of(state.api.workflows.delete_workflow(workflow_id)) for workflow_id in workflow_ids]
    if state.json:
        state.records(deleted, WORKFLOW_COLUMNS)
    else:
        click.echo(f"Deleted workflow(s) {listed}")


@workflows.command(name="sync-status")
@workflow_id_argument
@click.option("--dry-run", is_flag=True, help="Report lost workers and their jobs; change nothing.")
@pass_state
def sync_status(state: CliState, workflow_id: int, dry_run: bool):
    """Recover the jobs of workers that stopped reporting (requeue them or mark them failed)."""
    synced = record_of(state.api.workflows.sync_workflow_status(workflow_id, dry_run=dry_run))
    heading = "Dry run, nothing changed:\n" if dry_run else ""
    state.object(synced, heading + render_fields(synced))
