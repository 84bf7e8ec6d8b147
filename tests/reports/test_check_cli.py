"""torc reports check-resource-utilization against a real server (SQLite and PostgreSQL)."""

import json

from click.testing import CliRunner

from torc.cli.context import CliState
from torc.cli.reports import reports
from tests.engine.flow import Flow

GIB = 1024**3


def run_jobs(flow: Flow, wf: int, outcomes: dict[str, dict]) -> dict[str, int]:
    """Claim, start and complete every job like a worker, with the given result fields."""
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node, run_id = flow.node(wf), flow.run_id(wf)
    ids = {}
    for job in flow.claim(wf):
        ids[job["name"]] = job["id"]
        outcome = {"status": "completed", "return_code": 0, "exec_time_minutes": 1.0, **outcomes[job["name"]]}
        flow.start(job["id"], node, run_id)
        body = {"job_id": job["id"], "workflow_id": wf, "run_id": run_id, "compute_node_id": node,
                "completion_time": "2026-01-01T00:00:00Z", **outcome}
        flow.post(f"/jobs/{job['id']}/complete_job/{outcome['status']}/{run_id}", body)
    return ids


def check(api_url, *args):
    out = CliRunner().invoke(reports, ["check-resource-utilization", *args], obj=CliState(url=api_url))
    assert out.exit_code == 0, out.output
    return out.output


def test_check_resource_utilization(api_url):
    flow = Flow(api_url)
    wf = flow.workflow()
    rr = flow.post("/resource_requirements", {"workflow_id": wf, "name": "small", "num_cpus": 2, "memory": "1g", "runtime": "PT10M"})["id"]
    outcomes = {
        "fits": {"peak_memory_bytes": GIB // 2, "peak_cpu_percent": 190.0, "avg_memory_bytes": GIB // 4, "avg_cpu_percent": 100.0},
        "fat": {"peak_memory_bytes": 2 * GIB},
        "busy": {"peak_cpu_percent": 400.0},
        "slow": {"exec_time_minutes": 12.0},
        "oom": {"status": "failed", "return_code": 137, "exec_time_minutes": 2.0, "peak_memory_bytes": 3 * GIB},
    }
    flow.make_jobs(wf, {name: {"resource_requirements_id": rr} for name in outcomes} | {"unrequested": {}})
    ids = run_jobs(flow, wf, outcomes | {"unrequested": {"peak_memory_bytes": 8 * GIB}})

    report = json.loads(check(api_url, str(wf), "-f", "json"))
    assert report["workflow_id"] == wf and report["num_results"] == 6
    found = {job["job_name"]: job for job in report["jobs"]}
    assert sorted(found) == ["busy", "fat", "slow"]  # not the failed job, nor the one on "default" requirements
    assert found["fat"]["job_id"] == ids["fat"]
    assert found["fat"]["exceeded"] == [{
        "resource": "memory", "used": 2 * GIB, "requested": GIB, "ratio": 2.0, "used_text": "2.00 GiB", "requested_text": "1.00 GiB",
    }]
    assert [(e["resource"], e["ratio"]) for e in found["busy"]["exceeded"]] == [("cpu", 2.0)]
    assert [(e["resource"], e["ratio"]) for e in found["slow"]["exceeded"]] == [("runtime", 1.2)]

    with_failed = json.loads(check(api_url, str(wf), "--include-failed", "-f", "json"))
    oom = next(job for job in with_failed["jobs"] if job["job_name"] == "oom")
    assert (oom["status"], oom["return_code"], oom["likely_cause"]) == ("failed", 137, "oom")
    assert oom["exceeded"][0]["ratio"] == 3.0

    table = check(api_url, str(wf), "--include-failed")
    assert "fat" in table and "2.00 GiB" in table and "likely oom" in table


def test_nothing_exceeded(api_url):
    flow = Flow(api_url)
    wf = flow.workflow()
    flow.make_jobs(wf, {"a": {}})
    run_jobs(flow, wf, {"a": {}})
    assert "No job of workflow" in check(api_url, str(wf))
