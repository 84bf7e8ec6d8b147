"""The benchmark harness still runs: ``python -m bench run --suite all --smoke`` (tiny sizes, one
repetition) end to end, in a subprocess, as docs/performance.md tells people to run it, with
every ``torc run`` mode of the no-op benchmark (the default suite runs two of them).

Peers that are not installed (``pip install -e '.[bench]'``) and a missing Slurm are reported as
skipped, which is fine here; anything that fails is not. PostgreSQL is required, as for the rest
of the suite.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.peers.torc_peer import TorcLocal

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ)
    if "TORC_TEST_POSTGRES_URL" in env:
        env["TORC_BENCH_POSTGRES_URL"] = env["TORC_TEST_POSTGRES_URL"]
    modes = [option for mode in TorcLocal.MODES for option in ("--noop-mode", mode)]
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--suite", "all", "--smoke", *modes, "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    [json_file] = out.glob("bench-*.json")
    [markdown] = out.glob("bench-*.md")
    document = json.loads(json_file.read_text())
    document["stdout"], document["markdown"] = run.stdout, markdown.read_text()
    return document


def rows(report, benchmark: str) -> dict:
    [result] = [r for r in report["results"] if r["benchmark"] == benchmark]
    return {row["competitor"]: row for row in result["rows"]}


def test_every_suite_ran_and_nothing_failed(report):
    assert [r["benchmark"] for r in report["results"]] == ["noop", "hop", "large-300", "contention", "slurm"]
    for result in report["results"]:
        assert result["repeat"] == 1
        for row in result["rows"]:
            assert row["status"] in ("ok", "skipped"), (result["benchmark"], row)
            if row["status"] == "skipped":
                assert row["reason"], row
                continue
            assert len(row["runs"]) == 1
            assert row["median"][result["metric"]] > 0, (result["benchmark"], row)
            assert row["ratio"] > 0
        assert result["rows"][0]["status"] == "ok", "the reference (torc, SQLite) always runs"
        assert result["rows"][0]["ratio"] == 1


def test_peers_that_are_installed_ran(report):
    installed = {name: importlib.util.find_spec(module) is not None for name, module in
                 [("HyperQueue", "hyperqueue"), ("Parsl (HTEX, local)", "parsl")]}
    for benchmark in ("noop", "hop"):
        found = rows(report, benchmark)
        for name, present in installed.items():
            assert found[name]["status"] == ("ok" if present else "skipped"), (benchmark, found[name])
    assert rows(report, "noop")[next(n for n in rows(report, "noop") if n.startswith("xargs"))]["status"] == "ok"


def test_noop_runs_each_mode_it_is_given(report):
    torc_rows = [name for name in rows(report, "noop") if name.startswith("torc run")]
    assert torc_rows == [TorcLocal(mode).name for mode in TorcLocal.MODES]
    assert sum("--prefetch 0" in name for name in torc_rows) == 2


def test_postgres_and_claims_without_duplicates(report):
    expected = {"large-300": {"sqlite", "postgres", "sqlite, 2 requests", "postgres, 2 requests"}, "contention": {"sqlite", "postgres"}}
    for benchmark, competitors in expected.items():
        assert set(rows(report, benchmark)) == competitors
        assert all(row["status"] == "ok" for row in rows(report, benchmark).values())
    for row in rows(report, "contention").values():
        assert row["median"]["duplicates"] == 0 and row["median"]["missing"] == 0
        assert row["median"]["claimed"] == 400 and row["median"]["drained"] == 1


def test_reports_carry_the_machine_and_the_tables(report):
    machine = report["machine"]
    assert machine["cpus"] >= 1 and machine["python"] and machine["sqlite"] and machine["postgresql"]
    for title in ("No-op throughput", "Dependency hop", "Large workflow", "Claim contention", "Slurm"):
        assert f"## {title}" in report["markdown"]
        assert title in report["stdout"]
