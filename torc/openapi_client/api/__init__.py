# flake8: noqa

__all__ = [
    "AccessControlApi",
    "ComputeNodesApi",
    "EventsApi",
    "FailureHandlersApi",
    "FilesApi",
    "JobsApi",
    "LocalSchedulersApi",
    "RemoteWorkersApi",
    "ResourceRequirementsApi",
    "ResultsApi",
    "ScheduledComputeNodesApi",
    "SlurmSchedulersApi",
    "SystemApi",
    "UserDataApi",
    "WorkflowActionsApi",
    "WorkflowsApi",
]

import typing as _typing

if _typing.TYPE_CHECKING:
    # import apis into api package
    from torc.openapi_client.api.access_control_api import AccessControlApi
    from torc.openapi_client.api.compute_nodes_api import ComputeNodesApi
    from torc.openapi_client.api.events_api import EventsApi
    from torc.openapi_client.api.failure_handlers_api import FailureHandlersApi
    from torc.openapi_client.api.files_api import FilesApi
    from torc.openapi_client.api.jobs_api import JobsApi
    from torc.openapi_client.api.local_schedulers_api import LocalSchedulersApi
    from torc.openapi_client.api.remote_workers_api import RemoteWorkersApi
    from torc.openapi_client.api.resource_requirements_api import ResourceRequirementsApi
    from torc.openapi_client.api.results_api import ResultsApi
    from torc.openapi_client.api.scheduled_compute_nodes_api import ScheduledComputeNodesApi
    from torc.openapi_client.api.slurm_schedulers_api import SlurmSchedulersApi
    from torc.openapi_client.api.system_api import SystemApi
    from torc.openapi_client.api.user_data_api import UserDataApi
    from torc.openapi_client.api.workflow_actions_api import WorkflowActionsApi
    from torc.openapi_client.api.workflows_api import WorkflowsApi
    
else:
    from importlib import import_module

    _exports = {
        "AccessControlApi": ".access_control_api",
        "ComputeNodesApi": ".compute_nodes_api",
        "EventsApi": ".events_api",
        "FailureHandlersApi": ".failure_handlers_api",
        "FilesApi": ".files_api",
        "JobsApi": ".jobs_api",
        "LocalSchedulersApi": ".local_schedulers_api",
        "RemoteWorkersApi": ".remote_workers_api",
        "ResourceRequirementsApi": ".resource_requirements_api",
        "ResultsApi": ".results_api",
        "ScheduledComputeNodesApi": ".scheduled_compute_nodes_api",
        "SlurmSchedulersApi": ".slurm_schedulers_api",
        "SystemApi": ".system_api",
        "UserDataApi": ".user_data_api",
        "WorkflowActionsApi": ".workflow_actions_api",
        "WorkflowsApi": ".workflows_api",
    }

    def __getattr__(name: str) -> object:
        if (module_name := _exports.get(name)) is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module_name, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(globals().keys() | _exports.keys())
