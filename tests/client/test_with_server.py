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
