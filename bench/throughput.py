"""Worker throughput and dependency latency through ``torc run`` (a real worker process).

- no-op throughput: N ``true`` jobs, in resource mode and in queue mode (``--max-parallel-jobs``);
- dependency hop: a chain of N jobs; the median time from one job's end to the next one's start,
  taken from the results (start = completion time - execution time).
"""

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile

from bench.common import Timer, create_workflow, report, server
from torc.client import make_api

CORES = os.cpu_count() or 1


def _torc_run(api_url: str, workflow: int, *args) -> float:
    command = [sys.executable, "-m", "torc.cli.main", "--url", api_url, "run", str(workflow), "--idle-timeout", "5", *map(str, args)]
    with tempfile.TemporaryDirectory(prefix="torc-bench-") as folder, Timer() as timer:
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return timer.seconds


def noop(backend: str, jobs: int, mode: str) -> dict:
    options = ["--max-parallel-jobs", CORES] if mode == "queue" else ["--num-cpus", CORES, "--memory-gb", 4]
    with server(backend) as srv:
        workflow = create_workflow(srv.api_url, [{"name": f"n{i}", "command": "true"} for i in range(jobs)])
        make_api(srv.api_url).workflows.initialize_jobs(workflow)
        seconds = _torc_run(srv.api_url, workflow, *options)
    return report(f"noop[{backend},{mode}]", {"jobs": jobs, "seconds": seconds, "jobs_per_s": jobs / seconds})


def chain(backend: str, jobs: int) -> dict:
    with server(backend) as srv:
        workflow = create_workflow(
            srv.api_url, [{"name": f"c{i:04d}", "command": "true", "depends_on": [f"c{i - 1:04d}"] if i else []} for i in range(jobs)]
        )
        api = make_api(srv.api_url)
        api.workflows.initialize_jobs(workflow)
        _torc_run(srv.api_url, workflow, "--num-cpus", CORES, "--memory-gb", 4)
        names = {job.id: job.name for job in api.iter_jobs(workflow)}
        spans = {}
        for result in api.iter_results(workflow):
            end = dt.datetime.fromisoformat(result.completion_time).timestamp()
            spans[names[result.job_id]] = (end - result.exec_time_minutes * 60, end)
    ordered = [spans[name] for name in sorted(spans)]
    hops = [nxt[0] - prev[1] for prev, nxt in zip(ordered, ordered[1:])]
    return report(
        f"dependency_hop[{backend}]",
        {"jobs": jobs, "median_ms": statistics.median(hops) * 1000, "p90_ms": statistics.quantiles(hops, n=10)[-1] * 1000},
    )
