"""``TorcApi``: the generated API classes on one retrying, version-checked client, plus helpers."""

import getpass
import inspect
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import urllib3

import torc.openapi_client.api as generated_apis
from torc import __version__ as torc_version
from torc.api_version import API_VERSION
from torc.client.config import load_client_settings
from torc.client.transport import RetryPolicy, StreamedBody, TorcApiClient
from torc.openapi_client.configuration import Configuration
from torc.openapi_client.exceptions import ApiException
from torc.openapi_client.models import ClaimActionRequest, CreateWorkflowFromSpecResponse, JobModel, JobsModel

if TYPE_CHECKING:  # imported on first use (see TorcApi): most commands need a few of them
    from torc.openapi_client.api import (
        AccessControlApi,
        ComputeNodesApi,
        EventsApi,
        FailureHandlersApi,
        FilesApi,
        JobsApi,
        LocalSchedulersApi,
        RemoteWorkersApi,
        ResourceRequirementsApi,
        ResultsApi,
        ScheduledComputeNodesApi,
        SlurmSchedulersApi,
        SystemApi,
        UserDataApi,
        WorkflowActionsApi,
        WorkflowsApi,
    )

#: The server caps a page at this many records.
MAX_PAGE_SIZE = 10_000


def api_attribute_name(class_name: str) -> str:
    """``WorkflowsApi`` → ``workflows``, ``AccessControlApi`` → ``access_control`` (the tag name)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name.removesuffix("Api")).lower()


#: Attribute name → name of the generated API class, one per OpenAPI tag (nothing imported yet).
API_CLASS_NAMES = {api_attribute_name(name): name for name in generated_apis.__all__ if name.endswith("Api")}


def generated_api_classes() -> dict[str, type]:
    """Attribute name → generated API class, one per OpenAPI tag (imports every one)."""
    return {attribute: getattr(generated_apis, name) for attribute, name in API_CLASS_NAMES.items()}


class TorcApi:
    """One connection to a torc server: ``api.workflows.get_workflow(1)``, ``api.jobs.list_jobs(...)``.

    Each generated API class (one per OpenAPI tag) is an attribute named after its tag. They share
    one ``TorcApiClient`` (retries, version check). An attribute is made on first use: importing
    every generated API module costs most of a second (pydantic builds each method's validator),
    which a worker or a short CLI command would pay for modules it never calls. The annotations
    below are for readers and editors; a test checks that they agree with the generated classes.
    """

    access_control: "AccessControlApi"
    compute_nodes: "ComputeNodesApi"
    events: "EventsApi"
    failure_handlers: "FailureHandlersApi"
    files: "FilesApi"
    jobs: "JobsApi"
    local_schedulers: "LocalSchedulersApi"
    remote_workers: "RemoteWorkersApi"
    resource_requirements: "ResourceRequirementsApi"
    results: "ResultsApi"
    scheduled_compute_nodes: "ScheduledComputeNodesApi"
    slurm_schedulers: "SlurmSchedulersApi"
    system: "SystemApi"
    user_data: "UserDataApi"
    workflow_actions: "WorkflowActionsApi"
    workflows: "WorkflowsApi"

    def __init__(self, api_client: TorcApiClient):
        self.api_client = api_client

    def __getattr__(self, name: str):
        """Make the generated API object of tag ``name`` on first use (then it is a plain attribute)."""
        class_name = API_CLASS_NAMES.get(name)
        if class_name is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        api = getattr(generated_apis, class_name)(self.api_client)
        setattr(self, name, api)
        return api

    @property
    def url(self) -> str:
        return self.api_client.configuration.host

    def new_connection(self) -> "TorcApi":
        """Another ``TorcApi`` to the same server with the same credentials and retry policy, but
        its own connection pool: a thread that must never wait behind others (the heartbeat) uses it."""
        source = self.api_client
        client = TorcApiClient(source.configuration, retry=source.retry, check_version=False)
        client.user_agent = source.user_agent
        for header, value in source.default_headers.items():
            client.set_default_header(header, value)
        return TorcApi(client)

    def close(self) -> None:
        """Close the pooled connections."""
        self.api_client.rest_client.pool_manager.clear()

    def __enter__(self) -> "TorcApi":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TorcApi({self.url!r})"

    # Pagination: one generic helper; the named ones only choose the list operation.

    def iter_items(self, list_method: Callable, *args, page_size: int = MAX_PAGE_SIZE, **filters) -> Iterator[Any]:
        """Every item of a paginated list operation, fetching ``page_size`` items per request.

        ``list_method`` is a generated ``list_*`` method returning the ``{items, has_more, ...}``
        envelope; ``args``/``filters`` go to every call. Pages follow ``offset`` until the server
        says ``has_more`` is false (records added meanwhile may or may not be seen).
        """
        offset = filters.pop("offset", 0)
        while True:
            page = list_method(*args, offset=offset, limit=page_size, **filters)
            yield from page.items
            offset += len(page.items)
            if not page.has_more or not page.items:
                return

    def iter_workflows(self, **filters):
        return self.iter_items(self.workflows.list_workflows, **filters)

    def iter_jobs(self, workflow_id: int, **filters):
        return self.iter_items(self.jobs.list_jobs, workflow_id=workflow_id, **filters)

    def iter_files(self, workflow_id: int, **filters):
        return self.iter_items(self.files.list_files, workflow_id=workflow_id, **filters)

    def iter_user_data(self, workflow_id: int, **filters):
        return self.iter_items(self.user_data.list_user_data, workflow_id=workflow_id, **filters)

    def iter_resource_requirements(self, workflow_id: int, **filters):
        return self.iter_items(self.resource_requirements.list_resource_requirements, workflow_id=workflow_id, **filters)

    def iter_results(self, workflow_id: int, **filters):
        return self.iter_items(self.results.list_results, workflow_id=workflow_id, **filters)

    def iter_events(self, workflow_id: int, **filters):
        return self.iter_items(self.events.list_events, workflow_id=workflow_id, **filters)

    def iter_compute_nodes(self, workflow_id: int, **filters):
        return self.iter_items(self.compute_nodes.list_compute_nodes, workflow_id=workflow_id, **filters)

    def iter_scheduled_compute_nodes(self, workflow_id: int, **filters):
        return self.iter_items(
            self.scheduled_compute_nodes.list_scheduled_compute_nodes, workflow_id=workflow_id, **filters
        )

    # Plain JSON for the hottest operations

    def call_plain(self, api_name: str, operation: str, *args, _request_timeout=None, **kwargs) -> "PlainRecord":
        """Call a generated operation with plain JSON in and out: ``call_plain("workflows",
        "complete_jobs", workflow_id, run_id, body)`` sends the request that
        ``api.workflows.complete_jobs(workflow_id, run_id, body)`` sends (the generated serializer
        builds path, query and headers; the retrying transport sends it), but ``body`` may be plain
        dicts and the answer is the parsed JSON as a :class:`PlainRecord`, not a pydantic model.

        For the worker's per-job requests (claim, complete, heartbeat), where validating and
        building the generated models costs more client CPU than the request itself. Errors raise
        ``ApiException`` as the generated method does.
        """
        api = getattr(self, api_name)
        names = _operation_parameters(type(api), operation)
        if len(args) > len(names):
            raise TypeError(f"{operation}() takes {len(names)} arguments, {len(args)} given")
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"{operation}() got unexpected arguments: {', '.join(sorted(unknown))}")
        values = {name: None for name in names} | dict(zip(names, args)) | kwargs
        method, url, headers, body, post_params = getattr(api, f"_{operation}_serialize")(
            **values, _request_auth=None, _content_type=None, _headers=None, _host_index=0
        )
        response = self.api_client.call_api(method, url, headers, body, post_params, _request_timeout=_request_timeout)
        response.read()
        if 200 <= response.status <= 299 and response.data:
            return json.loads(response.data, object_hook=PlainRecord)
        # Errors (and empty answers) as the generated method has them: ApiException with the message.
        return PlainRecord.wrap(self.api_client.response_deserialize(response_data=response, response_types_map={"2XX": "object", "default": "object"}).data)

    # Workflow actions

    def try_claim_action(self, workflow_id: int, action_id: int, compute_node_id: int) -> bool:
        """Claim a workflow action for ``compute_node_id``: True if the caller is to run it, False if
        another worker claimed it first or its trigger has not fired (the server answers 409)."""
        request = ClaimActionRequest(compute_node_id=compute_node_id)
        try:
            self.workflow_actions.claim_action(workflow_id, action_id, request)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # Bulk creation

    def create_workflow_from_records(
        self, records: dict, on_upload: Callable[[int, int], None] | None = None, initialize: bool = False
    ) -> CreateWorkflowFromSpecResponse:
        """``create_workflow_from_spec`` for plain-dict records (an expanded spec's ``to_dict()``).

        The generated method's request (path, method, headers) without its body handling: pydantic
        validation, model conversion and ``sanitize_for_serialization`` walk every value of the
        records in Python, which cost seconds for 100,000 jobs, and leave plain JSON data as it
        is; the server validates the body. ``on_upload(bytes_sent, total)`` follows the upload.
        ``initialize`` also starts the first run, in the same request and transaction.
        """
        method, url, headers, _, post_params = self.workflows._create_workflow_from_spec_serialize(
            workflow_spec_records={}, initialize=initialize or None, _request_auth=None, _content_type=None, _headers=None, _host_index=0
        )
        body = StreamedBody(json.dumps(records, separators=(",", ":")).encode(), on_upload)
        response = self.api_client.call_api(method, url, headers, body, post_params)
        response.read()
        return self.api_client.response_deserialize(
            response_data=response,
            response_types_map={"200": "CreateWorkflowFromSpecResponse", "default": "DefaultErrorResponse"},
        ).data

    def create_jobs_in_chunks(
        self, workflow_id: int, jobs: Iterable[JobModel | dict], chunk_size: int = 1000
    ) -> list[JobModel]:
        """Create many jobs with ``create_jobs`` (POST /bulk_jobs), ``chunk_size`` per request.

        Each chunk is one server transaction (all or none), but the chunks are not: after an error,
        the jobs of earlier chunks exist. Jobs may be models or dicts; a missing ``workflow_id`` is
        filled in, a different one is an error. Returns the created jobs in order.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        created: list[JobModel] = []
        job_iter = iter(jobs)
        while chunk := [_job_of_workflow(workflow_id, job) for job in islice(job_iter, chunk_size)]:
            created.extend(self.jobs.create_jobs(JobsModel(jobs=chunk)).jobs or [])
        return created


_PARAMETERS: dict[tuple[type, str], list[str]] = {}


def _operation_parameters(api_class: type, operation: str) -> list[str]:
    """The operation's own parameters in order (its generated ``_<operation>_serialize`` signature
    without the ``_request_auth``-style extras), looked up once per operation."""
    key = (api_class, operation)
    if key not in _PARAMETERS:
        serialize = getattr(api_class, f"_{operation}_serialize", None)
        if serialize is None:
            raise AttributeError(f"{api_class.__name__} has no operation {operation!r}")
        _PARAMETERS[key] = [name for name in inspect.signature(serialize).parameters if name != "self" and not name.startswith("_")]
    return _PARAMETERS[key]


class PlainRecord(dict):
    """Parsed JSON with attribute access (``answer.claimed.jobs[0].id``), so code written against
    the generated models reads it unchanged; an absent field reads as None, as an unset optional
    field of a generated model does."""

    __slots__ = ()

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)

    @classmethod
    def wrap(cls, data):
        if isinstance(data, dict):
            return cls((key, cls.wrap(value)) for key, value in data.items())
        if isinstance(data, list):
            return [cls.wrap(item) for item in data]
        return data


def _job_of_workflow(workflow_id: int, job: JobModel | dict) -> JobModel:
    if isinstance(job, dict):
        job = JobModel.from_dict({"workflow_id": workflow_id, **job})
    if job.workflow_id != workflow_id:
        raise ValueError(f"job {job.name!r} belongs to workflow {job.workflow_id}, not {workflow_id}")
    return job


def make_api(
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    *,
    skip_version_check: bool | None = None,
    retry: RetryPolicy | None = None,
) -> TorcApi:
    """A ``TorcApi`` for the server at ``url``: the one way torc code talks to a server.

    Unset arguments come from the client settings (``torc.client.config``: configuration files
    ``/etc/torc/config.toml``, ``~/.config/torc/config.toml``, ``./torc.toml``, ``$TORC_CONFIG``,
    then ``TORC_API_URL``, ``TORC_SKIP_VERSION_CHECK``, ``TORC_RETRY_SECONDS``): the URL is the
    full one including the ``/torc-service/v1`` base path (default
    ``http://localhost:8080/torc-service/v1``). ``TORC_PASSWORD`` turns on HTTP basic auth, as
    ``username`` (default: the configured ``username``, else ``$USER``). ``retry`` bounds
    retries (``transport.NO_RETRIES`` disables them; default: ``retry_seconds`` of the settings).
    """
    settings = load_client_settings({"api_url": url, "username": username, "skip_version_check": skip_version_check})
    if password is None:
        password = os.environ.get("TORC_PASSWORD")
    retry = retry or RetryPolicy(total_seconds=settings.retry_seconds)
    client = TorcApiClient(Configuration(host=settings.api_url), retry=retry, check_version=not settings.skip_version_check)
    client.user_agent = f"torc/{torc_version} (HTTP API {API_VERSION})"
    if password:
        username = settings.username or os.environ.get("USER") or getpass.getuser()
        # The spec declares no security scheme, so the generated code would not send credentials.
        client.set_default_header("Authorization", urllib3.make_headers(basic_auth=f"{username}:{password}")["authorization"])
    return TorcApi(client)
