"""``torc slurm parse-logs``: known failure messages in Slurm output and job logs.

When an allocation or a job dies, the reason is usually one recognizable line in the Slurm
output (``slurm_output_wf*_sl*.o|e``), a job's stderr or dmesg: the OOM killer, a time limit, a
node failure, a preemption. Finding that line in thousands of files is what this does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

#: (category, severity, pattern). Case-insensitive; first match per line wins.
PATTERNS: list[tuple[str, str, re.Pattern]] = [
    (category, severity, re.compile(pattern, re.IGNORECASE))
    for category, severity, pattern in (
        ("gpu_out_of_memory", "error", r"CUDA out of memory|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|OutOfMemoryError"),
        ("out_of_memory", "error", r"oom[_-]kill|out of memory|oom-killer|Killed process \d+|memory cgroup out of memory"),
        ("out_of_memory", "error", r"Exceeded job memory limit|exceeded memory limit|MemoryError|std::bad_alloc|Cannot allocate memory"),
        ("gpu_error", "error", r"CUDA error|NCCL error|Xid \d+|GPU has fallen off the bus|uncorrectable ECC"),
        ("time_limit", "error", r"DUE TO TIME LIMIT|time limit exceeded|TIMEOUT"),
        ("preempted", "warning", r"DUE TO PREEMPTION|preempted"),
        ("node_failure", "error", r"DUE TO NODE FAILURE|NODE_FAIL|node failure|Node \S+ not responding"),
        ("cancelled", "warning", r"\bCANCELLED AT\b|JOB \d+ ON \S+ CANCELLED"),
        ("launch_failure", "error", r"Unable to create TMPDIR|Job launch failure|couldn't chdir|Prolog failure|batch script .*failed"),
        ("signal", "error", r"Segmentation fault|SIGSEGV|core dumped|Bus error|SIGBUS|Illegal instruction|Aborted \(core"),
        ("python_exception", "error", r"^Traceback \(most recent call last\)"),
        ("disk_quota", "error", r"Disk quota exceeded|No space left on device|EDQUOT|ENOSPC"),
        ("file_not_found", "warning", r"No such file or directory|command not found"),
        ("permission", "warning", r"Permission denied"),
        ("mpi_error", "error", r"MPI_ABORT|PMIX ERROR|mpirun noticed that process|ORTE was unable"),
        ("torc_server_unreachable", "error", r"cannot reach the torc server|Connection refused.*torc|Max retries exceeded with url"),
        ("torc_worker_lost", "error", r"declared this worker lost|lease lost"),
        ("slurm_error", "error", r"^s(?:batch|run|alloc|lurmstepd)(?:-\S+)?: error:"),
    )
]
#: Files scanned inside a directory.
LOG_GLOBS = ("slurm_output_*", "*.o", "*.e", "*.log", "*.out", "*.err", "slurm-*.out")
#: Longest line reported (a traceback line can be megabytes of data).
MAX_TEXT = 200


@dataclass
class Finding:
    file: str
    line: int
    category: str
    severity: str
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


def scan_text(text: str, file: str = "-") -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for category, severity, pattern in PATTERNS:
            if pattern.search(line):
                findings.append(Finding(file, number, category, severity, line.strip()[:MAX_TEXT]))
                break
    return findings


def log_files(paths: list[Path], workflow_id: int | None = None) -> list[Path]:
    """The files to scan: given files as they are, directories searched recursively."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path)
            continue
        for glob in LOG_GLOBS:
            found.update(p for p in path.rglob(glob) if p.is_file())
    if workflow_id is not None:
        found = {p for p in found if not p.name.startswith("slurm_output_wf") or p.name.startswith(f"slurm_output_wf{workflow_id}_")}
    return sorted(found)


def scan_paths(paths: list[Path], workflow_id: int | None = None) -> list[Finding]:
    findings = []
    for path in log_files(paths, workflow_id):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        findings.extend(scan_text(text, str(path)))
    return findings
