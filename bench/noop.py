"""No-op throughput: N ``/bin/true`` jobs on this machine, at most one per core at a time."""

from bench.common import CORES
from bench.harness import Benchmark, Column, competitors
from bench.peers.hyperqueue import HyperQueue
from bench.peers.parsl_peer import Parsl
from bench.peers.torc_peer import TorcLocal
from bench.peers.xargs import Xargs


def benchmarks(options) -> list[Benchmark]:
    jobs = options.noop_jobs
    torc = [TorcLocal(mode, backend) for backend in options.run_backend for mode in options.noop_mode]

    def measure(peer) -> dict:
        figures = peer.run_noop(jobs)
        return {"jobs_per_s": jobs / figures["seconds"], **figures}

    return [Benchmark(
        name="noop",
        title=f"No-op throughput: {jobs:,} × /bin/true, {CORES} at a time",
        method=(f"Makespan of {jobs:,} `/bin/true` jobs with {CORES} (the core count) running at once; services are started "
                "before the clock, torc's figure includes creating and initializing the workflow and starting `torc run`."),
        params={"jobs": jobs, "parallel": CORES},
        metric=Column("jobs_per_s", "jobs/s", "{:,.0f}"),
        higher_is_better=True,
        columns=[Column("seconds", "makespan s", "{:,.2f}")],
        competitors=competitors([*torc, HyperQueue(), Parsl(), Xargs()], measure),
    )]
