"""A worker leaves no connection open when it is done: a kept-alive connection makes a stopping
server wait for it (gunicorn lingers on open connections), which is what ``torc run --standalone``
does right after its worker returns."""

from tests.runner.support import create_workflow, jobs_by_name
from torc.client import make_api
from torc.runner.resources import Resources
from torc.runner.worker import JobRunner, RunnerConfig


def test_worker_closes_its_heartbeat_connection(api_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    wf = create_workflow(api_url, [{"name": "one", "command": "/bin/true"}])
    with make_api(api_url) as api:
        runner = JobRunner(api, wf, RunnerConfig(output_dir=tmp_path / "out", resources=Resources(num_cpus=1, memory_gb=1.0), idle_timeout=5))
        stats = runner.run()
        assert stats["completed"] == 1
        assert jobs_by_name(api_url, wf)["one"].status == "completed"
        assert len(runner.heartbeat_api.api_client.rest_client.pool_manager.pools) == 0  # every connection closed
