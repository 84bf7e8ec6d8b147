"""``torc run`` against a real server: real processes, real resource packing, real signals."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runner.support import (
    create_workflow,
    fake_nvidia_smi,
    intervals,
    jobs_by_name,
    max_overlap,
    results_by_job,
    run_torc,
    torc_command,
)
from tests.support.servers import ServerProcess
from torc.client import make_api

FAST = ["--poll-interval", "0.2", "--idle-timeout", "5"]


def job(name, command, **extra):
    return {"name": name, "command": command, **extra}


def test_diamond_and_fan_out_fan_in_complete(api_url, tmp_path):
    jobs = [
        job("prep", "echo prep > prep.txt", output_files=["prep"]),
        *[job(f"work{i}", f"cat prep.txt > work{i}.txt && echo {i} >> work{i}.txt", input_files=["prep"], output_files=[f"work{i}"]) for i in range(6)],
        job("join", "cat work*.txt > joined.txt", input_files=[f"work{i}" for i in range(6)], output_files=["joined"]),
    ]
    files = [{"name": "prep", "path": "prep.txt"}, {"name": "joined", "path": "joined.txt"}, *[{"name": f"work{i}", "path": f"work{i}.txt"} for i in range(6)]]
    wf = create_workflow(api_url, jobs, files=files)
    run = run_torc(api_url, "run", wf, "--num-cpus", 4, "--memory-gb", 4, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert {j.status for j in jobs_by_name(api_url, wf).values()} == {"completed"}
    assert (tmp_path / "joined.txt").read_text().count("prep") == 6
    spans = intervals(api_url, wf)
    assert all(spans["prep"][1] <= spans[f"work{i}"][0] + 0.05 for i in range(6))
    assert all(spans[f"work{i}"][1] <= spans["join"][0] + 0.05 for i in range(6))
    stdio = sorted(p.name for p in (tmp_path / "out" / "job_stdio").iterdir())
    assert f"job_wf{wf}_j{jobs_by_name(api_url, wf)['join'].id}_r1_a1.o" in stdio


def test_packing_respects_cpus_and_memory(api_url, tmp_path):
    rr = [{"name": "two_cpus", "num_cpus": 2, "memory": "1g"}, {"name": "big_mem", "num_cpus": 1, "memory": "3g"}]
    jobs = [job(f"c{i}", "sleep 0.6", resource_requirements="two_cpus") for i in range(6)]
    jobs += [job(f"m{i}", "sleep 0.6", resource_requirements="big_mem") for i in range(4)]
    wf = create_workflow(api_url, jobs, resource_requirements=rr)
    run = run_torc(api_url, "run", wf, "--num-cpus", 4, "--memory-gb", 6.5, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    spans = intervals(api_url, wf)
    # 4 CPUs fit two 2-CPU jobs; 6.5 GB fit two 3 GB jobs (and never two of each).
    assert max_overlap([spans[f"c{i}"] for i in range(6)]) <= 2
    assert max_overlap([spans[f"m{i}"] for i in range(4)]) <= 2
    assert max_overlap(spans.values()) >= 2, "jobs were never packed together"
    for t in sorted(s for s, _ in spans.values()):
        running = [n for n, (s, e) in spans.items() if s <= t + 1e-3 < e]
        cpus = sum(2 if n.startswith("c") else 1 for n in running)
        memory = sum(1 if n.startswith("c") else 3 for n in running)
        assert cpus <= 4 and memory <= 6.5, running


def test_gpu_pinning_with_a_fake_nvidia_smi(api_url, tmp_path):
    env = fake_nvidia_smi(tmp_path, 2)
    rr = [{"name": "gpu", "num_cpus": 1, "num_gpus": 1, "memory": "1m"}]
    jobs = [job(f"g{i}", "echo \"$CUDA_VISIBLE_DEVICES $(date +%s.%N)\" > gpu_$TORC_JOB_NAME.txt; sleep 0.5", resource_requirements="gpu") for i in range(4)]
    jobs.append(job("cpu_only", "echo \"[$CUDA_VISIBLE_DEVICES]\" > cpu_only.txt"))
    wf = create_workflow(api_url, jobs, resource_requirements=rr)
    run = run_torc(api_url, "run", wf, "--num-cpus", 8, "--memory-gb", 8, "-o", tmp_path / "out", *FAST, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    node = next(make_api(api_url).iter_compute_nodes(wf))
    assert node.num_gpus == 2
    spans = intervals(api_url, wf)
    assigned = {f"g{i}": (tmp_path / f"gpu_g{i}.txt").read_text().split()[0] for i in range(4)}
    assert set(assigned.values()) <= {"0", "1"}
    for a in assigned:
        for b in assigned:
            overlap = a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
            if overlap:
                assert assigned[a] != assigned[b], f"{a} and {b} ran together on GPU {assigned[a]}"
    assert max_overlap([spans[f"g{i}"] for i in range(4)]) == 2
    assert (tmp_path / "cpu_only.txt").read_text().strip() == "[]"


def test_failure_handler_retries_with_recovery_script(api_url, tmp_path):
    handler = {"name": "flaky", "rules": [{"exit_codes": [75], "max_retries": 2, "recovery_script": "echo $TORC_RETURN_CODE >> recovered.txt"}]}
    jobs = [
        job("flaky", 'if [ "$TORC_ATTEMPT_ID" -lt 3 ]; then exit 75; fi; echo ok', failure_handler="flaky"),
        job("hopeless", "exit 75", failure_handler="flaky"),
        job("other_code", "exit 3", failure_handler="flaky"),
    ]
    wf = create_workflow(api_url, jobs, failure_handlers=[handler])
    run = run_torc(api_url, "run", wf, "--num-cpus", 2, "--memory-gb", 2, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    by_name = jobs_by_name(api_url, wf)
    assert by_name["flaky"].status == "completed" and by_name["flaky"].attempt_id == 3
    assert by_name["hopeless"].status == "failed" and by_name["hopeless"].attempt_id == 3
    assert by_name["other_code"].status == "failed" and by_name["other_code"].attempt_id == 1
    attempts = [r.attempt_id for r in make_api(api_url).iter_results(wf, job_id=by_name["flaky"].id, all_runs=True)]
    assert attempts == [1, 2, 3]
    assert (tmp_path / "recovered.txt").read_text().split() == ["75"] * 4


def test_missing_output_fails_the_job_naming_the_file(api_url, tmp_path):
    jobs = [job("liar", "true", output_files=["promised"]), job("after", "true", output_files=[], input_files=["promised"])]
    wf = create_workflow(api_url, jobs, files=[{"name": "promised", "path": "promised.txt"}])
    run = run_torc(api_url, "run", wf, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    by_name = jobs_by_name(api_url, wf)
    assert by_name["liar"].status == "failed" and by_name["after"].status == "canceled"
    result = results_by_job(api_url, wf)[by_name["liar"].id]
    assert result.return_code == 1 and "promised.txt" in result.message


def test_signal_death_and_runtime_overrun_are_reported(api_url, tmp_path):
    rr = [{"name": "short", "num_cpus": 1, "runtime": "PT1S"}]
    jobs = [job("killed", "kill -9 $$"), job("slow", "sleep 1.5", resource_requirements="short")]
    wf = create_workflow(api_url, jobs, resource_requirements=rr)
    run = run_torc(api_url, "run", wf, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    by_name = jobs_by_name(api_url, wf)
    results = results_by_job(api_url, wf)
    assert results[by_name["killed"].id].return_code == -9 and "SIGKILL" in results[by_name["killed"].id].message
    slow = results[by_name["slow"].id]
    assert slow.status == "completed" and "over its runtime" in slow.message


def test_sigterm_terminates_running_jobs_and_closes_the_node(api_url, tmp_path):
    jobs = [
        job("graceful", "trap 'echo got TERM > term.txt; exit 0' TERM; sleep 60 & wait", supports_termination=True),
        job("blunt", "sleep 60"),
    ]
    wf = create_workflow(api_url, jobs)
    worker = subprocess.Popen(torc_command(api_url, "run", wf, "-o", tmp_path / "out", *FAST), cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while {j.status for j in jobs_by_name(api_url, wf).values()} != {"running"}:
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr.read()
    by_name = jobs_by_name(api_url, wf)
    assert by_name["graceful"].status == "terminated" and by_name["blunt"].status == "terminated"
    assert (tmp_path / "term.txt").read_text().strip() == "got TERM"
    results = results_by_job(api_url, wf)
    assert results[by_name["blunt"].id].return_code == -9
    (node,) = make_api(api_url).iter_compute_nodes(wf)
    assert node.is_active is False and node.duration_seconds > 0


def test_killed_worker_jobs_rerun_by_a_second_worker_exactly_once(tmp_path):
    """SIGKILL a worker mid-job: after its lease expires a second worker reruns the job."""
    with ServerProcess(str(tmp_path / "s.db"), extra_args=["--lost-worker-check-seconds", "0.5"]) as server:
        url = server.api_url
        jobs = [job("long", 'echo "start$TORC_ATTEMPT_ID" >> attempts.txt; sleep 3; echo "end$TORC_ATTEMPT_ID" >> attempts.txt'), *[job(f"quick{i}", "true") for i in range(3)]]
        wf = create_workflow(url, jobs)
        lease = ["--heartbeat-interval", "0.5", "--lease-seconds", "2"]
        first = subprocess.Popen(torc_command(url, "run", wf, "--num-cpus", 1, "-o", tmp_path / "out1", *FAST, *lease), cwd=tmp_path)
        deadline = time.monotonic() + 30
        attempts = tmp_path / "attempts.txt"
        while not (attempts.exists() and "start1" in attempts.read_text()):  # the job really started
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = run_torc(url, "run", wf, "-o", tmp_path / "out2", "--poll-interval", "0.2", "--idle-timeout", "20", *lease, cwd=tmp_path, timeout=90)
        assert second.returncode == 0, second.stderr
        by_name = jobs_by_name(url, wf)
        assert {j.status for j in by_name.values()} == {"completed"}
        assert by_name["long"].attempt_id == 2
        completed = [r for r in make_api(url).iter_results(wf, all_runs=True) if r.status == "completed"]
        assert sorted(r.job_id for r in completed) == sorted(j.id for j in by_name.values())
        lost = [r for r in make_api(url).iter_results(wf, all_runs=True) if r.return_code == -128]
        assert [r.job_id for r in lost] == [by_name["long"].id]
        # The first attempt died with its worker (the watchdog killed it); only the second ended.
        assert (tmp_path / "attempts.txt").read_text().split() == ["start1", "start2", "end2"]


def test_workflow_actions_run_once_or_on_every_worker(api_url, tmp_path):
    """Two workers: non-persistent actions run exactly once, worker actions on each worker."""
    def action(trigger, command, **extra):
        return {"trigger_type": trigger, "action_type": "run_commands", "action_config": {"commands": [command]}, **extra}

    jobs = [job("first", "sleep 0.3"), job("second", "true", depends_on=["first"])]
    actions = [
        action("on_workflow_start", "echo start >> start.txt"),
        action("on_worker_start", "echo $$ >> worker_start.txt", persistent=True),
        action("on_jobs_ready", "echo ready >> second_ready.txt", job_names=["second"]),
        action("on_workflow_complete", "echo done >> complete.txt"),
        action("on_worker_complete", "echo bye >> worker_complete.txt", persistent=True),
    ]
    wf = create_workflow(api_url, jobs, actions=actions)
    command = torc_command(api_url, "run", wf, "--poll-interval", "0.2", "--idle-timeout", "3")
    workers = [subprocess.Popen([*command, "-o", tmp_path / f"out{i}"], cwd=tmp_path, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0, worker.stderr.read()
    assert {j.status for j in jobs_by_name(api_url, wf).values()} == {"completed"}
    for name, count in [("start.txt", 1), ("second_ready.txt", 1), ("complete.txt", 1), ("worker_start.txt", 2), ("worker_complete.txt", 2)]:
        assert len((tmp_path / name).read_text().split()) == count, name


def test_time_limit_claims_only_jobs_that_fit_and_terminates_at_the_end(api_url, tmp_path):
    rr = [{"name": "short", "num_cpus": 1, "runtime": "PT2S"}, {"name": "long", "num_cpus": 1, "runtime": "PT5M"}]
    jobs = [
        job("fits", "true", resource_requirements="short"),
        job("too_long", "true", resource_requirements="long"),
        job("overruns", "sleep 60", resource_requirements="short"),
    ]
    wf = create_workflow(api_url, jobs, resource_requirements=rr, workflow={"compute_node_expiration_buffer_seconds": 0})
    started = time.monotonic()
    run = run_torc(api_url, "run", wf, "--time-limit", "PT4S", "--termination-grace", "1", "-o", tmp_path / "out", "--poll-interval", "0.2", "--idle-timeout", "30", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - started < 20, "the worker did not stop at its time limit"
    by_name = jobs_by_name(api_url, wf)
    assert by_name["fits"].status == "completed"
    assert by_name["too_long"].status == "ready", "a 5-minute job was claimed with 4 s left"
    assert by_name["overruns"].status == "terminated"


def test_prefetch_runs_every_job_once_within_the_parallel_limit(api_url, tmp_path):
    wf = create_workflow(api_url, [job(f"j{i:02d}", "sleep 0.05") for i in range(40)])
    run = run_torc(api_url, "run", wf, "--max-parallel-jobs", 2, "--prefetch", 10, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert {j.status for j in jobs_by_name(api_url, wf).values()} == {"completed"}
    results = list(make_api(api_url).iter_results(wf, all_runs=True))
    assert len(results) == 40 and len({r.job_id for r in results}) == 40
    assert max_overlap(intervals(api_url, wf).values()) <= 2


def test_prefetch_in_resource_mode_starts_each_job_when_its_resources_free(api_url, tmp_path):
    rr = [{"name": "two_cpus", "num_cpus": 2, "memory": "1g"}, {"name": "one_cpu", "num_cpus": 1, "memory": "1g"}]
    jobs = [job(f"c{i}", "sleep 0.3", resource_requirements="two_cpus") for i in range(4)]
    jobs += [job(f"s{i:02d}", "sleep 0.1", resource_requirements="one_cpu") for i in range(16)]
    wf = create_workflow(api_url, jobs, resource_requirements=rr)
    run = run_torc(api_url, "run", wf, "--num-cpus", 3, "--memory-gb", 8, "--prefetch", 12, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert {j.status for j in jobs_by_name(api_url, wf).values()} == {"completed"}
    results = list(make_api(api_url).iter_results(wf, all_runs=True))
    assert len(results) == 20 and len({r.job_id for r in results}) == 20, "every job ran exactly once"
    spans = intervals(api_url, wf)
    for t in sorted(s for s, _ in spans.values()):
        running = [n for n, (s, e) in spans.items() if s <= t + 2e-3 < e]
        assert sum(2 if n.startswith("c") else 1 for n in running) <= 3, running
    assert max_overlap(spans.values()) >= 2, "jobs were never packed together"


def test_sigterm_hands_prefetched_jobs_back(api_url, tmp_path):
    wf = create_workflow(api_url, [job(f"s{i}", "sleep 60") for i in range(6)])
    worker = subprocess.Popen(torc_command(api_url, "run", wf, "--max-parallel-jobs", 1, "--prefetch", 3, "-o", tmp_path / "out", *FAST),
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while sorted(j.status for j in jobs_by_name(api_url, wf).values()) != ["pending"] * 3 + ["ready"] * 2 + ["running"]:
        assert time.monotonic() < deadline and worker.poll() is None, [j.status for j in jobs_by_name(api_url, wf).values()]
        time.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr.read()
    statuses = sorted(j.status for j in jobs_by_name(api_url, wf).values())
    assert statuses == ["ready"] * 5 + ["terminated"]
    assert len(list(make_api(api_url).iter_results(wf, all_runs=True))) == 1


def test_per_job_log_lines_go_to_the_log_file_and_to_stderr_only_when_debugging(api_url, tmp_path):
    """By default the log file gets a line per job end; with --log-level debug, stderr and the
    file get a line per job start and end."""
    wf = create_workflow(api_url, [job("quiet", "true"), job("loud", "true")])
    run = run_torc(api_url, "run", wf, "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "started job" not in run.stderr and "(return code 0)" not in run.stderr
    assert f"workflow {wf} is complete" in run.stderr, "worker-level lines still reach stderr"
    log = next((tmp_path / "out").glob("job_runner_*.log")).read_text()
    assert log.count("started job") == 0 and log.count("completed (return code 0) after") == 2 and "attempt 1 completed" in log
    api = make_api(api_url)
    api.workflows.reset_job_status(wf)
    api.workflows.initialize_jobs(wf)
    debug = run_torc(api_url, "--log-level", "debug", "run", wf, "-o", tmp_path / "out2", *FAST, cwd=tmp_path)
    assert debug.returncode == 0, debug.stderr
    assert debug.stderr.count("started job") == 2 and debug.stderr.count("completed (return code 0)") == 2
    debug_log = next((tmp_path / "out2").glob("job_runner_*.log")).read_text()
    assert debug_log.count("started job") == 2


SPEC_WITH_INPUT = """\
name: from_spec
jobs:
  - {name: copy, command: "cp ${files.input.raw} ${files.output.copy}"}
  - {name: count, command: "wc -c < ${files.input.copy} > count.txt"}
files:
  - {name: raw, path: data/raw.txt}
  - {name: copy, path: copy.txt}
"""


def test_run_of_a_spec_checks_inputs_before_creating_and_records_their_mtimes(api_url, tmp_path):
    api = make_api(api_url)
    (tmp_path / "spec.yaml").write_text(SPEC_WITH_INPUT)
    before = api.workflows.list_workflows().total_count
    refused = run_torc(api_url, "run", "spec.yaml", "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert refused.returncode == 1 and "missing input files that no job produces: data/raw.txt" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert api.workflows.list_workflows().total_count == before, "nothing is created while an input is missing"

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.txt").write_text("12345")
    run = run_torc(api_url, "run", "spec.yaml", "-o", tmp_path / "out", *FAST, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    wf = int(run.stderr.split("Created workflow ")[1].split()[0])
    assert {j.status for j in jobs_by_name(api_url, wf).values()} == {"completed"}
    assert (tmp_path / "count.txt").read_text().strip() == "5"
    mtimes = {f.path: f.st_mtime for f in api.iter_files(wf)}
    assert mtimes == {path: (tmp_path / path).stat().st_mtime for path in ("data/raw.txt", "copy.txt")}, "input recorded at the start, output by its job"
    (started,) = api.events.list_events(workflow_id=wf, category="workflow_started").items
    assert started.data["num_ready"] == 1
