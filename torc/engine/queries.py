"""Read-only questions about a workflow."""

from typing import NamedTuple

from peewee import fn

from torc.db.models import (
    File,
    Job,
    JobInputFile,
    JobInputUserData,
    JobOutputFile,
    JobOutputUserData,
    ResourceRequirements,
    UserData,
    WorkflowStatus,
)
from torc.engine.errors import NotFound
from torc.engine.sql import exists, first, marks, pinned_sort_key, rows
from torc.status import WORKFLOW_FINISHED, JobStatus
from torc.units import format_duration

S = JobStatus


def workflow_status(workflow_id: int) -> WorkflowStatus:
    status = first(WorkflowStatus, "workflow_status", lambda: WorkflowStatus.select().where(WorkflowStatus.workflow == 0), (workflow_id,))
    if status is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return status


class RunState(NamedTuple):
    """The workflow-status fields the claim and completion paths read, as a plain tuple."""

    run_id: int
    is_canceled: bool
    needs_completion_script: bool


def run_state(workflow_id: int) -> RunState:
    """``workflow_status`` without building a model instance (hot paths: claim, completion)."""
    p = marks(1)
    found = rows(f"SELECT run_id, is_canceled, has_detected_need_to_run_completion_script FROM workflow_status WHERE workflow_id = {p}", (workflow_id,))
    if not found:
        raise NotFound(f"workflow {workflow_id} not found")
    run_id, canceled, script = found[0]
    return RunState(run_id, bool(canceled), bool(script))


def job_or_error(job_id: int) -> Job:
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def is_complete(workflow_id: int) -> bool:
    """Complete when no job is outside completed/failed/canceled/terminated/disabled."""
    finished = ", ".join(str(int(s)) for s in sorted(WORKFLOW_FINISHED))
    return not exists(f"SELECT 1 FROM job WHERE workflow_id = {marks(1)} AND status NOT IN ({finished}) LIMIT 1", (workflow_id,))


def completion_state(workflow_id: int) -> dict:
    state = run_state(workflow_id)
    return {
        "is_complete": is_complete(workflow_id),
        "is_canceled": state.is_canceled,
        "needs_to_run_completion_script": state.needs_completion_script,
    }


def has_ready_jobs(workflow_id: int) -> bool:
    status, lead = pinned_sort_key("job.status", int(S.READY))
    return exists(f"SELECT 1 FROM job WHERE workflow_id = {marks(1)} AND {status} ORDER BY {lead}job.id LIMIT 1", (workflow_id,))


def ready_job_requirements(workflow_id: int, scheduler_config_id: int | None) -> dict:
    """Totals over ready jobs: what an allocation would need to run them all at once."""
    workflow_status(workflow_id)
    query = (
        Job.select(
            fn.COUNT(Job.id),
            fn.SUM(ResourceRequirements.num_cpus),
            fn.SUM(ResourceRequirements.num_gpus),
            fn.SUM(ResourceRequirements.memory_bytes),
            fn.MAX(ResourceRequirements.num_nodes),
            fn.MAX(ResourceRequirements.runtime_s),
        )
        .join(ResourceRequirements)
        .where(Job.workflow == workflow_id, Job.status == S.READY)
    )
    if scheduler_config_id is not None:
        query = query.where(Job.scheduler == scheduler_config_id)
    count, cpus, gpus, memory, nodes, runtime = query.tuples().get()
    return {
        "num_jobs": count or 0,
        "num_cpus": int(cpus or 0),
        "num_gpus": int(gpus or 0),
        "memory_gb": (memory or 0) / 1024**3,
        "max_num_nodes": int(nodes or 0),
        "max_runtime": format_duration(runtime or 0),
    }


def required_existing_files(workflow_id: int) -> list[int]:
    """Files some job reads and no job writes: they must exist before the workflow starts."""
    workflow_status(workflow_id)
    produced = JobOutputFile.select(JobOutputFile.file).where(JobOutputFile.workflow == workflow_id)
    query = (
        JobInputFile.select(JobInputFile.file)
        .where(JobInputFile.workflow == workflow_id, JobInputFile.file.not_in(produced))
        .distinct()
        .order_by(JobInputFile.file)
    )
    return [row[0] for row in query.tuples()]


def missing_user_data(workflow_id: int) -> list[int]:
    """User data some job reads, no job writes, and that has no data yet."""
    workflow_status(workflow_id)
    produced = JobOutputUserData.select(JobOutputUserData.user_data).where(JobOutputUserData.workflow == workflow_id)
    consumed = JobInputUserData.select(JobInputUserData.user_data).where(JobInputUserData.workflow == workflow_id)
    query = UserData.select(UserData.id).where(
        UserData.workflow == workflow_id,
        UserData.id.in_(consumed),
        UserData.id.not_in(produced),
        UserData.data.is_null(True) | (UserData.data == "null"),
    )
    return [row[0] for row in query.order_by(UserData.id).tuples()]
