"""Workflow actions: creating them, and counting their triggers.

An action fires when ``trigger_count >= required_triggers``. Workflow- and worker-level triggers
fire at initialization (``on_workflow_start`` once, worker triggers for every worker);
``on_workflow_complete`` when the last job finishes; job triggers when all their jobs have become
ready (``on_jobs_ready``) or finished (``on_jobs_complete``).

Job triggers are counted incrementally. ``workflow_action_job`` holds one row per (action, job)
with ``counted``: whether that job counts towards the action now. After jobs change status,
:func:`count_job_triggers` compares ``counted`` with the jobs' new statuses for the memberships
of those jobs only and adds the difference to the actions' counts. So ``trigger_count`` always
equals the sum of ``counted`` over the action's jobs, and a completion costs the same whether an
action watches ten jobs or a million. Initialization recounts everything of the workflow once;
workflow-wide resets and cancellation leave the counts to that recount (nothing runs meanwhile).
"""

import json

from torc.db.connection import database_proxy
from torc.db.models import WorkflowAction
from torc.engine.sql import bulk_insert, in_chunks
from torc.status import DONE, JobStatus

S = JobStatus

AT_INITIALIZE = ("on_workflow_start", "on_worker_start", "on_worker_complete")
#: A job has "become ready" once it is ready or anywhere past it.
PAST_READY = {S.READY, S.PENDING, S.RUNNING} | DONE | {S.PENDING_FAILED}
JOB_TRIGGER_STATES = {"on_jobs_ready": PAST_READY, "on_jobs_complete": DONE}


def _codes(statuses) -> str:
    return ", ".join(str(int(s)) for s in sorted(statuses))


#: 1 when job ``j`` counts for the trigger of action ``a`` now, else 0.
COUNTS_NOW = "CASE {} ELSE 0 END".format(
    " ".join(f"WHEN a.trigger_type = '{trigger}' AND j.status IN ({_codes(states)}) THEN 1" for trigger, states in JOB_TRIGGER_STATES.items())
)


def create_action(workflow_id: int, fields: dict, job_ids: list[int]) -> WorkflowAction:
    """Insert an action (and, for a job trigger, its jobs, counted from their current statuses).

    A job trigger needs one trigger per listed job unless ``required_triggers`` says otherwise;
    the other triggers fire once.
    """
    job_ids = list(dict.fromkeys(job_ids))
    is_job_trigger = fields["trigger_type"] in JOB_TRIGGER_STATES
    fields = {"required_triggers": max(1, len(job_ids)) if is_job_trigger else 1, **fields}
    action = WorkflowAction.create(workflow=workflow_id, job_ids=json.dumps(job_ids) if job_ids else None, **fields)
    if is_job_trigger and job_ids:
        bulk_insert("workflow_action_job", ["action_id", "job_id", "workflow_id", "counted"], [(action.id, job_id, workflow_id, 0) for job_id in job_ids])
        _recount("m.action_id", action.id)
    return WorkflowAction.get_by_id(action.id)


def reset_actions(workflow_id: int) -> None:
    """At (re)initialization: nothing executed yet; workflow/worker triggers armed; job triggers recounted."""
    WorkflowAction.update(executed=False, executed_at=None, executed_by=None, trigger_count=0).where(
        WorkflowAction.workflow == workflow_id
    ).execute()
    WorkflowAction.update(trigger_count=WorkflowAction.required_triggers).where(
        WorkflowAction.workflow == workflow_id, WorkflowAction.trigger_type.in_(AT_INITIALIZE)
    ).execute()
    recount_job_triggers(workflow_id)


def recount_job_triggers(workflow_id: int) -> None:
    """Recount every job trigger of the workflow from its jobs' statuses."""
    _recount("m.workflow_id", workflow_id)


def _recount(column: str, value: int) -> None:
    """Recount the memberships where ``column = value`` from scratch, and their actions' counts."""
    db = database_proxy.obj
    p = db.param
    db.execute_sql(
        f"""UPDATE workflow_action_job AS m SET counted = {COUNTS_NOW} FROM job j, workflow_action a
            WHERE {column} = {p} AND j.id = m.job_id AND a.id = m.action_id""",
        (value,),
    )
    db.execute_sql(
        f"""UPDATE workflow_action SET trigger_count = totals.total FROM (
                SELECT m.action_id AS action_id, SUM(m.counted) AS total FROM workflow_action_job m
                WHERE {column} = {p} GROUP BY m.action_id) AS totals
            WHERE workflow_action.id = totals.action_id""",
        (value,),
    )


def count_job_triggers(job_ids) -> None:
    """After ``job_ids`` changed status: update the counts of the actions that watch them.

    Touches only the memberships of these jobs (index on ``job_id``): one probe when none of them
    is watched, otherwise two set-based UPDATEs (the actions by the difference, then the flags).
    """
    db = database_proxy.obj
    for chunk in in_chunks(job_ids):
        marks = ", ".join([db.param] * len(chunk))
        if not db.execute_sql(f"SELECT 1 FROM workflow_action_job WHERE job_id IN ({marks}) LIMIT 1", chunk).fetchone():
            continue
        db.execute_sql(
            f"""UPDATE workflow_action SET trigger_count = trigger_count + changes.delta FROM (
                    SELECT m.action_id AS action_id, SUM({COUNTS_NOW} - m.counted) AS delta
                    FROM workflow_action_job m JOIN job j ON j.id = m.job_id JOIN workflow_action a ON a.id = m.action_id
                    WHERE m.job_id IN ({marks}) GROUP BY m.action_id) AS changes
                WHERE workflow_action.id = changes.action_id AND changes.delta <> 0""",
            chunk,
        )
        db.execute_sql(
            f"""UPDATE workflow_action_job AS m SET counted = {COUNTS_NOW} FROM job j, workflow_action a
                WHERE m.job_id IN ({marks}) AND j.id = m.job_id AND a.id = m.action_id AND m.counted <> {COUNTS_NOW}""",
            chunk,
        )


def fire_workflow_complete(workflow_id: int) -> None:
    WorkflowAction.update(trigger_count=WorkflowAction.required_triggers).where(
        WorkflowAction.workflow == workflow_id, WorkflowAction.trigger_type == "on_workflow_complete"
    ).execute()
