"""``python -m bench SUITE...``: run benchmarks and print their figures.

Suites: ``large`` (create + initialize N jobs with N-1 edges), ``noop`` (N no-op jobs through
``torc run``, resource and queue mode), ``chain`` (dependency-hop latency over a chain).
"""

import argparse

from bench import large_workflow, throughput
from bench.common import dump


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+", choices=["large", "noop", "chain"])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"], help="repeatable (default: sqlite)")
    parser.add_argument("--large-jobs", type=int, default=100_000)
    parser.add_argument("--noop-jobs", type=int, default=10_000)
    parser.add_argument("--chain-jobs", type=int, default=100)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    results = []
    for backend in args.backend or ["sqlite"]:
        if "large" in args.suites:
            results.append(large_workflow.run(backend, args.large_jobs))
        if "noop" in args.suites:
            results.append(throughput.noop(backend, args.noop_jobs, "resources"))
            results.append(throughput.noop(backend, args.noop_jobs, "queue"))
        if "chain" in args.suites:
            results.append(throughput.chain(backend, args.chain_jobs))
    dump(results, args.json)


if __name__ == "__main__":
    main()
