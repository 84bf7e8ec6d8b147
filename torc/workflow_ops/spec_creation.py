"""Creating a workflow from an expanded spec with one ``create_workflow_from_spec`` request.

The server creates every record in one transaction, so a rejected spec leaves nothing behind and
no client-side rollback is needed (upstream creates records one kind at a time and deletes the
workflow on error).
"""

from torc.client import TorcApi
from torc.openapi_client.models import CreateWorkflowFromSpecResponse
from torc.spec import ExpandedWorkflow


def spec_records(expanded: ExpandedWorkflow, user: str | None = None) -> dict:
    """The request body for an expanded spec; ``user`` overrides the spec's (or ``$USER``)."""
    data = expanded.to_dict()
    if user:
        data["workflow"]["user"] = user
    return data


def create_workflow_from_spec(
    api: TorcApi, expanded: ExpandedWorkflow, user: str | None = None
) -> CreateWorkflowFromSpecResponse:
    """Create the workflow with all its jobs, files, user data...; returns it with record counts."""
    return api.create_workflow_from_records(spec_records(expanded, user))
