"""Commands that change a workflow's run: initialize, cancel, reset-status, sync-status, delete."""

from pathlib import Path

from tests.cli.conftest import CLI_SPECS
from tests.cli.test_reinitialize import started_workflow
from tests.cli.worker import register_node, run_ready_jobs, statuses


def test_initialize_checks_inputs_and_records_their_mtimes(torc, api):
    wf = torc.create(CLI_SPECS / "two_pipelines.yaml")
    refused = torc("workflows", "initialize", wf, expect_exit=1)
    assert "data/raw_a.txt, data/raw_b.txt" in refused.stderr and "--ignore-missing-data" in refused.stderr
    assert set(statuses(api, wf).values()) == {"uninitialized"}

    Path("data").mkdir()
    Path("data/raw_a.txt").write_text("a")
    Path("data/raw_b.txt").write_text("b")
    Path("out").mkdir()
    Path("out/report.txt").write_text("stale output of an earlier run")
    out = torc("workflows", "initialize", wf).stdout
    assert out.strip() == f"Initialized workflow {wf}: 2 jobs ready, 0 canceled"
    assert statuses(api, wf)["clean_a"] == "ready" and statuses(api, wf)["report"] == "blocked"
    mtimes = {f.path: f.st_mtime for f in api.iter_files(wf)}
    assert mtimes["data/raw_a.txt"] == Path("data/raw_a.txt").stat().st_mtime
    assert mtimes["out/report.txt"] is None, "outputs are rewritten by the run: not recorded"

    placed = torc.json("workflows", "initialize", wf)
    assert placed == {"workflow_id": wf, "num_ready": 2, "num_canceled": 0}


def test_cancel(torc, api):
    wf = started_workflow(torc)
    out = torc("workflows", "cancel", wf).stdout
    assert out.strip() == f"Canceled workflow {wf}: 6 waiting jobs canceled"
    assert set(statuses(api, wf).values()) == {"canceled"}
    status = torc.json("workflows", "status", wf)
    assert status["is_canceled"] is True and status["job_counts"]["canceled"] == 6
    assert torc.json("workflows", "cancel", wf)["is_canceled"] is True


def test_reset_status(torc, api):
    wf = started_workflow(torc)
    run_ready_jobs(api, wf, outcomes={"stats_a": "failed"})
    failed_only = torc.json("workflows", "reset-status", wf, "--failed-only")
    assert failed_only == {"workflow_id": wf, "reset_type": "failed_only", "num_reset_jobs": 2, "reinitialized": None}
    assert statuses(api, wf)["stats_a"] == "uninitialized" and statuses(api, wf)["clean_a"] == "completed"

    out = torc("workflows", "reset-status", wf).stdout
    assert out.strip() == f"Reset 6 jobs of workflow {wf} to uninitialized"
    assert set(statuses(api, wf).values()) == {"uninitialized"}
    torc("workflows", "initialize", wf)
    assert statuses(api, wf)["clean_a"] == "ready"


def test_reset_status_refused_while_jobs_run(torc, api):
    wf = started_workflow(torc)
    api.workflows.claim_next_jobs(wf, limit=1)
    result = torc("workflows", "reset-status", wf, expect_exit=1)
    assert "pending or running" in result.stderr
    assert torc.json("workflows", "reset-status", wf, "--force")["num_reset_jobs"] == 6


def test_sync_status(torc, api):
    wf = started_workflow(torc)
    register_node(api, wf)
    dry = torc.json("workflows", "sync-status", wf, "--dry-run")
    assert dry == {"failed_jobs": [], "lost_compute_nodes": [], "requeued_jobs": []}
    assert torc("workflows", "sync-status", wf).stdout.splitlines()[0].split() == ["failed_jobs"]
    assert "Dry run" in torc("workflows", "sync-status", wf, "--dry-run").stdout


def test_delete(torc, api):
    first, second, third = (torc.create(CLI_SPECS / "two_pipelines.yaml") for _ in range(3))

    declined = torc("workflows", "delete", first, input="n\n", expect_exit=1)
    assert "Aborted" in declined.stderr
    unknown = torc("workflows", "delete", first, 999, "--yes", expect_exit=1)
    assert unknown.stderr.strip() == "Error: workflow 999 not found"
    assert [w.id for w in api.iter_workflows()] == [first, second, third], "nothing deleted"

    out = torc("workflows", "delete", first, input="y\n").stdout
    assert f"Deleted workflow(s) {first}" in out
    deleted = torc.json("workflows", "delete", second, third, "--yes")
    assert [w["id"] for w in deleted] == [second, third]
    assert list(api.iter_workflows()) == []
