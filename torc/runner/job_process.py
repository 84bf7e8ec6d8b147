"""One running job: a ``bash -c`` process in its own process group, its output files, its end.

The process gets its own session so that terminating the job reaches every process it started.
A waiter thread per job wakes the worker the moment the job exits (no polling delay between a job
ending and its dependents being claimed).
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path


class JobProcess:
    def __init__(self, job_id: int, name: str, command_line: str, env: dict, cwd: str, stdout_path: Path, stderr_path: Path):
        self.job_id = job_id
        self.name = name
        self.command_line = command_line
        self.env = env
        self.cwd = cwd
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.ended_at = 0.0
        self.signal_sent: int | None = None
        self.signaled_at = 0.0

    def start(self, on_exit) -> int:
        """Start the job; ``on_exit(self)`` is called from a waiter thread when it ends."""
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                ["bash", "-c", self.command_line],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.started_at = time.time()
        threading.Thread(target=self._wait, args=(on_exit,), name=f"job-{self.job_id}", daemon=True).start()
        return self.process.pid

    def _wait(self, on_exit) -> None:
        self.process.wait()
        self.ended_at = time.time()
        on_exit(self)

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
