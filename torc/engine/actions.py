"""Trigger counting for workflow actions.

An action fires when ``trigger_count >= required_triggers``. Workflow- and worker-level triggers
fire at initialization (``on_workflow_start`` once, worker triggers for every worker);
``on_workflow_complete`` when the last job finishes; job triggers when all their jobs have become
ready (``on_jobs_ready``) or finished (``on_jobs_complete``). Job-trigger counts are recomputed
from the jobs' states only for the actions whose jobs changed, so the cost stays with the few
actions a workflow has.
"""

import json

from torc.db.models import Job, WorkflowAction
from torc.status import DONE, JobStatus

S = JobStatus

AT_INITIALIZE = ("on_workflow_start", "on_worker_start", "on_worker_complete")
#: A job has "become ready" once it is ready or anywhere past it.
PAST_READY = {S.READY, S.PENDING, S.RUNNING} | DONE | {S.PENDING_FAILED}
JOB_TRIGGER_STATES = {"on_jobs_ready": PAST_READY, "on_jobs_complete": DONE}


def reset_actions(workflow_id: int) -> None:
    """At (re)initialization: nothing executed yet; workflow/worker triggers armed; job triggers recounted."""
    WorkflowAction.update(executed=False, executed_at=None, executed_by=None, trigger_count=0).where(
        WorkflowAction.workflow == workflow_id
    ).execute()
    WorkflowAction.update(trigger_count=WorkflowAction.required_triggers).where(
        WorkflowAction.workflow == workflow_id, WorkflowAction.trigger_type.in_(AT_INITIALIZE)
    ).execute()
    recount_job_triggers(workflow_id, changed=None)


def recount_job_triggers(workflow_id: int, changed: set[int] | None) -> None:
    """Recount job-trigger actions whose jobs include any of ``changed`` (all when None)."""
    actions = WorkflowAction.select(WorkflowAction.id, WorkflowAction.trigger_type, WorkflowAction.job_ids).where(
        WorkflowAction.workflow == workflow_id, WorkflowAction.trigger_type.in_(list(JOB_TRIGGER_STATES))
    )
    for action in actions:
        job_ids = json.loads(action.job_ids) if action.job_ids else []
        if not job_ids or (changed is not None and changed.isdisjoint(job_ids)):
            continue
        count = Job.select().where(Job.id.in_(job_ids), Job.status.in_(JOB_TRIGGER_STATES[action.trigger_type])).count()
        WorkflowAction.update(trigger_count=count).where(WorkflowAction.id == action.id).execute()


def fire_workflow_complete(workflow_id: int) -> None:
    WorkflowAction.update(trigger_count=WorkflowAction.required_triggers).where(
        WorkflowAction.workflow == workflow_id, WorkflowAction.trigger_type == "on_workflow_complete"
    ).execute()
