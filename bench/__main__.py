"""``python -m bench run``: measure torc against what its users would use instead.

Runs the chosen suites (competitors interleaved, repeated, medians and ratios; see
``bench.harness``), prints a table per benchmark and writes ``bench-<time>.json`` and ``.md``
into ``--out``. ``--smoke`` picks tiny sizes and one repetition (CI).
"""

import argparse
import compileall
import os
import shlex
import sys
import time

import torc
from bench import contention, hop, large, noop, slurm
from bench.common import postgres_version
from bench.harness import machine_info, run_benchmark, text_table, write_reports
from bench.peers.torc_peer import TorcLocal

SUITES = {"noop": noop, "hop": hop, "large": large, "contention": contention, "slurm": slurm}

#: size option -> (full default, --smoke default)
SIZES = {
    "noop_jobs": (10_000, 40),
    "hop_jobs": (100, 6),
    "large_size": (["100000:100000", "1000000@1"], ["300:300"]),
    "contention_jobs": (100_000, 400),
    "claimers": (32, 4),
    "claim_limit": (10, 10),
    "contention_seconds": (15.0, 30.0),
    "slurm_jobs": (200, 4),
    "slurm_seconds": (1.0, 1.0),
    "repeat": (3, 1),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run benchmark suites", description=__doc__)
    run.add_argument("--suite", action="append", choices=["all", *SUITES], help="repeatable (default: all)")
    run.add_argument("--repeat", type=int, help="runs per competitor (default 3; --smoke: 1)")
    run.add_argument("--out", default="results", help="folder for the JSON and Markdown reports (default: results)")
    run.add_argument("--backend", action="append", choices=["sqlite", "postgres"],
                     help="databases for large and contention, repeatable (default: sqlite and postgres)")
    run.add_argument("--run-backend", action="append", choices=["sqlite", "postgres"],
                     help="database of the torc server in noop and hop, repeatable (default: sqlite)")
    run.add_argument("--noop-mode", action="append", choices=list(TorcLocal.MODES),
                     help="torc run modes in noop, repeatable (default: resources and queue, each with its default prefetch; "
                          "the *-no-prefetch modes show the cost of a round trip per job)")
    run.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repetition")
    sizes = run.add_argument_group("sizes (defaults: full / --smoke)")
    sizes.add_argument("--noop-jobs", type=int, help="no-op jobs (10,000 / 40)")
    sizes.add_argument("--hop-jobs", type=int, help="length of the chain (100 / 6)")
    sizes.add_argument("--large-size", action="append", metavar="JOBS[:EDGES][@RUNS]",
                       help="repeatable; @RUNS overrides --repeat (100000:100000 and 1000000@1 / 300:300)")
    sizes.add_argument("--contention-jobs", type=int, help="ready jobs to claim (100,000 / 400)")
    sizes.add_argument("--claimers", type=int, help="concurrent claiming processes (32 / 4)")
    sizes.add_argument("--claim-limit", type=int, help="jobs per claim (10)")
    sizes.add_argument("--contention-seconds", type=float, help="claiming window; claimers stop earlier when no job is left (15 / 30)")
    sizes.add_argument("--slurm-jobs", type=int, help="Slurm jobs (200 / 4)")
    sizes.add_argument("--slurm-seconds", type=float, help="duration of each Slurm job (1)")
    return top


def main(argv=None) -> int:
    options = parser().parse_args(argv)
    for key, (full, smoke) in SIZES.items():
        if getattr(options, key) is None:
            setattr(options, key, smoke if options.smoke else full)
    options.backend = options.backend or ["sqlite", "postgres"]
    options.run_backend = options.run_backend or ["sqlite"]
    options.noop_mode = options.noop_mode or ["resources", "queue"]
    suites = list(SUITES) if not options.suite or "all" in options.suite else list(dict.fromkeys(options.suite))
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])

    uses_postgres = "postgres" in options.backend + options.run_backend
    machine = machine_info(postgres_version() if uses_postgres else None)
    print(f"{command}\n{machine['cpus']} CPUs, {machine['memory_gib']} GiB, load {machine['load_average']}, "
          f"torc {machine['torc']} ({machine['torc_commit']})", flush=True)
    # torc's processes start as they would from an installed package, with its bytecode cached (the
    # peers' is, in site-packages); an editable install run with PYTHONDONTWRITEBYTECODE would
    # compile every module again in each `torc run` (≈0.3 s).
    compileall.compile_dir(os.path.dirname(torc.__file__), quiet=1)
    started = time.perf_counter()
    results = []
    for suite in suites:
        for benchmark in SUITES[suite].benchmarks(options):
            print(f"\n== {benchmark.title}", flush=True)
            result = run_benchmark(benchmark, options.repeat)
            results.append(result)
            print(f"\n{text_table(result)}\n({result['seconds']:.0f} s)", flush=True)
    total = time.perf_counter() - started
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    json_path, md_path = write_reports(results, machine, command, total, options.out)
    print(f"\n{'=' * 80}\n" + "\n\n".join(text_table(r) for r in results))
    print(f"\n{total / 60:.1f} min; wrote {json_path} and {md_path}")
    failed = [f"{r['benchmark']}: {row['competitor']}" for r in results for row in r["rows"] if row["status"] == "failed"]
    if failed:
        print("failed: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
