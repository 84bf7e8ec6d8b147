"""Which jobs used more than they asked for, and why a failed job probably failed.

Pure functions over the API's records (dicts or generated models) so the rules can be tested with
plain data: a job's latest result (peak memory, peak CPU %, run time) is compared with its
resource requirements (memory, num_cpus × 100 %, runtime). Jobs that exceed their requests are
what users must fix before scaling up — the scheduler packs jobs by the requests, so a job using
more memory than requested can push a node into the OOM killer, and one running past its runtime
is killed at the end of its allocation.

For failed jobs the likely cause follows upstream torc's heuristics:

* **oom**: peak memory above the request, or killed by SIGKILL (return code 137, or -9 from a
  signal death) before 80 % of the requested runtime — the Slurm/kernel OOM killer sends SIGKILL and
  the monitor may not have seen the final spike.
* **timeout**: ran longer than 90 % of the requested runtime, or killed by SIGXCPU (152 / -24).
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from torc.units import parse_duration_seconds, parse_memory_bytes

#: Peak CPU % may exceed num_cpus × 100 by this fraction before it is reported: samples over short
#: windows and a clock tick of resolution overshoot a little even for well-behaved jobs.
DEFAULT_CPU_TOLERANCE = 0.10
#: Every workflow has resource requirements of this name (1 CPU, 1m memory, 1 minute) for jobs that
#: named none. They are placeholders, not requests, so their jobs are not checked.
DEFAULT_REQUIREMENTS_NAME = "default"
CHECKED_STATUSES = frozenset({"completed"})
FAILED_STATUSES = frozenset({"failed", "terminated", "pending_failed"})
SIGKILL_CODES = frozenset({137, -9})
SIGXCPU_CODES = frozenset({152, -24})
#: A job killed by SIGKILL before this fraction of its runtime was probably OOM-killed, not timed out.
OOM_BEFORE_RUNTIME_FRACTION = 0.8
#: A failed job that ran longer than this fraction of its runtime probably hit the time limit.
TIMEOUT_AFTER_RUNTIME_FRACTION = 0.9


@dataclass
class Exceeded:
    """One resource over its request. Units: bytes (memory), percent (cpu), seconds (runtime)."""

    resource: str
    used: float
    requested: float
    ratio: float
    used_text: str
    requested_text: str


@dataclass
class Finding:
    """A job worth a look: it exceeded a request, or it failed with a recognisable cause."""

    job_id: int
    job_name: str
    status: str
    return_code: int
    exceeded: list[Exceeded] = field(default_factory=list)
    likely_cause: str | None = None  # "oom" | "timeout" | None
    cause_detail: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Requested:
    """A resource requirement's numbers (None where not set or unparsable)."""

    memory_bytes: int | None
    cpu_percent: float | None
    runtime_seconds: float | None

    @classmethod
    def of(cls, requirement: Mapping) -> "Requested":
        cpus = requirement.get("num_cpus")
        return cls(
            memory_bytes=_parsed(parse_memory_bytes, requirement.get("memory")),
            cpu_percent=100.0 * cpus if cpus else None,
            runtime_seconds=_parsed(parse_duration_seconds, requirement.get("runtime")),
        )


def check_resource_utilization(
    results: Iterable[Any],
    jobs: Iterable[Any],
    resource_requirements: Iterable[Any],
    *,
    include_failed: bool = False,
    cpu_tolerance: float = DEFAULT_CPU_TOLERANCE,
) -> list[Finding]:
    """Findings for each job's latest result, ordered by job id.

    Completed results are always checked; failed, terminated and pending-failed ones only with
    ``include_failed`` (they get a likely cause and are listed even without an exceeded request).
    Jobs with no or the workflow's ``default`` resource requirements are skipped: there is nothing
    the user asked for to compare with.
    """
    jobs_by_id = {job["id"]: job for job in map(_record, jobs)}
    requirements = {
        rr["id"]: Requested.of(rr) for rr in map(_record, resource_requirements) if rr.get("name") != DEFAULT_REQUIREMENTS_NAME
    }
    statuses = CHECKED_STATUSES | (FAILED_STATUSES if include_failed else frozenset())
    findings = []
    for result in latest_results(results).values():
        job = jobs_by_id.get(result["job_id"])
        if result["status"] not in statuses or job is None:
            continue
        requested = requirements.get(job.get("resource_requirements_id"))
        if requested is None:
            continue
        exceeded = exceeded_resources(result, requested, cpu_tolerance)
        cause, detail = likely_cause(result, requested) if result["status"] in FAILED_STATUSES else (None, None)
        if exceeded or cause:
            findings.append(
                Finding(job["id"], job["name"], result["status"], result["return_code"], exceeded, cause, detail)
            )
    return sorted(findings, key=lambda f: f.job_id)


def latest_results(results: Iterable[Any]) -> dict[int, dict]:
    """job id → its latest result (the last run, then the last attempt), whatever was passed in."""
    latest: dict[int, dict] = {}
    for result in map(_record, results):
        current = latest.get(result["job_id"])
        if current is None or _order(result) > _order(current):
            latest[result["job_id"]] = result
    return latest


def exceeded_resources(result: Mapping, requested: Requested, cpu_tolerance: float = DEFAULT_CPU_TOLERANCE) -> list[Exceeded]:
    """The requests a result went over (CPU only beyond ``cpu_tolerance``)."""
    exceeded = []
    peak_memory = result.get("peak_memory_bytes")
    if peak_memory is not None and requested.memory_bytes and peak_memory > requested.memory_bytes:
        exceeded.append(_exceeded("memory", peak_memory, requested.memory_bytes, format_bytes))
    peak_cpu = result.get("peak_cpu_percent")
    if peak_cpu is not None and requested.cpu_percent and peak_cpu > requested.cpu_percent * (1 + cpu_tolerance):
        exceeded.append(_exceeded("cpu", peak_cpu, requested.cpu_percent, lambda v: f"{v:.0f}%"))
    runtime = _runtime_seconds(result)
    if runtime is not None and requested.runtime_seconds and runtime > requested.runtime_seconds:
        exceeded.append(_exceeded("runtime", runtime, requested.runtime_seconds, format_seconds))
    return exceeded


def likely_cause(result: Mapping, requested: Requested) -> tuple[str | None, str | None]:
    """("oom" | "timeout" | None, a sentence saying why) for a failed result."""
    return_code = result.get("return_code")
    peak_memory = result.get("peak_memory_bytes")
    runtime = _runtime_seconds(result)
    fraction = runtime / requested.runtime_seconds if runtime is not None and requested.runtime_seconds else None
    if peak_memory is not None and requested.memory_bytes and peak_memory > requested.memory_bytes:
        detail = f"peak memory {format_bytes(peak_memory)} exceeded the requested {format_bytes(requested.memory_bytes)}"
        if return_code in SIGKILL_CODES:
            detail += f" and the job was killed by SIGKILL (return code {return_code})"
        return "oom", detail
    if return_code in SIGXCPU_CODES:
        return "timeout", f"killed by SIGXCPU (return code {return_code}): CPU time limit"
    if fraction is not None and fraction > TIMEOUT_AFTER_RUNTIME_FRACTION:
        return "timeout", f"ran {format_seconds(runtime)}, {fraction:.0%} of the requested {format_seconds(requested.runtime_seconds)}"
    if return_code in SIGKILL_CODES and (fraction is None or fraction < OOM_BEFORE_RUNTIME_FRACTION):
        when = f" after {fraction:.0%} of its requested runtime" if fraction is not None else ""
        return "oom", f"killed by SIGKILL (return code {return_code}){when}; the OOM killer sends SIGKILL"
    return None, None


def format_bytes(value: float) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} B"


def format_seconds(value: float) -> str:
    hours, rest = divmod(int(round(value)), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{value:.1f}s"


def _exceeded(resource: str, used: float, requested: float, fmt) -> Exceeded:
    return Exceeded(resource, used, requested, round(used / requested, 3), fmt(used), fmt(requested))


def _runtime_seconds(result: Mapping) -> float | None:
    minutes = result.get("exec_time_minutes")
    return None if minutes is None else minutes * 60.0


def _order(result: Mapping) -> tuple:
    return (result.get("run_id") or 0, result.get("attempt_id") or 0, result.get("id") or 0)


def _parsed(parse, text):
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        return None


def _record(item: Any) -> dict:
    """API models and plain dicts alike."""
    return item if isinstance(item, Mapping) else item.to_dict()
