"""parse-logs: known failure lines in Slurm output and job logs."""

import json

from click.testing import CliRunner

from torc.cli.main import cli
from torc.hpc.logs import scan_text

SAMPLES = {
    "slurmstepd: error: *** JOB 123 ON node1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***": "time_limit",
    "slurmstepd: error: *** JOB 123 ON node1 CANCELLED AT 2026-01-01T00:00:00 ***": "cancelled",
    "slurmstepd: error: Detected 1 oom_kill event in StepId=123.batch. Some of the step tasks have been OOM Killed.": "out_of_memory",
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB": "gpu_out_of_memory",
    "slurmstepd: error: *** JOB 9 ON n2 CANCELLED AT 2026-01-01T00:00:00 DUE TO NODE FAILURE ***": "node_failure",
    "slurmstepd: error: *** JOB 9 ON n2 CANCELLED AT 2026-01-01T00:00:00 DUE TO PREEMPTION ***": "preempted",
    "/var/spool/slurmd/job123/slurm_script: line 5: 4242 Segmentation fault (core dumped) ./a.out": "signal",
    "Traceback (most recent call last):": "python_exception",
    "OSError: [Errno 122] Disk quota exceeded": "disk_quota",
    "ERROR torc.runner: the server declared this worker lost: HTTP 409": "torc_worker_lost",
    # Slurm 22.05's wording of the cgroup OOM event and of memory enforcement.
    "slurmstepd: error: Detected 2 oom-kill event(s) in StepId=77.0. Some of your processes may have been killed by the cgroup out-of-memory handler.": "out_of_memory",
    "slurmstepd: error: Exceeded job memory limit at some point.": "out_of_memory",
    # The kernel's OOM killer as dmesg prints it.
    "[123456.789012] Out of memory: Killed process 4242 (python) total-vm:9876543kB, anon-rss:123456kB": "out_of_memory",
    "Memory cgroup out of memory: Killed process 4242 (python) total-vm:1kB": "out_of_memory",
    "MemoryError: Unable to allocate 8.00 GiB for an array with shape (1073741824,)": "out_of_memory",
    "terminate called after throwing an instance of 'std::bad_alloc'": "out_of_memory",
    "srun: error: Node failure on node7": "node_failure",
    "slurmstepd: error: *** STEP 42.0 ON node1 CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***": "time_limit",
    "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified": "slurm_error",
}

#: Lines a job may well print that look like the errors above without being one.
NEAR_MISSES = [
    "INFO: memory usage 1.2 GiB, out of memory budget 4 GiB",
    "checking for out of memory conditions... none",
    "peak memory: 512 MiB (limit exceeded by 0)",
    "TIMEOUT set to 300 seconds",
    "the time limit exceeded warning threshold is 90%",
    "this run was preempted earlier and resumed from a checkpoint",
    "simulating node failure recovery: ok",
    "result: Killed process count = 0",
    "user code: raise MemoryError is handled below",
    "gpu: 4 GiB free (no CUDA out of memory errors so far)",
    "we printed JOB 12 ON node1 CANCELLED as a test string",
]


def test_each_sample_is_recognized():
    for line, category in SAMPLES.items():
        findings = scan_text(line)
        assert [f.category for f in findings] == [category], line


def test_near_miss_lines_are_not_reported():
    for line in NEAR_MISSES:
        assert scan_text(line) == [], line


def test_ordinary_output_is_not_an_error():
    assert scan_text("INFO torc.runner: job 1 (prep) completed (return code 0)\nhello world\n") == []


def test_cli_scans_directories_and_filters_by_workflow(tmp_path):
    (tmp_path / "slurm_output_wf1_sl5.e").write_text("ok\n" + next(iter(SAMPLES)) + "\n")
    (tmp_path / "slurm_output_wf2_sl6.e").write_text("Traceback (most recent call last):\n")
    (tmp_path / "job_stdio").mkdir()
    (tmp_path / "job_stdio" / "job_wf1_j1_r1_a1.e").write_text("MemoryError\n")
    result = CliRunner().invoke(cli, ["-f", "json", "slurm", "parse-logs", str(tmp_path), "--workflow-id", "1"])
    assert result.exit_code == 0, result.output
    found = {(f["file"].rsplit("/", 1)[1], f["line"], f["category"]) for f in json.loads(result.stdout)}
    assert found == {("slurm_output_wf1_sl5.e", 2, "time_limit"), ("job_wf1_j1_r1_a1.e", 1, "out_of_memory")}
