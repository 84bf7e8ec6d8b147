"""Shared pieces: a torc server on a fresh SQLite or PostgreSQL database, its peak memory, timers."""

import contextlib
import os
import sys
import tempfile
import time
import uuid
from urllib.parse import urlparse

import psutil

from torc.api.launcher import ServerProcess

POSTGRES_ADMIN_URL = os.environ.get("TORC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CORES = os.cpu_count() or 1


def postgres_version() -> str | None:
    """The server's version, or None when PostgreSQL (or psycopg2) is not reachable."""
    try:
        import psycopg2

        with contextlib.closing(psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)) as connection:
            cursor = connection.cursor()
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    except Exception:
        return None


def backend_unavailable(backend: str) -> str | None:
    if backend == "postgres" and postgres_version() is None:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} (set TORC_BENCH_POSTGRES_URL)"
    return None


@contextlib.contextmanager
def database(backend: str):
    """A URL of a new, empty database, dropped (or deleted) afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="torc-bench-") as folder:
            yield os.path.join(folder, "bench.db")
        return
    import psycopg2

    name = f"torc_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(POSTGRES_ADMIN_URL)._replace(path=f"/{name}").geturl()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def server(backend: str, **kwargs):
    """``torc-server`` (gunicorn: a master and its worker processes) on a fresh database."""
    with database(backend) as url, ServerProcess(url, **kwargs) as process:
        yield process


def server_peak_rss(process: ServerProcess) -> int:
    """Peak resident memory (bytes) of the server: the largest ``VmHWM`` among its processes.

    A request is served by one gunicorn worker, so the biggest worker's high-water mark is what a
    large request costs; summing the processes' peaks would add peaks that never coexisted.
    """
    root = psutil.Process(process.process.pid)
    peaks = []
    for proc in [root, *root.children(recursive=True)]:
        with open(f"/proc/{proc.pid}/status") as status:
            peaks.append(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
    return max(peaks)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __exit__(self, *exc):
        self.seconds = self.elapsed()


@contextlib.contextmanager
def environment(**variables: str):
    """Set environment variables (inherited by child processes and native code), restore them after."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def silenced():
    """Send this process's stdout and stderr (file descriptors 1 and 2) to /dev/null.

    For peers whose native code prints banners and progress bars straight to the descriptors.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)
