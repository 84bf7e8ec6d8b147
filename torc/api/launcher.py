"""Start a torc server as a subprocess on a free loopback port.

Used by ``torc run --standalone`` (a private server for one run, on a SQLite file) and by the
tests. The server prints ``TORC_SERVER_PORT=<port>`` first; we read it, then wait for ``/ping``.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

from torc.api.base import BASE_PATH


class ServerProcess:
    """``torc-server run --port 0`` as a subprocess; reads the port from its first output line.

    ``database=None`` leaves ``--database`` out (the server then uses ``$TORC_DATABASE_URL`` or
    ``./torc.db`` in ``cwd``); ``port`` asks for a given port, e.g. to restart a server where its
    clients expect it; ``command`` replaces ``python -m torc.api.cli`` (e.g. the installed
    ``torc-server`` script).
    """

    def __init__(
        self,
        database: str | None,
        *,
        port: int = 0,
        workers: int = 2,
        threads: int = 32,
        extra_args=(),
        env=None,
        command=None,
        cwd=None,
    ):
        self.database = database
        self.args = [
            *(command or [sys.executable, "-m", "torc.api.cli"]), "run",
            "--host", "127.0.0.1", "--port", str(port), *(["--database", database] if database else []),
            "--workers", str(workers), "--threads", str(threads), *extra_args,
        ]
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.process = None
        self.port = None
        self.final_log: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def start(self) -> "ServerProcess":
        # stderr goes to a file: a pipe nobody reads would block a chatty server.
        self.log = tempfile.NamedTemporaryFile(prefix="torc-server-", suffix=".log", delete=False)
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log, text=True, env=self.env, cwd=self.cwd)
        first = self.process.stdout.readline().strip()
        if not first.startswith("TORC_SERVER_PORT="):
            self.process.kill()
            self.process.wait(timeout=10)
            self._discard_log()
            raise RuntimeError(f"torc-server did not start: {first!r}\n{self.log_text()}")
        self.port = int(first.split("=", 1)[1])
        try:
            self._wait_ready()
        except RuntimeError:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float = 20) -> None:
        from torc.client import NO_RETRIES, TorcConnectionError, make_api

        deadline = time.monotonic() + timeout
        with make_api(self.api_url, skip_version_check=True, retry=NO_RETRIES) as api:
            while True:
                try:
                    api.system.ping()
                    return
                except TorcConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError(f"torc-server on port {self.port} never answered /ping") from None
                    time.sleep(0.05)

    def log_text(self) -> str:
        """The server's stderr so far (kept in memory once the server has stopped)."""
        if self.final_log is not None:
            return self.final_log
        with open(self.log.name, encoding="utf-8", errors="replace") as log:
            return log.read()

    def _discard_log(self) -> None:
        """Keep the log's text in memory and remove its temporary file."""
        if self.final_log is None:
            self.log.close()
            self.final_log = self.log_text()
            os.unlink(self.log.name)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._discard_log()
        return self.process.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
