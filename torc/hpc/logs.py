"""``torc slurm parse-logs``: known failure messages in Slurm output and job logs.

When an allocation or a job dies, the reason is usually one recognizable line in the Slurm
output (``slurm_output_wf*_sl*.o|e``), a job's stderr or dmesg: the OOM killer, a time limit, a
node failure, a preemption. Finding that line in thousands of files is what this does.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

#: Slurm's banner when it ends a job or step: ``slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT <time> [DUE TO ...] ***``.
_BANNER = r"\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+"
#: (category, severity, pattern). Each pattern is anchored to the exact format of the program that
#: writes it (slurmstepd, srun, the kernel's OOM killer, Python, CUDA), so that a job which merely
#: prints a word like "memory" or "timeout" is not reported. First match per line wins.
PATTERNS: list[tuple[str, str, re.Pattern]] = [
    (category, severity, re.compile(pattern))
    for category, severity, pattern in (
        ("gpu_out_of_memory", "error", r"\bCUDA out of memory\.|\bCUDA_ERROR_OUT_OF_MEMORY\b|\bcudaErrorMemoryAllocation\b|^(?:\w+\.)*OutOfMemoryError: "),
        ("out_of_memory", "error", r"^slurmstepd: error: Detected \d+ oom[_-]kill event|^slurmstepd: error: Exceeded (?:job|step) memory limit"),
        ("out_of_memory", "error", r"(?:^|\] )(?:Memory cgroup )?[Oo]ut of memory: Kill(?:ed)? process \d+|\boom-kill:constraint=|invoked oom-killer: "),
        ("out_of_memory", "error", r"^MemoryError\b|instance of 'std::bad_alloc'|\[Errno 12\] Cannot allocate memory"),
        ("gpu_error", "error", r"\bCUDA error: |\bNCCL error\b|NVRM: Xid \(|GPU has fallen off the bus|uncorrectable ECC error"),
        ("time_limit", "error", _BANNER + r" DUE TO TIME LIMIT \*\*\*"),
        ("preempted", "warning", _BANNER + r" DUE TO PREEMPTION \*\*\*"),
        ("node_failure", "error", _BANNER + r" DUE TO NODE FAILURE|^srun: error: Node failure on \S+|^srun: error: Nodes? \S+ not responding"),
        ("cancelled", "warning", _BANNER + r"(?: DUE TO [A-Z ]+)? \*\*\*"),
        ("launch_failure", "error", r"^slurmstepd: error: (?:Unable to create TMPDIR|couldn't chdir|execve\(\): )|^srun: error: (?:Job|Task) launch (?:for \S+ )?failed|Prolog failure|^slurmstepd: error: .*batch script .*failed"),
        ("signal", "error", r"\bSegmentation fault\b|\(core dumped\)|\bBus error\b|\bIllegal instruction\b|caught signal 11 \(Segmentation fault"),
        ("python_exception", "error", r"^Traceback \(most recent call last\):"),
        ("disk_quota", "error", r"Disk quota exceeded|No space left on device|\bEDQUOT\b|\bENOSPC\b"),
        ("file_not_found", "warning", r": No such file or directory$|: command not found$|\[Errno 2\] No such file or directory"),
        ("permission", "warning", r": Permission denied$|\[Errno 13\] Permission denied"),
        ("mpi_error", "error", r"\bMPI_ABORT was invoked\b|^\S*PMIX ERROR|mpirun noticed that process|ORTE was unable"),
        ("torc_server_unreachable", "error", r"cannot reach the torc server|Max retries exceeded with url: /torc-service/"),
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
