"""The generated client plus ``torc.client`` against a real torc server (SQLite and PostgreSQL)."""

import warnings

import pytest

from torc.api_version import API_VERSION
from torc.client import ApiException, TorcApi, describe_error, make_api
from torc.openapi_client.exceptions import NotFoundException
from torc.openapi_client.models import FileModel, JobModel, ResourceRequirementsModel, WorkflowModel


@pytest.fixture
def api(api_url) -> TorcApi:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real server speaks our version: no warning
        with make_api(api_url) as api:
            yield api


def spy(monkeypatch, api_object, name: str) -> list:
    """Record the calls of one generated operation of one TorcApi attribute."""
    calls, original = [], getattr(api_object, name)

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(api_object, name, recording)
    return calls


def test_create_and_read_back(api, monkeypatch):
    assert api.system.get_version().version == API_VERSION
    workflow = api.workflows.create_workflow(WorkflowModel(name="client-test", user="tester", description="d"))
    assert workflow.id is not None and workflow.user == "tester"
    small = api.resource_requirements.create_resource_requirements(
        ResourceRequirementsModel(workflow_id=workflow.id, name="small", num_cpus=1, memory="1g", runtime="PT10M")
    )
    inputs = api.files.create_file(FileModel(workflow_id=workflow.id, name="inputs", path="data/inputs.json"))
    first = api.jobs.create_job(
        JobModel(
            workflow_id=workflow.id, name="prepare", command="echo prepare",
            input_file_ids=[inputs.id], resource_requirements_id=small.id,
        )
    )

    bulk_calls = spy(monkeypatch, api.jobs, "create_jobs")
    jobs = [{"name": f"work-{i}", "command": f"echo {i}", "depends_on_job_ids": [first.id]} for i in range(1200)]
    created = api.create_jobs_in_chunks(workflow.id, jobs, chunk_size=500)
    assert [len(args[0].jobs) for args, _ in bulk_calls] == [500, 500, 200]
    assert [job.name for job in created] == [job["name"] for job in jobs]

    page_calls = spy(monkeypatch, api.jobs, "list_jobs")
    listed = list(api.iter_jobs(workflow.id, page_size=250))
    assert len(page_calls) == 5  # 1201 jobs, 250 per page
    assert [kwargs["offset"] for _, kwargs in page_calls] == [0, 250, 500, 750, 1000]
    assert len({job.id for job in listed}) == 1201
    assert {job.name for job in listed} == {"prepare"} | {job["name"] for job in jobs}

    again = api.jobs.get_job(first.id)
    assert (again.name, again.command, again.resource_requirements_id) == ("prepare", "echo prepare", small.id)
    assert [f.path for f in api.iter_files(workflow.id)] == ["data/inputs.json"]
    requirements = list(api.iter_resource_requirements(workflow.id, page_size=1))  # the server adds "default"
    assert "small" in [r.name for r in requirements] and len({r.id for r in requirements}) == len(requirements)
    assert [w.name for w in api.iter_workflows()] == ["client-test"]
    assert list(api.iter_results(workflow.id)) == []


def test_server_errors_read_as_one_line(api):
    with pytest.raises(NotFoundException) as caught:
        api.workflows.get_workflow(987654)
    line = describe_error(caught.value)
    assert line.startswith("HTTP 404") and "987654" in line and "\n" not in line

    workflow = api.workflows.create_workflow(WorkflowModel(name="w", user="u"))
    with pytest.raises(ApiException) as caught:
        api.jobs.create_job(JobModel(workflow_id=workflow.id, name="j", command="true", input_file_ids=[424242]))
    assert 400 <= caught.value.status < 500
    line = describe_error(caught.value)
    assert line.startswith(f"HTTP {caught.value.status}") and "\n" not in line and "{" not in line


def test_chunked_creation_rejects_jobs_of_another_workflow(api):
    workflow = api.workflows.create_workflow(WorkflowModel(name="w", user="u"))
    with pytest.raises(ValueError, match="belongs to workflow"):
        api.create_jobs_in_chunks(workflow.id, [{"name": "j", "command": "true", "workflow_id": workflow.id + 1}])


def test_try_claim_action_reads_the_409_of_a_lost_claim_as_false(api):
    from torc.openapi_client.models import ComputeNodeModel, WorkflowActionModel

    workflow = api.workflows.create_workflow(WorkflowModel(name="w", user="u"))
    action = api.workflow_actions.create_workflow_action(workflow.id, WorkflowActionModel(
        workflow_id=workflow.id, trigger_type="on_workflow_start", action_type="run_commands", action_config={"commands": ["true"]},
    ))
    node = api.compute_nodes.create_compute_node(ComputeNodeModel(
        workflow_id=workflow.id, hostname="h", pid=1, start_time="2026-01-01T00:00:00Z", num_cpus=1, memory_gb=1.0,
        num_gpus=0, num_nodes=1, compute_node_type="local",
    ))
    assert api.try_claim_action(workflow.id, action.id, node.id) is False  # its trigger has not fired
    api.workflows.initialize_jobs(workflow.id)
    assert api.try_claim_action(workflow.id, action.id, node.id) is True
    assert api.try_claim_action(workflow.id, action.id, node.id) is False  # claimed already
    with pytest.raises(NotFoundException):
        api.try_claim_action(workflow.id, action.id + 1000, node.id)


def _node(api, workflow_id: int) -> int:
    from torc.openapi_client.models import ComputeNodeModel

    return api.compute_nodes.create_compute_node(ComputeNodeModel(
        workflow_id=workflow_id, hostname="h", pid=1, start_time="2026-01-01T00:00:00Z", num_cpus=2, memory_gb=1.0,
        num_gpus=0, num_nodes=1, compute_node_type="local",
    )).id


def test_call_plain_claims_completes_and_heartbeats_with_plain_json(api):
    workflow = api.workflows.create_workflow(WorkflowModel(name="plain", user="u"))
    first = api.jobs.create_job(JobModel(workflow_id=workflow.id, name="first", command="true"))
    second = api.jobs.create_job(JobModel(workflow_id=workflow.id, name="second", command="echo 2", depends_on_job_ids=[first.id]))
    api.workflows.initialize_jobs(workflow.id)
    node = _node(api, workflow.id)
    run_id = api.workflows.get_workflow_status(workflow.id).run_id

    claimed = api.call_plain("workflows", "claim_next_jobs", workflow.id, limit=5, compute_node_id=node, start=True)
    assert isinstance(claimed, dict)  # plain JSON, not a generated model
    assert [job.id for job in claimed.jobs] == [first.id] and claimed.jobs[0].name == "first"
    assert api.jobs.get_job(first.id).status == "running"

    result = {"job_id": first.id, "workflow_id": workflow.id, "run_id": run_id, "compute_node_id": node, "return_code": 0, "exec_time_minutes": 0.0,
              "completion_time": "2026-01-01T00:00:01Z", "status": "completed"}
    body = {"completions": [{"job_id": first.id, "status": "completed", "result": result}], "compute_node_id": node,
            "claim": {"limit": 5, "compute_node_id": node, "start": True}}
    answer = api.call_plain("workflows", "complete_jobs", workflow.id, run_id, body)
    assert answer.completed_job_ids == [first.id] and answer.errors == []
    # The dependent became ready in the completion and was claimed in the same request, with its
    # relationships, as the generated model would show them.
    assert [job.id for job in answer.claimed.jobs] == [second.id]
    assert answer.claimed.jobs[0].depends_on_job_ids == [first.id] and answer.claimed.jobs[0].command == "echo 2"
    # JSON booleans on both databases (SQLite stores 0/1).
    assert answer.claimed.jobs[0].cancel_on_blocking_job_failure is True and answer.claimed.jobs[0].supports_termination is False
    assert answer.missing_field is None

    lease = api.call_plain("compute_nodes", "heartbeat_compute_node", node, lease_seconds=60)
    assert lease.id == node and lease.hostname == "h"


def test_call_plain_raises_the_servers_errors_and_rejects_unknown_arguments(api):
    with pytest.raises(ApiException) as caught:
        api.call_plain("workflows", "claim_next_jobs", 10**9, limit=1)
    assert caught.value.status == 404
    with pytest.raises(TypeError, match="unexpected arguments: colour"):
        api.call_plain("workflows", "claim_next_jobs", 1, colour="red")
    with pytest.raises(AttributeError, match="no operation 'claim_everything'"):
        api.call_plain("workflows", "claim_everything", 1)
