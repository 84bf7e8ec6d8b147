"""Every transition of the job state machine, through the HTTP API, on SQLite and PostgreSQL."""

import pytest

from tests.engine.flow import Flow


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


DIAMOND = {"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["a"]}, "d": {"depends_on": ["b", "c"]}}


def test_initialize_places_jobs(flow):
    wf = flow.workflow()
    flow.make_jobs(wf, DIAMOND)
    assert flow.get(f"/workflows/{wf}/is_uninitialized")["is_uninitialized"] is True
    answer = flow.post(f"/workflows/{wf}/initialize_jobs")
    assert answer == {"workflow_id": wf, "num_ready": 1, "num_canceled": 0}
    assert flow.statuses(wf) == {"a": "ready", "b": "blocked", "c": "blocked", "d": "blocked"}
    assert flow.get(f"/workflows/{wf}/is_complete") == {"is_complete": False, "is_canceled": False, "needs_to_run_completion_script": False}
    events = flow.get("/events", params={"workflow_id": wf, "category": "workflow_started"})["items"]
    assert events and events[0]["data"]["num_ready"] == 1


def test_completion_releases_dependents_immediately(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, DIAMOND)
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    assert [j["name"] for j in flow.claim(wf)] == ["a"]
    assert flow.statuses(wf)["a"] == "pending"
    started = flow.start(ids["a"], node)
    assert started["status"] == "running"
    assert flow.get("/jobs", params={"workflow_id": wf, "active_compute_node_id": node})["items"][0]["name"] == "a"
    assert flow.complete(ids["a"], wf, node)["status"] == "completed"
    assert flow.statuses(wf) == {"a": "completed", "b": "ready", "c": "ready", "d": "blocked"}
    claimed = flow.claim(wf)
    assert sorted(j["name"] for j in claimed) == ["b", "c"]
    flow.run_one(wf, ids["b"], node)
    assert flow.statuses(wf)["d"] == "blocked"
    flow.run_one(wf, ids["c"], node)
    assert flow.statuses(wf)["d"] == "ready"
    flow.claim(wf)
    flow.run_one(wf, ids["d"], node)
    assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is True
    results = flow.get("/results", params={"workflow_id": wf})["items"]
    assert sorted(r["job_id"] for r in results) == sorted(ids.values())
    assert all(r["status"] == "completed" and r["attempt_id"] == 1 for r in results)


def test_failure_cancels_dependents_that_ask_for_it_transitively(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {
        "a": {},
        "b": {"depends_on": ["a"]},
        "c": {"depends_on": ["b"]},
        "tolerant": {"depends_on": ["a"], "cancel_on_blocking_job_failure": False},
    })
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node, status="failed", rc=3)
    assert flow.statuses(wf) == {"a": "failed", "b": "canceled", "c": "canceled", "tolerant": "ready"}
    assert flow.get("/events", params={"workflow_id": wf, "category": "jobs_canceled"})["items"][0]["data"]["num_canceled"] == 2


@pytest.mark.parametrize("final", ["terminated", "canceled"])
def test_terminated_and_canceled_upstreams_also_cascade(flow, final):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node, status=final, rc=-15)
    assert flow.statuses(wf)["b"] == "canceled"


def test_pending_failed_keeps_dependents_blocked_and_workflow_open(flow):
    wf = flow.workflow(use_pending_failed=True)
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node, status="pending_failed", rc=1)
    assert flow.statuses(wf) == {"a": "pending_failed", "b": "blocked"}
    assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is False


def pending_failed_workflow(flow) -> tuple[int, dict[str, int], int]:
    """a ends pending_failed; b waits for a; c waits for b."""
    wf = flow.workflow(use_pending_failed=True)
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node, status="pending_failed", rc=1)
    return wf, ids, node


def test_pending_failed_is_classified_as_failed_through_complete_job(flow):
    wf, ids, node = pending_failed_workflow(flow)
    refused = flow.complete(ids["a"], wf, node, status="pending_failed", rc=1, expect=409)
    assert "expected pending or running" in refused["message"]
    assert flow.complete(ids["a"], wf, node, status="failed", rc=1)["status"] == "failed"
    assert flow.statuses(wf) == {"a": "failed", "b": "canceled", "c": "canceled"}
    assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is True
    (latest,) = flow.get("/results", params={"workflow_id": wf, "job_id": ids["a"]})["items"]
    assert latest["status"] == "failed" and latest["attempt_id"] == 1
    flow.complete(ids["a"], wf, node, status="failed", rc=1, expect=409)  # now final: only retry or reset


def test_pending_failed_is_retried_as_a_new_attempt(flow):
    wf, ids, node = pending_failed_workflow(flow)
    retried = flow.post(f"/jobs/{ids['a']}/retry/1")
    assert retried["status"] == "ready" and retried["attempt_id"] == 2
    assert flow.statuses(wf) == {"a": "ready", "b": "blocked", "c": "blocked"}
    flow.claim(wf)
    flow.start(ids["a"], node)
    flow.complete(ids["a"], wf, node, attempt_id=2)
    assert flow.statuses(wf) == {"a": "completed", "b": "ready", "c": "blocked"}


def test_pending_failed_is_reset_by_reset_failed_only(flow):
    wf, ids, node = pending_failed_workflow(flow)
    answer = flow.post(f"/workflows/{wf}/reset_job_status", params={"failed_only": True})
    assert answer["updated_count"] == 3
    assert flow.statuses(wf) == {"a": "uninitialized", "b": "uninitialized", "c": "uninitialized"}
    flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    assert flow.statuses(wf) == {"a": "ready", "b": "blocked", "c": "blocked"}


@pytest.mark.parametrize("cancel_on_failure", [True, False])
def test_failed_upstream_still_decides_after_a_partial_reinitialize(flow, cancel_on_failure):
    """y waits for x and z. x failed (y canceled); z is reset and placed again: y must stay
    canceled (or, if it does not ask for cancellation, wait for z and then run)."""
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"x": {}, "z": {}, "y": {"depends_on": ["x", "z"], "cancel_on_blocking_job_failure": cancel_on_failure}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["x"], node, status="failed", rc=1)
    flow.run_one(wf, ids["z"], node)
    flow.put(f"/jobs/{ids['z']}/manage_status_change/uninitialized/1")
    assert flow.statuses(wf) == {"x": "failed", "z": "uninitialized", "y": "uninitialized"}
    answer = flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    if cancel_on_failure:
        assert answer["num_canceled"] == 1
        assert flow.statuses(wf) == {"x": "failed", "z": "ready", "y": "canceled"}
    else:
        assert flow.statuses(wf) == {"x": "failed", "z": "ready", "y": "blocked"}
    (claimed,) = flow.claim(wf)
    flow.run_one(wf, claimed["id"], node)
    assert flow.statuses(wf)["y"] == ("canceled" if cancel_on_failure else "ready")


def test_transition_guards(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    other_node = flow.node(flow.workflow("other"))
    assert "expected pending" in flow.start(ids["a"], node, expect=409)["message"]
    flow.claim(wf)
    assert "run_id 7" in flow.start(ids["a"], node, run_id=7, expect=409)["message"]
    assert "compute node" in flow.start(ids["a"], other_node, expect=422)["message"]
    flow.start(ids["a"], node)
    flow.start(ids["a"], node, expect=409)
    assert "final status" in flow.complete(ids["a"], wf, node, status="running", expect=422)["message"]
    assert "unknown job status" in flow.complete(ids["a"], wf, node, status="exploded", expect=422)["message"]
    flow.complete(ids["a"], wf, node)
    assert "is completed" in flow.complete(ids["a"], wf, node, expect=409)["message"]
    flow.complete(ids["b"], wf, node, expect=409)  # ready, never claimed
    flow.put(f"/jobs/999999/start_job/1/{node}", expect=404)


def test_retry_increments_attempt_and_respects_max_retries(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.start(ids["a"], node)
    retried = flow.post(f"/jobs/{ids['a']}/retry/1", params={"max_retries": 2})
    assert retried["status"] == "ready" and retried["attempt_id"] == 2
    flow.claim(wf)
    flow.start(ids["a"], node)
    assert "2 of 2 attempts" in flow.post(f"/jobs/{ids['a']}/retry/1", params={"max_retries": 2}, expect=409)["message"]
    flow.complete(ids["a"], wf, node)
    result = flow.get("/results", params={"workflow_id": wf, "job_id": ids["a"]})["items"][0]
    assert result["attempt_id"] == 2
    assert flow.get("/events", params={"workflow_id": wf, "category": "job_retried"})["total_count"] == 1


def test_retry_of_a_failed_job_puts_canceled_dependents_back(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node, status="failed", rc=1)
    assert flow.statuses(wf) == {"a": "failed", "b": "canceled", "c": "canceled"}
    flow.post(f"/jobs/{ids['a']}/retry/1")
    assert flow.statuses(wf) == {"a": "ready", "b": "blocked", "c": "blocked"}
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node)
    assert flow.statuses(wf)["b"] == "ready"


def test_cancel_workflow_and_reset_status(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {}, "c": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf, limit=1)
    flow.start(ids["a"], node)
    answer = flow.put(f"/workflows/{wf}/cancel")
    assert answer["is_canceled"] is True and answer["num_canceled_jobs"] == 2
    assert flow.statuses(wf) == {"a": "running", "b": "canceled", "c": "canceled"}
    assert flow.post(f"/workflows/{wf}/claim_next_jobs")["reason"] == "workflow is canceled"
    assert flow.get(f"/workflows/{wf}/is_complete")["is_canceled"] is True
    assert "force" in flow.post(f"/workflows/{wf}/reset_status", expect=409)["message"]
    flow.complete(ids["a"], wf, node, status="canceled", rc=-15)
    assert flow.post(f"/workflows/{wf}/reset_status")["is_canceled"] is False
    assert flow.get(f"/workflows/{wf}/status")["is_canceled"] is False


def test_reset_failed_only_and_reinitialize_keep_successes(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {
        "ok": {}, "bad": {}, "after_ok": {"depends_on": ["ok"]}, "after_bad": {"depends_on": ["bad"], "cancel_on_blocking_job_failure": False},
    })
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.run_one(wf, ids["ok"], node)
    flow.run_one(wf, ids["bad"], node, status="failed", rc=2)
    flow.claim(wf)
    flow.run_one(wf, ids["after_ok"], node)
    flow.run_one(wf, ids["after_bad"], node)
    answer = flow.post(f"/workflows/{wf}/reset_job_status", params={"failed_only": True})
    assert answer["updated_count"] == 2 and answer["reset_type"] == "failed_only" and answer["status"] == "uninitialized"
    assert flow.statuses(wf) == {"ok": "completed", "bad": "uninitialized", "after_ok": "completed", "after_bad": "uninitialized"}
    flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    assert flow.statuses(wf) == {"ok": "completed", "bad": "ready", "after_ok": "completed", "after_bad": "blocked"}
    flow.post(f"/workflows/{wf}/reset_job_status")
    assert set(flow.statuses(wf).values()) == {"uninitialized"}


def test_changed_inputs_are_detected(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert flow.post(f"/workflows/{wf}/process_changed_job_inputs")["reinitialized_jobs"] == []
    flow.put(f"/jobs/{ids['a']}", {"workflow_id": wf, "name": "a", "command": "echo changed"})
    assert flow.post(f"/workflows/{wf}/process_changed_job_inputs", params={"dry_run": True})["reinitialized_jobs"] == ["a"]
    assert flow.statuses(wf)["a"] == "ready"
    assert flow.post(f"/workflows/{wf}/process_changed_job_inputs")["reinitialized_jobs"] == ["a"]
    assert flow.statuses(wf)["a"] == "uninitialized"
    flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    assert flow.statuses(wf) == {"a": "ready", "b": "blocked"}


def test_implicit_dependencies_from_files_and_user_data(flow):
    wf = flow.workflow()
    raw = flow.post("/files", {"workflow_id": wf, "name": "raw", "path": "raw.csv"})["id"]
    clean = flow.post("/files", {"workflow_id": wf, "name": "clean", "path": "clean.csv"})["id"]
    params = flow.post("/user_data", {"workflow_id": wf, "name": "params"})["id"]
    ids = flow.make_jobs(wf, {
        "prep": {"input_file_ids": [raw], "output_file_ids": [clean]},
        "fit": {"input_file_ids": [clean], "output_user_data_ids": [params]},
        "report": {"input_user_data_ids": [params]},
    })
    assert flow.get(f"/workflows/{wf}/required_existing_files")["files"] == [raw]
    assert flow.get(f"/workflows/{wf}/missing_user_data")["user_data"] == []
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert flow.statuses(wf) == {"prep": "ready", "fit": "blocked", "report": "blocked"}
    edges = flow.get(f"/workflows/{wf}/job_dependencies")["items"]
    assert {(e["job_name"], e["depends_on_job_name"]) for e in edges} == {("fit", "prep"), ("report", "fit")}
    rels = flow.get(f"/workflows/{wf}/job_file_relationships")["items"]
    assert {(r["file_name"], r["producer_job_name"], r["consumer_job_name"]) for r in rels} == {("raw", None, "prep"), ("clean", "prep", "fit")}
    assert flow.get(f"/workflows/{wf}/job_user_data_relationships")["items"][0]["producer_job_id"] == ids["fit"]


def test_missing_user_data(flow):
    wf = flow.workflow()
    needed = flow.post("/user_data", {"workflow_id": wf, "name": "needed"})["id"]
    given = flow.post("/user_data", {"workflow_id": wf, "name": "given", "data": {"x": 1}})["id"]
    flow.make_jobs(wf, {"a": {"input_user_data_ids": [needed, given]}})
    assert flow.get(f"/workflows/{wf}/missing_user_data")["user_data"] == [needed]


def test_manual_status_changes(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    flow.put(f"/jobs/{ids['a']}/manage_status_change/disabled/1")
    assert flow.statuses(wf) == {"a": "disabled", "b": "ready", "c": "blocked"}
    assert "complete_job" in flow.put(f"/jobs/{ids['b']}/manage_status_change/completed/1", expect=422)["message"]
    assert "cannot go" in flow.put(f"/jobs/{ids['c']}/manage_status_change/ready/1", expect=409)["message"]
    node = flow.node(wf)
    flow.claim(wf)
    assert flow.put(f"/jobs/{ids['b']}/manage_status_change/ready/1")["status"] == "ready"
    flow.claim(wf)
    flow.run_one(wf, ids["b"], node)
    flow.claim(wf)
    flow.run_one(wf, ids["c"], node)
    flow.put(f"/jobs/{ids['b']}/manage_status_change/uninitialized/1")
    assert flow.statuses(wf) == {"a": "disabled", "b": "uninitialized", "c": "uninitialized"}
    flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    assert flow.statuses(wf) == {"a": "disabled", "b": "ready", "c": "blocked"}
    assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is False


def test_ready_job_requirements(flow):
    wf = flow.workflow()
    big = flow.post("/resource_requirements", {"workflow_id": wf, "name": "big", "num_cpus": 8, "memory": "4g", "runtime": "PT2H", "num_gpus": 1})["id"]
    flow.make_jobs(wf, {"a": {"resource_requirements_id": big}, "b": {}, "c": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    need = flow.get(f"/workflows/{wf}/ready_job_requirements")
    assert need["num_jobs"] == 2 and need["num_cpus"] == 9 and need["num_gpus"] == 1
    assert need["max_runtime"] == "P0DT2H" and need["max_num_nodes"] == 1
    assert abs(need["memory_gb"] - (4 + 1 / 1024)) < 1e-6


def test_ready_job_requirements_of_one_scheduler(flow):
    wf = flow.workflow()
    sched = {"workflow_id": wf, "account": "a", "nodes": 1, "walltime": "01:00:00"}
    cpu = flow.post("/slurm_schedulers", {**sched, "name": "cpu"})["id"]
    gpu = flow.post("/slurm_schedulers", {**sched, "name": "gpu"})["id"]
    wide = flow.post("/resource_requirements", {"workflow_id": wf, "name": "wide", "num_cpus": 16, "num_gpus": 2, "num_nodes": 2})["id"]
    flow.make_jobs(wf, {
        "on_cpu": {"scheduler_id": cpu}, "on_cpu_too": {"scheduler_id": cpu},
        "on_gpu": {"scheduler_id": gpu, "resource_requirements_id": wide}, "anywhere": {},
        "blocked_on_gpu": {"scheduler_id": gpu, "depends_on": ["on_cpu"]},
    })
    flow.post(f"/workflows/{wf}/initialize_jobs")
    on_gpu = flow.get(f"/workflows/{wf}/ready_job_requirements", params={"scheduler_config_id": gpu})
    assert (on_gpu["num_jobs"], on_gpu["num_cpus"], on_gpu["num_gpus"], on_gpu["max_num_nodes"]) == (1, 16, 2, 2)
    on_cpu = flow.get(f"/workflows/{wf}/ready_job_requirements", params={"scheduler_config_id": cpu})
    assert (on_cpu["num_jobs"], on_cpu["num_cpus"], on_cpu["num_gpus"]) == (2, 2, 0)
    assert flow.get(f"/workflows/{wf}/ready_job_requirements")["num_jobs"] == 4


def test_workflow_actions_fire_on_their_triggers(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    base = {"workflow_id": wf, "action_type": "run_commands", "action_config": {"commands": ["true"]}}
    start = flow.post(f"/workflows/{wf}/actions", {**base, "trigger_type": "on_workflow_start"})["id"]
    worker = flow.post(f"/workflows/{wf}/actions", {**base, "trigger_type": "on_worker_start", "persistent": True})["id"]
    ready_b = flow.post(f"/workflows/{wf}/actions", {**base, "trigger_type": "on_jobs_ready", "job_ids": [ids["b"]]})["id"]
    done = flow.post(f"/workflows/{wf}/actions", {**base, "trigger_type": "on_workflow_complete"})["id"]

    def pending(*triggers):
        return sorted(a["id"] for a in flow.get(f"/workflows/{wf}/actions/pending", params={"trigger_type": list(triggers)} if triggers else None))

    assert pending() == []
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert pending() == sorted([start, worker])
    node = flow.node(wf)
    assert flow.post(f"/workflows/{wf}/actions/{start}/claim", {"compute_node_id": node})["success"] is True
    assert "already claimed" in flow.post(f"/workflows/{wf}/actions/{start}/claim", {"compute_node_id": node}, expect=409)["message"]
    assert flow.post(f"/workflows/{wf}/actions/{worker}/claim", {"compute_node_id": node})["success"] is True
    assert flow.post(f"/workflows/{wf}/actions/{worker}/claim", {"compute_node_id": node})["success"] is True
    assert pending("on_jobs_ready") == []
    flow.claim(wf)
    flow.run_one(wf, ids["a"], node)
    assert pending("on_jobs_ready") == [ready_b]
    flow.claim(wf)
    flow.run_one(wf, ids["b"], node)
    assert pending("on_workflow_complete") == [done]
