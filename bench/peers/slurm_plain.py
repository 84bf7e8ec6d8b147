"""Plain Slurm, what users do without torc: one ``sbatch`` per job, or one job array.

Makespan: from the first ``sbatch`` until ``squeue`` shows every job (array task) finished,
polled every 0.2 s; each job must end COMPLETED.
"""

import shutil
import subprocess
import tempfile
import time

from bench.common import Timer
from bench.peers import Peer

FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


def slurm_unavailable() -> str | None:
    if not shutil.which("sbatch"):
        return "Slurm is not installed (no sbatch)"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    states = set(out.stdout.split())
    if out.returncode != 0 or not states & {"idle", "mix", "alloc"}:
        return f"no usable Slurm node (sinfo: {out.stdout.strip() or out.stderr.strip()}); start it with tests/slurm/start_local_slurm.sh"
    return None


def node_cpus() -> int:
    """CPUs of the (first) node of the default partition."""
    return int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout.split()[0].rstrip("+"))


def _states(job_ids: list[str]) -> list[str]:
    out = subprocess.run(["squeue", "-h", "--states=all", "-j", ",".join(job_ids), "-o", "%T"], capture_output=True, text=True)
    if out.returncode != 0:  # "Invalid job id": purged after MinJobAge, long finished
        return []
    return out.stdout.split()


def wait_for_slurm_jobs(job_ids: list[str], timeout: float) -> list[str]:
    """Wait until every job (and array task) is finished; cancel them after ``timeout``. Returns their states."""
    if not job_ids:
        return []
    deadline = time.monotonic() + timeout
    while True:
        states = _states(job_ids)
        if all(state in FINISHED for state in states):
            return states
        if time.monotonic() > deadline:
            subprocess.run(["scancel", *job_ids], capture_output=True)
            raise TimeoutError(f"Slurm jobs {','.join(job_ids)} still not finished after {timeout:.0f} s: {sorted(set(states))}")
        time.sleep(0.2)


class _PlainSlurm(Peer):
    def unavailable(self) -> str | None:
        return slurm_unavailable()

    def submit(self, count: int, seconds: float, folder: str) -> list[str]:
        raise NotImplementedError

    def run_sleep_jobs(self, count: int, seconds: float) -> dict:
        with tempfile.TemporaryDirectory(prefix="torc-bench-slurm-") as folder, Timer() as timer:
            job_ids = self.submit(count, seconds, folder)
            states = wait_for_slurm_jobs(job_ids, timeout=60 + 2 * count * seconds)
        if len(states) != count or set(states) != {"COMPLETED"}:
            raise RuntimeError(f"{states.count('COMPLETED')} of {count} Slurm jobs COMPLETED: {sorted(set(states))}")
        return {"seconds": timer.seconds}


def _sbatch(folder: str, *args: str) -> str:
    command = ["sbatch", "--parsable", "-J", "bench_plain", "-o", "/dev/null", "-e", "/dev/null", *args]
    return subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True).stdout.strip().split(";")[0]


class SbatchEach(_PlainSlurm):
    name = "sbatch per job"

    def submit(self, count: int, seconds: float, folder: str) -> list[str]:
        return [_sbatch(folder, "--wrap", f"sleep {seconds}") for _ in range(count)]


class SbatchArray(_PlainSlurm):
    name = "sbatch --array (one job array)"

    def submit(self, count: int, seconds: float, folder: str) -> list[str]:
        return [_sbatch(folder, f"--array=1-{count}", "--wrap", f"sleep {seconds}")]
