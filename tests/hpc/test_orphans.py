"""Orphaned allocations against a real server and a scripted scheduler (no Slurm needed)."""

import datetime as dt

from torc.hpc.orphans import ORPHAN_MAX_ATTEMPTS, replacement_counts, requeue_killed_jobs, sync_allocations
from torc.hpc.scheduler import HpcJobInfo, HpcScheduler
from torc.openapi_client.models import ComputeNodeModel, ResultModel, ScheduledComputeNodesModel, WorkflowSpecRecords


class ScriptedScheduler(HpcScheduler):
    def __init__(self, states):
        self.states = states

    def submit(self, script, env=None):
        raise AssertionError("not expected")

    def status(self, job_ids):
        return {j: HpcJobInfo(j, self.states[j]) for j in job_ids if j in self.states}

    def cancel(self, job_ids):
        pass

    def accounting(self, job_ids):
        return []


def workflow(api, *names):
    records = {"workflow": {"name": "t", "user": "u"}, "jobs": [{"name": n, "command": "true"} for n in names],
               "slurm_schedulers": [{"name": "s", "account": "a", "nodes": 1, "walltime": "01:00:00"}]}
    wf = api.workflows.create_workflow_from_spec(WorkflowSpecRecords.from_dict(records)).workflow.id
    api.workflows.initialize_jobs(wf)
    return wf


def allocation(api, wf, slurm_id, status="active"):
    config = next(api.iter_items(api.slurm_schedulers.list_slurm_schedulers, wf)).id
    return api.scheduled_compute_nodes.create_scheduled_compute_node(ScheduledComputeNodesModel(
        workflow_id=wf, scheduler_config_id=config, scheduler_id=slurm_id, scheduler_type="slurm", status=status))


def worker(api, wf, record=None):
    node = api.compute_nodes.create_compute_node(ComputeNodeModel(
        workflow_id=wf, hostname="n1", pid=1, start_time=dt.datetime.now(dt.timezone.utc).isoformat(), is_active=True, num_cpus=1,
        memory_gb=1, num_gpus=0, num_nodes=1, compute_node_type="slurm", scheduler_config_id=record.scheduler_config_id if record else None,
        scheduler={"slurm_job_id": str(record.scheduler_id), "scheduled_compute_node_id": record.id} if record else None))
    api.compute_nodes.heartbeat_compute_node(node.id, lease_seconds=600)
    return node


def run_one(api, wf, node, status, code):
    job = api.workflows.claim_next_jobs(wf, limit=1, compute_node_id=node.id, start=True).jobs[0]
    run_id = api.workflows.get_workflow_status(wf).run_id
    api.jobs.complete_job(job.id, status, run_id, ResultModel(
        job_id=job.id, workflow_id=wf, run_id=run_id, attempt_id=job.attempt_id, compute_node_id=node.id, return_code=code,
        exec_time_minutes=0.1, completion_time=dt.datetime.now(dt.timezone.utc).isoformat(), status=status))
    return job


def test_killed_jobs_come_back_as_a_new_attempt(api):
    wf = workflow(api, "terminated", "sigterm", "plain_failure")
    node = worker(api, wf)
    terminated = run_one(api, wf, node, "terminated", -15)
    sigterm = run_one(api, wf, node, "failed", 143)
    plain = run_one(api, wf, node, "failed", 1)
    assert sorted(requeue_killed_jobs(api, wf, [node.id])) == sorted([terminated.id, sigterm.id])
    assert api.jobs.get_job(sigterm.id).status == "ready" and api.jobs.get_job(sigterm.id).attempt_id == 2
    assert api.jobs.get_job(plain.id).status == "failed"
    first = next(r for r in api.iter_results(wf, all_runs=True) if r.job_id == sigterm.id)
    assert first.status == "terminated" and "killed with its allocation" in first.message
    assert requeue_killed_jobs(api, wf, [node.id]) == []  # idempotent


def test_attempts_are_bounded(api):
    wf = workflow(api, "a")
    for attempt in range(1, ORPHAN_MAX_ATTEMPTS + 1):
        node = worker(api, wf)
        run_one(api, wf, node, "terminated", -15)
        requeued = requeue_killed_jobs(api, wf, [node.id])
        assert bool(requeued) == (attempt < ORPHAN_MAX_ATTEMPTS)
    assert next(api.iter_jobs(wf)).status == "terminated"


def test_sync_recovers_the_jobs_of_a_dead_allocation(api):
    wf = workflow(api, "a", "b")
    dead = allocation(api, wf, 101)
    alive = allocation(api, wf, 102)
    gone = allocation(api, wf, 103, status="pending")
    node = worker(api, wf, dead)
    job = api.workflows.claim_next_jobs(wf, limit=1, compute_node_id=node.id, start=True).jobs[0]
    hpc = ScriptedScheduler({"101": "CANCELLED", "102": "RUNNING"})
    assert [a["slurm_job_id"] for a in sync_allocations(api, wf, hpc, dry_run=True).dead_allocations] == ["101", "103"]
    assert api.jobs.get_job(job.id).status == "running"

    report = sync_allocations(api, wf, hpc)
    assert report.lost_compute_nodes == [node.id] and report.requeued_jobs == [job.id] and report.failed_jobs == []
    assert {a["slurm_job_id"]: a["state"] for a in report.dead_allocations} == {"101": "CANCELLED", "103": "GONE"}
    assert api.jobs.get_job(job.id).status == "ready" and api.jobs.get_job(job.id).attempt_id == 2
    statuses = {r.id: r.status for r in api.iter_scheduled_compute_nodes(wf)}
    assert statuses == {dead.id: "complete", alive.id: "active", gone.id: "complete"}
    # An allocation is still running: it will run the job, nothing to resubmit.
    assert replacement_counts(api, wf) == {}
    alive.status = "complete"
    api.scheduled_compute_nodes.update_scheduled_compute_node(alive.id, alive)
    assert replacement_counts(api, wf) == {dead.scheduler_config_id: 1}
