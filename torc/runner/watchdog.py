"""Kill a worker's jobs when the worker itself dies without cleaning up (SIGKILL, OOM killer).

Jobs run in their own process groups so that the worker can stop them as a whole; the flip side is
that they would outlive a worker killed with SIGKILL and keep running while the server, seeing the
lease expire, hands their jobs to another worker. This tiny companion process closes that gap: the
worker tells it each job's process group on a pipe, and when the pipe reaches end-of-file (the
worker is gone, however it died) it kills every group still registered.

Protocol on standard input, one line each: ``add PGID`` or ``remove PGID``. The worker sends the
lines of a pass of its loop in one write (:meth:`Watchdog.flush`), and the companion reads them in
batches every :data:`DRAIN_SECONDS` rather than waking for each line: with thousands of short jobs
a second, a write and a wake-up per line would cost more CPU than the jobs. The price is that a
worker's death is noticed up to that long later.
"""

import os
import signal
import subprocess
import sys
import time

DRAIN_SECONDS = 0.2


class Watchdog:
    """The worker's side: start the companion, register and unregister job process groups."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "torc.runner.watchdog"], stdin=subprocess.PIPE, start_new_session=True)
        self._pending: list[str] = []

    def add(self, pgid: int) -> None:
        self._pending.append(f"add {pgid}\n")

    def remove(self, pgid: int) -> None:
        self._pending.append(f"remove {pgid}\n")

    def flush(self) -> None:
        """Send the lines queued since the last flush, in one write."""
        if not self._pending:
            return
        data, self._pending = "".join(self._pending).encode(), []
        try:
            os.write(self.process.stdin.fileno(), data)
        except (BrokenPipeError, ValueError, OSError):
            pass  # the watchdog is gone; the worker carries on without it

    def close(self) -> None:
        """Normal shutdown: every job was already reported, so nothing is left to kill."""
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait(timeout=10)


def _apply(lines: list[bytes], groups: set[int]) -> None:
    for line in lines:
        command, _, value = line.decode().strip().partition(" ")
        if command == "add":
            groups.add(int(value))
        elif command == "remove":
            groups.discard(int(value))


def main() -> None:
    groups: set[int] = set()
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(DRAIN_SECONDS)
            continue
        if not chunk:
            break  # end of file: the worker is gone
        *lines, pending = (pending + chunk).split(b"\n")
        _apply(lines, groups)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    main()
