"""Claims: resource packing, scheduler matching, long polls, and racing claimers (both databases)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.engine.flow import Flow


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


def offer(cpus=4, memory_gb=8.0, gpus=0, nodes=1, **extra):
    return {"num_cpus": cpus, "memory_gb": memory_gb, "num_gpus": gpus, "num_nodes": nodes, **extra}


def claim_res(flow, wf, limit=100, body=None, **params):
    return flow.post(f"/workflows/{wf}/claim_jobs_based_on_resources/{limit}", body or offer(), params=params)


def test_resource_claims_pack_jobs_into_the_offer(flow):
    wf = flow.workflow()
    two_cpu = flow.post("/resource_requirements", {"workflow_id": wf, "name": "two", "num_cpus": 2, "memory": "3g"})["id"]
    flow.make_jobs(wf, {f"j{i}": {"resource_requirements_id": two_cpu} for i in range(5)})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    first = claim_res(flow, wf, body=offer(cpus=5, memory_gb=8))
    # 5 CPUs take two 2-CPU jobs; 8 GB would have allowed two as well.
    assert len(first["jobs"]) == 2 and all(j["status"] == "pending" for j in first["jobs"])
    second = claim_res(flow, wf, body=offer(cpus=16, memory_gb=7))
    assert len(second["jobs"]) == 2  # memory-bound: 2 × 3 GB
    assert len(claim_res(flow, wf, limit=1, body=offer(cpus=16, memory_gb=64))["jobs"]) == 1
    empty = claim_res(flow, wf)
    assert empty["jobs"] == [] and empty["reason"] == "no ready jobs"


def test_jobs_too_big_or_too_long_are_not_claimed(flow):
    wf = flow.workflow()
    rr = {
        "gpu": {"num_cpus": 1, "num_gpus": 2},
        "long": {"num_cpus": 1, "runtime": "PT5M"},
        "wide": {"num_cpus": 1, "num_nodes": 2},
        "short": {"num_cpus": 1, "runtime": "PT30S"},
    }
    ids = {name: flow.post("/resource_requirements", {"workflow_id": wf, "name": name, **spec})["id"] for name, spec in rr.items()}
    flow.make_jobs(wf, {name: {"resource_requirements_id": rr_id} for name, rr_id in ids.items()})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    got = claim_res(flow, wf, body=offer(gpus=1, time_limit="PT1M"))
    assert [j["name"] for j in got["jobs"]] == ["short"]
    nothing = claim_res(flow, wf, body=offer(gpus=1, time_limit="PT1M"))
    assert nothing["jobs"] == [] and nothing["reason"] == "no ready job fits the offered resources"
    got = claim_res(flow, wf, body=offer(gpus=2, nodes=2, time_limit="PT10M"), sort_method="gpus_runtime_memory")
    assert [j["name"] for j in got["jobs"]] == ["gpu", "long", "wide"]


def test_bad_time_limit_is_422(flow):
    wf = flow.workflow()
    answer = flow.post(f"/workflows/{wf}/claim_jobs_based_on_resources/5", offer(time_limit="ten minutes"), expect=422)
    assert "time_limit" in answer["message"]
    flow.post(f"/workflows/{wf}/claim_jobs_based_on_resources/0", offer(), expect=422)


def test_scheduler_matching(flow):
    wf = flow.workflow()
    sched = {"workflow_id": wf, "account": "a", "nodes": 1, "walltime": "01:00:00"}
    cpu = flow.post("/slurm_schedulers", {**sched, "name": "cpu"})["id"]
    gpu = flow.post("/slurm_schedulers", {**sched, "name": "gpu"})["id"]
    flow.make_jobs(wf, {"on_cpu": {"scheduler_id": cpu}, "anywhere": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    strict = claim_res(flow, wf, body=offer(scheduler_config_id=gpu), strict_scheduler_match=True)
    assert [j["name"] for j in strict["jobs"]] == ["anywhere"]
    assert claim_res(flow, wf, body=offer(scheduler_config_id=gpu), strict_scheduler_match=True)["jobs"] == []
    assert [j["name"] for j in claim_res(flow, wf, body=offer(scheduler_config_id=gpu))["jobs"]] == ["on_cpu"]


def test_claim_records_the_worker_and_returns_relationships(flow):
    wf = flow.workflow()
    out = flow.post("/files", {"workflow_id": wf, "name": "o", "path": "o"})["id"]
    flow.make_jobs(wf, {"a": {"output_file_ids": [out]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    (job,) = flow.claim(wf, compute_node_id=node)
    assert job["output_file_ids"] == [out]
    assert flow.get("/jobs", params={"workflow_id": wf, "active_compute_node_id": node})["total_count"] == 1


def test_long_poll_wakes_within_100ms_of_the_upstream_completion(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.start(ids["a"], node)
    waiter = Flow(flow.base)
    answer = {}

    def wait_for_work():
        answer["jobs"] = waiter.claim(wf, wait_seconds=20)
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=wait_for_work)
    thread.start()
    time.sleep(0.5)
    assert "jobs" not in answer, "the claim returned before any work existed"
    completed_at = time.monotonic()
    flow.complete(ids["a"], wf, node)
    thread.join(10)
    assert [j["name"] for j in answer["jobs"]] == ["b"]
    assert answer["at"] - completed_at < 0.1, f"woke {answer['at'] - completed_at:.3f} s after completion"


def test_long_poll_returns_on_cancel_completion_and_timeout(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.start(ids["a"], node)
    started = time.monotonic()
    timed_out = flow.post(f"/workflows/{wf}/claim_next_jobs", params={"wait_seconds": 0.5})
    assert timed_out["jobs"] == [] and 0.4 < time.monotonic() - started < 5

    result = {}
    waiter = threading.Thread(target=lambda: result.update(Flow(flow.base).post(f"/workflows/{wf}/claim_next_jobs", params={"wait_seconds": 20})))
    waiter.start()
    time.sleep(0.3)
    flow.complete(ids["a"], wf, node)
    waiter.join(5)
    assert result["reason"] == "workflow is complete"

    wf2 = flow.workflow("other")
    ids2 = flow.make_jobs(wf2, {"x": {}})
    flow.post(f"/workflows/{wf2}/initialize_jobs")
    flow.claim(wf2)
    result.clear()
    waiter = threading.Thread(target=lambda: result.update(Flow(flow.base).post(f"/workflows/{wf2}/claim_next_jobs", params={"wait_seconds": 20})))
    waiter.start()
    time.sleep(0.3)
    flow.put(f"/workflows/{wf2}/cancel")
    waiter.join(5)
    assert result["reason"] == "workflow is canceled"
    assert ids2


@pytest.mark.parametrize("mode", ["next", "resources"])
def test_racing_claimers_get_every_job_exactly_once(flow, mode):
    """20 concurrent claimers over 3,000 ready jobs: no job is claimed twice, none is lost."""
    wf = flow.workflow()
    total = 3000
    flow.post("/bulk_jobs", {"jobs": [{"workflow_id": wf, "name": f"j{i}", "command": "true"} for i in range(total)]})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    claimers = 20
    barrier = threading.Barrier(claimers)

    def claimer(_):
        me = Flow(flow.base)
        barrier.wait()
        mine = []
        while True:
            if mode == "next":
                jobs = me.post(f"/workflows/{wf}/claim_next_jobs", params={"limit": 7})["jobs"]
            else:
                jobs = me.post(f"/workflows/{wf}/claim_jobs_based_on_resources/7", offer(cpus=7))["jobs"]
            if not jobs:
                return mine
            mine.extend(j["id"] for j in jobs)

    with ThreadPoolExecutor(claimers) as pool:
        per_claimer = list(pool.map(claimer, range(claimers)))
    claimed = [job for mine in per_claimer for job in mine]
    assert len(claimed) == len(set(claimed)) == total
    assert sum(1 for mine in per_claimer if mine) > 1, "the claimers did not actually overlap"
    assert flow.get("/jobs", params={"workflow_id": wf, "status": "pending", "limit": 1})["total_count"] == total
