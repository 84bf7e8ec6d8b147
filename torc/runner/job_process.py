"""One running job: a process in its own process group, its output files, its end.

The process gets its own session so that terminating the job reaches every process it started.
It is started by ``posix_spawn`` (:mod:`torc.runner.spawn`) when it runs in the worker's directory
(``Popen`` otherwise), which saves a short job a good part of its start-up cost on the worker.

A command line is run by ``bash -c`` unless it is a plain ``program arg…`` with nothing for a shell
to interpret (see :func:`direct_argv`): then the program is executed directly. ``bash -c`` would
exec that program itself anyway (bash replaces itself by the last simple command), so the job
behaves the same; what goes away is bash's start-up, about a millisecond of CPU per job that
dominates short jobs.

One :class:`ExitWatcher` thread waits for the exits of all jobs (a pidfd per job in one epoll set,
no thread per job) and wakes the worker the moment a job ends, so there is no polling delay between a job ending
and its dependents being claimed.
"""

import functools
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from torc.runner.spawn import spawn

#: Characters that make a command line more than ``program arg…`` for bash (expansions, quoting,
#: redirections, operators, globs, comments, history, brace expansion).
_SHELL_SYNTAX = re.compile(r"""[$`'"\\|&;<>()*?\[\]{}~#!\n]""")
#: Words bash runs itself rather than as a program.
_BASH_WORDS = frozenset(
    "alias bg bind break builtin caller case cd command compgen complete compopt continue coproc declare dirs disown do done "
    "echo elif else enable esac eval exec exit export false fc fg fi for function getopts hash help history if in jobs kill "
    "let local logout mapfile popd printf pushd pwd read readarray readonly return select set shift shopt source suspend "
    "test then time times trap true type typeset ulimit umask unalias unset until wait while".split()
)


def direct_argv(command_line: str, path: str | None) -> tuple[str, list[str]] | None:
    """(program, argv) to exec for ``command_line`` without a shell, or None when bash must run it.

    Only a program found on ``path`` followed by plain words qualifies: no shell syntax, no
    variable assignment, no bash builtin or keyword (``true`` stays a builtin, ``/bin/true`` is a
    program). A word with a slash stays with bash, which resolves it in the job's directory.
    """
    if _SHELL_SYNTAX.search(command_line):
        return None
    words = command_line.split()
    if not words or "=" in words[0] or "/" in words[0] and not words[0].startswith("/") or words[0] in _BASH_WORDS:
        return None
    program = _program(words[0], path)
    return (program, words) if program else None


@functools.lru_cache(maxsize=256)
def _program(word: str, path: str | None) -> str | None:
    """Where ``word`` is on ``path``: looked up once per worker (a program that disappears later
    makes the start fail, and the job then goes through bash, which says what is wrong)."""
    program = shutil.which(word, path=path)
    return program if program and not os.path.isdir(program) else None


class ExitWatcher:
    """One thread that reaps every job of a worker and calls each job's ``on_exit`` when it ends.

    Each process gets a pidfd (Linux ≥ 5.3) registered in one epoll set, which the thread waits on;
    epoll takes new pidfds while the thread waits, so starting a job wakes nobody. Where pidfds or
    epoll are missing it falls back to a thread per job.
    """

    def __init__(self):
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._watched: dict[int, tuple["JobProcess", object]] = {}  # pidfd → (process, on_exit)
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()  # only to stop the thread
        if self._epoll is not None:
            self._epoll.register(self._wake_r, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, process: "JobProcess", on_exit) -> None:
        try:
            pidfd = os.pidfd_open(process.pid) if self._epoll is not None else None
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is None:
            threading.Thread(target=self._wait_one, args=(process, on_exit), name=f"job-{process.job_id}", daemon=True).start()
            return
        with self._lock:
            self._watched[pidfd] = (process, on_exit)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="torc-exits", daemon=True)
                self._thread.start()
        self._epoll.register(pidfd, select.EPOLLIN)

    @staticmethod
    def _wait_one(process: "JobProcess", on_exit) -> None:
        process.process.wait()
        process.ended_at = time.time()
        on_exit(process)

    def _run(self) -> None:
        while not self._closed:
            for fd, _ in self._epoll.poll():
                if fd == self._wake_r:
                    continue
                with self._lock:
                    process, on_exit = self._watched.pop(fd)
                self._epoll.unregister(fd)
                os.close(fd)
                process.process.wait()  # already exited: reaps it at once and sets returncode
                process.ended_at = time.time()
                on_exit(process)

    def close(self) -> None:
        """Stop the thread once the worker has no more jobs (the jobs' exits were all seen)."""
        self._closed = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for pidfd in self._watched:
                os.close(pidfd)
            self._watched.clear()
        if self._epoll is not None:
            self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


class SpawnedProcess:
    """A child started by ``posix_spawn``, with the part of ``Popen``'s interface the worker
    uses: ``pid``, ``returncode``, ``poll()``, ``wait()``. The lock keeps two threads (the exit
    watcher and the loop) from reaping the same pid; ``poll`` does not wait for it, as in ``Popen``."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def _reap(self, flags: int) -> None:
        pid, status = os.waitpid(self.pid, flags)
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)

    def poll(self) -> int | None:
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                if self.returncode is None:
                    self._reap(os.WNOHANG)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self) -> int:
        with self._lock:
            if self.returncode is None:
                self._reap(0)
        return self.returncode


class JobProcess:
    def __init__(self, job_id: int, name: str, command_line: str, env: dict, cwd: str, stdout_path: Path, stderr_path: Path):
        self.job_id = job_id
        self.name = name
        self.command_line = command_line
        self.env = env
        self.cwd = cwd
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.process: SpawnedProcess | subprocess.Popen | None = None
        self.started_at = 0.0
        self.ended_at = 0.0
        self.signal_sent: int | None = None
        self.signaled_at = 0.0

    def start(self, watcher: ExitWatcher, on_exit) -> int:
        """Start the job; ``on_exit(self)`` is called from the watcher's thread when it ends. The
        folder of the output files must exist (the worker makes it once)."""
        path = self.env.get("PATH")
        shell = (_program("bash", path) or "/bin/bash", ["bash", "-c", self.command_line])
        direct = direct_argv(self.command_line, path)
        try:
            self.process = self._spawn(*(direct or shell))
        except OSError:  # e.g. a script without a #! line, which bash runs itself
            if direct is None:
                raise
            self.process = self._spawn(*shell)
        self.started_at = time.time()
        watcher.watch(self, on_exit)
        return self.process.pid

    def _spawn(self, program: str, argv: list[str]):
        """Start ``program`` in a new session, stdin from /dev/null, output to the job's files.

        In the worker's own directory (the usual case) ``posix_spawn`` does it: the child opens the
        files, there is none of ``Popen``'s per-call Python work, and other threads of the worker
        run while the child starts. Elsewhere ``Popen`` does it, as it can change directory.
        """
        if self.cwd == os.getcwd():
            pid = spawn(program, argv, self.env, str(self.stdout_path), str(self.stderr_path))
            return SpawnedProcess(pid)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            return subprocess.Popen(argv, executable=program, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def return_code(self) -> int | None:
        return self.process.returncode if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exec_minutes(self) -> float:
        return max(0.0, ((self.ended_at or time.time()) - self.started_at) / 60)

    def send(self, sig: int) -> None:
        """Signal the job's whole process group."""
        if not self.running:
            return
        self.signal_sent = sig
        self.signaled_at = time.time()
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def describe_end(self) -> str | None:
        """A message for a job that did not simply exit 0."""
        code = self.return_code
        if code is None or code == 0:
            return None
        if code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        if code > 128 and code - 128 in signal.valid_signals():
            return f"exited with {code} (a process of the job was killed by {signal.Signals(code - 128).name})"
        return f"exited with {code}"
