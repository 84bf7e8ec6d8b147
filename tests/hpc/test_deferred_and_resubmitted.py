"""Backlog-cap deferral and bounded automatic resubmission against a real server, with a
scheduler that only numbers the scripts it is given (no Slurm needed; tests/slurm has the real ones)."""

from torc.hpc.allocations import WorkerLaunch, schedule_allocations, submit_deferred
from torc.hpc.orphans import RESUBMIT_EVENT, requeue_killed_jobs, resubmit_orphans
from torc.hpc.scheduler import HpcScheduler

from tests.hpc.test_orphans import allocation, run_one, worker, workflow


class NumberingScheduler(HpcScheduler):
    def __init__(self):
        self.scripts = []

    def submit(self, script, env=None):
        self.scripts.append(script.read_text())
        return str(100 + len(self.scripts))

    def status(self, job_ids):
        return {}

    def cancel(self, job_ids):
        pass

    def accounting(self, job_ids):
        return []


def statuses(api, wf):
    return [r.status for r in sorted(api.iter_scheduled_compute_nodes(wf), key=lambda r: r.id)]


def config_of(api, wf):
    return next(api.iter_items(api.slurm_schedulers.list_slurm_schedulers, wf)).id


def test_allocations_over_the_cap_are_deferred_and_submitted_as_the_queue_drains(api, tmp_path):
    wf = workflow(api, "a")
    hpc, launch = NumberingScheduler(), WorkerLaunch(url="http://x", output_dir=tmp_path, max_queued=2)
    submitted = schedule_allocations(api, wf, config_of(api, wf), 5, launch, max_parallel_jobs=4, hpc=hpc)
    assert len(submitted) == 2 and statuses(api, wf) == ["pending", "pending", "deferred", "deferred", "deferred"]
    assert submit_deferred(api, wf, launch, hpc) == [], "the queue is still full"
    first = min(r.id for r in api.iter_scheduled_compute_nodes(wf))
    record = api.scheduled_compute_nodes.get_scheduled_compute_node(first)
    record.status = "active"  # its allocation started
    api.scheduled_compute_nodes.update_scheduled_compute_node(first, record)
    later = submit_deferred(api, wf, launch, hpc)
    assert len(later) == 1 and statuses(api, wf) == ["active", "pending", "pending", "deferred", "deferred"]
    assert "--max-parallel-jobs 4" in hpc.scripts[-1], "a deferred allocation keeps its options"
    # Once the workflow is complete, what is still deferred has nothing to run: it is dropped.
    run_one(api, wf, worker(api, wf), "completed", 0)
    assert submit_deferred(api, wf, WorkerLaunch(url="http://x", output_dir=tmp_path), hpc) == []
    assert statuses(api, wf) == ["active", "pending", "pending"] and len(hpc.scripts) == 3


def test_replacements_are_bounded_per_workflow_and_recorded(api, tmp_path):
    wf = workflow(api, "a")
    hpc, launch = NumberingScheduler(), WorkerLaunch(url="http://x", output_dir=tmp_path, max_resubmissions=1)
    record = allocation(api, wf, 7, status="complete")
    node = worker(api, wf, record)
    run_one(api, wf, node, "terminated", -15)
    requeue_killed_jobs(api, wf, [node.id])
    resubmitted = resubmit_orphans(api, wf, launch, hpc)
    assert [r["slurm_job_id"] for r in resubmitted] == ["101"]
    assert [e.data["slurm_job_id"] for e in api.iter_events(wf, category=RESUBMIT_EVENT)] == ["101"]
    assert resubmit_orphans(api, wf, launch, hpc) == [], "an allocation of the workflow is pending"
    replacement = api.scheduled_compute_nodes.get_scheduled_compute_node(resubmitted[0]["scheduled_compute_node_id"])
    replacement.status = "complete"  # it died too
    api.scheduled_compute_nodes.update_scheduled_compute_node(replacement.id, replacement)
    assert resubmit_orphans(api, wf, launch, hpc) == [], "the budget of one resubmission is used up"
    assert resubmit_orphans(api, wf, WorkerLaunch(url="http://x", output_dir=tmp_path, max_resubmissions=0), hpc) == []
    assert len(hpc.scripts) == 1
