"""Interactive HTML plots of the resource monitor's time-series files (``torc plot-resources``).

Input is one ``resource_metrics_<label>.db`` written by a worker with granularity ``time_series``
(tables ``job_resource_samples`` and ``job_metadata``) or a directory of them (one per worker).
Output is one HTML page: CPU % and memory of every job over time on a shared clock (so jobs that
ran together can be compared), then a summary table per job. plotly is an optional dependency
(``pip install 'torc[plots]'``) loaded only here, so workers and servers never need it.
"""

import datetime as dt
import html
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from torc.reports.utilization import format_bytes, format_seconds

MIB = 1024**2


class PlotError(RuntimeError):
    """Plotting is impossible (plotly missing, no time-series data); the message says what to do."""


@dataclass
class JobSeries:
    job_id: int
    name: str
    timestamps: list[float] = field(default_factory=list)
    cpu_percent: list[float] = field(default_factory=list)
    memory_bytes: list[int] = field(default_factory=list)
    num_processes: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.job_id})"

    def summary(self) -> dict:
        count = len(self.timestamps)
        return {
            "job_id": self.job_id,
            "job_name": self.name,
            "samples": count,
            "duration_seconds": self.timestamps[-1] - self.timestamps[0] if count else 0.0,
            "peak_cpu_percent": max(self.cpu_percent, default=None),
            "avg_cpu_percent": sum(self.cpu_percent) / count if count else None,
            "peak_memory_bytes": max(self.memory_bytes, default=None),
            "avg_memory_bytes": sum(self.memory_bytes) // count if count else None,
            "max_processes": max(self.num_processes, default=None),
        }


def time_series_files(path: Path) -> list[Path]:
    """The .db files to read: ``path`` itself, or every ``*.db`` in the directory ``path``."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.db"))
        if not files:
            raise PlotError(f"no time-series files (*.db) in {path}")
        return files
    if not path.exists():
        raise PlotError(f"{path} does not exist")
    return [path]


def load_time_series(path: Path) -> dict[int, JobSeries]:
    """job id → its samples in time order, from one file or a directory of files.

    A job sampled by several workers (a retry elsewhere) gets one series with all its samples.
    """
    series: dict[int, JobSeries] = {}
    for file in time_series_files(path):
        try:
            with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as db:
                names = dict(db.execute("SELECT job_id, job_name FROM job_metadata"))
                rows = db.execute(
                    "SELECT job_id, timestamp, cpu_percent, memory_bytes, num_processes FROM job_resource_samples"
                    " ORDER BY job_id, timestamp"
                ).fetchall()
        except sqlite3.Error as exc:
            raise PlotError(f"{file} is not a resource time-series file: {exc}") from exc
        for job_id, timestamp, cpu, memory, count in rows:
            job = series.setdefault(job_id, JobSeries(job_id, names.get(job_id, f"job {job_id}")))
            job.timestamps.append(timestamp)
            job.cpu_percent.append(cpu)
            job.memory_bytes.append(memory)
            job.num_processes.append(count)
    for job in series.values():  # files may interleave
        order = sorted(range(len(job.timestamps)), key=job.timestamps.__getitem__)
        for name in ("timestamps", "cpu_percent", "memory_bytes", "num_processes"):
            values = getattr(job, name)
            setattr(job, name, [values[i] for i in order])
    return dict(sorted(series.items()))


def default_output(path: Path) -> Path:
    """Next to the input: ``x.db`` → ``x.html``; a directory → ``<dir>/resource_plots.html``."""
    path = Path(path)
    return path / "resource_plots.html" if path.is_dir() else path.with_suffix(".html")


def write_resource_plots(path: Path, output: Path | None = None, *, embed_plotlyjs: bool = True) -> Path:
    """Write the HTML page for the time-series data at ``path``; returns the output path.

    ``embed_plotlyjs`` makes the page self-contained (about 5 MB, viewable offline, as on compute
    nodes); otherwise it loads plotly.js from its CDN.
    """
    go, make_subplots = _plotly()
    series = load_time_series(path)
    if not series:
        raise PlotError(f"no samples in {path}: was the workflow run with resource_monitor granularity time_series?")
    output = Path(output) if output else default_output(path)

    timeline = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=("CPU % (100 % = one core)", "Memory (RSS, MiB)"),
    )
    for job in series.values():
        times = [dt.datetime.fromtimestamp(t) for t in job.timestamps]
        group = dict(legendgroup=str(job.job_id), name=job.label, mode="lines+markers")
        timeline.add_trace(go.Scatter(x=times, y=job.cpu_percent, **group), row=1, col=1)
        memory = [m / MIB for m in job.memory_bytes]
        timeline.add_trace(go.Scatter(x=times, y=memory, showlegend=False, **group), row=2, col=1)
    timeline.update_layout(title="Resource use per job", height=800, hovermode="x unified")

    rows = [job.summary() for job in series.values()]
    columns = {
        "Job ID": [r["job_id"] for r in rows],
        "Job name": [r["job_name"] for r in rows],
        "Samples": [r["samples"] for r in rows],
        "Duration": [format_seconds(r["duration_seconds"]) for r in rows],
        "Peak CPU %": [f"{r['peak_cpu_percent']:.1f}" for r in rows],
        "Avg CPU %": [f"{r['avg_cpu_percent']:.1f}" for r in rows],
        "Peak memory": [format_bytes(r["peak_memory_bytes"]) for r in rows],
        "Avg memory": [format_bytes(r["avg_memory_bytes"]) for r in rows],
        "Max processes": [r["max_processes"] for r in rows],
    }
    table = go.Figure(go.Table(header=dict(values=list(columns)), cells=dict(values=list(columns.values()))))
    table.update_layout(title="Summary", height=120 + 30 * len(rows))

    title = f"torc resource utilization: {Path(path).name}"
    body = timeline.to_html(full_html=False, include_plotlyjs=True if embed_plotlyjs else "cdn")
    body += table.to_html(full_html=False, include_plotlyjs=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n",
        encoding="utf-8",
    )
    return output


def _plotly():
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:
        raise PlotError("plotting needs plotly, an optional dependency: pip install 'torc[plots]'") from exc
    return go, make_subplots
