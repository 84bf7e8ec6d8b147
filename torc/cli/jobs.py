"""``torc jobs ...``: the jobs of a workflow."""

import click

from torc.cli.context import ID, CliState, pass_state
from torc.cli.listing import page_options, show_list
from torc.cli.output import columns, record_of
from torc.status import LABELS

JOB_COLUMNS = columns("id", "name", "status", "attempt_id", "command")


@click.group()
def jobs():
    """List and inspect jobs."""


@jobs.command(name="list")
@click.argument("workflow_id", type=ID)
@click.option("--status", type=click.Choice(LABELS), help="Only jobs in this status.")
@page_options
@pass_state
def list_jobs(state: CliState, workflow_id: int, status: str | None, limit: int | None, offset: int):
    """List the jobs of a workflow."""
    show_list(state, state.api.jobs.list_jobs, workflow_id, cols=JOB_COLUMNS, limit=limit, offset=offset, status=status)


@jobs.command()
@click.argument("job_id", type=ID)
@pass_state
def get(state: CliState, job_id: int):
    """Show one job, with the ids of its dependencies, files and user data."""
    state.object(record_of(state.api.jobs.get_job(job_id)))
