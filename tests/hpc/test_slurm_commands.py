"""SlurmCommands against scripted command results: parsing, error messages, retries with backoff."""

import subprocess

import pytest

from torc.hpc.scheduler import SchedulerCommandError, TransientSchedulerError
from torc.hpc.slurm import CommandRetry, SlurmCommands, format_walltime, parse_slurm_time, submission_env


class FakeRunner:
    """Answers commands from a list of (returncode, stdout, stderr) or exceptions, recording calls."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, command, **kwargs):
        self.calls.append((command, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        code, out, err = answer
        return subprocess.CompletedProcess(command, code, out, err)


def slurm(*answers, attempts=4):
    runner = FakeRunner(*answers)
    sleeps = []
    return SlurmCommands(CommandRetry(attempts=attempts, first_delay=0.5), runner=runner, sleep=sleeps.append), runner, sleeps


def test_submit_parses_parsable_output_and_cleans_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_MEM_PER_CPU", "1000")
    monkeypatch.setenv("SLURM_CONF", "/etc/slurm/slurm.conf")
    hpc, runner, _ = slurm((0, "4242;cluster\n", ""))
    assert hpc.submit(tmp_path / "s.sh") == "4242"
    command, kwargs = runner.calls[0]
    assert command == ["sbatch", "--parsable", str(tmp_path / "s.sh")]
    assert "SLURM_MEM_PER_CPU" not in kwargs["env"] and kwargs["env"]["SLURM_CONF"] == "/etc/slurm/slurm.conf"


def test_transient_failures_are_retried_with_backoff(tmp_path):
    hpc, runner, sleeps = slurm(
        (1, "", "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"),
        (1, "", "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"),
        subprocess.TimeoutExpired(["sbatch"], 120),
        (0, "77\n", ""),
    )
    assert hpc.submit(tmp_path / "s.sh") == "77"
    assert len(runner.calls) == 4 and sleeps == [0.5, 1.0, 2.0]


def test_transient_failures_give_up_after_the_last_attempt(tmp_path):
    hpc, runner, sleeps = slurm(*[(1, "", "squeue: error: Unable to contact slurm controller (connect failure)")] * 2, attempts=2)
    with pytest.raises(TransientSchedulerError, match="Unable to contact slurm controller"):
        hpc.status(["1"])
    assert len(runner.calls) == 2 and sleeps == [0.5]


@pytest.mark.parametrize(
    "stderr, hint",
    [
        ("sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified", "sacctmgr"),
        ("sbatch: error: invalid partition specified: nope", "sinfo"),
        ("sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)", "walltime"),
        ("sbatch: error: Batch job submission failed: Requested node configuration is not available", "CPUs/memory"),
    ],
)
def test_permanent_failures_are_not_retried_and_explain_themselves(tmp_path, stderr, hint):
    hpc, runner, sleeps = slurm((1, "", stderr))
    with pytest.raises(SchedulerCommandError) as raised:
        hpc.submit(tmp_path / "s.sh")
    assert not isinstance(raised.value, TransientSchedulerError)
    assert len(runner.calls) == 1 and not sleeps
    assert "sbatch exited 1" in str(raised.value) and hint in str(raised.value)


def test_missing_commands_say_so(tmp_path):
    hpc, _, _ = slurm(FileNotFoundError("sbatch"))
    with pytest.raises(SchedulerCommandError, match="not on PATH"):
        hpc.submit(tmp_path / "s.sh")


def test_status_parses_squeue_and_asks_accounting_for_forgotten_jobs():
    squeue = "11|RUNNING|2026-01-02T03:04:05|2026-01-02T04:04:05|node[1-2]|None|torc_wf1_1\n12|PENDING|N/A|N/A||Priority|torc_wf1_2\n"
    hpc, runner, _ = slurm(
        (0, squeue, ""),
        (1, "", "Slurm accounting storage is disabled"),
        (0, "13|torc_wf1_3|CANCELLED by 0|0:15|2026-01-02T03:00:00|2026-01-02T03:10:00|00:10:00|node3\n13.batch|batch|CANCELLED|0:15|||00:10:00|node3\n", ""),
    )
    states = hpc.status(["11", "12", "13", "14"])
    assert states["11"].state == "RUNNING" and states["11"].is_active and states["11"].nodes == "node[1-2]"
    assert states["11"].end_time - states["11"].start_time == 3600
    assert states["12"].state == "PENDING" and states["12"].reason == "Priority" and states["12"].start_time is None
    assert states["13"].state == "CANCELLED" and states["13"].was_killed and not states["13"].is_active
    assert "14" not in states
    assert runner.calls[0][0][:3] == ["squeue", "--noheader", "--states=all"]
    assert runner.calls[2][0][:2] == ["sacct", "-c"]


def test_status_when_squeue_forgot_every_job():
    hpc, _, _ = slurm((1, "", "slurm_load_jobs error: Invalid job id specified"), (0, "", ""))
    assert hpc.status(["5"]) == {}


def test_cancel_ignores_finished_jobs():
    hpc, runner, _ = slurm((1, "", "scancel: error: Kill job error on job id 5: Invalid job id specified"))
    hpc.cancel(["5"])
    assert runner.calls[0][0] == ["scancel", "5"]


def test_end_time_from_squeue():
    hpc, _, _ = slurm((0, "11|RUNNING|2026-01-02T03:04:05|2026-01-02T03:05:05|n1|None|x\n", ""))
    assert hpc.end_time("11") == parse_slurm_time("2026-01-02T03:05:05")


def test_time_helpers():
    assert parse_slurm_time("Unknown") is None and parse_slurm_time("N/A") is None
    assert format_walltime(59) == "00:01:00"
    assert format_walltime(3600 * 30 + 61) == "1-06:01:01"
    assert "SLURM_JOB_ID" not in submission_env({"SLURM_JOB_ID": "1", "PATH": "/bin"})
