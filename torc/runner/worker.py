"""The worker loop: claim jobs that fit, run them, report them — the same loop everywhere.

``torc run`` runs it on a laptop, ``torc slurm run-jobs`` inside an allocation and ``torc remote``
on SSH hosts; only the :class:`~torc.runner.environment.WorkerEnvironment` differs.

How it waits: one exit-watcher thread wakes the loop when a job exits, so a finished
job is reported (and its dependents, released by the server in the same request, are claimed) at
once. While jobs run and resources are free, the loop also claims every ``poll_interval`` seconds
to pick up work that other workers unblocked. When nothing runs it long-polls in a helper thread,
so new work starts the moment it is ready and a signal is still handled immediately.
"""

import collections
import datetime as dt
import functools
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from torc.client import TorcApi, describe_error
from torc.failure_rules import matching_rule, may_retry
from torc.openapi_client.exceptions import ApiException
from torc.openapi_client.models import ComputeNodeModel, ResultModel
from torc.runner import PER_JOB_LOGGER
from torc.runner.environment import WorkerEnvironment
from torc.runner.gpus import GpuPool
from torc.runner.job_process import ExitWatcher, JobProcess
from torc.runner.monitor import ResourceMonitor
from torc.runner.resources import Resources
from torc.runner.scripts import run_script
from torc.runner.watchdog import Watchdog
from torc.units import format_duration, parse_duration_seconds, parse_memory_bytes

logger = logging.getLogger("torc.runner")
job_logger = logging.getLogger(PER_JOB_LOGGER)

#: Longest single long-poll claim while idle; bounds how long shutdown waits for it.
IDLE_CLAIM_WAIT_SECONDS = 10.0
#: With prefetched jobs to run, finished jobs are reported in batches at least this often.
REPORT_INTERVAL_SECONDS = 0.1
#: Adaptive prefetch holds about this many seconds of work (by the jobs' mean run time so far)...
AUTO_PREFETCH_SECONDS = 0.5
#: ... and at most this many jobs; none when that is less than one job per slot (jobs of ≥ 0.5 s).
AUTO_PREFETCH_MAX = 200


@dataclass
class RunnerConfig:
    output_dir: Path
    resources: Resources
    max_parallel_jobs: int | None = None
    #: Claimed jobs held beyond what runs, each started the moment a slot (queue mode) or its
    #: resources (resource mode) free up; their starts and ends are reported in batches.
    #: None: adapt it to the jobs' run times (see JobRunner._adapt_prefetch).
    prefetch: int | None = None
    poll_interval: float = 1.0
    #: Seconds to wait for new work with nothing running (None: the workflow's setting).
    idle_timeout: float | None = None
    #: Epoch seconds when the worker must be done (e.g. from --time-limit); the environment's
    #: end time applies too, whichever is earlier.
    end_time: float | None = None
    heartbeat_interval: float = 10.0
    lease_seconds: float = 60.0
    termination_grace_seconds: float = 10.0
    kill_on_runtime_exceeded: bool = False
    #: Seconds a recovery script or action command may run before it is killed.
    script_timeout_seconds: float = 600.0
    cwd: str = field(default_factory=os.getcwd)


@dataclass(frozen=True)
class Needs:
    """What a job's resource requirement asks for, parsed."""

    num_cpus: int
    memory_gb: float
    num_gpus: int
    runtime_s: int | None


class StopWorker(Exception):
    """The worker must stop (signal, end time, lost lease)."""


class JobRunner:
    def __init__(self, api: TorcApi, workflow_id: int, config: RunnerConfig, environment: WorkerEnvironment | None = None):
        self.api = api
        self.workflow_id = workflow_id
        self.config = config
        self.env = environment or WorkerEnvironment()
        self.gpus = GpuPool(config.resources.gpu_ids)
        self.running: dict[int, tuple[JobProcess, dict]] = {}  # job id → (process, reservation)
        self.finished: list[JobProcess] = []
        self.queued: collections.deque = collections.deque()  # claimed jobs not started yet (prefetched ones are pending)
        self.started_unreported: list[int] = []  # prefetched jobs started since the last report
        self.reports_since = 0.0
        self.prefetch = config.prefetch or 0  # the current depth; adapted when config.prefetch is None
        self.mean_runtime: float | None = None  # seconds, a moving average over the jobs that ended
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.stop_reason: str | None = None
        self.lost = False
        self.renewed_at = time.monotonic()
        self.node_id: int | None = None
        self.executed_persistent: set[int] = set()
        self.requirements: dict[int, Needs] = {}
        self.handlers: dict[int, list] = {}
        self.files: dict[int, object] = {}
        # At most one request runs off the loop: the idle long-poll claim, or (with prefetch) a
        # batched report with the next claim riding on it, so that the loop keeps starting jobs.
        self.request_thread: threading.Thread | None = None
        self.claimed_in_background: list = []
        self.reports: list[tuple] = []  # (job, status, return code, message, result) not yet sent
        self.recoveries: set[threading.Thread] = set()  # recovery scripts running off the loop
        self.recovery_reports: list[tuple] = []  # _report arguments queued by recovery threads
        self.stats = {"completed": 0, "failed": 0, "retried": 0, "terminated": 0, "canceled": 0}

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> dict:
        """Run until the workflow is complete or canceled, the worker idles out, or it must stop."""
        self.workflow = self.api.workflows.get_workflow(self.workflow_id)
        self.run_id = self.api.workflows.get_workflow_status(self.workflow_id).run_id
        self.out = Path(self.config.output_dir)
        (self.out / "job_stdio").mkdir(parents=True, exist_ok=True)
        self.monitor = self._make_monitor()
        self.watchdog = Watchdog()
        # The heartbeat has its own connection so that a busy main loop never delays a renewal.
        self.heartbeat_api = self.api.new_connection()
        self.exits = ExitWatcher()
        self._register()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)} if threading.current_thread() is threading.main_thread() else {}
        heartbeat = threading.Thread(target=self._heartbeats, name="torc-heartbeat", daemon=True)
        heartbeat.start()
        try:
            self._run_actions(["on_workflow_start", "on_worker_start"])
            self._loop()
        finally:
            self._shutdown()
            # Its kept-alive connection would otherwise hold a stopping server (gunicorn lingers
            # on open connections): `torc run --standalone` waited 2 s more at its end.
            self.heartbeat_api.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.stats

    def _make_monitor(self) -> ResourceMonitor:
        settings = json.loads(self.workflow.resource_monitor_config) if self.workflow.resource_monitor_config else {}
        enabled = settings.get("enabled", True)
        series = None
        if enabled and settings.get("granularity") == "time_series":
            label = f"{socket.gethostname()}_wf{self.workflow_id}_{os.getpid()}"
            series = self.out / "resource_utilization" / f"resource_metrics_{label}.db"
            series.parent.mkdir(parents=True, exist_ok=True)
        monitor = ResourceMonitor(interval=float(settings.get("sample_interval_seconds", 5)), time_series_path=series, enabled=enabled)
        monitor.start()
        return monitor

    def _register(self) -> None:
        res = self.config.resources
        node = self.api.compute_nodes.create_compute_node(
            ComputeNodeModel(
                workflow_id=self.workflow_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                start_time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                is_active=True,
                num_cpus=res.num_cpus,
                memory_gb=res.memory_gb,
                num_gpus=res.num_gpus,
                num_nodes=res.num_nodes,
                compute_node_type=self.env.compute_node_type,
                scheduler_config_id=self.env.scheduler_config_id(),
                scheduler=self.env.scheduler_info() or None,
            )
        )
        self.node_id = node.id
        self.started = time.time()
        self._renew_lease()
        self.env.worker_started(self.api, self.workflow_id, self.node_id)
        logger.info("compute node %s registered for workflow %s: %s CPUs, %.1f GB, GPUs %s", self.node_id, self.workflow_id, res.num_cpus, res.memory_gb, res.gpu_ids)

    def _heartbeats(self) -> None:
        while self.stop_reason is None:
            time.sleep(self.config.heartbeat_interval)
            if self.stop_reason is not None or not self._renew_lease():
                return

    def _renew_lease(self) -> bool:
        """Renew the lease; False once the server has declared this worker lost (its jobs were
        handed to others, so this worker must stop them and report nothing)."""
        if self.lost:
            return False
        try:
            self.heartbeat_api.call_plain("compute_nodes", "heartbeat_compute_node", self.node_id, lease_seconds=self.config.lease_seconds)
            self.renewed_at = time.monotonic()
        except ApiException as exc:
            if exc.status != 409:
                logger.warning("heartbeat failed: %s", describe_error(exc))
                return True
            logger.error("the server declared this worker lost: %s", describe_error(exc))
            self.lost = True
            self._request_stop("lease lost")
            return False
        except Exception as exc:  # noqa: BLE001 - keep heartbeating through outages
            logger.warning("heartbeat failed: %s", exc)
        return True

    def _lease_held(self) -> bool:
        """Before acting on its jobs' results: a worker that was frozen (SIGSTOP, a stalled VM)
        longer than a heartbeat interval first checks with the server that its lease still holds."""
        if self.lost:
            return False
        if time.monotonic() - self.renewed_at <= 2 * self.config.heartbeat_interval:
            return True
        return self._renew_lease()

    def _on_signal(self, signum, _frame) -> None:
        logger.warning("received %s: terminating running jobs", signal.Signals(signum).name)
        self._request_stop(signal.Signals(signum).name)

    def _request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake.set()

    # ------------------------------------------------------------------ main loop

    def _effective_end(self) -> float | None:
        ends = [t for t in (self.config.end_time, self.env.end_time()) if t is not None]
        if not ends:
            return None
        return min(ends) - (self.workflow.compute_node_expiration_buffer_seconds or 0)

    def _loop(self) -> None:
        idle_since = last_check = time.time()
        idle_timeout = self.config.idle_timeout if self.config.idle_timeout is not None else self.workflow.compute_node_wait_for_new_jobs_seconds
        while True:
            released = self._release_finished()
            end = self._effective_end()
            if end is not None and time.time() >= end:
                self._request_stop("end time reached")
            if self.stop_reason is not None:
                self._account(released)
                return
            self._enforce_runtime_limits()
            started = self._collect_background() + self._start_queued()
            # The freed slots are refilled first: with short jobs, a slot would otherwise stay
            # idle for the ended jobs' bookkeeping.
            self._account(released)
            # Claim first: on the hot path (a job ended, its dependents are ready) that is the
            # only request, and it carries the finished jobs' reports.
            if self._claim_due():
                started += self._claim_and_start(end)
            self.watchdog.flush()  # this pass's job starts and ends, in one write
            if self._reports_due() and self.request_thread is None:
                self._send_reports(background=bool(self.queued))
            # Workflow state and actions: every poll interval, and whenever nothing runs.
            if not (self.running or started) or time.time() - last_check >= self.config.poll_interval:
                last_check = time.time()
                state = self.api.workflows.is_workflow_complete(self.workflow_id)
                if state.is_canceled:
                    logger.info("workflow %s was canceled", self.workflow_id)
                    self._terminate_all("canceled")
                    return
                self._run_actions(["on_jobs_ready", "on_jobs_complete", "on_workflow_complete"])
                if state.is_complete and not self.running and not self.queued and not self.recoveries and not self.workflow.compute_node_ignore_workflow_completion:
                    logger.info("workflow %s is complete", self.workflow_id)
                    return
            if self.running or started or self.recoveries:
                idle_since = time.time()
            elif time.time() - idle_since >= idle_timeout:
                logger.info("no work for %.0f s: exiting", idle_timeout)
                return
            if not started:
                self.wake.wait(REPORT_INTERVAL_SECONDS if self.reports or self.started_unreported else self.config.poll_interval)
                self.wake.clear()

    def _free(self) -> tuple[int, float, int]:
        res = self.config.resources
        with self.lock:
            cpus = res.num_cpus - sum(r["num_cpus"] for _, r in self.running.values())
            memory = res.memory_gb - sum(r["memory_gb"] for _, r in self.running.values())
        return cpus, memory, self.gpus.free

    def _claim_due(self) -> bool:
        """Without prefetch, claim on every pass. With it, claim when the local queue runs low or
        reports have waited long enough: one request then serves many short jobs."""
        if not self.prefetch:
            return True
        return len(self.queued) <= self.prefetch // 2 or self._reports_due()

    def _reports_due(self) -> bool:
        if not (self.reports or self.started_unreported):
            return False
        if not self.prefetch or (self.reports and not self.queued):
            return True
        return time.time() - self.reports_since >= REPORT_INTERVAL_SECONDS or len(self.reports) >= self.prefetch

    def _start_queued(self) -> int:
        """Start the claimed jobs that fit now, in claim order; a job that does not fit yet waits
        for the next pass, while later (smaller) ones may start (first fit). Without prefetch every
        claimed job fits at once: the claim offered only what was free."""
        started = 0
        waiting: list = []
        while self.queued and self.stop_reason is None:
            job = self.queued.popleft()
            fits = self._fits_now(job)
            if fits is None:
                self._hand_back(job)
                continue
            if not fits:
                waiting.append(job)
                if self.config.max_parallel_jobs or self._free()[0] <= 0:
                    break  # no slot, or no CPU: nothing further down the queue fits either
                continue
            try:
                self._start(job)
                started += 1
                if job.status == "pending":  # prefetched: the server learns of the start with the next report
                    self._note_pending_report()
                    self.started_unreported.append(job.id)
            except ApiException as exc:
                logger.warning("could not start job %s (%s): %s", job.id, job.name, describe_error(exc))
        self.queued.extendleft(reversed(waiting))
        return started

    def _fits_now(self, job) -> bool | None:
        """Whether the job can start now; None when it never will here (its runtime no longer
        fits the worker's remaining time, or it does not fit the idle worker), so it goes back to
        the server for another worker."""
        if self.config.max_parallel_jobs:
            return len(self.running) < self.config.max_parallel_jobs
        needs = self._needs(job.resource_requirements_id)
        end = self._effective_end()
        if end is not None and needs.runtime_s and needs.runtime_s > end - time.time():
            return None
        cpus, memory, gpus = self._free()
        fits = needs.num_cpus <= cpus and needs.memory_gb <= memory + 1e-9 and needs.num_gpus <= gpus
        if not fits and not self.running:
            logger.warning("job %s (%s) does not fit this worker even when idle: handing it back", job.id, job.name)
            return None
        return fits

    def _claim_and_start(self, end: float | None) -> int:
        """Claim what fits now; if that is nothing and nothing runs, long-poll in a helper thread."""
        if self.request_thread is not None:
            return 0
        remaining = None if end is None else end - time.time()
        if remaining is not None and remaining <= 0:
            return 0
        if self.config.max_parallel_jobs and remaining is not None and remaining < self.workflow.compute_node_min_time_for_new_jobs_seconds:
            return 0  # queue mode does not know job runtimes: stop claiming near the end
        jobs = self._claim(remaining, wait=0)
        if jobs or self.running or self.queued or self.request_thread is not None:  # the last: the claim went off the loop
            return self._start_jobs(jobs)
        wait = IDLE_CLAIM_WAIT_SECONDS if remaining is None else max(0.0, min(IDLE_CLAIM_WAIT_SECONDS, remaining))
        self._in_background(self._claim, remaining, wait)
        return 0

    def _in_background(self, request, *args) -> None:
        """Run ``request(*args)``, which returns claimed jobs, on a helper thread; the loop picks the
        jobs up with :meth:`_collect_background` once it is done (the thread wakes the loop)."""
        self.request_thread = threading.Thread(target=self._background, args=(request, *args), name="torc-request", daemon=True)
        self.request_thread.start()

    def _background(self, request, *args) -> None:
        try:
            jobs = request(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the loop, which retries
            logger.warning("request to the server failed: %s", describe_error(exc))
            jobs = []
        with self.lock:
            self.claimed_in_background = jobs
        self.wake.set()

    def _collect_background(self) -> int:
        """Start (or queue) what a finished background request claimed; 0 while it still runs."""
        if self.request_thread is None or self.request_thread.is_alive():
            return 0
        return self._start_jobs(self._join_background())

    def _join_background(self) -> list:
        """Wait for the background request, if any; return the jobs it claimed."""
        if self.request_thread is not None:
            self.request_thread.join(IDLE_CLAIM_WAIT_SECONDS + 5)
            self.request_thread = None
        with self.lock:
            jobs, self.claimed_in_background = self.claimed_in_background, []
        return jobs

    def _claim(self, remaining: float | None, wait: float) -> list:
        """Claim what fits in the free resources (or free slots, in queue mode).

        Without waiting and with finished jobs to report, the claim rides on the report
        (``complete_jobs`` with ``claim``): one request per finished batch, and the dependents the
        report released can be claimed in the same round trip.
        """
        res = self.config.resources
        rounds = 1
        if self.config.max_parallel_jobs:
            limit = self.config.max_parallel_jobs + self.prefetch - len(self.running) - len(self.queued)
            offer = None
        else:
            if self.prefetch:
                # Jobs that fit the node, to start as resources free up: the whole node, offered
                # as many times over as the prefetch holds jobs of one CPU.
                cpus, memory, gpus = res.num_cpus, res.memory_gb, res.num_gpus
                rounds = 1 + -(-self.prefetch // max(res.num_cpus, 1))
                limit = res.num_cpus + self.prefetch - len(self.running) - len(self.queued)
            else:
                cpus, memory, gpus = self._free()
                limit = max(cpus, 1) if cpus > 0 or memory > 0 else 0
            offer = {
                "num_cpus": max(cpus, 0),
                "memory_gb": max(memory, 0.0),
                "num_gpus": gpus,
                "num_nodes": res.num_nodes,
                "time_limit": format_duration(remaining) if remaining is not None else None,
                "scheduler_config_id": self.env.scheduler_config_id(),
            }
        if limit <= 0:
            return []
        # Prefetched jobs stay pending (claimed) until they really start.
        start = not self.prefetch
        if (self.reports or self.started_unreported) and wait == 0:
            claim = {"limit": limit, "compute_node_id": self.node_id, "start": start}
            if offer is not None:
                claim.update(resources=offer, rounds=rounds)
            # With held jobs to start meanwhile the request goes off the loop; without, the loop would
            # only wait for the answer (a dependency hop), and a helper thread would add latency.
            return self._send_reports(claim, background=bool(self.queued))
        if offer is None:
            return self.api.call_plain("workflows", "claim_next_jobs", self.workflow_id, limit=limit, wait_seconds=wait, compute_node_id=self.node_id, start=start).jobs
        return self.api.call_plain(
            "workflows", "claim_jobs_based_on_resources", self.workflow_id, limit, offer, wait_seconds=wait, compute_node_id=self.node_id, start=start,
            rounds=rounds,
        ).jobs

    # ------------------------------------------------------------------ jobs

    def _needs(self, rr_id: int) -> "Needs":
        """A resource requirement, fetched and parsed once per worker (jobs share a few of them)."""
        if rr_id not in self.requirements:
            rr = self.api.resource_requirements.get_resource_requirements(rr_id)
            self.requirements[rr_id] = Needs(rr.num_cpus, parse_memory_bytes(rr.memory) / 1024**3, rr.num_gpus, parse_duration_seconds(rr.runtime))
        return self.requirements[rr_id]

    def _start_jobs(self, jobs: list) -> int:
        if self.stop_reason is not None:
            for job in jobs:
                self._hand_back(job)
            return 0
        self.queued.extend(jobs)
        return self._start_queued()

    def _hand_back_all(self, jobs) -> None:
        for job in jobs:
            self._hand_back(job)

    def _hand_back(self, job) -> None:
        """A claimed job this worker will not run goes back to ready."""
        try:
            self.api.jobs.manage_status_change(job.id, "ready", self.run_id)
        except ApiException as exc:
            logger.warning("could not hand job %s back: %s", job.id, describe_error(exc))

    def _start(self, job) -> None:
        needs = self._needs(job.resource_requirements_id)
        gpu_ids: list[int] = []
        if not self.config.max_parallel_jobs and needs.num_gpus:
            gpu_ids = self.gpus.acquire(needs.num_gpus)
            if gpu_ids is None:  # cannot happen when the server honoured our offer
                self._hand_back(job)
                return
        reservation = {
            "num_cpus": 0 if self.config.max_parallel_jobs else needs.num_cpus,
            "memory_gb": 0.0 if self.config.max_parallel_jobs else needs.memory_gb,
            "gpu_ids": gpu_ids,
            "runtime_s": needs.runtime_s,
            "job": job,
        }
        # The claim already started the job on this node (start=true): no start_job call.
        process = JobProcess(
            job.id,
            job.name,
            f"{job.invocation_script} {job.command}" if job.invocation_script else job.command,
            self._job_env(job, gpu_ids),
            self.config.cwd,
            self.out / "job_stdio" / f"job_wf{self.workflow_id}_j{job.id}_r{self.run_id}_a{job.attempt_id}.o",
            self.out / "job_stdio" / f"job_wf{self.workflow_id}_j{job.id}_r{self.run_id}_a{job.attempt_id}.e",
        )
        with self.lock:
            self.running[job.id] = (process, reservation)
        try:
            pid = process.start(self.exits, self._on_exit)
        except OSError as exc:
            with self.lock:
                del self.running[job.id]
            self.gpus.release(gpu_ids)
            self._report(job, "failed", 127, f"could not start: {exc}", None)
            return
        self.watchdog.add(pid)
        self.monitor.add_job(job.id, job.name, pid)
        job_logger.debug("started job %s (%s) attempt %s pid %s%s", job.id, job.name, job.attempt_id, pid, f" GPUs {gpu_ids}" if gpu_ids else "")

    @functools.cached_property
    def base_env(self) -> dict:
        """The environment of jobs and action commands, read once: reading ``os.environ`` costs
        more than the rest of a short job's bookkeeping."""
        return {**os.environ, "TORC_WORKFLOW_ID": str(self.workflow_id), "TORC_API_URL": self.api.url, "TORC_OUTPUT_DIR": str(self.out)}

    def _job_env(self, job, gpu_ids: list[int]) -> dict:
        env = {**self.base_env, "TORC_JOB_ID": str(job.id), "TORC_JOB_NAME": job.name, "TORC_ATTEMPT_ID": str(job.attempt_id)}
        if self.gpus.has_gpus:
            # Jobs see only their own GPUs; a job that asked for none sees none.
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in gpu_ids)
        return env

    def _on_exit(self, process: JobProcess) -> None:
        with self.lock:
            self.finished.append(process)
        self.wake.set()

    def _reap(self) -> None:
        """Account for every job that exited; their reports go out together with the next claim."""
        self._account(self._release_finished())

    def _release_finished(self) -> list[tuple[JobProcess, dict]]:
        """Free the CPUs, memory and GPUs of every job that exited, so that queued jobs can start
        before :meth:`_account` does the rest of their bookkeeping."""
        if not self._lease_held():
            return []  # the jobs belong to other workers now; shutdown stops what still runs
        with self.lock:
            finished, self.finished = self.finished, []
            recovered, self.recovery_reports = self.recovery_reports, []
        for report in recovered:
            self._report(*report)
        released = []
        for process in finished:
            with self.lock:
                _, reservation = self.running.pop(process.job_id)
            self.watchdog.remove(process.pid)
            self.gpus.release(reservation["gpu_ids"])
            released.append((process, reservation))
        return released

    def _account(self, released: list[tuple[JobProcess, dict]]) -> None:
        for process, reservation in released:
            self._finish(process, reservation)

    def _enforce_runtime_limits(self) -> None:
        if not self.config.kill_on_runtime_exceeded:
            return
        now = time.time()
        with self.lock:
            over = [p for p, r in self.running.values() if r["runtime_s"] and now - p.started_at > r["runtime_s"]]
        for process in over:
            if process.signal_sent is None:
                logger.warning("job %s (%s) exceeded its runtime: terminating", process.job_id, process.name)
                process.send(signal.SIGTERM)
            elif process.signal_sent == signal.SIGTERM and now - process.signaled_at > self.config.termination_grace_seconds:
                logger.warning("job %s (%s) outlived the grace period after SIGTERM: killing", process.job_id, process.name)
                process.send(signal.SIGKILL)

    # ------------------------------------------------------------------ reporting

    def _adapt_prefetch(self, seconds: float) -> None:
        """Adaptive prefetch (the default): hold about ``AUTO_PREFETCH_SECONDS`` of work per slot
        set, judged by a moving average of the jobs' run times. Short jobs then cost no round trip
        each, while long jobs are never held back from other workers for longer than that."""
        self.mean_runtime = seconds if self.mean_runtime is None else 0.8 * self.mean_runtime + 0.2 * seconds
        if self.config.prefetch is not None:
            return
        slots = self.config.max_parallel_jobs or self.config.resources.num_cpus
        depth = round(slots * AUTO_PREFETCH_SECONDS / max(self.mean_runtime, 1e-3))
        depth = min(AUTO_PREFETCH_MAX, depth) if depth >= slots else 0
        if bool(depth) != bool(self.prefetch):
            logger.info("jobs run %.3f s on average: %s", self.mean_runtime,
                        f"holding up to {depth} claimed jobs (prefetch)" if depth else "no longer holding claimed jobs")
        self.prefetch = depth

    def _finish(self, process: JobProcess, reservation: dict) -> None:
        job = reservation["job"]
        self._adapt_prefetch(process.exec_minutes * 60)
        usage = self.monitor.remove_job(job.id)
        code = process.return_code
        message = process.describe_end()
        runtime_s = reservation["runtime_s"]
        if runtime_s and process.exec_minutes * 60 > runtime_s:
            message = "; ".join(filter(None, [message, f"ran {process.exec_minutes * 60:.0f} s, over its runtime of {runtime_s} s"]))
        if process.signal_sent is not None and self.stop_reason is not None:
            status = "canceled" if self.stop_reason == "canceled" else "terminated"
        elif code == 0:
            missing = self._missing_outputs(job)
            if missing:
                status, code, message = "failed", 1, f"exited 0 but output file(s) missing: {', '.join(missing)}"
            else:
                status = "completed"
                self._record_output_mtimes(job)
        else:
            if self._retry(job, code, message, process, usage):
                return
            status = "pending_failed" if self.workflow.use_pending_failed else "failed"
        self._report(job, status, code, message, usage, process.exec_minutes, process.ended_at)

    def _report(self, job, status: str, code: int, message: str | None, usage: dict | None, exec_minutes: float = 0.0, ended_at: float | None = None) -> None:
        """Queue a job's final status; :meth:`_send_reports` sends the queue as one batch."""
        self._note_pending_report()
        self.reports.append((job, status, code, message, self._result(job, status, code, message, usage, exec_minutes, ended_at)))

    def _note_pending_report(self) -> None:
        if not (self.reports or self.started_unreported):
            self.reports_since = time.time()

    def _send_reports(self, claim: dict | None = None, background: bool = False) -> list:
        """Report starts of prefetched jobs and final statuses in one request; return the jobs
        ``claim`` claimed (none yet when the request is sent in the ``background``)."""
        reports, self.reports = self.reports, []
        started, self.started_unreported = self.started_unreported, []
        if not (reports or started):
            return []
        if background:
            self._in_background(self._deliver, reports, started, claim)
            return []
        return self._deliver(reports, started, claim)

    def _deliver(self, reports: list, started: list[int], claim: dict | None) -> list:
        if not self._lease_held():
            return []
        # Plain JSON (a CompleteJobsRequest): building the generated models costs more than the request.
        request = {
            "completions": [{"job_id": job.id, "status": status, "result": result} for job, status, _, _, result in reports],
            "compute_node_id": self.node_id,
            "started_job_ids": started,
        }
        if claim is not None:
            request["claim"] = claim
        claimed = []
        try:
            answer = self.api.call_plain("workflows", "complete_jobs", self.workflow_id, self.run_id, request)
            refused = {error.job_id: error.message for error in answer.errors}
            claimed = answer.claimed.jobs if answer.claimed else []
        except ApiException as exc:
            refused = {job.id: describe_error(exc) for job, *_ in reports}
        for job, status, code, message, result in reports:
            if job.id in refused:
                logger.error("could not report job %s (%s) as %s: %s", job.id, job.name, status, refused[job.id])
                continue
            self.stats[status if status in self.stats else "failed"] += 1
            job_logger.info("job %s (%s) attempt %s %s (return code %s) after %.3f s%s", job.id, job.name, job.attempt_id, status, code,
                            result.get("exec_time_minutes", 0.0) * 60, f": {message}" if message else "")
        return claimed

    def _result(self, job, status, code, message, usage, exec_minutes, ended_at: float | None = None) -> dict:
        """The result of an attempt as plain JSON (a ``ResultModel``; unknown values left out). Its
        completion time is when the job's process ended (``ended_at``, epoch seconds) when known,
        not when the report was built, so that completion time minus run time is when the job started."""
        ended = dt.datetime.fromtimestamp(ended_at, dt.timezone.utc) if ended_at else dt.datetime.now(dt.timezone.utc)
        result = {
            "job_id": job.id,
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "attempt_id": job.attempt_id,
            "compute_node_id": self.node_id,
            "return_code": code,
            "exec_time_minutes": exec_minutes,
            "completion_time": ended.isoformat(timespec="milliseconds"),
            "status": status,
            "message": message,
            **(usage or {}),
        }
        return {key: value for key, value in result.items() if value is not None}

    def _retry(self, job, code: int, message: str | None, process: JobProcess, usage) -> bool:
        """Apply the job's failure handler: record the failed attempt, run recovery, retry."""
        if not job.failure_handler_id:
            return False
        if job.failure_handler_id not in self.handlers:
            self.handlers[job.failure_handler_id] = json.loads(self.api.failure_handlers.get_failure_handler(job.failure_handler_id).rules)
        rule = matching_rule(self.handlers[job.failure_handler_id], code)
        if not may_retry(rule, job.attempt_id):
            return False
        script = rule.get("recovery_script")
        if not script:
            self._send_retry(job, code, message, usage, process.exec_minutes)
            return True
        recovery = threading.Thread(
            target=self._recover, args=(job, code, message, usage, process.exec_minutes, script), name=f"recovery-{job.id}", daemon=True
        )
        with self.lock:
            self.recoveries.add(recovery)
        recovery.start()
        return True

    def _recover(self, job, code: int, message: str | None, usage, exec_minutes: float, script: str) -> None:
        """Off the loop, so that a slow or hanging recovery script holds up no other job: run the
        script (bounded by ``--script-timeout``), then retry the job or have the loop fail it."""
        try:
            env = {**self._job_env(job, []), "TORC_RETURN_CODE": str(code)}
            log = self.out / "job_stdio" / f"recovery_wf{self.workflow_id}_j{job.id}_r{self.run_id}_a{job.attempt_id}.log"
            with open(log, "wb") as out:
                _, problem = run_script(script, self.config.cwd, env, self.config.script_timeout_seconds, out)
            if problem:
                logger.error("recovery script of job %s %s (output: %s)", job.id, problem, log)
                with self.lock:
                    self.recovery_reports.append((job, "failed", code, f"{message or 'failed'}; recovery script {problem}", usage, exec_minutes))
            elif self._lease_held():
                self._send_retry(job, code, message, usage, exec_minutes)
        except Exception as exc:  # noqa: BLE001 - the loop must learn of the end either way
            logger.error("recovery of job %s failed: %s", job.id, describe_error(exc))
            with self.lock:
                self.recovery_reports.append((job, "failed", code, f"{message or 'failed'}; recovery failed: {exc}", usage, exec_minutes))
        finally:
            with self.lock:
                self.recoveries.discard(threading.current_thread())
            self.wake.set()

    def _send_retry(self, job, code: int, message: str | None, usage, exec_minutes: float) -> None:
        """Record the failed attempt's one result and send the job back to ready as the next attempt."""
        note = "; ".join(filter(None, [message, f"retrying (attempt {job.attempt_id + 1})"]))
        self.api.results.create_result(ResultModel.from_dict(self._result(job, "failed", code, note, usage, exec_minutes)))
        self.api.jobs.retry_job(job.id, self.run_id)
        self.stats["retried"] += 1
        logger.info("job %s (%s) failed with %s: retried as attempt %s", job.id, job.name, code, job.attempt_id + 1)

    def _file(self, file_id: int):
        if file_id not in self.files:
            self.files[file_id] = self.api.files.get_file(file_id)
        return self.files[file_id]

    def _missing_outputs(self, job) -> list[str]:
        return [self._file(f).path for f in job.output_file_ids or [] if not (Path(self.config.cwd) / self._file(f).path).exists()]

    def _record_output_mtimes(self, job) -> None:
        for file_id in job.output_file_ids or []:
            record = self._file(file_id)
            record.st_mtime = (Path(self.config.cwd) / record.path).stat().st_mtime
            self.api.files.update_file(file_id, record)

    # ------------------------------------------------------------------ actions

    def _run_actions(self, trigger_types: list[str]) -> None:
        try:
            pending = self.api.workflow_actions.get_pending_actions(self.workflow_id, trigger_type=trigger_types)
        except ApiException as exc:
            logger.warning("could not list actions: %s", describe_error(exc))
            return
        for action in pending:
            if action.id in self.executed_persistent or not self.env.can_execute(action):
                continue
            if not self.api.try_claim_action(self.workflow_id, action.id, self.node_id):
                continue
            if action.persistent:
                self.executed_persistent.add(action.id)
            self._execute_action(action)

    def _execute_action(self, action) -> None:
        if action.action_type == "schedule_nodes":
            self.env.schedule_nodes(self.api, self.workflow_id, action)
            return
        log_dir = self.out / "actions"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = self.base_env
        for index, command in enumerate((action.action_config or {}).get("commands", [])):
            log = log_dir / f"action_{action.id}_{action.trigger_type}_{self.node_id}_{index}.log"
            with open(log, "wb") as out:
                _, problem = run_script(command, self.config.cwd, env, self.config.script_timeout_seconds, out)
            if problem:
                logger.error("action %s (%s) command %r %s (output: %s)", action.id, action.trigger_type, command, problem, log)
            else:
                logger.info("action %s (%s) command %r succeeded", action.id, action.trigger_type, command)

    # ------------------------------------------------------------------ shutdown

    def _terminate_all(self, reason: str) -> None:
        """SIGTERM to jobs that support it, SIGKILL to the others and to anything left after the grace period."""
        self._request_stop(reason)
        self._await_exits(self._stop_processes())
        self._reap()
        self._hand_back_all(self._join_background())  # sent before what follows: starts before ends
        self._send_reports()

    def _stop_processes(self) -> int:
        """Stop every running job; return how many there were."""
        with self.lock:
            processes = [(p, r["job"]) for p, r in self.running.values()]
        for process, job in processes:
            process.send(signal.SIGTERM if job.supports_termination else signal.SIGKILL)
        deadline = time.time() + self.config.termination_grace_seconds
        while any(p.running for p, _ in processes) and time.time() < deadline:
            time.sleep(0.05)
        for process, _ in processes:
            process.send(signal.SIGKILL)
        for process, _ in processes:
            process.process.wait()
        return len(processes)

    def _await_exits(self, count: int, timeout: float = 5.0) -> None:
        """Wait until the exit watcher has queued ``count`` exits (the processes are already reaped,
        so this is a matter of its thread getting the CPU)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.finished) >= count:
                    return
            time.sleep(0.01)

    def _shutdown(self) -> None:
        if self.lost:
            self._shutdown_lost()
            return
        if self.running:
            self._terminate_all(self.stop_reason or "stopped")
        with self.lock:
            recoveries = list(self.recoveries)
        for recovery in recoveries:
            recovery.join(self.config.script_timeout_seconds + 10)
        self._reap()
        self._hand_back_all(self._join_background())
        self._send_reports()
        self._hand_back_all(self.queued)
        self.queued.clear()
        if self.stop_reason is None:
            self.stop_reason = "done"
        # First, while the jobs' results are fresh: an allocation being killed (scancel, time
        # limit) has only Slurm's KillWait (30 s by default) until SIGKILL, within which its
        # killed jobs must be made ready again and their replacement allocation requested. The
        # worker's own actions, which may run for long, come after.
        try:
            self.env.worker_stopped(self.api, self.workflow_id, self.stop_reason)
        except Exception as exc:  # noqa: BLE001 - shutdown must finish
            logger.error("could not close this worker's allocation (stopped: %s): %s", self.stop_reason, describe_error(exc))
        self.monitor.stop()
        self.watchdog.close()
        self.exits.close()
        try:
            self._run_actions(["on_workflow_complete", "on_worker_complete"])
            node = self.api.compute_nodes.get_compute_node(self.node_id)
            node.is_active = False
            node.duration_seconds = time.time() - self.started
            self.api.compute_nodes.update_compute_node(self.node_id, node)
        except Exception as exc:  # noqa: BLE001 - shutdown must finish
            logger.error("could not close compute node %s: %s", self.node_id, describe_error(exc))


    def _shutdown_lost(self) -> None:
        """The server gave this worker's jobs to others: stop them, report nothing, hand nothing
        back (the server already did), so no job runs twice concurrently or gets a stale result."""
        logger.error("lease lost: stopping %s running job(s) without reporting them", len(self.running))
        self._stop_processes()
        self.reports, self.started_unreported = [], []
        self.queued.clear()
        self._join_background()
        self.monitor.stop()
        self.watchdog.close()
        self.exits.close()
