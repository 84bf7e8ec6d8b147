"""HyperQueue (PyPI ``hyperqueue``): its Python API's ``LocalCluster``, a server and one worker
with all cores, both inside the wheel's native library (no separate ``hq`` binary needed).

Tasks are ``program`` tasks (exec'd directly, no shell). The wait is the API's
``Client.wait_for_jobs``, which polls the server about once a second, so a makespan may carry up
to ≈1 s of that polling.
"""

import contextlib
import io
import tempfile
from pathlib import Path

from bench.common import CORES, Timer, environment, silenced
from bench.peers import Peer


class HyperQueue(Peer):
    name = "HyperQueue"

    def unavailable(self) -> str | None:
        try:
            from hyperqueue.cluster import LocalCluster  # noqa: F401
        except ImportError as error:
            return f"hyperqueue not installed ({error}); pip install -e '.[bench]'"
        return None

    def _run(self, build) -> dict:
        from hyperqueue import Job
        from hyperqueue.cluster import LocalCluster, WorkerConfig

        # TMPDIR: the cluster leaves its Unix sockets (hq-lc-*) in the temporary directory.
        with tempfile.TemporaryDirectory(prefix="torc-bench-hq-") as folder, environment(TMPDIR=folder), silenced():
            with LocalCluster(server_dir=str(Path(folder) / "server")) as cluster:
                cluster.start_worker(WorkerConfig(cores=CORES))
                client = cluster.client()
                warmup = Job()
                warmup.program(["/bin/true"], stdout=None, stderr=None)
                self._wait(client, client.submit(warmup))  # the worker is connected
                job = Job()
                build(job, folder)
                with Timer() as timer:
                    self._wait(client, client.submit(job))
        return {"seconds": timer.seconds}

    @staticmethod
    def _wait(client, submitted) -> None:
        with contextlib.redirect_stderr(io.StringIO()):  # tqdm progress bar
            client.wait_for_jobs([submitted])  # raises on failed tasks

    def run_noop(self, jobs: int) -> dict:
        def build(job, folder):
            for _ in range(jobs):
                job.program(["/bin/true"], stdout=None, stderr=None)

        return self._run(build)

    def run_chain(self, commands: list[str]) -> dict:
        def build(job, folder):
            previous = None
            for command in commands:
                previous = job.program(["bash", "-c", command], deps=[previous] if previous else [], stdout=None, stderr=None)

        return self._run(build)
