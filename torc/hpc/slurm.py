"""Slurm through its command-line tools: ``sbatch --parsable``, ``squeue``, ``scancel``, ``sacct``.

The commands are what every Slurm site has and what users can rerun by hand, so this is torc's
default backend (and the one tested against a real cluster). Failures become
:class:`~torc.hpc.scheduler.SchedulerCommandError` with the command's own message plus a hint;
failures that look transient (controller busy, socket timeouts) are retried with exponential
backoff first, because a busy controller is routine on big clusters and must not fail a workflow.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from torc.hpc.scheduler import (
    HpcAccountingRecord,
    HpcJobInfo,
    HpcScheduler,
    SchedulerCommandError,
    TransientSchedulerError,
)

logger = logging.getLogger(__name__)

#: stderr fragments of failures worth retrying (lower case).
TRANSIENT_PATTERNS = (
    "socket timed out",
    "timed out",
    "unable to contact slurm controller",
    "slurm_receive_msg",
    "transport endpoint is not connected",
    "connection refused",
    "temporarily unavailable",
    "try again",
    "slurmctld not responding",
    "communication connection failure",
    "zero bytes were transmitted or received",
    "slurm temporarily unable to accept job",
)
#: stderr fragment → what the user should check.
HINTS = (
    ("invalid account", "check the account (--account / the scheduler's account): `sacctmgr show assoc user=$USER`"),
    ("invalid partition", "check the partition name: `sinfo -s` lists them"),
    ("invalid qos", "check the QOS: `sacctmgr show qos`"),
    ("time limit", "the walltime exceeds what the partition allows: `sinfo -o '%P %l'`"),
    ("node configuration is not available", "the requested CPUs/memory/GPUs/nodes exceed what the partition's nodes have"),
    ("memory specification", "the requested memory exceeds what the partition's nodes have"),
    ("qosmaxsubmitjob", "too many jobs queued for your QOS/account: wait or cancel some"),
    ("assocmaxsubmitjob", "too many jobs queued for your account: wait or cancel some"),
)
#: ``squeue`` fields, separated by "|"; the job name (free text) goes last.
SQUEUE_FORMAT = "%i|%T|%S|%e|%N|%r|%j"
SACCT_FIELDS = ("JobID", "JobName", "State", "ExitCode", "Start", "End", "Elapsed", "NodeList")


@dataclass(frozen=True)
class CommandRetry:
    """How often and how patiently transient failures are retried."""

    attempts: int = 5
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    timeout: float = 120.0  # per command

    @classmethod
    def from_env(cls) -> "CommandRetry":
        """``TORC_SLURM_RETRIES`` and ``TORC_SLURM_RETRY_DELAY`` override the defaults (tests, impatient users)."""
        return cls(
            attempts=int(os.environ.get("TORC_SLURM_RETRIES", cls.attempts)),
            first_delay=float(os.environ.get("TORC_SLURM_RETRY_DELAY", cls.first_delay)),
        )


def parse_slurm_time(text: str | None) -> float | None:
    """A Slurm timestamp (local time, ``2026-01-31T12:00:00``) as epoch seconds; None for N/A/Unknown."""
    if not text or text.strip() in {"N/A", "Unknown", "None", "(null)", "0"}:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def format_walltime(seconds: float) -> str:
    """Seconds as a Slurm time: ``D-HH:MM:SS`` (or ``HH:MM:SS`` under a day); at least one minute."""
    seconds = max(60, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def submission_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``sbatch``: without the variables of the allocation we may be in.

    Workers submit new allocations from inside their own; inherited ``SLURM_*`` variables (memory
    per CPU, CPUs per task, ...) would otherwise leak into the new allocation's request.
    """
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")) and name != "SLURM_CONF":
            del env[name]
    return env


Runner = Callable[..., subprocess.CompletedProcess]
T = TypeVar("T")


def classify(command: list[str], returncode: int | None, message: str) -> SchedulerCommandError:
    """A failure as transient (worth retrying) or permanent, with a hint for the user."""
    lower = message.lower()
    if any(pattern in lower for pattern in TRANSIENT_PATTERNS):
        return TransientSchedulerError(command, returncode, message)
    hint = next((text for fragment, text in HINTS if fragment in lower), None)
    return SchedulerCommandError(command, returncode, message, hint)


def with_retries(operation: Callable[[], T], retry: CommandRetry, sleep: Callable[[float], None] = time.sleep) -> T:
    """``operation()``, retried with exponential backoff while it raises TransientSchedulerError."""
    delay = retry.first_delay
    for attempt in range(1, retry.attempts + 1):
        try:
            return operation()
        except TransientSchedulerError as error:
            if attempt == retry.attempts:
                raise
            logger.warning("%s (attempt %d of %d); retrying in %.1f s", error, attempt, retry.attempts, delay)
            sleep(delay)
            delay = min(delay * retry.factor, retry.max_delay)
    raise AssertionError("unreachable")


class SlurmCommands(HpcScheduler):
    """Slurm through ``sbatch``/``squeue``/``scancel``/``sacct``."""

    name = "slurm"

    def __init__(self, retry: CommandRetry | None = None, bin_dir: str | None = None, runner: Runner = subprocess.run,
                 sleep: Callable[[float], None] = time.sleep):
        self.retry = retry or CommandRetry.from_env()
        self.bin_dir = bin_dir if bin_dir is not None else os.environ.get("TORC_SLURM_BIN_DIR")
        self.runner = runner
        self.sleep = sleep
        self._accounting_flags: list[str] | None = None

    # ------------------------------------------------------------------ running commands

    def _exe(self, name: str) -> str:
        return str(Path(self.bin_dir) / name) if self.bin_dir else name

    def run(self, args: list[str], env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,),
            accept: Callable[[str], bool] | None = None) -> subprocess.CompletedProcess:
        """Run a Slurm command, retrying transient failures; ``accept(stderr)`` marks failures that are answers."""
        command = [self._exe(args[0]), *args[1:]]

        def attempt() -> subprocess.CompletedProcess:
            try:
                done = self.runner(command, capture_output=True, text=True, timeout=self.retry.timeout, env=env)
            except FileNotFoundError:
                raise SchedulerCommandError(command, 127, f"{command[0]}: command not found",
                                            "Slurm's commands are not on PATH: is this a Slurm cluster?") from None
            except subprocess.TimeoutExpired:
                raise TransientSchedulerError(command, None, f"no answer within {self.retry.timeout:.0f} s") from None
            if done.returncode in ok_codes or (accept is not None and accept(done.stderr or "")):
                return done
            raise classify(command, done.returncode, (done.stderr or "").strip() or (done.stdout or "").strip())

        return with_retries(attempt, self.retry, self.sleep)

    # ------------------------------------------------------------------ the interface

    def submit(self, script: Path, env: dict[str, str] | None = None) -> str:
        done = self.run(["sbatch", "--parsable", str(script)], env=submission_env(env))
        match = re.search(r"^(\d+)", done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "")
        if not match:
            raise SchedulerCommandError(["sbatch", str(script)], done.returncode, f"unexpected output {done.stdout!r}")
        return match.group(1)

    def status(self, job_ids: Iterable[str]) -> dict[str, HpcJobInfo]:
        ids = sorted({str(j) for j in job_ids}, key=lambda j: (len(j), j))
        if not ids:
            return {}
        # A finished job needs --states=all; one too old for squeue makes it fail "Invalid job id".
        done = self.run(["squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", f"--format={SQUEUE_FORMAT}"],
                        accept=lambda err: "invalid job id" in err.lower())
        found = {info.job_id: info for info in self.parse_squeue(done.stdout if done.returncode == 0 else "")}
        missing = [j for j in ids if j not in found]
        if missing:
            for record in self.accounting(missing):
                if record.job_id in missing and record.job_id not in found:
                    found[record.job_id] = HpcJobInfo(record.job_id, base_state(record.state), record.name,
                                                      parse_slurm_time(record.start), parse_slurm_time(record.end), record.nodes)
        return {j: found[j] for j in ids if j in found}

    @staticmethod
    def parse_squeue(text: str) -> list[HpcJobInfo]:
        infos = []
        for line in text.splitlines():
            parts = line.strip().split("|", 6)
            if len(parts) != 7 or not parts[0]:
                continue
            job_id, state, start, end, nodes, reason, name = parts
            infos.append(HpcJobInfo(job_id, base_state(state), name or None, parse_slurm_time(start), parse_slurm_time(end),
                                    nodes or None, None if reason in ("None", "") else reason))
        return infos

    def cancel(self, job_ids: Iterable[str]) -> None:
        ids = [str(j) for j in job_ids]
        if ids:
            self.run(["scancel", *ids], accept=lambda err: "invalid job id" in err.lower() or "already completing" in err.lower())

    def accounting(self, job_ids: Iterable[str]) -> list[HpcAccountingRecord]:
        ids = [str(j) for j in job_ids]
        if not ids:
            return []
        args = ["--parsable2", "--noheader", f"--jobs={','.join(ids)}", f"--format={','.join(SACCT_FIELDS)}"]
        if self._accounting_flags is None:
            done = self.run(["sacct", *args], accept=lambda err: "accounting storage is disabled" in err.lower())
            if "accounting storage is disabled" in (done.stderr or "").lower() or done.returncode != 0:
                # No slurmdbd: the job completion log (jobcomp/filetxt) still has the finished jobs.
                self._accounting_flags = ["-c"]
            else:
                self._accounting_flags = []
                return self.parse_sacct(done.stdout)
        done = self.run(["sacct", *self._accounting_flags, *args])
        return self.parse_sacct(done.stdout)

    @staticmethod
    def parse_sacct(text: str) -> list[HpcAccountingRecord]:
        records = []
        for line in text.splitlines():
            parts = line.split("|")
            if len(parts) < len(SACCT_FIELDS) or not parts[0]:
                continue
            job_id, name, state, exit_code, start, end, elapsed, nodes = parts[: len(SACCT_FIELDS)]
            records.append(HpcAccountingRecord(job_id, name or None, base_state(state), exit_code or None, start or None,
                                               end or None, elapsed or None, nodes or None))
        return records


def base_state(state: str) -> str:
    """``CANCELLED by 0`` → ``CANCELLED``; ``RUNNING`` stays."""
    return state.strip().split(" ")[0].rstrip("+").upper() if state.strip() else "UNKNOWN"
