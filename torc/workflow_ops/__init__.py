"""Client-side workflow operations that take more than one API call.

Shared by the CLI and by anything else that drives a workflow (``torc run``, Slurm submission):

* :func:`create_workflow_from_spec`: an expanded spec (``torc.spec``) → a new workflow, in one request;
* :func:`initialize_workflow`: check required input files, record file mtimes, place every job;
* :func:`create_and_initialize_workflow`: both of the above, creation and placement in one request;
* :func:`plan_reinitialize` / :func:`reinitialize_workflow`: rerun only what changed since the
  last run (modified inputs, missing outputs, changed commands) and everything downstream;
* :func:`reset_workflow`: put failed (or all) jobs back to uninitialized, optionally reinitializing.

File paths of a workflow are relative to ``base_dir`` (default: the current directory), where the
jobs run. Errors a user can fix are :class:`WorkflowOpsError`; server errors stay the client's.
"""

from torc.workflow_ops.errors import WorkflowOpsError
from torc.workflow_ops.initialize import create_and_initialize_workflow, initialize_workflow, missing_required_files
from torc.workflow_ops.reinitialize import (
    ReinitializePlan,
    ReinitializeResult,
    plan_reinitialize,
    reinitialize_workflow,
    reset_workflow,
)
from torc.workflow_ops.spec_creation import create_workflow_from_spec, spec_records

__all__ = [
    "ReinitializePlan",
    "ReinitializeResult",
    "WorkflowOpsError",
    "create_and_initialize_workflow",
    "create_workflow_from_spec",
    "initialize_workflow",
    "missing_required_files",
    "plan_reinitialize",
    "reinitialize_workflow",
    "reset_workflow",
    "spec_records",
]
