"""torc itself: ``torc run`` on this machine, and ``torc submit`` on Slurm.

Each run gets a ``torc-server`` subprocess on a fresh database (started before the clock). The
clock covers creating and initializing the workflow over HTTP and the ``torc run`` process from
its start (≈1 s of Python start-up included) to its exit, or for Slurm, ``torc submit`` until
the server says the workflow is complete.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import CORES, Timer, backend_unavailable, server
from bench.peers import Peer
from bench.peers.slurm_plain import node_cpus, slurm_unavailable, wait_for_slurm_jobs
from torc.client import make_api

TORC = [sys.executable, "-m", "torc.cli.main"]
#: tmpfs for the jobs' output files (see TorcLocal), or None: the system's temporary folder.
RAM_DISK = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _cli(command: list[str], cwd: str) -> str:
    """Run a torc command; its stderr goes into the error."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"torc {' '.join(command[3:])} exited {done.returncode}: {done.stderr.strip()[-1000:]}")
    return done.stdout


def _create(api, jobs: list[dict], **workflow) -> int:
    records = {"workflow": {"name": "bench", "user": "bench", **workflow}, "jobs": jobs}
    return api.create_workflow_from_records(records, initialize=True).workflow.id  # as torc run SPEC does


def _check_completed(api, workflow_id: int, expected: int) -> None:
    statuses = [job.status for job in api.iter_jobs(workflow_id)]
    done = statuses.count("completed")
    if done != expected or len(statuses) != expected:
        raise RuntimeError(f"{done} of {expected} jobs completed ({len(statuses)} jobs)")


class TorcLocal(Peer):
    """``torc run`` in resource mode (claims by CPUs/memory) or queue mode (``--max-parallel-jobs``),
    each with its default adaptive prefetch (claimed jobs held locally, reports batched) and with
    ``--prefetch 0`` (a round trip per slot turn).

    The jobs' output files (two per job) go to a folder on tmpfs where there is one: the peers keep
    no per-job output, and on ext4 creating a file soon after many were deleted (earlier runs'
    folders) can cost half a millisecond, which would measure the file system, not the orchestrator.
    """

    MODES = {
        "resources": ["--num-cpus", CORES, "--memory-gb", 4],
        "queue": ["--max-parallel-jobs", CORES],
        "resources-no-prefetch": ["--num-cpus", CORES, "--memory-gb", 4, "--prefetch", 0],
        "queue-no-prefetch": ["--max-parallel-jobs", CORES, "--prefetch", 0],
    }

    def __init__(self, mode: str, backend: str = "sqlite"):
        self.options = [str(option) for option in self.MODES[mode]]
        self.backend = backend
        shown = [option for option in self.options if option not in ("--memory-gb", "4")]
        self.name = f"torc run {' '.join(shown)}" + ("" if backend == "sqlite" else f" ({backend})")

    def unavailable(self) -> str | None:
        return backend_unavailable(self.backend)

    def _run(self, jobs: list[dict]) -> dict:
        with server(self.backend) as srv, tempfile.TemporaryDirectory(prefix="torc-bench-", dir=RAM_DISK) as folder:
            api = make_api(srv.api_url)
            with Timer() as total:
                with Timer() as create:
                    workflow_id = _create(api, jobs)
                command = [*TORC, "--url", srv.api_url, "run", str(workflow_id), "--idle-timeout", "5", *self.options]
                subprocess.run(command, cwd=folder, check=True, capture_output=True)
            _check_completed(api, workflow_id, len(jobs))
        return {"seconds": total.seconds, "create_s": create.seconds, "run_s": total.seconds - create.seconds}

    def run_noop(self, jobs: int) -> dict:
        return self._run([{"name": f"n{i}", "command": "/bin/true"} for i in range(jobs)])

    def run_chain(self, commands: list[str]) -> dict:
        return self._run([
            {"name": f"c{i:06d}", "command": command, "depends_on": [f"c{i - 1:06d}"] if i else []}
            for i, command in enumerate(commands)
        ])


class TorcSlurm(Peer):
    """``torc submit``: one allocation of the whole node whose worker runs the jobs (1 CPU each)."""

    name = "torc submit (1 allocation, whole node)"

    def unavailable(self) -> str | None:
        return slurm_unavailable()

    def spec(self, count: int, seconds: float) -> dict:
        return {
            "name": "bench_slurm",
            "compute_node_expiration_buffer_seconds": 5,
            "jobs": [{"name": "s_{i}", "command": f"sleep {seconds}", "resource_requirements": "one_cpu", "parameters": {"i": f"1:{count}"}}],
            "resource_requirements": [{"name": "one_cpu", "num_cpus": 1, "memory": "10m", "runtime": "PT5M"}],
            "slurm_schedulers": [{"name": "node", "account": "bench", "walltime": "00:30:00", "extra": f"--cpus-per-task={node_cpus()}"}],
            "actions": [{"trigger_type": "on_workflow_start", "action_type": "schedule_nodes", "scheduler": "node",
                         "scheduler_type": "slurm", "num_allocations": 1}],
        }

    def run_sleep_jobs(self, count: int, seconds: float) -> dict:
        with server("sqlite") as srv, tempfile.TemporaryDirectory(prefix="torc-bench-slurm-") as folder:
            spec = Path(folder) / "spec.yaml"  # JSON is YAML
            spec.write_text(json.dumps(self.spec(count, seconds)))
            api = make_api(srv.api_url)
            command = [*TORC, "--url", srv.api_url, "-f", "json", "submit", str(spec), "--idle-timeout", "2",
                       "--worker-command", " ".join(TORC)]
            allocations = []
            try:
                with Timer() as timer:
                    submitted = json.loads(_cli(command, folder))
                    allocations = [a["slurm_job_id"] for a in submitted["allocations"]]
                    workflow_id = submitted["workflow_id"]
                    deadline = time.monotonic() + 60 + 2 * count * seconds
                    while not api.workflows.is_workflow_complete(workflow_id).is_complete:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"workflow {workflow_id} not complete after {timer.elapsed():.0f} s")
                        time.sleep(0.2)
                _check_completed(api, workflow_id, count)
            finally:
                # The worker exits after its idle timeout; the node must be free before the next run.
                wait_for_slurm_jobs(allocations, timeout=60)
        return {"seconds": timer.seconds}
