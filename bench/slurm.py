"""Slurm: N jobs of ``sleep S`` on the local Slurm; makespan of torc submit vs plain sbatch."""

from bench.harness import Benchmark, Column, competitors
from bench.peers.slurm_plain import SbatchArray, SbatchEach
from bench.peers.torc_peer import TorcSlurm


def benchmarks(options) -> list[Benchmark]:
    count, seconds = options.slurm_jobs, options.slurm_seconds

    def measure(peer) -> dict:
        figures = peer.run_sleep_jobs(count, seconds)
        return {**figures, "jobs_per_s": count / figures["seconds"]}

    return [Benchmark(
        name="slurm",
        title=f"Slurm: {count} jobs of {seconds:g} s",
        method=("From submission until every job is done (torc: the server says the workflow is complete; sbatch: "
                "`squeue` shows every job finished), polled every 0.2 s; the node is idle again before the next run."),
        params={"jobs": count, "job_seconds": seconds},
        metric=Column("seconds", "makespan s", "{:,.1f}"),
        higher_is_better=False,
        columns=[Column("jobs_per_s", "jobs/s", "{:,.1f}")],
        competitors=competitors([TorcSlurm(), SbatchEach(), SbatchArray()], measure),
    )]
