"""Read-only commands in table and JSON form: workflows list/get/status, jobs, and record lists."""

import re

from tests.cli.conftest import CLI_SPECS, UPSTREAM_SPECS
from tests.cli.test_reinitialize import completed_workflow, started_workflow
from tests.cli.worker import run_ready_jobs
from torc.openapi_client.models import WorkflowStatusModel

DIAMOND = UPSTREAM_SPECS / "yaml/diamond_workflow.yaml"


def table_rows(text: str) -> list[list[str]]:
    """Cells of an aligned table (header and dashes dropped), split on runs of 2+ spaces."""
    lines = text.strip().splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, "second line separates the header"
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]


def test_workflows_list_table_and_json(torc, api):
    first = torc.create(DIAMOND)
    second = torc.create(CLI_SPECS / "two_pipelines.yaml", "--user", "bob")

    table = torc("workflows", "list").stdout
    header = table.splitlines()[0].split()
    assert header == ["id", "name", "user", "description", "timestamp"]
    lines = table.splitlines()
    assert [row[0] for row in table_rows(table)] == [str(first), str(second)]
    # aligned: every row has its 'name' cell where the header's name column starts
    name_at = lines[0].index("name")
    assert all(line[name_at - 1] == " " and line[name_at] != " " for line in lines[2:])

    listed = torc.json("workflows", "list")
    assert [w["id"] for w in listed] == [first, second] and listed[1]["user"] == "bob"
    assert "description" in listed[0] and "timestamp" in listed[0]
    assert [w["id"] for w in torc.json("workflows", "list", "--user", "bob")] == [second]
    assert [w["id"] for w in torc.json("workflows", "list", "--limit", "1", "--offset", "1")] == [second]


def test_archived_workflows_are_hidden_unless_asked_for(torc, api):
    active, archived = torc.create(DIAMOND), torc.create(DIAMOND)
    status = api.workflows.get_workflow_status(archived)
    api.workflows.update_workflow_status(archived, WorkflowStatusModel(run_id=status.run_id, is_canceled=False, is_archived=True))
    assert [w["id"] for w in torc.json("workflows", "list")] == [active]
    assert [w["id"] for w in torc.json("workflows", "list", "--archived")] == [archived]
    assert [w["id"] for w in torc.json("workflows", "list", "--all")] == [active, archived]


def test_workflows_get(torc):
    wf = torc.create(DIAMOND)
    record = torc.json("workflows", "get", wf)
    assert record["id"] == wf and record["name"] == "diamond_workflow" and record["user"] == "test_user"
    text = torc("workflows", "get", wf).stdout
    assert any(line.split() == ["name", "diamond_workflow"] for line in text.splitlines())
    # a single record shows long values in full
    assert "demonstrating fan-out and fan-in job dependencies" in text


def test_workflows_status(torc, api):
    wf = started_workflow(torc)
    run_ready_jobs(api, wf, outcomes={"clean_b": "failed"})
    status = torc.json("workflows", "status", wf)
    assert status["run_id"] == 1 and status["is_canceled"] is False and status["num_jobs"] == 6
    assert status["is_complete"] is True
    counts = {k: v for k, v in status["job_counts"].items() if v}
    assert counts == {"completed": 2, "failed": 1, "canceled": 3}
    assert set(status["job_counts"]) >= {"uninitialized", "ready", "running", "pending_failed"}

    text = torc("workflows", "status", wf).stdout
    assert "run_id       1" in text
    assert dict(row for row in table_rows(text.split("\n\n")[1])) == {"completed": "2", "failed": "1", "canceled": "3"}


def test_jobs_list_and_get(torc, api):
    wf = started_workflow(torc)
    jobs = torc.json("jobs", "list", wf)
    assert [j["name"] for j in jobs] == ["clean_a", "stats_a", "clean_b", "stats_b", "report", "archive_b"]
    assert {j["name"] for j in torc.json("jobs", "list", wf, "--status", "ready")} == {"clean_a", "clean_b"}
    assert len(torc.json("jobs", "list", wf, "--limit", "2")) == 2

    table = torc("jobs", "list", wf, "--status", "blocked").stdout
    assert table.splitlines()[0].split() == ["id", "name", "status", "attempt_id", "command"]
    assert {row[1] for row in table_rows(table)} == {"stats_a", "stats_b", "report", "archive_b"}

    report = next(j for j in jobs if j["name"] == "report")
    job = torc.json("jobs", "get", report["id"])
    assert job["name"] == "report" and job["status"] == "blocked" and len(job["input_file_ids"]) == 2
    assert "report" in torc("jobs", "get", report["id"]).stdout


def test_record_lists(torc, api):
    wf = completed_workflow(torc, api)
    torc("workflows", "reinitialize", wf)

    results = torc.json("results", "list", wf)
    assert len(results) == 6 and {r["return_code"] for r in results} == {0}
    report_id = next(j.id for j in api.iter_jobs(wf) if j.name == "report")
    assert [r["job_id"] for r in torc.json("results", "list", wf, "--job-id", report_id)] == [report_id]
    assert len(torc.json("results", "list", wf, "--all-runs")) == 6
    assert torc("results", "list", wf).stdout.splitlines()[0].split()[:3] == ["id", "job_id", "run_id"]

    events = torc.json("events", "list", wf)
    categories = [e["data"]["category"] for e in events]
    assert categories[0] == "workflow_started" and "workflow_reinitialized" in categories
    only = torc.json("events", "list", wf, "--category", "workflow_reinitialized")
    assert len(only) == 1
    assert torc.json("events", "list", wf, "--after-timestamp", only[0]["timestamp"]) == [e for e in events if e["timestamp"] > only[0]["timestamp"]]
    assert "workflow_started" in torc("events", "list", wf).stdout

    files = torc.json("files", "list", wf)
    assert {f["path"] for f in files} >= {"data/raw_a.txt", "out/report.txt"}
    assert all(f["st_mtime"] is not None for f in files), "inputs recorded at initialize, outputs at reinitialize"
    assert "data/raw_a.txt" in torc("files", "list", wf).stdout


def test_user_data_list(torc, api):
    wf = torc.create(UPSTREAM_SPECS / "yaml/sample_workflow.yaml")
    listed = torc.json("user-data", "list", wf)
    assert listed and [u["name"] for u in listed] == [u.name for u in api.iter_user_data(wf)]
    assert set(listed[0]) >= {"id", "name", "data", "is_ephemeral"}
    table = torc("user-data", "list", wf).stdout
    assert table.splitlines()[0].split() == ["id", "name", "is_ephemeral", "data"]
    assert listed[0]["name"] in table


def test_empty_lists(torc):
    wf = torc.create(DIAMOND)
    assert torc("results", "list", wf).stdout.strip() == "(none)"
    assert torc.json("results", "list", wf) == []
