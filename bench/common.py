"""Shared pieces: a server on a fresh SQLite or PostgreSQL database, timers, result printing."""

import contextlib
import json
import os
import tempfile
import time
import uuid
from urllib.parse import urlparse

from torc.api.launcher import ServerProcess
from torc.client import make_api

POSTGRES_ADMIN_URL = os.environ.get("TORC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    with database(backend) as url, ServerProcess(url, **kwargs) as process:
        yield process


def create_workflow(api_url: str, jobs: list[dict], name: str = "bench") -> int:
    api = make_api(api_url)
    return api.create_workflow_from_records({"workflow": {"name": name, "user": "bench"}, "jobs": jobs}).workflow.id


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def report(name: str, figures: dict) -> dict:
    """Print one line per benchmark and return the figures (JSON-able)."""
    text = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"{name}: {text}", flush=True)
    return {"benchmark": name, **figures}


def dump(results: list[dict], path: str | None) -> None:
    if path:
        with open(path, "w") as out:
            json.dump(results, out, indent=2)
