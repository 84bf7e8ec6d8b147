"""``python -m torc.db.migrations``: a version-1 database is upgraded in place, on both databases."""

import uuid

import pytest
from click.testing import CliRunner

from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.servers import create_postgres_database, drop_postgres_database
from torc.db.connection import SCHEMA_VERSION, DatabaseError, database_proxy, is_sqlite, open_database, write_transaction
from torc.db.migrations import main
from torc.db.models import Job, SchemaVersion, SlurmScheduler, WorkflowAction, WorkflowActionJob
from torc.engine import lifecycle, transitions
from torc.engine.creation import create_from_records
from torc.status import JobStatus

SPEC = {
    "workflow": {"name": "old", "user": "tester"},
    "files": [], "user_data": [], "resource_requirements": [], "failure_handlers": [],
    "slurm_schedulers": [{"name": "cpu", "account": "acct", "nodes": 1, "walltime": "01:00:00"}],
    "jobs": [
        {"name": name, "command": f"echo {name}", "depends_on": deps, "input_files": [], "output_files": [], "input_user_data": [], "output_user_data": []}
        for name, deps in (("a", []), ("b", []), ("c", ["a"]))
    ],
    "actions": [{"trigger_type": "on_jobs_complete", "action_type": "run_commands", "job_names": ["a", "b"], "action_config": {"commands": ["x"]}}],
}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "old.db")
        return
    name = f"torc_upgrade_{uuid.uuid4().hex[:12]}"
    url = create_postgres_database(POSTGRES_ADMIN_URL, name)
    yield url
    database_proxy.obj.close()
    drop_postgres_database(POSTGRES_ADMIN_URL, name)


SPARSE_COLUMNS = ("scheduler_id", "failure_handler_id", "active_compute_node_id")


def index_definitions() -> dict[str, str]:
    """Index name → its CREATE statement, for the job table."""
    db = database_proxy.obj
    if is_sqlite():
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job' AND sql IS NOT NULL"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'job'"
    return dict(db.execute_sql(query).fetchall())


def make_version_1(target: str) -> int:
    """A workflow as torc with schema version 1 stored it: job a completed, an action on a and b
    counted from the jobs' states, old-style fingerprints, a Slurm scheduler; no version-2 table or
    column."""
    db = open_database(target)
    with db.connection_context(), write_transaction():
        wf = create_from_records(SPEC)["workflow"].id
        lifecycle.initialize_jobs(wf)
        Job.update(status=JobStatus.COMPLETED).where(Job.name == "a").execute()
        Job.update(input_hash="digest-of-version-1").execute()
        WorkflowAction.update(trigger_count=1).execute()
        db.drop_tables([WorkflowActionJob])
        db.execute_sql("ALTER TABLE workflow_status DROP COLUMN input_hashes_stale")
        db.execute_sql("ALTER TABLE slurm_scheduler DROP COLUMN template")
        for column in SPARSE_COLUMNS:  # version 1 and 2 indexed the NULLs too
            db.execute_sql(f'DROP INDEX "job_{column}"')
            db.execute_sql(f'CREATE INDEX "job_{column}" ON job ("{column}")')
        SchemaVersion.update(version=1).execute()
    db.close()
    return wf


def test_version_1_database_is_upgraded_in_place(database):
    wf = make_version_1(database)
    with pytest.raises(DatabaseError, match="torc.db.migrations"):
        open_database(database)

    result = CliRunner().invoke(main, [database])
    assert result.exit_code == 0, result.output
    assert f"to schema version {SCHEMA_VERSION}" in result.output

    db = open_database(database)
    with db.connection_context(), write_transaction():
        (action,) = WorkflowAction.select()
        assert action.trigger_count == 1 and action.required_triggers == 2
        jobs = {job.name: job for job in Job.select()}
        assert {row.job_id: row.counted for row in WorkflowActionJob.select()} == {jobs["a"].id: 1, jobs["b"].id: 0}
        # The new fingerprints are the baseline: nothing counts as changed by the upgrade itself.
        assert lifecycle.process_changed_job_inputs(wf, dry_run=True) == {"reinitialized_jobs": []}
        Job.update(status=JobStatus.RUNNING).where(Job.id == jobs["b"].id).execute()
        transitions.complete_jobs(wf, 1, [transitions.Completion(jobs["b"].id, JobStatus.COMPLETED, {
            "compute_node_id": 1, "return_code": 0, "exec_time_minutes": 0.0, "completion_time": "2026-01-01T00:00:00Z",
        })])
        assert WorkflowAction.get_by_id(action.id).trigger_count == 2
        # The scheduler kept its settings and can now name its own sbatch template.
        (scheduler,) = SlurmScheduler.select()
        assert (scheduler.name, scheduler.account, scheduler.template) == ("cpu", "acct", None)
        SlurmScheduler.update(template="/site/gpu.sh").execute()
        assert SlurmScheduler.get_by_id(scheduler.id).template == "/site/gpu.sh"
        # Version 3: the indexes of the mostly-NULL columns leave NULL out.
        indexes = index_definitions()
        for column in SPARSE_COLUMNS:
            assert "IS NOT NULL" in indexes[f"job_{column}"], indexes[f"job_{column}"]
    again = CliRunner().invoke(main, [database])
    assert again.exit_code == 0 and "already at schema version" in again.output
