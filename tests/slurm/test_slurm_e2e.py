"""End to end on the real local Slurm: torc submit, staged allocations, walltime-aware claims,
killed allocations whose jobs rerun elsewhere, schedule-nodes, sacct and parse-logs.

Timing notes (tests/slurm/README.md): a batch job starts ≈0.5 s after sbatch and a worker needs
≈1 s to start Python, so each allocation costs ≈2 s. Time limits are enforced only every 30 s,
so no test waits for Slurm to kill anything on its own.
"""

import datetime as dt
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.slurm.conftest import HERE, slurm_times, wait_for
from torc.client import make_api
from torc.openapi_client.models import SlurmSchedulerModel

SPECS = HERE / "specs"
#: Workers that react fast: short idle time, frequent polls and heartbeats.
FAST = ["--idle-timeout", "5", "-p", "0.5", "--heartbeat-interval", "1", "--lease-seconds", "10"]

pytestmark = pytest.mark.timeout(120)


def api_of(torc):
    return make_api(torc.url)


def wait_complete(api, workflow_id: int, timeout: float = 90):
    try:
        wait_for(lambda: api.workflows.is_workflow_complete(workflow_id).is_complete, timeout, f"workflow {workflow_id} to complete")
    except AssertionError:
        print_state(api, workflow_id)
        raise


def print_state(api, workflow_id: int) -> None:
    """What a timed-out test needs to be understood: jobs, results, allocations, and the workers'
    logs and the allocations' output under the test's folder (the current directory)."""
    print("JOBS", [(j.name, j.status, j.attempt_id) for j in api.iter_jobs(workflow_id)])
    print("RESULTS", [(r.job_id, r.attempt_id, r.status, r.return_code) for r in api.iter_results(workflow_id, all_runs=True)])
    print("ALLOCATIONS", [(r.id, r.scheduler_id, r.status) for r in allocations(api, workflow_id)])
    for log in sorted(Path("torc_output").glob("*.[eo]")) + sorted(Path("torc_output").glob("job_runner_*.log")):
        print(f"--- {log}\n{log.read_text(errors='replace')[-4000:]}")


def jobs(api, workflow_id: int) -> dict:
    return {job.name: job for job in api.iter_jobs(workflow_id)}


def allocations(api, workflow_id: int) -> list:
    return list(api.iter_scheduled_compute_nodes(workflow_id))


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def test_submit_runs_dependent_stages_in_staged_allocations(torc):
    submitted = torc.json("submit", SPECS / "staged.yaml", *FAST)
    wf = submitted["workflow_id"]
    api = api_of(torc)
    # Only the first stage's allocation exists until prep finishes (it sleeps 3 s).
    assert [a["scheduler"] for a in submitted["allocations"]] == ["first"]
    assert len(allocations(api, wf)) == 1
    wait_complete(api, wf)

    by_name = jobs(api, wf)
    assert {j.status for j in by_name.values()} == {"completed"}
    results = {r.job_id: r for r in api.iter_results(wf)}
    nodes = {n.id: n for n in api.iter_compute_nodes(wf)}
    for job in by_name.values():
        assert nodes[results[job.id].compute_node_id].compute_node_type == "slurm", job.name
    schedulers = {s.name: s.id for s in api.iter_items(api.slurm_schedulers.list_slurm_schedulers, wf)}
    # The 4-CPU jobs could only run in the 4-CPU allocation.
    for name in ("big_1", "big_2"):
        assert nodes[results[by_name[name].id].compute_node_id].scheduler_config_id == schedulers["wide"]
        assert nodes[results[by_name[name].id].compute_node_id].num_cpus == 4

    # A stage's allocation may start after other workers finished its jobs: it exits at once.
    wait_for(lambda: {r.status for r in allocations(api, wf)} == {"complete"}, 30, "every allocation to be complete")
    records = {r.scheduler_config_id: r for r in allocations(api, wf)}
    assert len(records) == 3
    times = {name: slurm_times(records[schedulers[name]].scheduler_id) for name in schedulers}
    prep_done = epoch(results[by_name["prep"].id].completion_time)
    # Slurm's times have 1 s resolution.
    assert times["first"]["submit"] <= prep_done
    assert times["wide"]["submit"] >= int(prep_done), "the second stage was requested before its jobs were ready"
    last_upstream = max(epoch(results[by_name[n].id].completion_time) for n in ("small_1", "small_2", "big_1", "big_2"))
    assert times["last"]["submit"] >= int(last_upstream)
    # slurm_defaults reached sbatch.
    comment = subprocess.run(["squeue", "-h", "--states=all", "-j", str(records[schedulers["first"]].scheduler_id), "-o", "%k"],
                             capture_output=True, text=True).stdout
    assert comment.strip() == "torc staged test"

    # The workers are done; their batch scripts end a moment later.
    wait_for(lambda: all(slurm_times(r.scheduler_id)["state"] == "COMPLETED" for r in records.values()), 20, "the allocations to end")
    summary = torc.json("slurm", "sacct", wf)
    assert sorted(s["scheduler"] for s in summary) == ["first", "last", "wide"]
    assert {s["state"] for s in summary} == {"COMPLETED"}


def test_one_minute_allocation_never_claims_a_five_minute_job(torc):
    submitted = torc.json("submit", SPECS / "walltime.yaml", "--idle-timeout", "3", "-p", "0.5", "--heartbeat-interval", "1")
    wf = submitted["workflow_id"]
    api = api_of(torc)
    slurm_id = submitted["allocations"][0]["slurm_job_id"]
    # The worker runs the quick job, idles 3 s (the long one never fits) and exits.
    wait_for(lambda: allocations(api, wf)[0].status == "complete", 60, "the allocation's worker to exit")
    by_name = jobs(api, wf)
    assert by_name["quick"].status == "completed"
    assert by_name["long"].status == "ready" and by_name["long"].attempt_id == 1
    assert [r.job_id for r in api.iter_results(wf, all_runs=True)] == [by_name["quick"].id]
    # The allocation's time limit is the one minute that kept the long job out (its end time
    # in squeue is the real end once the worker has exited, so the limit is what to check).
    limit = subprocess.run(["squeue", "-h", "--states=all", "-j", str(slurm_id), "-o", "%l"], capture_output=True, text=True).stdout
    assert limit.strip() == "1:00"
    node = next(n for n in api.iter_compute_nodes(wf) if n.compute_node_type == "slurm")
    assert node.scheduler["slurm_job_id"] == slurm_id


def _start_busy_workflow(torc, *options, spec=SPECS / "orphan.yaml"):
    submitted = torc.json("submit", spec, *FAST, *options)
    wf = submitted["workflow_id"]
    api = api_of(torc)
    wait_for(lambda: jobs(api, wf)["busy"].status == "running", 30, "the busy job to run")
    record = allocations(api, wf)[0]
    assert record.status == "active" and str(record.scheduler_id) == submitted["allocations"][0]["slurm_job_id"]
    return wf, api, submitted["allocations"][0]["slurm_job_id"]


def test_scancel_of_a_busy_allocation_reruns_its_jobs_in_a_new_allocation(torc):
    wf, api, slurm_id = _start_busy_workflow(torc)
    subprocess.run(["scancel", slurm_id], check=True)
    # The worker terminates the job before Slurm kills it, and hands it back as a new attempt.
    try:
        wait_for(lambda: jobs(api, wf)["busy"].status == "ready", 20, "the killed job to be ready again")
    except AssertionError:
        print_state(api, wf)
        raise
    busy = jobs(api, wf)["busy"]
    assert busy.attempt_id == 2
    first = [r for r in api.iter_results(wf, all_runs=True) if r.job_id == busy.id]
    assert [(r.attempt_id, r.status) for r in first] == [(1, "terminated")]
    # No other allocation is left: the dying worker requested a replacement by itself.
    wait_complete(api, wf)
    assert {j.status for j in jobs(api, wf).values()} == {"completed"}
    first, replacement = allocations(api, wf)
    assert str(first.scheduler_id) == slurm_id and replacement.scheduler_id not in (0, first.scheduler_id)
    events = [e.data for e in api.iter_events(wf, category="allocation_resubmitted")]
    assert [(e["scheduled_compute_node_id"], e["slurm_job_id"]) for e in events] == [(replacement.id, str(replacement.scheduler_id))]
    assert slurm_times(slurm_id)["state"] == "CANCELLED"
    # parse-logs finds the cancellation in the killed allocation's Slurm output.
    findings = torc.json("slurm", "parse-logs", "torc_output", "--workflow-id", wf)
    assert any(f["category"] == "cancelled" and f"sl{slurm_id}." in f["file"] for f in findings)


def test_a_killed_allocation_requests_its_replacement_before_its_slow_worker_actions(torc, tmp_path):
    """Slurm kills an allocation KillWait seconds after its SIGTERM (5 s in the test cluster, 30 s
    by default): the dying worker hands its jobs back and requests the replacement before it runs
    its on_worker_complete actions, which here would outlast that."""
    spec = yaml.safe_load((SPECS / "orphan.yaml").read_text())
    spec["actions"].append({"trigger_type": "on_worker_complete", "action_type": "run_commands", "commands": ["sleep 20"], "persistent": True})
    (tmp_path / "slow_exit.yaml").write_text(yaml.safe_dump(spec))
    wf, api, slurm_id = _start_busy_workflow(torc, spec=tmp_path / "slow_exit.yaml")
    subprocess.run(["scancel", slurm_id], check=True)
    wait_complete(api, wf, timeout=60)
    assert {j.status for j in jobs(api, wf).values()} == {"completed"}
    assert [e.data["slurm_job_id"] for e in api.iter_events(wf, category="allocation_resubmitted")] == [
        str(a.scheduler_id) for a in allocations(api, wf)[1:]]


def test_no_auto_resubmit_leaves_a_killed_allocation_unreplaced(torc):
    wf, api, slurm_id = _start_busy_workflow(torc, "--no-auto-resubmit")
    subprocess.run(["scancel", slurm_id], check=True)
    wait_for(lambda: jobs(api, wf)["busy"].status == "ready", 20, "the killed job to be ready again")
    # The dying worker decides last thing before it exits, and says so in its Slurm output.
    wait_for(lambda: any("automatic resubmission is off" in log.read_text() for log in Path("torc_output").glob("slurm_output_*")),
             30, "the worker to decline a replacement")
    assert [(str(a.scheduler_id), a.status) for a in allocations(api, wf)] == [(slurm_id, "complete")]
    assert not list(api.iter_events(wf, category="allocation_resubmitted"))
    assert jobs(api, wf)["busy"].status == "ready"


def test_allocation_whose_worker_died_is_detected_and_its_jobs_rerun(torc):
    wf, api, slurm_id = _start_busy_workflow(torc)
    worker = next(n for n in api.iter_compute_nodes(wf) if n.compute_node_type == "slurm")
    os.kill(worker.pid, signal.SIGKILL)  # like a node failure: no cleanup, the lease (10 s) is still valid
    wait_for(lambda: slurm_times(slurm_id)["state"] not in ("RUNNING", "COMPLETING"), 20, "the allocation to end")
    assert jobs(api, wf)["busy"].status == "running"

    report = torc.json("slurm", "sync", wf, "--resubmit", *FAST)
    assert [a["slurm_job_id"] for a in report["dead_allocations"]] == [slurm_id]
    assert report["lost_compute_nodes"] == [worker.id]
    assert report["requeued_jobs"] == [jobs(api, wf)["busy"].id]
    assert len(report["resubmitted"]) == 1
    wait_complete(api, wf)
    busy = jobs(api, wf)["busy"]
    assert busy.status == "completed" and busy.attempt_id == 2
    wait_for(lambda: [a.status for a in allocations(api, wf)] == ["complete", "complete"], 20, "both allocations to be complete")


def test_schedule_nodes_by_hand_with_a_backlog_cap(torc, tmp_path):
    spec = tmp_path / "plain.yaml"
    spec.write_text(
        "name: plain\ncompute_node_wait_for_new_jobs_seconds: 3\n"
        "jobs:\n  - {name: 'j{i}', command: 'sleep 3', parameters: {i: '1:3'}}\n"
    )
    wf = torc.json("workflows", "create", spec)["workflow_id"]
    torc("workflows", "initialize", wf)
    scheduler = torc.json("slurm", "create", wf, "--name", "manual", "--account", "test", "--partition", "debug", "--walltime", "10")["id"]
    with pytest.raises(AssertionError, match="invalid value"):
        torc("slurm", "create", wf, "--name", "bad", "--account", "x;id")
    out = torc.json("slurm", "schedule-nodes", wf, "--scheduler-config-id", scheduler, "-n", "3", "--max-queued-allocations", "1",
                    "--max-parallel-jobs", "1", "--keep-submission-scripts", "--job-prefix", "manual", *FAST)
    assert len(out) == 1, "the backlog cap allows one queued allocation"
    api = api_of(torc)
    assert [a.status for a in allocations(api, wf)] == ["pending", "deferred", "deferred"]
    script = Path(out[0]["script"])
    assert script.name == f"manual_{out[0]['scheduled_compute_node_id']}.sh" and "#SBATCH --partition=debug" in script.read_text()
    wait_complete(api, wf, 60)
    # The deferred allocations were submitted by the running workers, each once the one before it had started.
    wait_for(lambda: [a.status for a in allocations(api, wf)] == ["complete"] * 3, 30, "the three allocations to be complete")
    slurm_ids = [str(a.scheduler_id) for a in allocations(api, wf)]
    assert slurm_ids[0] == out[0]["slurm_job_id"] and len(set(slurm_ids)) == 3
    times = [slurm_times(i) for i in slurm_ids]
    assert all(later["submit"] >= earlier["start"] for earlier, later in zip(times, times[1:]))
    summary = torc.json("slurm", "sacct", wf)
    assert [(s["slurm_job_id"], s["status"]) for s in summary] == [(i, "complete") for i in slurm_ids]

    # sbatch's refusal is one clear line with a hint, and leaves no allocation record behind.
    nowhere = torc.json("slurm", "create", wf, "--name", "nowhere", "--account", "test", "--partition", "nosuch")["id"]
    failed = torc("slurm", "schedule-nodes", wf, "--scheduler-config-id", nowhere, expect_exit=1)
    assert "sbatch exited 1" in failed.stderr and "invalid partition" in failed.stderr.lower() and "sinfo" in failed.stderr
    too_long = torc.json("slurm", "create", wf, "--name", "too_long", "--account", "test", "--partition", "short", "--walltime", "01:00:00")["id"]
    failed = torc("slurm", "schedule-nodes", wf, "--scheduler-config-id", too_long, expect_exit=1)
    assert "time limit" in failed.stderr.lower()
    assert len(allocations(api, wf)) == 3


def test_submit_slurm_with_a_profile_generated_from_the_local_cluster(torc, tmp_path):
    profile = tmp_path / "profiles" / "local.toml"
    torc("hpc", "generate", "-o", profile, "--name", "local")
    assert 'name = "short"' in profile.read_text() and "max_walltime_secs = 600" in profile.read_text()
    spec = tmp_path / "planned.yaml"
    spec.write_text(
        "name: planned\ncompute_node_expiration_buffer_seconds: 5\ncompute_node_wait_for_new_jobs_seconds: 5\n"
        "jobs:\n"
        "  - {name: prep, command: 'sleep 1', resource_requirements: one}\n"
        "  - {name: 'w{i}', command: 'sleep 1', depends_on: [prep], resource_requirements: two, parameters: {i: '1:2'}}\n"
        "resource_requirements:\n"
        "  - {name: one, num_cpus: 1, memory: 100m, runtime: PT1M}\n"
        "  - {name: two, num_cpus: 2, memory: 500m, runtime: PT1M}\n"
    )
    preview = torc.json("slurm", "generate", spec, "--account", "test", "--hpc-profile", profile)
    assert [(s["scheduler"], s["partition"], s["trigger"], s["allocations"]) for s in preview] == [
        ("one_scheduler", "short", "on_workflow_start", 1), ("two_deferred_scheduler", "short", "on_jobs_ready", 1)]
    submitted = torc.json("submit-slurm", spec, "--account", "test", "--hpc-profile", profile, *FAST)
    wf = submitted["workflow_id"]
    assert [a["scheduler"] for a in submitted["allocations"]] == ["one_scheduler"]
    api = api_of(torc)
    wait_complete(api, wf)
    wait_for(lambda: {r.status for r in allocations(api, wf)} == {"complete"}, 30, "every allocation to be complete")
    schedulers = {s.id: s for s in api.iter_items(api.slurm_schedulers.list_slurm_schedulers, wf)}
    assert sorted(s.name for s in schedulers.values()) == ["one_scheduler", "two_deferred_scheduler"]
    assert {s.partition for s in schedulers.values()} == {"short"}
    nodes = {n.id: n for n in api.iter_compute_nodes(wf) if n.compute_node_type == "slurm"}
    ran_in = {r.job_id: nodes[r.compute_node_id] for r in api.iter_results(wf)}
    two = next(s.id for s in schedulers.values() if s.name == "two_deferred_scheduler")
    for job in api.iter_jobs(wf):
        if job.name.startswith("w"):
            assert job.scheduler_id == two
            assert ran_in[job.id].num_cpus == 4  # only the planned 4-CPU allocation fits them
    assert any(n.scheduler_config_id == two and n.num_cpus == 4 for n in nodes.values())


def test_one_worker_per_node_through_srun(torc, tmp_path):
    spec = tmp_path / "per_node.yaml"
    spec.write_text(
        "name: per_node\ncompute_node_wait_for_new_jobs_seconds: 3\ncompute_node_expiration_buffer_seconds: 5\n"
        "jobs:\n  - {name: 'j{i}', command: 'echo $SLURM_STEP_ID', resource_requirements: two, parameters: {i: '1:3'}}\n"
        "resource_requirements:\n  - {name: two, num_cpus: 2, memory: 100m, runtime: PT1M}\n"
    )
    wf = torc.json("workflows", "create", spec)["workflow_id"]
    torc("workflows", "initialize", wf)
    scheduler = torc.json("slurm", "create", wf, "--name", "nodes", "--account", "test", "--partition", "short", "--walltime", "5",
                          "--extra", "--cpus-per-task=4")["id"]
    torc.json("slurm", "schedule-nodes", wf, "--scheduler-config-id", scheduler, "--start-one-worker-per-node", *FAST)
    api = api_of(torc)
    wait_complete(api, wf, 60)
    (node,) = [n for n in api.iter_compute_nodes(wf) if n.compute_node_type == "slurm"]
    # The worker ran as an srun step with the allocation's CPUs, offering one node.
    assert (node.num_cpus, node.num_nodes) == (4, 1)
    outputs = {p.read_text().strip() for p in (tmp_path / "torc_output" / "job_stdio").glob("*.o")}
    assert outputs == {"0"}
    wait_for(lambda: allocations(api, wf)[0].status == "complete", 20, "the allocation to be marked complete")


def test_a_schedulers_own_template_runs_in_its_allocation(torc, tmp_path):
    """The scheduler's template (next to the spec, relative path) wins over ``--template`` on a real allocation."""
    body = "#!/bin/bash\n{{ sbatch_directives }}\necho \"%s template in $SLURM_JOB_ID\"\n{{ environment }}\n{{ worker_command }}\n"
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "site.sh").write_text(body % "scheduler")
    (tmp_path / "other.sh").write_text(body % "submitter")
    spec = tmp_path / "spec" / "own_template.yaml"
    spec.write_text(
        "name: own_template\ncompute_node_wait_for_new_jobs_seconds: 3\n"
        "jobs:\n  - {name: j, command: 'echo done'}\n"
        "slurm_schedulers:\n  - {name: site, account: test, partition: short, walltime: '00:05:00', template: site.sh}\n"
        "actions:\n  - {trigger_type: on_workflow_start, action_type: schedule_nodes, scheduler: site, scheduler_type: slurm, num_allocations: 1}\n"
    )
    wf = torc.json("submit", spec, "--template", tmp_path / "other.sh", *FAST)["workflow_id"]
    api = api_of(torc)
    wait_complete(api, wf, 60)
    assert jobs(api, wf)["j"].status == "completed"
    (allocation,) = allocations(api, wf)
    log = tmp_path / "torc_output" / f"slurm_output_wf{wf}_sl{allocation.scheduler_id}.o"
    wait_for(lambda: log.is_file() and "template in" in log.read_text(), 20, "the allocation's Slurm output")
    assert log.read_text().splitlines()[0] == f"scheduler template in {allocation.scheduler_id}"


def test_slurm_create_stores_a_template_file_as_an_absolute_path(torc, tmp_path):
    (tmp_path / "site.sh").write_text("#!/bin/bash\n{{ sbatch_directives }}\n{{ worker_command }}\n")
    spec = tmp_path / "plain.yaml"
    spec.write_text("name: plain\njobs:\n  - {name: j, command: 'true'}\n")
    wf = torc.json("workflows", "create", spec)["workflow_id"]
    created = torc.json("slurm", "create", wf, "--name", "site", "--account", "test", "--template", "site.sh")
    assert created["template"] == str(tmp_path / "site.sh")
    assert torc.json("slurm", "create", wf, "--name", "named", "--account", "test", "--template", "default.sh")["template"] == "default.sh"
    failed = torc("slurm", "create", wf, "--name", "bad", "--account", "test", "--template", "nope.sh", expect_exit=1)
    assert "Slurm template 'nope.sh' not found" in failed.stderr and "Traceback" not in failed.stderr

    # A template that went missing after creation: one clear line at submission, no allocation record.
    api = api_of(torc)
    gone = api.slurm_schedulers.create_slurm_scheduler(SlurmSchedulerModel(
        workflow_id=wf, name="gone", account="test", nodes=1, walltime="00:05:00", template="/nowhere/gone.sh")).id
    failed = torc("slurm", "schedule-nodes", wf, "--scheduler-config-id", gone, expect_exit=1)
    assert "Slurm scheduler 'gone': template '/nowhere/gone.sh' not found" in failed.stderr and "Traceback" not in failed.stderr
    assert allocations(api, wf) == []
