"""A claim costs the same however many of the workflow's jobs were already claimed or finished.

The claim queries must walk the (workflow, status, …, id) indexes, which hold the ready jobs
first. PostgreSQL's planner once preferred the primary key (and a filter) whenever its
statistics said most jobs were ready, as they do right after a large workflow is created with
``initialize``: each claim then stepped over every job claimed before it. Work is counted by the
database (``tests.support.work``); the engine runs in this process against the test database.
"""

import pytest

from torc.db.connection import database_proxy, is_sqlite, open_database, write_transaction
from torc.engine import claims, lifecycle

from tests.support.work import work_of

JOBS = 12_000
CLAIMED_BEFORE = 6_000
OFFER = claims.Capacity(num_cpus=10, memory_gb=10, num_gpus=0, num_nodes=1)
EMPTY = {"files": [], "user_data": [], "resource_requirements": [], "failure_handlers": [], "slurm_schedulers": [], "actions": []}


def ready_workflow() -> int:
    """A workflow of JOBS ready jobs, with planner statistics that say so."""
    job = {"command": "true", "depends_on": [], "input_files": [], "output_files": [], "input_user_data": [], "output_user_data": []}
    with write_transaction():
        created = lifecycle.create_and_initialize(
            {**EMPTY, "workflow": {"name": "claims", "user": "tester"}, "jobs": [{**job, "name": f"j{i}"} for i in range(JOBS)]}
        )
    if not is_sqlite():
        database_proxy.obj.execute_sql("ANALYZE job")
    return created["workflow"].id


def claim_work(workflow_id: int, claim) -> int:
    with write_transaction():
        work, claimed = work_of(lambda: claim(workflow_id))
    assert len(claimed.job_ids) == 10, claimed
    return work


@pytest.mark.parametrize("mode", ["resources", "queue"])
def test_claim_work_does_not_grow_with_the_jobs_claimed_before(backend, api_url, mode):
    claim = {
        "resources": lambda wf: claims.claim_by_resources(wf, 10, OFFER),
        "queue": lambda wf: claims.claim_next_jobs(wf, 10),
    }[mode]
    db = open_database(backend[1])
    with db.connection_context():
        workflow_id = ready_workflow()
        first = claim_work(workflow_id, claim)
        for _ in range(CLAIMED_BEFORE // 3000):
            assert len(claims.claim_next_jobs(workflow_id, 3000).job_ids) == 3000
        later = claim_work(workflow_id, claim)
    # Walking the primary key, the later claim read the 6,000 claimed jobs first: 100x the first.
    assert later <= first * 2 + 100, f"claim work {first} with every job ready, {later} after {CLAIMED_BEFORE} were claimed"
