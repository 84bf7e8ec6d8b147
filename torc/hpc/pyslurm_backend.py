"""Optional: Slurm through pyslurm's Python API instead of its commands.

pyslurm talks to slurmctld directly (no process per query), which matters only on clusters where
thousands of workers poll. It is compiled against one Slurm release and breaks against another,
so it is used only when ``import pyslurm`` works **and** its version matches the installed Slurm
(pyslurm ``23.2.x`` is built for Slurm ``23.02``): see :func:`usable`. Select it with
``TORC_SLURM_BACKEND=pyslurm`` (or ``auto``: pyslurm when usable, else the commands).

This backend is deliberately thin: each method maps to one documented pyslurm (>= 23.2) call —
``JobSubmitDescription(script=...).load_sbatch_options()`` + ``submit()``, ``Jobs.load()``,
``Job(id).cancel()``, ``db.Jobs.load(db.JobFilter(ids=...))`` — and pyslurm's ``RPCError``
becomes the same errors (and retries) as the command backend. It is tested against a fake module
with that API (tests/hpc/test_pyslurm_backend.py); the command backend is the one tested on a
real cluster.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from torc.hpc.scheduler import HpcAccountingRecord, HpcError, HpcJobInfo, HpcScheduler, SchedulerCommandError
from torc.hpc.slurm import CommandRetry, base_state, classify, submission_env, with_retries


def installed_slurm_version() -> tuple[int, int] | None:
    """(major, minor) of the installed Slurm, from ``sinfo --version`` ("slurm 22.05.8" → (22, 5))."""
    try:
        out = subprocess.run(["sinfo", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def pyslurm_version(module) -> tuple[int, int] | None:
    text = getattr(module, "__version__", None) or (module.version() if hasattr(module, "version") else "")
    match = re.match(r"(\d+)\.(\d+)", str(text))
    return (int(match.group(1)), int(match.group(2))) if match else None


def usable(slurm_version: tuple[int, int] | None = None) -> bool:
    """pyslurm imports and was built for the installed Slurm release."""
    try:
        module = importlib.import_module("pyslurm")
    except ImportError:
        return False
    slurm_version = slurm_version or installed_slurm_version()
    return slurm_version is not None and pyslurm_version(module) == slurm_version


def _epoch(value) -> float | None:
    """pyslurm times are epoch seconds (int) or None/0 when unknown."""
    return float(value) if value else None


class PySlurmScheduler(HpcScheduler):
    name = "slurm"

    def __init__(self, module=None, retry: CommandRetry | None = None, sleep=time.sleep):
        if module is None:
            try:
                module = importlib.import_module("pyslurm")
            except ImportError as exc:
                raise HpcError(f"the pyslurm backend needs pyslurm ({exc}); use TORC_SLURM_BACKEND=commands") from None
        self.pyslurm = module
        self.retry = retry or CommandRetry.from_env()
        self.sleep = sleep

    def _call(self, what: str, operation):
        """One pyslurm call; its RPCError classified (and retried) like a failed command."""
        def attempt():
            try:
                return operation()
            except self.pyslurm.RPCError as exc:
                raise classify(["pyslurm", what], getattr(exc, "errno", None), str(exc)) from None

        return with_retries(attempt, self.retry, self.sleep)

    def submit(self, script: Path, env: dict[str, str] | None = None) -> str:
        def go():
            description = self.pyslurm.JobSubmitDescription(script=str(script), environment=submission_env(env))
            description.load_sbatch_options()  # the #SBATCH lines torc rendered
            return description.submit()

        return str(self._call("submit", go))

    def status(self, job_ids: Iterable[str]) -> dict[str, HpcJobInfo]:
        ids = {str(j) for j in job_ids}
        if not ids:
            return {}
        jobs = self._call("Jobs.load", self.pyslurm.Jobs.load)
        found = {}
        for job_id in ids:
            job = jobs.get(int(job_id))
            if job is not None:
                found[job_id] = HpcJobInfo(job_id, base_state(str(job.state)), getattr(job, "name", None), _epoch(getattr(job, "start_time", None)),
                                           _epoch(getattr(job, "end_time", None)), getattr(job, "nodes", None), getattr(job, "state_reason", None))
        missing = ids - set(found)
        for record in self.accounting(missing) if missing else []:
            if record.job_id in missing:
                found[record.job_id] = HpcJobInfo(record.job_id, record.state, record.name, None, None, record.nodes)
        return found

    def cancel(self, job_ids: Iterable[str]) -> None:
        for job_id in job_ids:
            try:
                self._call("cancel", lambda job_id=job_id: self.pyslurm.Job(int(job_id)).cancel())
            except SchedulerCommandError as exc:
                if "invalid job id" not in str(exc).lower() and "already completing" not in str(exc).lower():
                    raise

    def accounting(self, job_ids: Iterable[str]) -> list[HpcAccountingRecord]:
        ids = [int(j) for j in job_ids]
        if not ids:
            return []
        db = self.pyslurm.db
        jobs = self._call("db.Jobs.load", lambda: db.Jobs.load(db.JobFilter(ids=ids)))
        records = []
        for job in jobs.values():
            records.append(HpcAccountingRecord(
                str(job.id), getattr(job, "name", None), base_state(str(job.state)), str(getattr(job, "exit_code", "")) or None,
                _iso(getattr(job, "start_time", None)), _iso(getattr(job, "end_time", None)),
                str(getattr(job, "elapsed_time", "")) or None, getattr(job, "nodelist", None),
            ))
        return records


def _iso(value) -> str | None:
    import datetime as dt

    return dt.datetime.fromtimestamp(value).isoformat(timespec="seconds") if value else None
