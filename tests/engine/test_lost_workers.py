"""Workers that stop renewing their lease: their jobs are recovered exactly once."""

import time

import pytest

from tests.engine.flow import Flow
from tests.support.servers import ServerProcess


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


def _lost_node_with_jobs(flow, wf, handler_id=None):
    extra = {"failure_handler_id": handler_id} if handler_id else {}
    ids = flow.make_jobs(wf, {"run": extra, "wait": {}, "after": {"depends_on": ["run"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.put(f"/compute_nodes/{node}/heartbeat", params={"lease_seconds": 1})
    flow.claim(wf, compute_node_id=node)
    flow.start(ids["run"], node)
    return ids, node


def test_expired_lease_requeues_jobs_as_a_new_attempt(flow):
    wf = flow.workflow()
    ids, node = _lost_node_with_jobs(flow, wf)
    assert flow.post(f"/workflows/{wf}/sync_status")["lost_compute_nodes"] == []
    time.sleep(1.2)
    dry = flow.post(f"/workflows/{wf}/sync_status", params={"dry_run": True})
    assert dry["lost_compute_nodes"] == [node]
    assert flow.statuses(wf)["run"] == "running"
    report = flow.post(f"/workflows/{wf}/sync_status")
    assert report == {"lost_compute_nodes": [node], "requeued_jobs": sorted([ids["run"], ids["wait"]]), "failed_jobs": []} or (
        report["lost_compute_nodes"] == [node] and sorted(report["requeued_jobs"]) == sorted([ids["run"], ids["wait"]])
    )
    assert flow.post(f"/workflows/{wf}/sync_status")["lost_compute_nodes"] == []  # exactly once
    assert flow.statuses(wf) == {"run": "ready", "wait": "ready", "after": "blocked"}
    assert flow.get(f"/jobs/{ids['run']}")["attempt_id"] == 2
    assert flow.get(f"/jobs/{ids['wait']}")["attempt_id"] == 1
    (result,) = flow.get("/results", params={"workflow_id": wf, "job_id": ids["run"]})["items"]
    assert result["return_code"] == -128 and result["status"] == "terminated" and "lost worker" in result["message"]
    assert flow.get(f"/compute_nodes/{node}")["is_active"] is False
    # The lost worker comes back: it may neither renew its lease nor report the old attempt.
    assert "no longer active" in flow.put(f"/compute_nodes/{node}/heartbeat", expect=409)["message"]
    new_node = flow.node(wf)
    flow.claim(wf, compute_node_id=new_node)
    flow.start(ids["run"], new_node)
    stale = flow.complete(ids["run"], wf, node, attempt_id=1, expect=409)
    assert "attempt 1" in stale["message"]
    flow.complete(ids["run"], wf, new_node, attempt_id=2)
    assert flow.statuses(wf)["after"] == "ready"
    assert flow.get("/events", params={"workflow_id": wf, "category": "worker_lost"})["total_count"] == 1


def test_failure_handler_without_retries_fails_the_job(flow):
    wf = flow.workflow()
    handler = flow.post("/failure_handlers", {"workflow_id": wf, "name": "h", "rules": '[{"match_all_exit_codes": true, "max_retries": 0}]'})["id"]
    ids, node = _lost_node_with_jobs(flow, wf, handler)
    time.sleep(1.2)
    report = flow.post(f"/workflows/{wf}/sync_status")
    assert report["failed_jobs"] == [ids["run"]]
    assert flow.statuses(wf) == {"run": "failed", "wait": "ready", "after": "canceled"}


def test_server_sweeps_expired_leases_on_its_own(tmp_path):
    with ServerProcess(str(tmp_path / "s.db"), extra_args=["--lost-worker-check-seconds", "0.3"]) as server:
        flow = Flow(server.api_url)
        wf = flow.workflow()
        ids, node = _lost_node_with_jobs(flow, wf)
        deadline = time.monotonic() + 10
        while flow.statuses(wf)["run"] != "ready":
            assert time.monotonic() < deadline, "the sweeper never recovered the lost worker"
            time.sleep(0.1)
        assert flow.get(f"/jobs/{ids['run']}")["attempt_id"] == 2
