"""Reinitializing a workflow: a new run that reruns only what changed since the last one.

Upstream torc's semantics (``workflows reinitialize``). The client plans, because only it sees
the files; the server applies the plan in one transaction (``reinitialize_workflow``: the new run
starts completely or not at all). A job is *reset* (back to ``uninitialized``) when:

1. an input file it reads was **modified**: it exists and its modification time differs from the
   recorded ``st_mtime``;
2. an input file it reads **appeared**: it exists, its recorded ``st_mtime`` is null (torc saw it
   absent, e.g. at initialize) and no job of the workflow writes it, so the user supplied it since;
3. it is ``completed`` and an output file it declares is **missing** on disk;
4. its inputs as the server fingerprints them (command, invocation script, dependencies, input
   user data) changed: ``process_changed_job_inputs``;
5. it is ``uninitialized`` already (reset by ``reset-status``, or never initialized).

Then everything downstream of those jobs is reset too and all of them are placed (ready/blocked),
as ``initialize_jobs(only_uninitialized=True)`` does; all other finished jobs keep their results.

Files that a rerunning job writes get a null ``st_mtime`` (initialize does the same for all
written files): the rerun replaces them, and their readers rerun anyway, being downstream. When
such a file exists at the next reinitialization and its record is still null (the worker did not
record its time), its current time becomes the baseline and nothing reruns because of it. So a
produced file counts as modified only if it changed after torc recorded it. A missing input that
no job writes cannot be fixed by rerunning anything; it is reported as a warning.

Every run bumps the workflow's ``run_id``, so workers of the previous run cannot report into the
new one; that is why reinitializing is refused while jobs are pending or running (``force``
overrides). Ephemeral user data is kept: finished producers that do not rerun will not write it
again, and their rerunning readers need it.
"""

import os
from collections import defaultdict, deque
from dataclasses import dataclass, field

from torc.client import TorcApi
from torc.openapi_client.models import FileModel, FileMtime, JobModel, ReinitializeWorkflowRequest
from torc.status import JobStatus
from torc.workflow_ops.errors import WorkflowOpsError
from torc.workflow_ops.files_on_disk import current_mtime, same_mtime

#: Statuses of jobs a worker holds: a new run_id would orphan them.
ACTIVE_STATUSES = (JobStatus.PENDING.label, JobStatus.RUNNING.label)


@dataclass(frozen=True)
class FileUpdate:
    """A file whose recorded ``st_mtime`` changes, and why.

    ``change``: ``modified``/``appeared`` (an input changed: its readers rerun), ``missing`` (not
    on disk), ``rewritten`` (a rerunning job will write it), ``baseline`` (first record of a file
    written during the last run).
    """

    file: FileModel
    mtime: float | None
    change: str

    def to_dict(self) -> dict:
        return {
            "id": self.file.id,
            "name": self.file.name,
            "path": self.file.path,
            "change": self.change,
            "recorded_st_mtime": self.file.st_mtime,
            "current_st_mtime": self.mtime,
        }


@dataclass(frozen=True)
class RerunJob:
    job: JobModel
    reason: str

    def to_dict(self) -> dict:
        return {"id": self.job.id, "name": self.job.name, "status": self.job.status, "reason": self.reason}


@dataclass
class ReinitializePlan:
    """What reinitializing would do, computed without changing anything."""

    workflow_id: int
    run_id: int
    file_updates: list[FileUpdate]
    #: Jobs reset by the client because of their files (job id → reason).
    reset_for_files: dict[int, str]
    #: Jobs the server will reset because their fingerprint changed (job id → reason).
    reset_for_inputs: dict[int, str]
    #: Every job that will run again: the resets and everything downstream, in id order.
    jobs_to_rerun: list[RerunJob]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReinitializeResult:
    plan: ReinitializePlan
    applied: bool
    #: The new run's id (the current one for a dry run).
    run_id: int
    num_ready: int | None = None

    def to_dict(self) -> dict:
        return {
            "workflow_id": self.plan.workflow_id,
            "dry_run": not self.applied,
            "run_id": self.run_id,
            "num_ready": self.num_ready,
            "files": [update.to_dict() for update in self.plan.file_updates],
            "jobs": [rerun.to_dict() for rerun in self.plan.jobs_to_rerun],
            "warnings": self.plan.warnings,
        }


@dataclass
class _Graph:
    """The parts of a workflow reinitialization looks at, fetched once."""

    jobs: dict[int, JobModel]
    files: dict[int, FileModel]
    readers: dict[int, list[int]]  # file id → job ids
    writers: dict[int, list[int]]  # file id → job ids
    downstream: dict[int, set[int]]  # job id → jobs that wait for it


def _load_graph(api: TorcApi, workflow_id: int) -> _Graph:
    jobs = {job.id: job for job in api.iter_jobs(workflow_id)}
    files = {file.id: file for file in api.iter_files(workflow_id)}
    readers, writers, downstream = defaultdict(list), defaultdict(list), defaultdict(set)
    for link in api.iter_items(api.workflows.list_job_file_relationships, workflow_id):
        if link.producer_job_id is not None:
            writers[link.file_id].append(link.producer_job_id)
        if link.consumer_job_id is not None:
            readers[link.file_id].append(link.consumer_job_id)
        if link.producer_job_id is not None and link.consumer_job_id is not None:
            downstream[link.producer_job_id].add(link.consumer_job_id)
    # Explicit edges, and implicit ones once initialize_jobs has stored them; user data links
    # give the implicit edges of a workflow that was never initialized.
    for edge in api.iter_items(api.workflows.list_job_dependencies, workflow_id):
        downstream[edge.depends_on_job_id].add(edge.job_id)
    for link in api.iter_items(api.workflows.list_job_user_data_relationships, workflow_id):
        if link.producer_job_id is not None and link.consumer_job_id is not None:
            downstream[link.producer_job_id].add(link.consumer_job_id)
    return _Graph(jobs, files, {k: sorted(set(v)) for k, v in readers.items()}, {k: sorted(set(v)) for k, v in writers.items()}, downstream)


def _file_resets(graph: _Graph, mtimes: dict[int, float | None]) -> tuple[dict[int, str], list[str]]:
    """Rules 1–3 of the module doc: jobs to reset because of their files, and warnings."""
    resets: dict[int, str] = {}
    warnings: list[str] = []
    for file in graph.files.values():
        mtime = mtimes[file.id]
        readers, writers = graph.readers.get(file.id, []), graph.writers.get(file.id, [])
        if mtime is None:
            for job_id in writers:
                if graph.jobs[job_id].status == JobStatus.COMPLETED.label:
                    resets.setdefault(job_id, f"output file {file.path} is missing")
            if readers and not writers:
                warnings.append(f"input file {file.path} is missing; jobs reading it will fail")
        elif same_mtime(mtime, file.st_mtime) or (file.st_mtime is None and writers):
            continue  # unchanged, or written during the last run (recorded as a baseline below)
        else:
            change = "appeared" if file.st_mtime is None else "modified"
            for job_id in readers:
                resets.setdefault(job_id, f"input file {file.path} {change}")
    return resets, warnings


def _file_updates(graph: _Graph, mtimes: dict[int, float | None], rerun: set[int]) -> list[FileUpdate]:
    """New ``st_mtime`` records: null for files a rerunning job will write, else what is on disk."""
    updates = []
    for file in graph.files.values():
        writers = graph.writers.get(file.id, [])
        rewritten = any(job_id in rerun for job_id in writers)
        mtime = None if rewritten else mtimes[file.id]
        if same_mtime(mtime, file.st_mtime):
            continue
        if mtime is None:
            change = "missing" if mtimes[file.id] is None else "rewritten"
        elif file.st_mtime is None:
            change = "baseline" if writers else "appeared"
        else:
            change = "modified"
        updates.append(FileUpdate(file, mtime, change))
    return updates


def _changed_inputs(api: TorcApi, workflow_id: int, graph: _Graph) -> dict[int, str]:
    """Rule 4, asked of the server without changing anything (job names → ids)."""
    names = set(api.workflows.process_changed_job_inputs(workflow_id, dry_run=True).reinitialized_jobs)
    return {job.id: "command, dependencies or input user data changed" for job in graph.jobs.values() if job.name in names}


def _with_downstream(graph: _Graph, seeds: dict[int, str]) -> list[RerunJob]:
    """The seeds and every job downstream of them, disabled jobs excepted (they stay disabled)."""
    reasons = dict(seeds)
    queue = deque(seeds)
    while queue:
        upstream = queue.popleft()
        for job_id in graph.downstream.get(upstream, ()):
            if job_id not in reasons:
                reasons[job_id] = f"downstream of {graph.jobs[upstream].name}"
                queue.append(job_id)
    return [
        RerunJob(graph.jobs[job_id], reason)
        for job_id, reason in sorted(reasons.items())
        if graph.jobs[job_id].status != JobStatus.DISABLED.label
    ]


def plan_reinitialize(api: TorcApi, workflow_id: int, base_dir: str | os.PathLike | None = None) -> ReinitializePlan:
    """What :func:`reinitialize_workflow` would do now; changes nothing."""
    run_id = api.workflows.get_workflow_status(workflow_id).run_id
    graph = _load_graph(api, workflow_id)
    mtimes = {file.id: current_mtime(file, base_dir) for file in graph.files.values()}
    for_files, warnings = _file_resets(graph, mtimes)
    for_files = {job_id: why for job_id, why in for_files.items() if graph.jobs[job_id].status != JobStatus.DISABLED.label}
    for_inputs = _changed_inputs(api, workflow_id, graph)
    # Jobs already uninitialized (reset, or never initialized) are placed again too.
    waiting = {job.id: "was uninitialized" for job in graph.jobs.values() if job.status == JobStatus.UNINITIALIZED.label}
    rerun = _with_downstream(graph, {**waiting, **for_inputs, **for_files})
    updates = _file_updates(graph, mtimes, {job.job.id for job in rerun})
    return ReinitializePlan(workflow_id, run_id, updates, for_files, for_inputs, rerun, warnings)


def count_active_jobs(api: TorcApi, workflow_id: int) -> int:
    return sum(api.jobs.list_jobs(workflow_id, status=status, limit=0).total_count for status in ACTIVE_STATUSES)


def refuse_while_jobs_active(api: TorcApi, workflow_id: int, action: str) -> None:
    active = count_active_jobs(api, workflow_id)
    if active:
        raise WorkflowOpsError(
            f"workflow {workflow_id} has {active} pending or running jobs: wait for them or cancel the "
            f"workflow before you {action}, or pass --force (their workers can then no longer report results)"
        )


def reinitialize_workflow(
    api: TorcApi,
    workflow_id: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    base_dir: str | os.PathLike | None = None,
) -> ReinitializeResult:
    """Start a new run that reruns what changed (see the module doc); ``dry_run`` only plans.

    The plan is made here, where the files are; applying it is one ``reinitialize_workflow``
    request, one server transaction: either the new run starts with every reset in place, or
    (another run started since the plan, jobs became active, a record vanished) nothing changes.
    """
    if not dry_run and not force:
        refuse_while_jobs_active(api, workflow_id, "reinitialize")
    plan = plan_reinitialize(api, workflow_id, base_dir)
    if dry_run:
        return ReinitializeResult(plan, applied=False, run_id=plan.run_id)
    request = ReinitializeWorkflowRequest(
        run_id=plan.run_id,
        reset_job_ids=sorted(plan.reset_for_files),
        file_mtimes=[FileMtime(file_id=update.file.id, st_mtime=update.mtime) for update in plan.file_updates],
        force=force,
    )
    started = api.workflows.reinitialize_workflow(workflow_id, request)
    return ReinitializeResult(plan, applied=True, run_id=started.run_id, num_ready=started.num_ready)


def reset_workflow(
    api: TorcApi,
    workflow_id: int,
    *,
    failed_only: bool = False,
    reinitialize: bool = False,
    force: bool = False,
    base_dir: str | os.PathLike | None = None,
) -> dict:
    """Clear the canceled flag and put jobs back to uninitialized: all of them, or the failed,
    canceled and terminated ones with everything downstream. With ``reinitialize``, start the new
    run right away (the reset jobs rerun, plus whatever changed)."""
    if not force:
        refuse_while_jobs_active(api, workflow_id, "reset it")
    api.workflows.reset_workflow_status(workflow_id, force=force)
    reset = api.workflows.reset_job_status(workflow_id, failed_only=failed_only)
    summary = {"workflow_id": workflow_id, "reset_type": reset.reset_type, "num_reset_jobs": reset.updated_count, "reinitialized": None}
    if reinitialize:
        summary["reinitialized"] = reinitialize_workflow(api, workflow_id, force=True, base_dir=base_dir).to_dict()
    return summary
