"""Starting job processes with posix_spawn: both implementations give a job the same start, and
glibc's, called through ctypes, lets the worker's other threads run while a child starts."""

import errno
import os
import signal
import threading

import pytest

from torc.runner import spawn as spawn_module
from torc.runner.spawn import GlibcSpawn, spawn_with_os

IMPLEMENTATIONS = [pytest.param(spawn_with_os, id="os.posix_spawn")]
if isinstance(spawn_module.spawn, GlibcSpawn):
    IMPLEMENTATIONS.append(pytest.param(spawn_module.spawn, id="glibc"))


def test_linux_with_glibc_uses_the_ctypes_spawn():
    libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else ""
    if not libc.startswith("glibc"):
        pytest.skip("not glibc")
    assert isinstance(spawn_module.spawn, GlibcSpawn)


@pytest.mark.parametrize("spawn", IMPLEMENTATIONS)
def test_the_child_gets_its_environment_files_session_and_signals(tmp_path, spawn):
    out, err = tmp_path / "o", tmp_path / "e"
    out.write_text("left over from an earlier attempt, longer than the new output\n")
    script = 'echo "$TORC_JOB_NAME"; ps -o sid= -p $$; grep -E "SigIgn|SigBlk" /proc/self/status; cat; echo to-stderr >&2'
    pid = spawn("/bin/bash", ["bash", "-c", script], {"PATH": os.environ["PATH"], "TORC_JOB_NAME": "née-1"}, str(out), str(err))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    name, session, ignored, blocked = out.read_text().splitlines()
    assert name == "née-1", "the environment reaches the job, non-ASCII included"
    assert int(session) == pid, "the job leads a new session"
    assert int(ignored.split()[1], 16) & (1 << (signal.SIGPIPE - 1)) == 0, "SIGPIPE is not ignored"
    assert int(blocked.split()[1], 16) & (1 << 31) - 1 == 0, "no standard signal is blocked"
    assert err.read_text() == "to-stderr\n"


@pytest.mark.parametrize("spawn", IMPLEMENTATIONS)
@pytest.mark.parametrize("program, code", [("/no/such/program", errno.ENOENT), ("not-executable", errno.EACCES)])
def test_a_program_that_cannot_be_executed_raises(tmp_path, spawn, program, code):
    if not program.startswith("/"):
        program = str(tmp_path / program)
        open(program, "w").close()
    with pytest.raises(OSError) as raised:
        spawn(program, [program], {}, str(tmp_path / "o"), str(tmp_path / "e"))
    assert raised.value.errno == code


@pytest.mark.skipif(not isinstance(spawn_module.spawn, GlibcSpawn), reason="not glibc")
def test_other_threads_run_while_a_child_starts(tmp_path):
    """The child's stdout is a FIFO, so the child blocks opening it, and posix_spawn does not
    return, until some thread opens the reading end. That thread wakes from a sleep after the
    spawn has begun: it needs the GIL, which os.posix_spawn would hold until the child exec'd (a
    deadlock); the ctypes call has released it."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    read = []

    def reader():
        threading.Event().wait(0.3)
        with open(fifo, "rb") as pipe:
            read.append(pipe.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    pid = spawn_module.spawn("/bin/echo", ["echo", "through-the-fifo"], {}, str(fifo), str(tmp_path / "e"))
    _, status = os.waitpid(pid, 0)
    thread.join(10)
    assert os.waitstatus_to_exitcode(status) == 0
    assert read == [b"through-the-fifo\n"]
