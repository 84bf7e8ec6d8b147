"""Upgrading a database created by an older torc in place: ``python -m torc.db.migrations DATABASE``.

The server refuses a database of another schema version (``connection.py``). Stop the server, back
the database up, run this with the same ``--database`` value the server uses (a SQLite path or a
``postgresql://`` URL), then start the new server. Each step runs in one transaction and sets the
new version at its end, so an interrupted upgrade leaves the database at the version before it.
"""

import json

import click

from torc.db.connection import DatabaseError, SCHEMA_VERSION, database_proxy, describe, is_sqlite, make_database, write_transaction
from torc.db.models import SPARSE_JOB_COLUMNS, Job, SchemaVersion, SlurmScheduler, Workflow, WorkflowAction, WorkflowActionJob


def _v1_to_v2() -> None:
    """Version 2: job triggers counted through ``workflow_action_job``; input fingerprints cover
    dependencies and leave out data the run writes, and are refreshed only when stale
    (``workflow_status.input_hashes_stale``); a Slurm scheduler can name its own sbatch template
    (``slurm_scheduler.template``)."""
    from torc.engine import actions, fingerprints
    from torc.engine.sql import bulk_insert, bulk_update, in_chunks

    db = database_proxy.obj
    kind = "INTEGER" if is_sqlite() else "BOOLEAN"
    db.execute_sql(f"ALTER TABLE workflow_status ADD COLUMN input_hashes_stale {kind} NOT NULL DEFAULT {0 if is_sqlite() else 'false'}")
    db.execute_sql(f"ALTER TABLE {SlurmScheduler._meta.table_name} ADD COLUMN template TEXT")
    db.create_tables([WorkflowActionJob])
    job_triggers = WorkflowAction.select().where(WorkflowAction.trigger_type.in_(list(actions.JOB_TRIGGER_STATES)), WorkflowAction.job_ids.is_null(False))
    for action in job_triggers:
        listed = sorted(set(json.loads(action.job_ids)))
        existing = [job_id for chunk in in_chunks(listed) for (job_id,) in Job.select(Job.id).where(Job.id.in_(chunk), Job.workflow == action.workflow_id).tuples()]
        bulk_insert("workflow_action_job", ["action_id", "job_id", "workflow_id", "counted"], [(action.id, job_id, action.workflow_id, 0) for job_id in existing])
    for (workflow_id,) in Workflow.select(Workflow.id).tuples():
        actions.recount_job_triggers(workflow_id)
        # The fingerprint changed its definition: what the jobs consume now becomes the baseline.
        bulk_update("job", "input_hash", [(job_id, fresh) for job_id, (_, stored, fresh) in fingerprints.compute(workflow_id).items() if stored != fresh])


def _v2_to_v3() -> None:
    """Version 3: the indexes of the mostly-NULL job columns leave NULL out (``SPARSE_JOB_COLUMNS``)."""
    db = database_proxy.obj
    for name in SPARSE_JOB_COLUMNS:
        db.execute_sql(f'DROP INDEX IF EXISTS "job_{getattr(Job, name).column_name}"')
    Job._schema.create_indexes(safe=True)  # the dropped ones, as the model now defines them


#: found version → the step that upgrades it by one.
STEPS = {1: _v1_to_v2, 2: _v2_to_v3}


def upgrade(target: str | None) -> list[int]:
    """Upgrade the database to ``SCHEMA_VERSION``; returns the versions it went through."""
    db = make_database(target)
    database_proxy.initialize(db)
    passed = []
    with db.connection_context():
        if not db.table_exists(SchemaVersion._meta.table_name):
            raise DatabaseError(f"{describe(target)} has no torc schema")
        while (found := SchemaVersion.select(SchemaVersion.version).scalar()) != SCHEMA_VERSION:
            if found not in STEPS:
                raise DatabaseError(f"no upgrade from schema version {found} to {SCHEMA_VERSION}: use a torc release that knows version {found}")
            with write_transaction():
                STEPS[found]()
                SchemaVersion.update(version=found + 1).execute()
            passed.append(found + 1)
    db.close()
    return passed


@click.command()
@click.argument("database")
def main(database: str) -> None:
    """Upgrade DATABASE (SQLite path or postgresql:// URL) to this torc's schema version."""
    try:
        passed = upgrade(database)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    if passed:
        click.echo(f"Upgraded {describe(database)} to schema version {passed[-1]} (through {', '.join(map(str, passed))})")
    else:
        click.echo(f"{describe(database)} is already at schema version {SCHEMA_VERSION}")


if __name__ == "__main__":
    main()
