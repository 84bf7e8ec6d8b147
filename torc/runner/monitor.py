"""Per-job resource monitoring: CPU %, memory and process count of each running job's process tree.

One background thread per worker samples every monitored job every ``interval`` seconds (the
spec's ``resource_monitor.sample_interval_seconds``). The worker turns ``remove_job``'s summary into
the result's ``peak_memory_bytes``/``avg_memory_bytes``/``peak_cpu_percent``/``avg_cpu_percent``;
with a ``time_series_path`` every sample is also written to a SQLite file in upstream's layout
(tables ``job_resource_samples`` and ``job_metadata``) for ``torc plot-resources``. One difference:
``timestamp`` holds Unix seconds with a fraction (REAL), not whole seconds, so that a job's first
sample and a quick final one do not collide on the (job_id, timestamp) key.

What is measured, and its limits:

* The tree is the job's process (the ``bash -c`` the worker started) and all its descendants,
  found by parent pid once per sampling round. A process that escapes by double-forking (a daemon
  reparented to init) is not counted.
* Memory is the sum of RSS over the tree, so pages shared between processes count more than once
  (as in upstream torc).
* CPU % is the sum over the tree of each process's CPU time used since the previous sample divided
  by the wall time in between (100 % = one core busy). CPU time is computed here from
  ``cpu_times()`` rather than psutil's ``cpu_percent()``, whose first call per process returns a
  meaningless 0: a process seen for the first time is credited with its lifetime average instead
  (CPU time since it started / its age), so short jobs and new child processes get real values.
  Processes that ended between two samples contribute only what earlier samples saw of them.
* Short jobs: each job is sampled once shortly after ``add_job`` (``FIRST_SAMPLE_DELAY`` seconds,
  so that bash has had time to start the command's processes), then at every periodic tick.
  ``remove_job`` takes a last sample if the job's process is still alive. A job that ends before
  its first sample and is already reaped when removed has no samples: its summary values are None.
"""

import logging
import math
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

#: Seconds between ``add_job`` and the job's first sample (capped at the sampling interval).
FIRST_SAMPLE_DELAY = 0.2
#: A process younger than this, or a sample this close to the previous one, gives no CPU value:
#: CPU times have a resolution of one clock tick (10 ms), so shorter windows are noise.
MIN_CPU_WINDOW = 0.05
#: The time-series file is committed at most this often (and when ``FLUSH_ROWS`` rows are waiting,
#: and at ``stop()``): one commit per sample would make the monitor I/O-bound on shared file systems.
FLUSH_SECONDS = 30.0
FLUSH_ROWS = 1000

#: A process looked up by a job's pid must be at least as old as the job, give or take this
#: (ages are accurate to a clock tick); a younger one reuses the pid.
PID_REUSE_SLACK_SECONDS = 0.05

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)

SUMMARY_KEYS = ("peak_memory_bytes", "avg_memory_bytes", "peak_cpu_percent", "avg_cpu_percent")


@dataclass
class _Job:
    """What the monitor knows about one job: its root process, the CPU bookkeeping, the running totals."""

    job_id: int
    name: str
    pid: int
    #: time.monotonic() when the job was added (after its process started)
    added_at: float
    next_due: float
    root: psutil.Process | None = None
    gone: bool = False
    #: pid → (process, CPU seconds at the last sample, monotonic time of the last sample)
    processes: dict[int, tuple[psutil.Process, float, float]] = field(default_factory=dict)
    last_sample: float | None = None
    num_samples: int = 0
    peak_memory: int = 0
    total_memory: int = 0
    peak_cpu: float = 0.0
    total_cpu: float = 0.0

    def root_process(self) -> psutil.Process | None:
        """The job's top process, looked up at the first sample rather than when the job starts:
        most short jobs end before that, and a lookup per job costs more than such a job. A process
        with the job's pid that is younger than the job is another one (the pid was reused)."""
        if self.root is None and not self.gone:
            if not psutil.pid_exists(self.pid):  # the usual end of a short job: cheaper than failing below
                self.gone = True
                return None
            try:
                process = psutil.Process(self.pid)
                if _age(process.create_time()) < time.monotonic() - self.added_at - PID_REUSE_SLACK_SECONDS:
                    raise psutil.NoSuchProcess(self.pid)
                self.root = process
            except _GONE:
                self.gone = True
        return self.root

    def summary(self) -> dict:
        if not self.num_samples:
            return dict.fromkeys(SUMMARY_KEYS)
        return {
            "peak_memory_bytes": self.peak_memory,
            "avg_memory_bytes": self.total_memory // self.num_samples,
            "peak_cpu_percent": round(self.peak_cpu, 2),
            "avg_cpu_percent": round(self.total_cpu / self.num_samples, 2),
        }


class ResourceMonitor:
    """Samples the process trees of the worker's running jobs from one background thread.

    ``add_job``/``remove_job`` may be called from any thread; one lock guards the job table and
    is held while sampling, so a job is never measured by two threads at once. With
    ``enabled=False`` every method is a no-op and summaries are all None.
    """

    def __init__(self, interval: float = 5.0, time_series_path: Path | None = None, enabled: bool = True):
        if interval <= 0:
            raise ValueError("the sampling interval must be positive")
        self.interval = float(interval)
        self.enabled = enabled
        self.time_series_path = Path(time_series_path) if time_series_path else None
        self._jobs: dict[int, _Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: When the sampling thread's sleep ends (monotonic): add_job wakes it only for an earlier first sample.
        self._wakes_at = math.inf
        self._epoch = time.monotonic()
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()
        self._pending_rows: list[tuple] = []
        self._pending_metadata: list[tuple] = []
        self._last_flush = time.monotonic()

    # The worker's interface

    def start(self) -> None:
        if not self.enabled or self._thread:
            return
        if self.time_series_path:
            self._db = _open_time_series(self.time_series_path)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write out the remaining samples (``remove_job`` still gives summaries)."""
        if not self._thread:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None
        self._flush(force=True)
        if self._db:
            self._db.close()
            self._db = None

    def add_job(self, job_id: int, job_name: str, pid: int) -> None:
        """Start monitoring the job whose top process is ``pid``; its first sample comes shortly."""
        if not self.enabled:
            return
        now = time.monotonic()
        job = _Job(job_id, job_name, pid, added_at=now, next_due=now + min(FIRST_SAMPLE_DELAY, self.interval))
        with self._lock:
            self._jobs[job_id] = job
            wake = job.next_due < self._wakes_at  # else the thread's sleep ends in time anyway
        if self.time_series_path:
            with self._db_lock:
                self._pending_metadata.append((job_id, job_name))
        if wake:
            self._wake.set()

    def remove_job(self, job_id: int) -> dict:
        """Stop monitoring the job and return its summary (values None if it was never sampled).

        Takes one last sample first if the job's process still exists and the previous sample is
        not too recent to give a meaningful CPU value. Unknown jobs give None values.
        """
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return dict.fromkeys(SUMMARY_KEYS)
            recent = job.last_sample is not None and time.monotonic() - job.last_sample < MIN_CPU_WINDOW
            if not recent and job.root_process() is not None and _alive(job.root):
                try:
                    self._sample([job], _children_by_parent())
                except Exception:  # the job's result matters more than its last sample
                    logger.exception("resource sampling failed")
        self._flush()
        return job.summary()

    # Sampling

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                self._wakes_at = math.inf  # jobs added while this pass runs wake the next one
                due = [job for job in self._jobs.values() if job.next_due <= now]
                if due:
                    try:
                        self._sample(due, _children_by_parent())
                    except Exception:  # a monitoring bug must not kill the thread (or the jobs' results)
                        logger.exception("resource sampling failed")
                    # Later samples fall on a common tick, so one /proc scan serves every job.
                    next_tick = now + self.interval - (now - self._epoch) % self.interval
                    for job in due:
                        job.next_due = next_tick
                next_due = min((job.next_due for job in self._jobs.values()), default=now + self.interval)
            self._flush()
            # Without a time-series database nothing is flushed (and _last_flush never moves):
            # bounding the wait by it would spin this thread at 100% CPU after FLUSH_SECONDS.
            flush_due = self._last_flush + FLUSH_SECONDS if self._db else next_due
            with self._lock:
                self._wakes_at = min(next_due, flush_due)
            self._wake.wait(max(0.0, self._wakes_at - time.monotonic()))

    def _sample(self, jobs: list[_Job], children: dict[int, list[int]]) -> None:
        """Measure each job's tree once and record the sample. Caller holds ``self._lock``."""
        timestamp = time.time()
        rows = []
        for job in jobs:
            measured = _measure(job, children)
            if measured is None:
                continue
            cpu, memory, count = measured
            job.num_samples += 1
            job.peak_memory = max(job.peak_memory, memory)
            job.total_memory += memory
            job.peak_cpu = max(job.peak_cpu, cpu)
            job.total_cpu += cpu
            rows.append((job.job_id, timestamp, round(cpu, 2), memory, count))
        if rows and self._db:
            with self._db_lock:
                self._pending_rows.extend(rows)

    # Time-series file

    def _flush(self, force: bool = False) -> None:
        """Write waiting rows in one transaction, if it is time to (or ``force``)."""
        if not self._db:
            return
        with self._db_lock:
            waited = time.monotonic() - self._last_flush
            if not force and waited < FLUSH_SECONDS and len(self._pending_rows) < FLUSH_ROWS:
                return
            rows, self._pending_rows = self._pending_rows, []
            metadata, self._pending_metadata = self._pending_metadata, []
            self._last_flush = time.monotonic()
            if not rows and not metadata:
                return
            try:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO job_metadata (job_id, job_name) VALUES (?, ?)", metadata)
                    self._db.executemany(
                        "INSERT OR REPLACE INTO job_resource_samples"
                        " (job_id, timestamp, cpu_percent, memory_bytes, num_processes) VALUES (?, ?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.Error:
                logger.exception("could not write resource samples to %s", self.time_series_path)


def _alive(process: psutil.Process) -> bool:
    """True if the process exists and is not a zombie (``is_running`` also detects pid reuse)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except _GONE:
        return False


def _children_by_parent() -> dict[int, list[int]]:
    """parent pid → child pids, from one scan of the process table (shared by all jobs of a round)."""
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        ppid = process.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(process.pid)
    return children


def _measure(job: _Job, children: dict[int, list[int]]) -> tuple[float, int, int] | None:
    """(CPU %, RSS bytes, process count) of the job's tree now, or None if nothing could be measured."""
    if job.root_process() is None or not _alive(job.root):
        return None
    now = time.monotonic()
    seen: dict[int, tuple[psutil.Process, float, float]] = {}
    cpu = 0.0
    memory = 0
    pending = [job.root.pid]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, ()))
        try:
            process = _same_process(job, pid)
            with process.oneshot():
                times = process.cpu_times()
                rss = process.memory_info().rss
                started = process.create_time()
        except _GONE:
            continue  # ended (or became inaccessible) since the scan
        cpu_seconds = times.user + times.system
        previous = job.processes.get(pid)
        if previous is not None and previous[0] is process:
            window, used = now - previous[2], cpu_seconds - previous[1]
        else:  # first sight: its lifetime average
            window, used = _age(started), cpu_seconds
        if window >= MIN_CPU_WINDOW:
            cpu += max(0.0, used) / window * 100.0
        memory += rss
        seen[pid] = (process, cpu_seconds, now)
    if not seen:
        return None
    job.processes = seen  # processes that disappeared are forgotten here
    job.last_sample = now
    return cpu, memory, len(seen)


def _age(create_time: float) -> float:
    """Seconds since a process started, accurate to a clock tick.

    On Linux ``create_time()`` is built on the boot time, which the kernel reports in whole seconds,
    so ``time.time() - create_time()`` can be off by up to a second; measuring from boot instead
    cancels that error.
    """
    if psutil.LINUX and hasattr(time, "CLOCK_BOOTTIME"):
        return time.clock_gettime(time.CLOCK_BOOTTIME) - (create_time - psutil.boot_time())
    return time.time() - create_time


def _same_process(job: _Job, pid: int) -> psutil.Process:
    """The cached ``Process`` for ``pid`` if it is still the same process, else a new one."""
    if pid == job.root.pid:
        return job.root
    cached = job.processes.get(pid)
    if cached is not None and cached[0].is_running():  # is_running() is False after pid reuse
        return cached[0]
    return psutil.Process(pid)


def _open_time_series(path: Path) -> sqlite3.Connection:
    """Open (creating) the time-series file; used from the monitor and the caller's threads, under a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False)
    with db:
        db.execute(
            """CREATE TABLE IF NOT EXISTS job_resource_samples (
                job_id INTEGER NOT NULL,
                timestamp REAL NOT NULL,
                cpu_percent REAL NOT NULL,
                memory_bytes INTEGER NOT NULL,
                num_processes INTEGER NOT NULL,
                PRIMARY KEY (job_id, timestamp)
            )"""
        )
        db.execute("CREATE INDEX IF NOT EXISTS idx_job_resource_samples_job_id ON job_resource_samples(job_id)")
        db.execute("CREATE TABLE IF NOT EXISTS job_metadata (job_id INTEGER PRIMARY KEY, job_name TEXT NOT NULL)")
    return db
