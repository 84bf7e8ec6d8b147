"""Helpers that drive jobs through the execution endpoints like a worker would."""

from tests.api.helpers import Http


class Flow(Http):
    def make_jobs(self, wf: int, specs: dict[str, dict]) -> dict[str, int]:
        """Create jobs in order; ``depends_on`` lists names of jobs created before."""
        ids: dict[str, int] = {}
        for name, spec in specs.items():
            spec = dict(spec)
            deps = [ids[d] for d in spec.pop("depends_on", [])]
            body = {"workflow_id": wf, "name": name, "command": spec.pop("command", f"echo {name}"), "depends_on_job_ids": deps, **spec}
            ids[name] = self.post("/jobs", body)["id"]
        return ids

    def statuses(self, wf: int) -> dict[str, str]:
        return {j["name"]: j["status"] for j in self.get("/jobs", params={"workflow_id": wf})["items"]}

    def node(self, wf: int, cpus: int = 4) -> int:
        return self.post("/compute_nodes", {
            "workflow_id": wf, "hostname": "localhost", "pid": 1, "start_time": "2026-01-01T00:00:00Z",
            "num_cpus": cpus, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local",
        })["id"]

    def run_id(self, wf: int) -> int:
        return self.get(f"/workflows/{wf}/status")["run_id"]

    def claim(self, wf: int, limit: int = 100, **params) -> list[dict]:
        return self.post(f"/workflows/{wf}/claim_next_jobs", params={"limit": limit, **params})["jobs"]

    def start(self, job_id: int, node: int, run_id: int = 1, expect: int = 200):
        return self.put(f"/jobs/{job_id}/start_job/{run_id}/{node}", expect=expect)

    def complete(self, job_id: int, wf: int, node: int, status: str = "completed", rc: int = 0, run_id: int = 1, expect: int = 200, attempt_id=None):
        body = {
            "job_id": job_id, "workflow_id": wf, "run_id": run_id, "compute_node_id": node, "return_code": rc,
            "exec_time_minutes": 0.01, "completion_time": "2026-01-01T00:00:00Z", "status": status,
        }
        if attempt_id is not None:
            body["attempt_id"] = attempt_id
        return self.post(f"/jobs/{job_id}/complete_job/{status}/{run_id}", body, expect=expect)

    def run_one(self, wf: int, job_id: int, node: int, status: str = "completed", rc: int = 0):
        """Claim must already have happened; start and complete."""
        self.start(job_id, node)
        return self.complete(job_id, wf, node, status, rc)
