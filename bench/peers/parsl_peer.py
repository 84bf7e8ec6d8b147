"""Parsl (PyPI ``parsl``): a ``HighThroughputExecutor`` on a ``LocalProvider`` (one block: a
worker pool of one worker per core on this machine), ``bash_app`` tasks.

Apps run their command with ``/bin/sh -c`` (dash execs a single command). Dependencies are
futures passed in ``inputs``. Loading the configuration and the first task (the worker pool's
start-up, several seconds) happen before the clock starts.
"""

import contextlib
import os
import shlex
import sys
import tempfile
from pathlib import Path

from bench.common import CORES, Timer, environment
from bench.peers import Peer

REPO = str(Path(__file__).resolve().parents[2])


def command_app(command: str, inputs=()):
    """The bash_app body: Parsl runs the returned string once ``inputs`` (futures) are done."""
    return command


def _environment():
    """Parsl starts its interchange and worker pool as scripts found on PATH (the venv's bin), and
    the workers import this module: both must be reachable from the child processes."""
    return environment(
        PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
    )


class Parsl(Peer):
    name = "Parsl (HTEX, local)"

    def unavailable(self) -> str | None:
        try:
            import parsl  # noqa: F401
        except ImportError as error:
            return f"parsl not installed ({error}); pip install -e '.[bench]'"
        return None

    @contextlib.contextmanager
    def _app(self):
        import parsl
        from parsl.config import Config
        from parsl.executors import HighThroughputExecutor
        from parsl.providers import LocalProvider

        with tempfile.TemporaryDirectory(prefix="torc-bench-parsl-") as folder, _environment():
            executor = HighThroughputExecutor(
                label="htex", address="127.0.0.1", max_workers_per_node=CORES,
                provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1),
            )
            config = Config(executors=[executor], run_dir=folder, strategy=None, usage_tracking=0, initialize_logging=False)
            dfk = parsl.load(config)
            try:
                app = parsl.bash_app(command_app, executors=["htex"])
                app("/bin/true").result()  # the worker pool is up
                yield app
            finally:
                dfk.cleanup()
                parsl.clear()

    def run_noop(self, jobs: int) -> dict:
        with self._app() as app, Timer() as timer:
            for future in [app("/bin/true") for _ in range(jobs)]:
                future.result()
        return {"seconds": timer.seconds}

    def run_chain(self, commands: list[str]) -> dict:
        with self._app() as app, Timer() as timer:
            previous = None
            for command in commands:
                previous = app(f"exec bash -c {shlex.quote(command)}", inputs=[previous] if previous else [])
            previous.result()
        return {"seconds": timer.seconds}
