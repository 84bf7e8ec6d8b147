"""The one interface torc uses to talk to an HPC batch scheduler.

Everything above this layer (submission of allocations, the allocation worker, orphan detection,
``torc slurm sacct``) works with :class:`HpcScheduler` and the plain records below, so the Slurm
command implementation (:mod:`torc.hpc.slurm`, the one tested on a real cluster) and the optional
pyslurm one (:mod:`torc.hpc.pyslurm_backend`) are interchangeable.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Scheduler states of an allocation that still holds (or will hold) resources.
ACTIVE_STATES = frozenset(
    {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
     "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}
)
#: Final states in which the allocation's processes were killed from outside (its jobs are orphans).
KILLED_STATES = frozenset({"CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "FAILED"})


class HpcError(Exception):
    """A scheduler operation failed; the message says which command and why, for a person."""


class SchedulerCommandError(HpcError):
    """A scheduler command exited non-zero (after retries, if the failure looked transient)."""

    def __init__(self, command: list[str], returncode: int | None, stderr: str, hint: str | None = None):
        self.command = command
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.hint = hint
        detail = self.stderr.splitlines()[-1] if self.stderr else "no error message"
        how = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"{' '.join(command[:1])} {how}: {detail}" + (f" ({hint})" if hint else ""))


class TransientSchedulerError(SchedulerCommandError):
    """A failure that retrying may cure (controller busy or unreachable, socket timeout)."""


@dataclass
class HpcJobInfo:
    """What the scheduler says about one of its jobs (an allocation)."""

    job_id: str
    state: str  # the scheduler's own word, upper case: PENDING, RUNNING, CANCELLED, ...
    name: str | None = None
    start_time: float | None = None  # epoch seconds
    end_time: float | None = None  # epoch seconds: expected end while running, actual end afterwards
    nodes: str | None = None
    reason: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def was_killed(self) -> bool:
        return self.state in KILLED_STATES


@dataclass
class HpcAccountingRecord:
    """One line of accounting (``sacct``): an allocation or one of its steps."""

    job_id: str
    name: str | None
    state: str
    exit_code: str | None
    start: str | None
    end: str | None
    elapsed: str | None
    nodes: str | None
    extra: dict = field(default_factory=dict)


class HpcScheduler(abc.ABC):
    """Submit, watch, cancel and account allocations of one batch system."""

    name: str = "hpc"

    @abc.abstractmethod
    def submit(self, script: Path, env: dict[str, str] | None = None) -> str:
        """Submit a batch script; return the scheduler's job id."""

    @abc.abstractmethod
    def status(self, job_ids: Iterable[str]) -> dict[str, HpcJobInfo]:
        """State of many jobs in one query; ids the scheduler no longer knows are missing."""

    @abc.abstractmethod
    def cancel(self, job_ids: Iterable[str]) -> None:
        """Cancel jobs (pending or running); unknown or finished ids are not an error."""

    @abc.abstractmethod
    def accounting(self, job_ids: Iterable[str]) -> list[HpcAccountingRecord]:
        """Accounting records of finished and running jobs (and their steps)."""

    def end_time(self, job_id: str) -> float | None:
        """Epoch seconds when the allocation ``job_id`` will be killed (None: no limit/unknown)."""
        info = self.status([job_id]).get(str(job_id))
        return info.end_time if info is not None else None

    @staticmethod
    def current_job_id() -> str | None:
        """The id of the allocation this process runs in, if any."""
        return os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOBID")


def get_scheduler(backend: str | None = None) -> HpcScheduler:
    """The scheduler implementation to use.

    ``backend`` (or ``TORC_SLURM_BACKEND``): ``commands`` (Slurm's command-line tools; the default
    and the one tested on a real cluster), ``pyslurm`` (requires a pyslurm matching the installed
    Slurm), or ``auto`` (pyslurm when it is usable, else the commands).
    """
    from torc.hpc import pyslurm_backend
    from torc.hpc.slurm import SlurmCommands

    choice = (backend or os.environ.get("TORC_SLURM_BACKEND") or "commands").lower()
    if choice == "commands":
        return SlurmCommands()
    if choice == "pyslurm":
        return pyslurm_backend.PySlurmScheduler()
    if choice == "auto":
        return pyslurm_backend.PySlurmScheduler() if pyslurm_backend.usable() else SlurmCommands()
    raise HpcError(f"unknown Slurm backend {choice!r}: use commands, pyslurm or auto")
