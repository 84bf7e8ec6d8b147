"""The error of workflow operations that the user can fix (missing inputs, running jobs...)."""


class WorkflowOpsError(Exception):
    """A workflow operation was refused; the message says why and what to do."""
