"""Workers ride out a restart of their server: ``torc run`` keeps working while the real
``torc-server`` is stopped and started again on the same port and database."""

import subprocess
import time

import pytest

from tests.conftest import POSTGRES_ADMIN_URL
from tests.runner.support import create_workflow, torc_command
from tests.support.servers import ServerProcess, fresh_database
from torc.client import make_api

JOBS = 24


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_torc_run_completes_its_workflow_across_a_server_restart(kind, tmp_path):
    with fresh_database(kind, tmp_path, POSTGRES_ADMIN_URL) as database:
        server = ServerProcess(database).start()
        port, url = server.port, server.api_url
        jobs = [{"name": f"j{i}", "command": f"sleep 0.4; echo {i} >> out_{i}.txt"} for i in range(JOBS)]
        wf = create_workflow(url, jobs)
        worker = subprocess.Popen(
            torc_command(url, "--retry-seconds", 120, "run", wf, "--num-cpus", 2, "-o", tmp_path / "out",
                         "--poll-interval", 0.2, "--idle-timeout", 30),
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            def done() -> int:
                return sum(1 for _ in make_api(url).iter_results(wf))

            wait_for(lambda: done() >= 4, 120, "the first results")
            assert server.stop() == 0
            down_at = time.monotonic()
            time.sleep(2)  # the worker meets a refused connection at least once
            assert worker.poll() is None, "the worker gave up while the server was down:\n" + worker.stdout.read()
            server = ServerProcess(database, port=port).start()
            assert server.port == port
            done_before = done()
            assert done_before < JOBS, "the workflow finished before the restart: nothing was proven"
            output, _ = worker.communicate(timeout=300)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            server.stop()
            log = server.log_text()
        assert worker.returncode == 0, f"torc run failed after the restart ({time.monotonic() - down_at:.0f} s):\n{output}\n{log}"
        assert "retry" in output.lower(), "the worker should have logged its retries"

        server = ServerProcess(database).start()
        try:
            api = make_api(server.api_url)
            assert {job.status for job in api.iter_jobs(wf)} == {"completed"}
            results = list(api.iter_results(wf, all_runs=True))
        finally:
            server.stop()
        assert len(results) == JOBS and all(r.status == "completed" for r in results), "each job ran exactly once"
        for i in range(JOBS):
            assert (tmp_path / f"out_{i}.txt").read_text().split() == [str(i)], f"job j{i} ran more than once"
