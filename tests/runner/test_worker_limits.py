"""``torc run`` limits against a real server: runtime kills, script timeouts, GPU ids from the
environment, and a worker frozen past its lease."""

import collections
import datetime as dt
import os
import signal
import subprocess
import time

from tests.runner.support import create_workflow, fake_nvidia_smi, jobs_by_name, results_by_job, run_torc, torc_command
from tests.support.servers import ServerProcess
from torc.client import make_api

FAST = ["--poll-interval", "0.2", "--idle-timeout", "5"]


def job(name, command, **extra):
    return {"name": name, "command": command, **extra}


def results_per_attempt(url, wf) -> collections.Counter:
    return collections.Counter((r.job_id, r.attempt_id) for r in make_api(url).iter_results(wf, all_runs=True))


def test_preset_cuda_visible_devices_gives_jobs_the_physical_ids(api_url, tmp_path):
    """A worker started with GPUs 2,3 (e.g. by Slurm) hands out 2 and 3, never 0 or 1."""
    gpu_job = {"command": 'echo "$CUDA_VISIBLE_DEVICES" > gpu_$TORC_JOB_NAME.txt; sleep 0.3', "resource_requirements": "gpu"}
    wf = create_workflow(
        api_url,
        [*({"name": f"g{i}", **gpu_job} for i in range(3)), job("cpu_only", 'echo "[$CUDA_VISIBLE_DEVICES]" > cpu_only.txt')],
        resource_requirements=[{"name": "gpu", "num_cpus": 1, "num_gpus": 1, "memory": "1m"}],
    )
    env = {**fake_nvidia_smi(tmp_path, 4), "CUDA_VISIBLE_DEVICES": "2,3"}
    run = run_torc(api_url, "run", wf, "--num-cpus", 4, "--memory-gb", 4, "-o", tmp_path / "out", *FAST, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert next(make_api(api_url).iter_compute_nodes(wf)).num_gpus == 2
    assert {(tmp_path / f"gpu_g{i}.txt").read_text().strip() for i in range(3)} == {"2", "3"}
    assert (tmp_path / "cpu_only.txt").read_text().strip() == "[]"


def test_runtime_overrun_kill_is_opt_in_and_escalates_to_sigkill(api_url, tmp_path):
    rr = [{"name": "short", "num_cpus": 1, "runtime": "PT1S"}]
    stubborn = "trap 'echo ignored >> term_$TORC_JOB_NAME.txt' TERM; for i in $(seq 60); do sleep 0.1; done"
    jobs = [job("stubborn", stubborn, resource_requirements="short")]
    wf = create_workflow(api_url, jobs, resource_requirements=rr)
    started = time.monotonic()
    run = run_torc(api_url, "run", wf, "--kill-on-runtime-exceeded", "--termination-grace", "0.5", "-o", tmp_path / "out", *FAST, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 5.5, "the overrunning job was not killed"
    result = results_by_job(api_url, wf)[jobs_by_name(api_url, wf)["stubborn"].id]
    assert result.status == "failed" and result.return_code == -9
    assert "over its runtime" in result.message and "SIGKILL" in result.message
    assert (tmp_path / "term_stubborn.txt").read_text().split() == ["ignored"], "SIGTERM came first"


def test_hanging_recovery_script_is_killed_at_the_timeout(api_url, tmp_path):
    handler = {"name": "stuck", "rules": [{"exit_codes": [9], "max_retries": 2, "recovery_script": "echo $TORC_RETURN_CODE > code.txt; sleep 60"}]}
    jobs = [job("broken", "exit 9", failure_handler="stuck"), job("bystander", "sleep 0.3"), job("follower", "true", depends_on=["bystander"])]
    wf = create_workflow(api_url, jobs, failure_handlers=[handler])
    started = time.monotonic()
    run = run_torc(api_url, "run", wf, "--script-timeout", "3", "-o", tmp_path / "out", *FAST, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 30
    by_name = jobs_by_name(api_url, wf)
    assert by_name["bystander"].status == by_name["follower"].status == "completed"
    assert by_name["broken"].status == "failed"
    results = results_by_job(api_url, wf)
    result = results[by_name["broken"].id]
    assert "recovery script timed out after 3 s" in result.message
    # The worker kept going while the script hung: the follower ended before the script was killed.
    follower_end = dt.datetime.fromisoformat(results[by_name["follower"].id].completion_time)
    assert follower_end < dt.datetime.fromisoformat(result.completion_time) - dt.timedelta(seconds=1.5)
    assert (tmp_path / "code.txt").read_text().strip() == "9"
    assert set(results_per_attempt(api_url, wf).values()) == {1}


def test_worker_frozen_past_its_lease_stops_its_job_and_reports_nothing(tmp_path):
    """SIGSTOP a worker until the server takes its job back, then SIGCONT it: it kills the job and
    exits without a result; a second worker completes every job exactly once."""
    with ServerProcess(str(tmp_path / "s.db"), extra_args=["--lost-worker-check-seconds", "0.5"]) as server:
        url = server.api_url
        jobs = [job("long", 'echo "start$TORC_ATTEMPT_ID" >> attempts.txt; sleep 8; echo "end$TORC_ATTEMPT_ID" >> attempts.txt'), job("quick", "true", depends_on=["long"])]
        wf = create_workflow(url, jobs)
        lease = ["--heartbeat-interval", "0.5", "--lease-seconds", "2"]
        first = subprocess.Popen(torc_command(url, "run", wf, "--num-cpus", 1, "-o", tmp_path / "out1", *FAST, *lease), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        attempts = tmp_path / "attempts.txt"
        deadline = time.monotonic() + 30
        while not (attempts.exists() and "start1" in attempts.read_text()):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGSTOP)
        try:
            while jobs_by_name(url, wf)["long"].attempt_id != 2:  # the server took the job back
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        first.wait(timeout=30)
        assert "lease lost" in first.stderr.read()
        assert "end1" not in attempts.read_text(), "the lost worker let its job run on"
        second = run_torc(url, "run", wf, "-o", tmp_path / "out2", *FAST, *lease, cwd=tmp_path, timeout=60)
        assert second.returncode == 0, second.stderr
        assert {j.status for j in jobs_by_name(url, wf).values()} == {"completed"}
        completed = [r.job_id for r in make_api(url).iter_results(wf, all_runs=True) if r.status == "completed"]
        assert sorted(completed) == sorted(j.id for j in jobs_by_name(url, wf).values())
        assert set(results_per_attempt(url, wf).values()) == {1}, "an attempt has more than one result"
        assert attempts.read_text().split() == ["start1", "start2", "end2"]


def test_failed_job_becomes_pending_failed_when_the_workflow_asks(api_url, tmp_path):
    jobs = [job("bad", "exit 4"), job("after", "true", depends_on=["bad"])]
    wf = create_workflow(api_url, jobs, workflow={"use_pending_failed": True})
    run = run_torc(api_url, "run", wf, "-o", tmp_path / "out", "--poll-interval", "0.2", "--idle-timeout", "1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    by_name = jobs_by_name(api_url, wf)
    assert by_name["bad"].status == "pending_failed"
    assert results_by_job(api_url, wf)[by_name["bad"].id].return_code == 4


def test_worker_exits_after_its_idle_timeout(api_url, tmp_path):
    """A worker told to ignore completion waits for new work, and gives up after --idle-timeout."""
    wf = create_workflow(api_url, [job("only", "true")], workflow={"compute_node_ignore_workflow_completion": True})
    started = time.monotonic()
    run = run_torc(api_url, "run", wf, "-o", tmp_path / "out", "--poll-interval", "0.2", "--idle-timeout", "2", cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert jobs_by_name(api_url, wf)["only"].status == "completed"
    assert 2 <= elapsed < 25, elapsed
    assert "no work for 2 s" in next((tmp_path / "out").glob("job_runner_*.log")).read_text()


def test_worker_stops_its_jobs_and_exits_when_the_workflow_is_canceled(api_url, tmp_path):
    wf = create_workflow(api_url, [job("long", "echo started > started.txt; sleep 60")])
    worker = subprocess.Popen(torc_command(api_url, "run", wf, "-o", tmp_path / "out", *FAST), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "started.txt").exists():
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    make_api(api_url).workflows.cancel_workflow(wf)
    assert worker.wait(timeout=30) == 0, worker.stderr.read()
    assert jobs_by_name(api_url, wf)["long"].status == "canceled"
