"""``torc workflows reinitialize`` reruns exactly what changed, and everything downstream of it.

The workflow is tests/data/specs/cli/two_pipelines.yaml: raw_a → clean_a → stats_a → report ←
stats_b ← clean_b ← raw_b, and archive_b depends on clean_b. Jobs are driven like a worker would
(tests/cli/worker.py) in the test's temporary directory, where the file paths point.
"""

import os
from pathlib import Path

import pytest

from tests.cli.conftest import CLI_SPECS
from tests.cli.worker import run_ready_jobs, statuses
from torc import workflow_ops
from torc.openapi_client.models import JobModel

ALL_JOBS = {"clean_a", "stats_a", "clean_b", "stats_b", "report", "archive_b"}


def started_workflow(torc, inputs=("raw_a", "raw_b")) -> int:
    """Write the input files, create the workflow and initialize it."""
    Path("data").mkdir(exist_ok=True)
    for name in inputs:
        Path(f"data/{name}.txt").write_text(name)
    wf = torc.create(CLI_SPECS / "two_pipelines.yaml")
    torc("workflows", "initialize", wf, "--ignore-missing-data")
    return wf


def completed_workflow(torc, api, record_output_mtimes=False) -> int:
    """A workflow whose jobs all completed once."""
    wf = started_workflow(torc)
    assert set(run_ready_jobs(api, wf, record_output_mtimes=record_output_mtimes)) == ALL_JOBS
    return wf


def touch(path: str, seconds_later: float = 10) -> None:
    """Move a file's modification time forward, as editing it would."""
    mtime = os.stat(path).st_mtime + seconds_later
    os.utime(path, (mtime, mtime))


def rerun_names(outcome: dict) -> set[str]:
    return {job["name"] for job in outcome["jobs"]}


@pytest.mark.parametrize("worker_records_mtimes", [False, True], ids=["plain-worker", "worker-records-mtimes"])
def test_touched_input_reruns_its_readers_and_their_dependents(torc, api, worker_records_mtimes):
    wf = completed_workflow(torc, api, worker_records_mtimes)

    unchanged = torc.json("workflows", "reinitialize", wf)
    assert unchanged["jobs"] == [] and unchanged["run_id"] == 2
    assert run_ready_jobs(api, wf) == []

    touch("data/raw_a.txt")
    planned = torc.json("workflows", "reinitialize", wf, "--dry-run")
    assert planned["dry_run"] is True
    assert rerun_names(planned) == {"clean_a", "stats_a", "report"}
    assert {f["path"]: f["change"] for f in planned["files"]}["data/raw_a.txt"] == "modified"
    assert set(statuses(api, wf).values()) == {"completed"}, "a dry run changes nothing"
    assert api.workflows.get_workflow_status(wf).run_id == 2

    table = torc("workflows", "reinitialize", wf).stdout
    assert "data/raw_a.txt  modified" in table and "started run 3" in table
    assert statuses(api, wf) == {
        "clean_a": "ready", "stats_a": "blocked", "report": "blocked",
        "clean_b": "completed", "stats_b": "completed", "archive_b": "completed",
    }
    assert run_ready_jobs(api, wf, record_output_mtimes=worker_records_mtimes) == ["clean_a", "stats_a", "report"]

    # The rerun rewrote clean_a, stats_a and report: that is not a change to rerun for again.
    again = torc.json("workflows", "reinitialize", wf)
    assert again["jobs"] == [] and again["run_id"] == 4


def test_deleted_output_reruns_its_producer_and_dependents(torc, api):
    wf = completed_workflow(torc, api)
    Path("out/stats_b.txt").unlink()

    planned = torc.json("workflows", "reinitialize", wf, "--dry-run")
    reasons = {job["name"]: job["reason"] for job in planned["jobs"]}
    assert reasons == {"stats_b": "output file out/stats_b.txt is missing", "report": "downstream of stats_b"}

    torc("workflows", "reinitialize", wf)
    assert statuses(api, wf) == {
        "clean_a": "completed", "stats_a": "completed", "clean_b": "completed", "archive_b": "completed",
        "stats_b": "ready", "report": "blocked",
    }
    assert run_ready_jobs(api, wf) == ["stats_b", "report"]
    assert Path("out/stats_b.txt").exists()


def test_new_input_file_reruns_its_readers(torc, api):
    """An input absent at initialize (null st_mtime) that appears later counts as changed."""
    wf = started_workflow(torc, inputs=["raw_a"])
    run_ready_jobs(api, wf, outcomes={"clean_b": "failed"})
    assert statuses(api, wf)["clean_b"] == "failed"

    Path("data/raw_b.txt").write_text("b")
    outcome = torc.json("workflows", "reinitialize", wf)
    assert rerun_names(outcome) == {"clean_b", "stats_b", "archive_b", "report"}
    assert {f["path"]: f["change"] for f in outcome["files"]}["data/raw_b.txt"] == "appeared"
    assert run_ready_jobs(api, wf) == ["clean_b", "stats_b", "archive_b", "report"]


def test_changed_command_reruns_the_job(torc, api):
    wf = completed_workflow(torc, api)
    job = next(j for j in api.iter_jobs(wf, include_relationships=True) if j.name == "archive_b")
    changed = JobModel.from_dict({**job.to_dict(), "command": "archive b --compress"})
    api.jobs.update_job(job.id, changed)

    outcome = torc.json("workflows", "reinitialize", wf)
    assert [(j["name"], j["reason"]) for j in outcome["jobs"]] == [("archive_b", "command, dependencies or input user data changed")]
    assert run_ready_jobs(api, wf) == ["archive_b"]


def test_added_dependency_reruns_the_job(torc, api):
    wf = completed_workflow(torc, api)
    jobs = {j.name: j for j in api.iter_jobs(wf, include_relationships=True)}
    archive = jobs["archive_b"]
    api.jobs.update_job(archive.id, JobModel.from_dict({**archive.to_dict(), "depends_on_job_ids": [jobs["clean_b"].id, jobs["stats_a"].id]}))

    outcome = torc.json("workflows", "reinitialize", wf)
    assert [(j["name"], j["reason"]) for j in outcome["jobs"]] == [("archive_b", "command, dependencies or input user data changed")]
    assert run_ready_jobs(api, wf) == ["archive_b"]
    assert torc.json("workflows", "reinitialize", wf)["jobs"] == []


USER_DATA_SPEC = """
name: fit_and_report
jobs:
  - name: fit
    command: "fit --params '${user_data.input.params}' ${user_data.output.model}"
  - name: report
    command: "report ${user_data.input.model}"
user_data:
  - {name: params, data: {alpha: 1}}
  - {name: model}
"""


def test_changed_input_user_data_reruns_its_readers(torc, api):
    """Data the user supplies (params) is an input; data a job writes (model) is not."""
    Path("fit.yaml").write_text(USER_DATA_SPEC)
    wf = torc.create("fit.yaml")
    torc("workflows", "initialize", wf)
    assert run_ready_jobs(api, wf) == ["fit", "report"]
    data = {item.name: item for item in api.iter_items(api.user_data.list_user_data, wf)}
    model = data["model"].model_copy(update={"data": {"weights": [0.5]}})
    api.user_data.update_user_data(model.id, model)  # what fit does when it runs

    assert torc.json("workflows", "reinitialize", wf)["jobs"] == []
    params = data["params"].model_copy(update={"data": {"alpha": 2}})
    api.user_data.update_user_data(params.id, params)
    outcome = torc.json("workflows", "reinitialize", wf)
    reasons = {job["name"]: job["reason"] for job in outcome["jobs"]}
    assert reasons == {"fit": "command, dependencies or input user data changed", "report": "downstream of fit"}
    assert run_ready_jobs(api, wf) == ["fit", "report"]
    assert torc.json("workflows", "reinitialize", wf)["jobs"] == []


def test_a_shared_input_reruns_its_readers_with_one_write_request(torc, api, monkeypatch):
    """300 readers of one touched input: the plan is applied by one request, not one per job."""
    readers = 300
    jobs = "\n".join(f"  - {{name: read_{i}, command: 'wc -l ${{files.input.shared}}'}}" for i in range(readers))
    Path("shared.yaml").write_text(f"name: shared\nfiles:\n  - {{name: shared, path: data/shared.txt}}\njobs:\n{jobs}\n")
    Path("data").mkdir()
    Path("data/shared.txt").write_text("1\n")
    wf = torc.create("shared.yaml")
    torc("workflows", "initialize", wf)
    assert len(run_ready_jobs(api, wf)) == readers
    touch("data/shared.txt")
    calls = []
    for group, operation in (("jobs", "manage_status_change"), ("files", "update_file"), ("workflows", "reinitialize_workflow")):
        real = getattr(getattr(api, group), operation)
        monkeypatch.setattr(getattr(api, group), operation, lambda *a, real=real, operation=operation, **k: calls.append(operation) or real(*a, **k))

    result = workflow_ops.reinitialize_workflow(api, wf)
    assert calls == ["reinitialize_workflow"]
    assert len(result.plan.jobs_to_rerun) == readers and result.num_ready == readers and result.run_id == 2
    assert set(statuses(api, wf).values()) == {"ready"}
    (shared,) = api.iter_files(wf)
    assert shared.st_mtime == os.stat("data/shared.txt").st_mtime


def test_refused_while_jobs_run(torc, api):
    wf = started_workflow(torc)
    api.workflows.claim_next_jobs(wf, limit=1)

    result = torc("workflows", "reinitialize", wf, expect_exit=1)
    assert "1 pending or running jobs" in result.stderr and "--force" in result.stderr
    assert api.workflows.get_workflow_status(wf).run_id == 1
    torc("workflows", "reinitialize", wf, "--dry-run")  # looking is always allowed


def test_reset_failed_jobs_and_reinitialize(torc, api):
    wf = started_workflow(torc)
    run_ready_jobs(api, wf, outcomes={"clean_b": "failed"})
    assert statuses(api, wf)["clean_b"] == "failed" and statuses(api, wf)["report"] == "canceled"

    outcome = torc.json("workflows", "reset-status", wf, "--failed-only", "--reinitialize")
    assert outcome["reset_type"] == "failed_only" and outcome["num_reset_jobs"] == 4
    assert rerun_names(outcome["reinitialized"]) == {"clean_b", "stats_b", "archive_b", "report"}
    assert statuses(api, wf)["clean_a"] == "completed" and statuses(api, wf)["clean_b"] == "ready"
    assert run_ready_jobs(api, wf) == ["clean_b", "stats_b", "archive_b", "report"]
