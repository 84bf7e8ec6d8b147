"""Initializing a workflow: check that its input files exist, record file mtimes, place the jobs."""

import os

from torc.client import TorcApi
from torc.openapi_client.models import CreateWorkflowFromSpecResponse, FileModel, InitializeJobsResponse
from torc.spec import ExpandedWorkflow
from torc.workflow_ops.errors import WorkflowOpsError
from torc.workflow_ops.files_on_disk import current_mtime, path_mtime, record_start_of_run
from torc.workflow_ops.spec_creation import spec_records

#: How many missing files an error message names before it says "and N more".
NAMED_IN_ERRORS = 5


def missing_required_files(api: TorcApi, workflow_id: int, base_dir: str | os.PathLike | None = None) -> list[FileModel]:
    """Files some job reads and no job writes that do not exist (yet) under ``base_dir``."""
    required = set(api.workflows.list_required_existing_files(workflow_id).files)
    if not required:
        return []
    return [f for f in api.iter_files(workflow_id) if f.id in required and current_mtime(f, base_dir) is None]


def initialize_workflow(
    api: TorcApi,
    workflow_id: int,
    *,
    ignore_missing_data: bool = False,
    base_dir: str | os.PathLike | None = None,
) -> InitializeJobsResponse:
    """Start a (new) run of every job: ready if nothing blocks it, blocked otherwise.

    Refuses while an input that no job produces is missing (the jobs reading it would fail), unless
    ``ignore_missing_data``. Records the inputs' current mtimes first, so that a later
    reinitialization can tell which inputs changed since this run started.
    """
    missing = missing_required_files(api, workflow_id, base_dir)
    if missing and not ignore_missing_data:
        _refuse_missing(f"workflow {workflow_id}", [f.path for f in missing], base_dir)
    record_start_of_run(api, workflow_id, base_dir)
    return api.workflows.initialize_jobs(workflow_id)


def create_and_initialize_workflow(
    api: TorcApi,
    expanded: ExpandedWorkflow,
    *,
    ignore_missing_data: bool = False,
    base_dir: str | os.PathLike | None = None,
) -> CreateWorkflowFromSpecResponse:
    """``create_workflow_from_spec`` then ``initialize_workflow``, with one request for both: the
    server writes each job once, already ready or blocked (for 100,000 jobs, a second less than
    placing them afterwards). The missing-input check reads the spec, before anything is created."""
    produced = {name for job in expanded.jobs for name in job["output_files"]}
    read = {name for job in expanded.jobs for name in job["input_files"]} - produced
    missing = [f["path"] for f in expanded.files if f["name"] in read and path_mtime(f["path"], base_dir) is None]
    if missing and not ignore_missing_data:
        _refuse_missing(f"workflow {expanded.workflow['name']!r}", missing, base_dir)
    created = api.create_workflow_from_records(spec_records(expanded), initialize=True)
    record_start_of_run(api, created.workflow.id, base_dir)
    return created


def _refuse_missing(workflow: str, paths: list[str], base_dir: str | os.PathLike | None) -> None:
    names = ", ".join(paths[:NAMED_IN_ERRORS])
    more = f" and {len(paths) - NAMED_IN_ERRORS} more" if len(paths) > NAMED_IN_ERRORS else ""
    raise WorkflowOpsError(
        f"{workflow}: missing input files that no job produces: {names}{more} "
        f"(paths are relative to {os.path.abspath(base_dir or '.')}; create them or pass --ignore-missing-data)"
    )
