"""Helpers for worker tests: create workflows through the client, run ``torc run`` as a user would."""

import datetime as dt
import os
import subprocess
import sys

from torc.client import make_api
from torc.openapi_client.models import WorkflowSpecRecords


def create_workflow(api_url: str, jobs: list[dict], **sections) -> int:
    """Create and initialize a workflow from expanded-spec records; return its id."""
    api = make_api(api_url)
    records = {"workflow": {"name": "test", "user": "tester", **sections.pop("workflow", {})}, "jobs": jobs, **sections}
    wf = api.workflows.create_workflow_from_spec(WorkflowSpecRecords.from_dict(records)).workflow.id
    api.workflows.initialize_jobs(wf)
    return wf


def torc_command(api_url: str, *args) -> list[str]:
    return [sys.executable, "-m", "torc.cli.main", "--url", api_url, *map(str, args)]


def run_torc(api_url: str, *args, cwd, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        torc_command(api_url, *args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def jobs_by_name(api_url: str, wf: int) -> dict:
    return {job.name: job for job in make_api(api_url).iter_jobs(wf)}


def results_by_job(api_url: str, wf: int, **filters) -> dict:
    return {r.job_id: r for r in make_api(api_url).iter_results(wf, **filters)}


def intervals(api_url: str, wf: int) -> dict[str, tuple[float, float]]:
    """Job name → (start, end) epoch seconds, from each latest result's completion time and run time."""
    names = {job.id: job.name for job in make_api(api_url).iter_jobs(wf)}
    spans = {}
    for result in make_api(api_url).iter_results(wf):
        end = dt.datetime.fromisoformat(result.completion_time).timestamp()
        spans[names[result.job_id]] = (end - result.exec_time_minutes * 60, end)
    return spans


#: Completion times are recorded to the millisecond, so spans are only this exact.
SPAN_PRECISION_SECONDS = 0.002


def max_overlap(spans) -> int:
    """Largest number of intervals that are open at the same moment (intervals that touch within
    the precision of the recorded times do not count as overlapping)."""
    trimmed = [(start + SPAN_PRECISION_SECONDS / 2, end - SPAN_PRECISION_SECONDS / 2) for start, end in spans]
    events = sorted([(start, 1) for start, _ in trimmed] + [(end, -1) for _, end in trimmed])
    best = current = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def fake_nvidia_smi(tmp_path, num_gpus: int) -> dict:
    """Put an ``nvidia-smi`` that lists ``num_gpus`` GPUs on PATH; return the environment to use."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\n" + "".join(f"echo {i}\n" for i in range(num_gpus)))
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
