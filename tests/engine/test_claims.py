"""Claims: resource packing, sort order, scheduler matching, and racing claimers (both databases).

Long-poll claims are in test_long_poll.py.
"""

import threading
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


def test_rounds_fill_the_offer_several_times_over(flow):
    wf = flow.workflow()
    two_cpu = flow.post("/resource_requirements", {"workflow_id": wf, "name": "two", "num_cpus": 2, "memory": "1g"})["id"]
    three_cpu = flow.post("/resource_requirements", {"workflow_id": wf, "name": "three", "num_cpus": 3, "memory": "1g"})["id"]
    flow.make_jobs(wf, {f"j{i}": {"resource_requirements_id": two_cpu} for i in range(10)} | {"big": {"resource_requirements_id": three_cpu}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    # Three copies of a 2-CPU offer: six CPUs in all, but the 3-CPU job does not fit one copy.
    got = claim_res(flow, wf, body=offer(cpus=2, memory_gb=8), rounds=3)
    assert sorted(j["name"] for j in got["jobs"]) == ["j0", "j1", "j2"]
    assert len(claim_res(flow, wf, limit=2, body=offer(cpus=2, memory_gb=8), rounds=50)["jobs"]) == 2, "limit still caps the count"
    riding = flow.post(f"/workflows/{wf}/complete_jobs/1", {"claim": {"limit": 100, "resources": offer(cpus=2, memory_gb=8), "rounds": 4}})
    assert len(riding["claimed"]["jobs"]) == 4
    assert "big" not in {j["name"] for j in claim_res(flow, wf, body=offer(cpus=2, memory_gb=8), rounds=10)["jobs"]}
    bad = flow.post(f"/workflows/{wf}/claim_jobs_based_on_resources/5", offer(), expect=422, params={"rounds": 0})
    assert "rounds" in str(bad)


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
    got = claim_res(flow, wf, body=offer(gpus=2, nodes=2, time_limit="PT10M"))
    assert sorted(j["name"] for j in got["jobs"]) == ["gpu", "long", "wide"], "a bigger offer takes the rest"


#: Requirement classes that the sort methods order differently, listed in creation order.
SORTED_CLASSES = {
    "z": {"num_gpus": 0, "runtime": "PT30M", "memory": "8g"},
    "y": {"num_gpus": 1, "runtime": "PT5M", "memory": "4g"},
    "x": {"num_gpus": 1, "runtime": "PT10M", "memory": "1g"},
    "w": {"num_gpus": 2, "runtime": "PT1M", "memory": "2g"},
}


@pytest.mark.parametrize(
    ("sort_method", "workflow_default", "first_two"),
    [
        ("gpus_runtime_memory", None, {"w", "x"}),  # gpus, then the longest runtime
        ("gpus_memory_runtime", None, {"w", "y"}),  # gpus, then the most memory
        ("none", None, {"z", "y"}),  # creation order
        (None, "gpus_memory_runtime", {"w", "y"}),  # the workflow's jobs_sort_method
        (None, None, {"w", "x"}),  # the default: gpus_runtime_memory
    ],
)
def test_sort_method_decides_which_fitting_jobs_are_claimed_first(flow, sort_method, workflow_default, first_two):
    wf = flow.workflow(**({"jobs_sort_method": workflow_default} if workflow_default else {}))
    for name, spec in SORTED_CLASSES.items():
        rr = flow.post("/resource_requirements", {"workflow_id": wf, "name": name, "num_cpus": 1, **spec})["id"]
        flow.make_jobs(wf, {name: {"resource_requirements_id": rr}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    params = {"sort_method": sort_method} if sort_method else {}
    # Everything fits; the limit of 2 makes the order matter.
    got = claim_res(flow, wf, limit=2, body=offer(cpus=8, memory_gb=32, gpus=4, time_limit="PT1H"), **params)
    assert {j["name"] for j in got["jobs"]} == first_two


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
