# flake8: noqa

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

