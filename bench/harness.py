"""The benchmark harness: competitors run interleaved and repeated, medians, ratios, reports.

A benchmark is a list of competitors (torc in its configurations and the peers) that measure the
same thing. Repetition ``r`` runs every available competitor once, starting at competitor
``r mod n`` (rotated order), so that slow drifts of the machine (load from other processes,
caches, the database growing elsewhere) spread over all of them instead of hitting one. Each
competitor's figures are the medians over its runs; its ratio is its median headline figure
divided by the reference's (the first competitor that ran: torc, or SQLite).

Competitors that cannot run here (a peer not installed, no Slurm, no PostgreSQL) are reported
as skipped with the reason; a competitor that raises is reported as failed with the error and is
not run again. Nothing is invented for either.
"""

import datetime as dt
import functools
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable


@dataclass
class Column:
    """A figure shown in the table: ``key`` in the competitor's figures, shown as ``header``."""

    key: str
    header: str
    fmt: str = "{:,.1f}"


@dataclass
class Competitor:
    name: str
    run: Callable[[], dict] | None  # one measurement -> figures (numbers)
    unavailable: str | None = None  # why it cannot run here (then ``run`` is not called)


def competitors(peers: list, measure: Callable) -> list[Competitor]:
    """One competitor per peer: ``measure(peer)`` is one run."""
    return [Competitor(peer.name, functools.partial(measure, peer), peer.unavailable()) for peer in peers]


@dataclass
class Benchmark:
    name: str
    title: str
    params: dict
    metric: Column  # the headline figure; ratios are taken on it
    higher_is_better: bool
    competitors: list[Competitor]
    columns: list[Column] = field(default_factory=list)  # further figures for the table
    method: str = ""  # one sentence on what is measured (goes into the Markdown report)
    repeat: int | None = None  # runs per competitor, if not the run's --repeat


def run_benchmark(benchmark: Benchmark, repeat: int, log=print) -> dict:
    """Run the competitors ``repeat`` times (or the benchmark's own count) in rotated order; return the JSON-able result."""
    repeat = benchmark.repeat or repeat
    rows = {c.name: {"competitor": c.name, "status": "skipped" if c.unavailable else "ok", "reason": c.unavailable, "runs": []}
            for c in benchmark.competitors}
    started = time.perf_counter()
    for repetition in range(repeat):
        active = [c for c in benchmark.competitors if rows[c.name]["status"] == "ok"]
        if not active:
            break
        shift = repetition % len(active)
        for competitor in active[shift:] + active[:shift]:
            row = rows[competitor.name]
            log(f"  [{benchmark.name}] run {repetition + 1}/{repeat}: {competitor.name} ...", end=" ", flush=True)
            try:
                figures = competitor.run()
            except Exception as error:  # report it, keep going with the others
                row.update(status="failed", reason=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
                log(f"FAILED: {row['reason']}")
                continue
            row["runs"].append(figures)
            log(benchmark.metric.header + " " + benchmark.metric.fmt.format(figures[benchmark.metric.key]))
    result_rows = [_summarize(rows[c.name]) for c in benchmark.competitors]
    reference = next((r for r in result_rows if r["median"]), None)
    for row in result_rows:
        if row["median"] and reference:
            row["ratio"] = row["median"][benchmark.metric.key] / reference["median"][benchmark.metric.key]
    return {
        "benchmark": benchmark.name,
        "title": benchmark.title,
        "method": benchmark.method,
        "params": benchmark.params,
        "repeat": repeat,
        "metric": benchmark.metric.key,
        "higher_is_better": benchmark.higher_is_better,
        "reference": reference["competitor"] if reference else None,
        "columns": [vars(c) for c in [benchmark.metric, *benchmark.columns]],
        "rows": result_rows,
        "seconds": time.perf_counter() - started,
    }


def _summarize(row: dict) -> dict:
    """Medians of every numeric figure; a competitor that failed in any run gets none."""
    runs = row["runs"]
    median = {}
    if row["status"] == "ok" and runs:
        numeric = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        median = {k: statistics.median(r[k] for r in runs) for k in numeric}
    return {**row, "median": median, "ratio": None}


# --------------------------------------------------------------------------- machine and versions


def _command_output(*command: str) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info(postgres_version: str | None = None) -> dict:
    cpu_model = None
    memory_gib = None
    try:
        cpu_model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        memory_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        memory_gib = round(memory_kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    root = Path(__file__).resolve().parent.parent
    commit = _command_output("git", "-C", str(root), "rev-parse", "--short", "HEAD")
    dirty = _command_output("git", "-C", str(root), "status", "--porcelain", "--untracked-files=no")
    os_release = dict(
        line.rstrip().split("=", 1) for line in open("/etc/os-release") if "=" in line
    ) if os.path.exists("/etc/os-release") else {}
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": memory_gib,
        "os": os_release.get("PRETTY_NAME", "").strip('"') or platform.platform(),
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "slurm": _command_output("sinfo", "--version"),
        "torc": _version("torc"),
        "torc_commit": f"{commit}{'-dirty' if dirty else ''}" if commit else None,
        "peers": {name: _version(name) for name in ("hyperqueue", "parsl")},
        "xargs": (_command_output("xargs", "--version") or "?").splitlines()[0],
    }


# --------------------------------------------------------------------------- reports


def _cell(row: dict, column: dict) -> str:
    value = row["median"].get(column["key"])
    return column["fmt"].format(value) if value is not None else ""


def _ratio(result: dict, row: dict) -> str:
    if row["ratio"] is None:
        return ""
    if row["competitor"] == result["reference"]:
        return "1 (ref.)"
    return f"{row['ratio']:.2f}"


def _status(row: dict) -> str:
    if row["status"] == "ok":
        return f"{len(row['runs'])} run" + ("s" if len(row["runs"]) != 1 else "")
    return f"{row['status']}: {row['reason']}"


def _spread(row: dict, column: dict) -> str:
    """min–max of the headline figure over the runs."""
    values = [run[column["key"]] for run in row["runs"]]
    if row["status"] != "ok" or len(values) < 2:
        return ""
    return f"{column['fmt'].format(min(values))}–{column['fmt'].format(max(values))}"


def table_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    columns = result["columns"]
    headers = ["competitor", *(c["header"] for c in columns), f"ratio ({columns[0]['header']})", "min–max", "runs"]
    rows = [[r["competitor"], *(_cell(r, c) for c in columns), _ratio(result, r), _spread(r, columns[0]), _status(r)]
            for r in result["rows"]]
    return headers, rows


def text_table(result: dict) -> str:
    headers, rows = table_rows(result)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    better = "higher" if result["higher_is_better"] else "lower"
    runs = f"medians of {result['repeat']}" if result["repeat"] > 1 else "one run"
    title = f"{result['title']} ({runs}; {result['columns'][0]['header']}: {better} is better)"
    return "\n".join([title, line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(results: list[dict], machine: dict, command: str, total_seconds: float) -> str:
    peers = ", ".join(f"{k} {v}" for k, v in machine["peers"].items() if v) or "none installed"
    out = [
        f"# torc benchmarks, {machine['date']}",
        "",
        f"`{command}` — {total_seconds / 60:.1f} min in total.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPUs | {machine['cpus']} × {machine['cpu_model']} |",
        f"| memory | {machine['memory_gib']} GiB |",
        f"| OS | {machine['os']} (Linux {machine['kernel']}) |",
        f"| load average (1, 5, 15 min) at start / end | {', '.join(map(str, machine['load_average']))} / "
        f"{', '.join(map(str, machine.get('load_average_end', [])))} |",
        f"| Python / SQLite / PostgreSQL | {machine['python']} / {machine['sqlite']} / {machine['postgresql'] or 'not used'} |",
        f"| Slurm | {machine['slurm'] or 'not available'} |",
        f"| torc | {machine['torc']} ({machine['torc_commit']}) |",
        f"| peers | {peers}; {machine['xargs']} |",
        "",
    ]
    for result in results:
        headers, rows = table_rows(result)
        better = "higher" if result["higher_is_better"] else "lower"
        runs = f"Medians of {result['repeat']} interleaved runs" if result["repeat"] > 1 else "One run per competitor"
        out += [
            f"## {result['title']}",
            "",
            f"{result['method']} {runs}; ratio = median / reference ({result['reference']}), {better} is better.",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + " --- |" * len(headers),
            *("| " + " | ".join(_markdown_cell(c) for c in cells) + " |" for cells in rows),
            "",
        ]
    return "\n".join(out)


def write_reports(results: list[dict], machine: dict, command: str, total_seconds: float, out_dir: str) -> tuple[Path, Path]:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path, md_path = folder / f"bench-{stamp}.json", folder / f"bench-{stamp}.md"
    document = {"command": command, "machine": machine, "seconds": total_seconds, "results": results}
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    md_path.write_text(markdown(results, machine, command, total_seconds))
    return json_path, md_path
