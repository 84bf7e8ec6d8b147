"""Adaptive prefetch (the default): how deep the worker holds claimed jobs, by their run times."""

from pathlib import Path

import pytest

from tests.runner.support import create_workflow, jobs_by_name, run_torc
from torc.runner.resources import Resources
from torc.runner.worker import AUTO_PREFETCH_MAX, JobRunner, RunnerConfig

FAST = ["--poll-interval", "0.2", "--idle-timeout", "5"]


def runner(prefetch=None, max_parallel_jobs=None, cpus=4) -> JobRunner:
    resources = Resources(num_cpus=cpus, memory_gb=8.0)
    return JobRunner(None, 1, RunnerConfig(output_dir=Path("."), resources=resources, max_parallel_jobs=max_parallel_jobs, prefetch=prefetch))


@pytest.mark.parametrize(
    "seconds, depth",
    [(0.001, AUTO_PREFETCH_MAX), (0.02, 100), (0.1, 20), (0.5, 4), (0.6, 0), (30.0, 0)],
)
def test_adaptive_depth_holds_about_half_a_second_of_work(seconds, depth):
    worker = runner()
    for _ in range(50):
        worker._adapt_prefetch(seconds)
    assert worker.prefetch == depth


def test_depth_follows_the_moving_average_and_a_fixed_depth_stays():
    worker = runner(max_parallel_jobs=2)
    worker._adapt_prefetch(0.01)
    assert worker.prefetch == 100
    for _ in range(30):
        worker._adapt_prefetch(5.0)
    assert worker.prefetch == 0, "long jobs are no longer held back from other workers"
    fixed = runner(prefetch=7)
    for seconds in (0.001, 60.0):
        fixed._adapt_prefetch(seconds)
        assert fixed.prefetch == 7
    assert runner(prefetch=0).prefetch == 0


def test_short_jobs_switch_prefetch_on_and_long_ones_never_do(api_url, tmp_path):
    quick = create_workflow(api_url, [{"name": f"q{i:03d}", "command": "true"} for i in range(120)])
    run = run_torc(api_url, "run", quick, "--num-cpus", 2, "-o", tmp_path / "quick", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert {j.status for j in jobs_by_name(api_url, quick).values()} == {"completed"}
    assert "holding up to" in run.stderr
    slow = create_workflow(api_url, [{"name": f"s{i}", "command": "sleep 0.7"} for i in range(3)])
    run = run_torc(api_url, "run", slow, "--num-cpus", 2, "-o", tmp_path / "slow", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "holding up to" not in run.stderr
    off = create_workflow(api_url, [{"name": f"o{i:03d}", "command": "true"} for i in range(60)])
    run = run_torc(api_url, "run", off, "--num-cpus", 2, "--prefetch", 0, "-o", tmp_path / "off", *FAST, cwd=tmp_path)
    assert run.returncode == 0 and "holding up to" not in run.stderr
    bad = run_torc(api_url, "run", off, "--prefetch", "lots", "-o", tmp_path / "bad", *FAST, cwd=tmp_path)
    assert bad.returncode == 2 and "neither auto nor a number" in bad.stderr and "Traceback" not in bad.stderr
