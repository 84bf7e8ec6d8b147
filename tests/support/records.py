"""Seeding a server with one workflow that has a record of every kind, through the HTTP API."""

import itertools

import requests

_GROUPS = itertools.count()


def seed_every_kind(http: requests.Session, base: str) -> dict[str, int | str]:
    """One small workflow with a record of every kind (and a link of every kind); returns the ids by kind."""

    def call(method, path, body=None, **kwargs):
        answer = http.request(method, base + path, json=body, timeout=30, **kwargs)
        assert answer.status_code == 200, f"seeding {method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    created = call(
        "POST",
        "/workflows/from_spec",
        {
            "workflow": {"name": "fuzz", "user": "tester"},
            "files": [{"name": "in", "path": "/tmp/in"}, {"name": "out", "path": "/tmp/out"}],
            "user_data": [{"name": "params", "data": {"a": 1}}, {"name": "summary"}],
            "resource_requirements": [{"name": "small", "num_cpus": 1, "memory": "1g", "runtime": "PT10M"}],
            "failure_handlers": [{"name": "retry", "rules": [{"exit_codes": [1], "max_retries": 2}]}],
            "slurm_schedulers": [{"name": "short", "account": "acct"}],
            "jobs": [
                {"name": "a", "command": "true", "input_files": ["in"], "output_files": ["out"],
                 "input_user_data": ["params"], "resource_requirements": "small", "failure_handler": "retry",
                 "scheduler": "short"},
                {"name": "b", "command": "true", "depends_on": ["a"], "input_files": ["out"], "output_user_data": ["summary"]},
            ],
            "actions": [{"trigger_type": "on_workflow_start", "action_type": "run_commands",
                         "action_config": {"commands": ["true"]}},
                        {"trigger_type": "on_jobs_complete", "action_type": "run_commands", "job_names": ["b"],
                         "action_config": {"commands": ["true"]}}],
        },
    )
    wf = created["workflow"]["id"]
    q = {"workflow_id": wf}
    jobs = call("GET", "/jobs", params=q)["items"]
    known = {
        "workflow": wf,
        "job": jobs[0]["id"],
        "file": call("GET", "/files", params=q)["items"][0]["id"],
        "user_data": call("GET", "/user_data", params=q)["items"][0]["id"],
        "resource_requirements": jobs[0]["resource_requirements_id"],
        "failure_handler": jobs[0]["failure_handler_id"],
        "slurm_scheduler": jobs[0]["scheduler_id"],
        "action": call("GET", f"/workflows/{wf}/actions")[0]["id"],
        "run_id": 1,
        "user_name": "tester",
        "worker": "worker1",
    }
    call("POST", f"/workflows/{wf}/initialize_jobs")
    node = call("POST", "/compute_nodes", {
        "workflow_id": wf, "hostname": "localhost", "pid": 1, "start_time": "2026-01-01T00:00:00Z",
        "num_cpus": 4, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local",
    })["id"]
    known["compute_node"] = node
    known["scheduled_compute_node"] = call("POST", "/scheduled_compute_nodes", {
        "workflow_id": wf, "scheduler_id": 12345, "scheduler_config_id": known["slurm_scheduler"],
        "scheduler_type": "slurm", "status": "pending",
    })["id"]
    known["local_scheduler"] = call("POST", "/local_schedulers", {"workflow_id": wf, "num_cpus": 2})["id"]
    known["result"] = call("POST", "/results", {
        "job_id": jobs[1]["id"], "workflow_id": wf, "run_id": 1, "compute_node_id": node, "return_code": 0,
        "exec_time_minutes": 0.5, "completion_time": "2026-01-01T00:00:00Z", "status": "completed",
    })["id"]
    known["event"] = call("POST", "/events", {"workflow_id": wf, "data": {"note": "seeded"}})["id"]
    group = call("POST", "/access_groups", {"name": f"team-{next(_GROUPS)}"})["id"]
    known["access_group"] = group
    call("POST", f"/access_groups/{group}/members", {"user_name": "tester", "group_id": group})
    call("POST", f"/workflows/{wf}/access_groups", {"workflow_id": wf, "group_id": group})
    call("POST", f"/workflows/{wf}/remote_workers", ["worker1"])
    return known
