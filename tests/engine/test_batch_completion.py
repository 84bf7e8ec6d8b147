"""``complete_jobs``: many completions in one request, refused items listed, a claim riding along,
and racing batches that finish every job exactly once (both databases)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.engine.flow import Flow


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


def completion(job_id, wf, node, status="completed", rc=0, run_id=1, **result):
    return {
        "job_id": job_id,
        "status": status,
        "result": {
            "job_id": job_id, "workflow_id": wf, "run_id": run_id, "compute_node_id": node, "return_code": rc,
            "exec_time_minutes": 0.01, "completion_time": "2026-01-01T00:00:00Z", "status": status, **result,
        },
    }


def test_a_batch_completes_the_good_items_lists_the_refused_ones_and_claims_what_they_released(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "x": {}, "z": {}, "y": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    assert [j["name"] for j in flow.claim(wf, limit=3, compute_node_id=node, start=True)] == ["a", "x", "z"]

    answer = flow.post(f"/workflows/{wf}/complete_jobs/1", {
        "completions": [
            completion(ids["a"], wf, node),
            completion(ids["x"], wf, node, "failed", rc=3),
            completion(ids["z"], wf, node, attempt_id=2),
            completion(ids["y"], wf, node),
            completion(2_000_000_000, wf, node),
            completion(ids["a"], wf, node),
        ],
        "claim": {"limit": 10, "compute_node_id": node, "start": True},
    })

    assert answer["completed_job_ids"] == [ids["a"], ids["x"]]
    errors = {(e["job_id"], e["status_code"]): e["message"] for e in answer["errors"]}
    assert set(errors) == {(ids["z"], 409), (ids["y"], 409), (2_000_000_000, 404), (ids["a"], 422)}
    assert "attempt 2" in errors[(ids["z"], 409)]
    assert "ready" in errors[(ids["y"], 409)]
    assert "twice" in errors[(ids["a"], 422)]
    # a's completion released b, which the claim in the same request took with y.
    assert sorted(j["name"] for j in answer["claimed"]["jobs"]) == ["b", "y"]
    assert flow.statuses(wf) == {"a": "completed", "b": "running", "x": "failed", "z": "running", "y": "running"}
    results = {r["job_id"]: r for r in flow.get("/results", params={"workflow_id": wf})["items"]}
    assert set(results) == {ids["a"], ids["x"]}
    assert results[ids["x"]]["return_code"] == 3 and results[ids["x"]]["status"] == "failed"


def test_a_batch_for_another_run_is_refused_whole(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf, compute_node_id=node, start=True)
    error = flow.post(f"/workflows/{wf}/complete_jobs/2", {"completions": [completion(ids["a"], wf, node, run_id=2)]}, expect=409)
    assert "run_id 2" in error["message"]
    assert flow.statuses(wf) == {"a": "running"}
    assert flow.get("/results", params={"workflow_id": wf})["items"] == []


def test_bad_completions_are_refused_with_a_message(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf, compute_node_id=node, start=True)
    nodeless = flow.post(f"/workflows/{wf}/complete_jobs/1", {"started_job_ids": [ids["a"]]}, expect=422)
    assert "compute_node_id" in str(nodeless)
    answer = flow.post(f"/workflows/{wf}/complete_jobs/1", {"completions": [completion(ids["a"], wf, node, "running")]})
    assert answer["completed_job_ids"] == []
    assert answer["errors"][0]["status_code"] == 422 and "final status" in answer["errors"][0]["message"]
    mismatch = flow.post(f"/workflows/{wf}/complete_jobs/1", {"completions": [{**completion(ids["a"], wf, node), "status": "failed"}]})
    assert mismatch["errors"][0]["status_code"] == 422 and "differs" in mismatch["errors"][0]["message"]
    assert flow.statuses(wf) == {"a": "running"}


def test_reported_starts_move_only_this_nodes_pending_jobs(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {}, "c": {}, "d": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    mine, other = flow.node(wf), flow.node(wf)
    assert [j["name"] for j in flow.claim(wf, limit=2, compute_node_id=mine)] == ["a", "b"]
    assert [j["name"] for j in flow.claim(wf, limit=1, compute_node_id=other)] == ["c"]
    # b finished before its start was reported: both arrive in one batch.
    answer = flow.post(f"/workflows/{wf}/complete_jobs/1", {
        "compute_node_id": mine,
        "started_job_ids": [ids["a"], ids["b"], ids["c"], ids["d"]],
        "completions": [completion(ids["b"], wf, mine)],
    })
    assert answer["started_job_ids"] == [ids["a"], ids["b"]]
    assert answer["completed_job_ids"] == [ids["b"]]
    assert flow.statuses(wf) == {"a": "running", "b": "completed", "c": "pending", "d": "ready"}


def test_racing_batches_finish_every_job_exactly_once(flow):
    """8 reporters send overlapping batches for the same 600 running jobs at once: each job gets
    one result and is reported completed to exactly one of them."""
    wf = flow.workflow()
    total = 600
    flow.post("/bulk_jobs", {"jobs": [{"workflow_id": wf, "name": f"j{i}", "command": "true"} for i in range(total)]})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    job_ids = [j["id"] for j in flow.claim(wf, limit=total, compute_node_id=node, start=True)]
    assert len(job_ids) == total
    reporters = 8
    barrier = threading.Barrier(reporters)

    def reporter(index):
        me = Flow(flow.base)
        # Each reporter covers every job, in batches of 50, starting at a different offset.
        order = job_ids[index * 75:] + job_ids[:index * 75]
        barrier.wait()
        mine, refused = [], 0
        for start in range(0, total, 50):
            answer = me.post(f"/workflows/{wf}/complete_jobs/1", {"completions": [completion(j, wf, node) for j in order[start:start + 50]]})
            mine.extend(answer["completed_job_ids"])
            refused += len(answer["errors"])
        return mine, refused

    with ThreadPoolExecutor(reporters) as pool:
        outcomes = list(pool.map(reporter, range(reporters)))
    completed = [job for mine, _ in outcomes for job in mine]
    assert sorted(completed) == sorted(job_ids), "a job was completed twice or not at all"
    assert sum(refused for _, refused in outcomes) == total * (reporters - 1)
    assert sum(1 for mine, _ in outcomes if mine) > 1, "the reporters did not actually overlap"
    results = flow.get("/results", params={"workflow_id": wf, "all_runs": True, "limit": 10_000})
    assert results["total_count"] == total
    assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is True
