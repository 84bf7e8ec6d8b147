"""A completion costs the same whatever the size of the workflow and of the actions watching the job.

Work is counted by the database itself, not by the clock (``tests.support.work``). The engine
runs in this process against the test database (``api_url`` empties it first).
"""

from torc.db.connection import open_database, write_transaction
from torc.db.models import Job, WorkflowAction
from torc.engine import lifecycle, transitions
from torc.engine.creation import create_from_records
from torc.status import JobStatus

from tests.support.work import work_of


def workflow_watched_by_one_action(size: int) -> tuple[int, int]:
    """``size`` jobs, all watched by one on_jobs_complete and one on_jobs_ready action; returns
    (workflow id, id of a job that is running)."""
    names = [f"j{i}" for i in range(size)]
    created = create_from_records({
        "workflow": {"name": f"w{size}", "user": "tester"},
        "files": [], "user_data": [], "resource_requirements": [], "failure_handlers": [], "slurm_schedulers": [],
        "jobs": [
            {"name": name, "command": "true", "depends_on": [], "input_files": [], "output_files": [], "input_user_data": [], "output_user_data": []}
            for name in names
        ],
        "actions": [
            {"trigger_type": trigger, "action_type": "run_commands", "job_names": names, "action_config": {"commands": ["x"]}}
            for trigger in ("on_jobs_complete", "on_jobs_ready")
        ],
    })
    wf = created["workflow"].id
    lifecycle.initialize_jobs(wf)
    job_id = Job.select(Job.id).where(Job.workflow == wf).order_by(Job.id).scalar()
    Job.update(status=JobStatus.RUNNING).where(Job.id == job_id).execute()
    return wf, job_id


def work_of_one_completion(size: int) -> int:
    with write_transaction():
        wf, job_id = workflow_watched_by_one_action(size)
    result = {"compute_node_id": 1, "return_code": 0, "exec_time_minutes": 0.0, "completion_time": "2026-01-01T00:00:00Z"}
    with write_transaction():
        work, _ = work_of(lambda: transitions.complete_jobs(wf, 1, [transitions.Completion(job_id, JobStatus.COMPLETED, result)]))
    counts = {a.trigger_type: a.trigger_count for a in WorkflowAction.select().where(WorkflowAction.workflow == wf)}
    assert counts == {"on_jobs_complete": 1, "on_jobs_ready": size}, "the completion was counted"
    return work


def test_completion_work_does_not_grow_with_the_workflow_or_its_actions(backend, api_url):
    db = open_database(backend[1])
    with db.connection_context():
        small, large = work_of_one_completion(10), work_of_one_completion(5000)
    # Before trigger memberships, the large case recounted 5,000 jobs: ~50x the small one.
    assert large <= small * 1.2 + 50, f"completion work {small} with 10 jobs, {large} with 5,000"
