"""Job processes: which command lines skip bash, and the shared exit watcher, on real processes."""

import os
import shutil
import subprocess
import signal
import threading
import time

import pytest

from torc.runner import job_process
from torc.runner.job_process import ExitWatcher, JobProcess, direct_argv
from torc.runner.spawn import spawn_with_os
from torc.runner.watchdog import Watchdog

PATH = os.environ["PATH"]


@pytest.mark.parametrize(
    "line, argv",
    [
        ("/bin/true", ["/bin/true"]),
        ("sleep 0.1", ["sleep", "0.1"]),
        ("python3 -m mod --flag=value x,y", ["python3", "-m", "mod", "--flag=value", "x,y"]),
    ],
)
def test_plain_programs_are_executed_directly(line, argv):
    program, words = direct_argv(line, PATH)
    assert words == argv
    assert program == (argv[0] if argv[0].startswith("/") else shutil.which(argv[0]))


@pytest.mark.parametrize(
    "line",
    [
        "true",  # a bash builtin
        "echo hi",
        "cd /tmp",
        "X=1 env",  # an assignment
        "ls *.txt",
        "sleep 1 && echo done",
        "sleep 1; echo done",
        "cat < in",
        "echo $HOME",
        "printf '%s' a",
        'grep "a b" file',
        "ls ~",
        "ls {a,b}",
        "a | b",
        "./script.sh",  # relative to the job's directory: bash resolves it
        "no-such-program-anywhere --help",
        "sleep 1 # comment",
        "",
    ],
)
def test_anything_a_shell_would_interpret_goes_to_bash(line):
    assert direct_argv(line, PATH) is None


@pytest.fixture(params=["posix_spawn", "os.posix_spawn", "popen"])
def spawn_path(request, tmp_path, monkeypatch):
    """Jobs in the worker's own directory are started by posix_spawn (glibc's through ctypes, or
    ``os.posix_spawn`` where that is not available), elsewhere by Popen: run each test every way."""
    if request.param != "popen":
        monkeypatch.chdir(tmp_path)
    if request.param == "os.posix_spawn":
        monkeypatch.setattr(job_process, "spawn", spawn_with_os)
    return request.param


def _start(tmp_path, line, watcher, ended):
    index = len(list(tmp_path.glob("*.o")))
    process = JobProcess(index, "job", line, dict(os.environ), str(tmp_path), tmp_path / f"{index}.o", tmp_path / f"{index}.e")
    process.start(watcher, lambda p: ended.append(p))
    return process


def _until(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.01)
    return predicate()


def test_one_watcher_reports_every_exit_with_its_code(tmp_path, spawn_path):
    watcher, ended = ExitWatcher(), []
    processes = [_start(tmp_path, f"bash -c 'exit {i}'", watcher, ended) for i in range(20)]
    assert _until(lambda: len(ended) == 20)
    assert sorted(p.return_code for p in ended) == list(range(20))
    assert {id(p) for p in ended} == {id(p) for p in processes}
    assert all(p.ended_at >= p.started_at > 0 for p in ended)
    threads = [t.name for t in threading.enumerate()]
    assert threads.count("torc-exits") == 1 and not any(name.startswith("job-") for name in threads)
    watcher.close()


def test_direct_and_bash_jobs_write_their_output_and_report_signals(tmp_path, spawn_path):
    watcher, ended = ExitWatcher(), []
    direct = _start(tmp_path, "seq 3", watcher, ended)
    shell = _start(tmp_path, "echo from-bash >&2; exit 3", watcher, ended)
    sleeper = _start(tmp_path, "sleep 30", watcher, ended)
    assert _until(lambda: len(ended) == 2)
    assert direct.stdout_path.read_text() == "1\n2\n3\n" and direct.return_code == 0
    assert shell.stderr_path.read_text() == "from-bash\n" and shell.return_code == 3
    assert sleeper.running
    sleeper.send(signal.SIGTERM)
    assert _until(lambda: len(ended) == 3)
    assert sleeper.return_code == -signal.SIGTERM and sleeper.describe_end() == "killed by signal SIGTERM"
    assert type(sleeper.process).__name__ == ("Popen" if spawn_path == "popen" else "SpawnedProcess")
    watcher.close()


def test_jobs_get_a_new_session_null_stdin_and_default_sigpipe(tmp_path, spawn_path):
    watcher, ended = ExitWatcher(), []
    probe = _start(tmp_path, "ps -o sid=,pgid= -p $$; cat; grep SigIgn /proc/self/status; yes | head -1", watcher, ended)
    assert _until(lambda: ended)
    ids, ignored, first = probe.stdout_path.read_text().split("\n")[:3]
    assert ids.split() == [str(probe.pid)] * 2, "the job leads its own session and process group"
    assert int(ignored.split()[1], 16) & (1 << (signal.SIGPIPE - 1)) == 0, "SIGPIPE must not be ignored in jobs"
    assert first == "y" and probe.return_code == 0 and probe.stderr_path.read_text() == ""
    watcher.close()


def test_a_script_without_a_shebang_still_runs_through_bash(tmp_path, spawn_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "plain-script"
    script.write_text("echo ran-by-bash\n")
    script.chmod(0o755)
    watcher, ended = ExitWatcher(), []
    process = JobProcess(1, "job", "plain-script", {**os.environ, "PATH": f"{bin_dir}:{PATH}"}, str(tmp_path), tmp_path / "o", tmp_path / "e")
    process.start(watcher, lambda p: ended.append(p))
    assert _until(lambda: ended)
    assert process.return_code == 0 and process.stdout_path.read_text() == "ran-by-bash\n"
    watcher.close()


def test_watchdog_kills_the_groups_still_registered_when_its_worker_is_gone():
    watchdog = Watchdog()
    kept = subprocess.Popen(["sleep", "30"], start_new_session=True)
    doomed = [subprocess.Popen(["sleep", "30"], start_new_session=True) for _ in range(3)]
    for process in [kept, *doomed[:2]]:
        watchdog.add(process.pid)
    watchdog.flush()
    watchdog.add(doomed[2].pid)
    watchdog.remove(kept.pid)
    watchdog.flush()
    watchdog.process.stdin.close()  # what the worker's death does to the pipe
    try:
        assert all(process.wait(timeout=10) == -signal.SIGKILL for process in doomed)
        assert kept.poll() is None
    finally:
        kept.kill()
        kept.wait()
        watchdog.process.wait(timeout=10)
