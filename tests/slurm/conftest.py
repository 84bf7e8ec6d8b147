"""Fixtures for tests on the real local Slurm (tests/slurm/start_local_slurm.sh, see README.md).

One torc server on SQLite per test module, emptied before each test; allocations reach it on
127.0.0.1 because the Slurm node is this machine. Workers in allocations run this checkout's
Python (``TORC_WORKER_COMMAND``). Every Slurm job a test's workflows submitted is cancelled when
the test ends, whatever happened.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.servers import ServerProcess
from torc.cli.main import cli
from torc.client import make_api

HERE = Path(__file__).resolve().parent
WORKER_COMMAND = f"{sys.executable} -m torc.cli.main"


@pytest.fixture(scope="session")
def local_slurm():
    """The local cluster is up (idempotent: ≈0.1 s when it already is)."""
    subprocess.run(["bash", str(HERE / "start_local_slurm.sh")], check=True, timeout=240, capture_output=True)


@pytest.fixture(scope="module")
def slurm_server(local_slurm, tmp_path_factory):
    # Fast lost-worker sweeps, so that a hard-killed worker's jobs come back quickly.
    database = str(tmp_path_factory.mktemp("slurm-db") / "torc.db")
    with ServerProcess(database, extra_args=["--lost-worker-check-seconds", "1"]) as server:
        yield server


class Torc:
    """``torc(...)`` runs the CLI in-process against the test server; ``json`` parses ``-f json`` output."""

    def __init__(self, url: str):
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args, expect_exit: int = 0):
        result = self.runner.invoke(cli, ["--url", self.url, *map(str, args)])
        assert result.exit_code == expect_exit, f"torc {args} exited {result.exit_code}\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
        return result

    def json(self, *args, **kwargs):
        return json.loads(self("-f", "json", *args, **kwargs).stdout)


@pytest.fixture
def torc(slurm_server, tmp_path, monkeypatch):
    slurm_server.clear_database()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORC_WORKER_COMMAND", WORKER_COMMAND)
    tool = Torc(slurm_server.api_url)
    yield tool
    cancel_all(slurm_server.api_url)


def cancel_all(url: str) -> None:
    with make_api(url) as api:
        ids = [str(r.scheduler_id) for wf in api.iter_workflows() for r in api.iter_scheduled_compute_nodes(wf.id) if r.scheduler_id]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def slurm_times(job_id: str) -> dict:
    """Submit/start/end (epoch seconds) and state of a Slurm job, from squeue (finished jobs included)."""
    from torc.hpc.slurm import parse_slurm_time

    out = subprocess.run(["squeue", "-h", "--states=all", "-j", str(job_id), "-o", "%V|%S|%e|%T"], capture_output=True, text=True).stdout.strip()
    submit, start, end, state = out.split("|")
    return {"submit": parse_slurm_time(submit), "start": parse_slurm_time(start), "end": parse_slurm_time(end), "state": state}
