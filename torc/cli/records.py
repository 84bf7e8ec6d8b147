"""``torc results|events|files|user-data list WORKFLOW_ID``: the records a workflow accumulates.

Each group has a ``list`` command (more verbs can join the groups later); all of them go through
``listing.show_list`` and differ only in their filters and columns.
"""

import click

from torc.cli.context import ID, CliState, pass_state
from torc.cli.listing import page_options, show_list
from torc.cli.output import columns, iso_from_ms

workflow_id_argument = click.argument("workflow_id", type=ID)

RESULT_COLUMNS = columns(
    "id", "job_id", "run_id", "attempt_id", "status", "return_code", "exec_time_minutes", "completion_time", "message"
)
EVENT_COLUMNS = columns(
    "id",
    ("time (UTC)", lambda event: iso_from_ms(event["timestamp"])),
    ("category", lambda event: event["data"].get("category")),
    ("message", lambda event: event["data"].get("message")),
)
FILE_COLUMNS = columns("id", "name", "path", "st_mtime")
USER_DATA_COLUMNS = columns("id", "name", "is_ephemeral", "data")


@click.group()
def results():
    """Job results (return codes, run times) of a workflow."""


@results.command(name="list")
@workflow_id_argument
@click.option("--job-id", type=ID, help="Only results of this job.")
@click.option("--all-runs", is_flag=True, help="Every attempt of every run, not only each job's latest result.")
@page_options
@pass_state
def list_results(state: CliState, workflow_id: int, job_id: int | None, all_runs: bool, limit: int | None, offset: int):
    """List results of a workflow."""
    show_list(
        state, state.api.results.list_results, workflow_id,
        cols=RESULT_COLUMNS, limit=limit, offset=offset, job_id=job_id, all_runs=all_runs,
    )


@click.group()
def events():
    """Events recorded for a workflow (starts, completions, cancellations...)."""


@events.command(name="list")
@workflow_id_argument
@click.option("--category", help="Only events of this category (e.g. workflow_started, job_retried).")
@click.option("--after-timestamp", type=int, help="Only events after this time (milliseconds since the epoch).")
@page_options
@pass_state
def list_events(state: CliState, workflow_id: int, category: str | None, after_timestamp: int | None, limit: int | None, offset: int):
    """List events of a workflow."""
    show_list(
        state, state.api.events.list_events, workflow_id,
        cols=EVENT_COLUMNS, limit=limit, offset=offset, category=category, after_timestamp=after_timestamp,
    )


@click.group()
def files():
    """Files that jobs of a workflow read and write."""


@files.command(name="list")
@workflow_id_argument
@page_options
@pass_state
def list_files(state: CliState, workflow_id: int, limit: int | None, offset: int):
    """List files of a workflow (st_mtime: modification time torc last recorded)."""
    show_list(state, state.api.files.list_files, workflow_id, cols=FILE_COLUMNS, limit=limit, offset=offset)


@click.group(name="user-data")
def user_data():
    """User data (JSON documents) that jobs of a workflow read and write."""


@user_data.command(name="list")
@workflow_id_argument
@page_options
@pass_state
def list_user_data(state: CliState, workflow_id: int, limit: int | None, offset: int):
    """List user data of a workflow."""
    show_list(state, state.api.user_data.list_user_data, workflow_id, cols=USER_DATA_COLUMNS, limit=limit, offset=offset)
