"""Dependency hop: a chain of N jobs; the time from one job's end to the next one's start.

Every peer runs the same bash commands, which write their own timestamps (bash's
``$EPOCHREALTIME``, no fork) at their start and end. A hop is ``start(i+1) - end(i)``: the
scheduler noticing the end, releasing the dependent, and starting its process (incl. bash).
"""

import statistics
import tempfile
from pathlib import Path

from bench.harness import Benchmark, Column, competitors
from bench.peers.hyperqueue import HyperQueue
from bench.peers.parsl_peer import Parsl
from bench.peers.torc_peer import TorcLocal


def stamp_commands(folder: Path, count: int) -> list[str]:
    return [f"echo $EPOCHREALTIME > {folder}/{i}.start; echo $EPOCHREALTIME > {folder}/{i}.end" for i in range(count)]


def hops(folder: Path, count: int) -> list[float]:
    stamp = lambda i, edge: float((folder / f"{i}.{edge}").read_text())  # noqa: E731
    return [stamp(i + 1, "start") - stamp(i, "end") for i in range(count - 1)]


def benchmarks(options) -> list[Benchmark]:
    count = options.hop_jobs
    torc = [TorcLocal("resources", backend) for backend in options.run_backend]

    def measure(peer) -> dict:
        with tempfile.TemporaryDirectory(prefix="torc-bench-hop-") as folder:
            figures = peer.run_chain(stamp_commands(Path(folder), count))
            gaps = hops(Path(folder), count)
        return {
            "median_ms": statistics.median(gaps) * 1000,
            "p90_ms": statistics.quantiles(gaps, n=10)[-1] * 1000,
            "max_ms": max(gaps) * 1000,
            **figures,
        }

    return [Benchmark(
        name="hop",
        title=f"Dependency hop: a chain of {count} jobs",
        method=("Each job runs `echo $EPOCHREALTIME > start; echo $EPOCHREALTIME > end` in bash; a hop is the next job's start "
                "minus this job's end (median and p90 over the chain's hops)."),
        params={"jobs": count},
        metric=Column("median_ms", "hop median ms", "{:,.1f}"),
        higher_is_better=False,
        columns=[Column("p90_ms", "p90 ms", "{:,.1f}"), Column("seconds", "chain s", "{:,.2f}")],
        competitors=competitors([*torc, HyperQueue(), Parsl()], measure),
    )]
