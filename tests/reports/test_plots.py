"""torc plot-resources: HTML from time-series files, and a clear error without plotly."""

import sqlite3
import sys

from click.testing import CliRunner

from torc.cli.reports import plot_resources


def make_db(path, jobs):
    """A time-series file in the worker's layout: {job_id: (name, [(t, cpu, memory, processes)])}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE job_resource_samples (job_id INTEGER, timestamp REAL, cpu_percent REAL,"
                   " memory_bytes INTEGER, num_processes INTEGER, PRIMARY KEY (job_id, timestamp))")
        db.execute("CREATE TABLE job_metadata (job_id INTEGER PRIMARY KEY, job_name TEXT NOT NULL)")
        for job_id, (name, samples) in jobs.items():
            db.execute("INSERT INTO job_metadata VALUES (?, ?)", (job_id, name))
            db.executemany("INSERT INTO job_resource_samples VALUES (?, ?, ?, ?, ?)", [(job_id, *s) for s in samples])
    return path


def samples(start, n, cpu, memory):
    return [(start + 5 * i, cpu, memory + i * 1024**2, 2) for i in range(n)]


def test_plot_one_file_next_to_it(tmp_path):
    db = make_db(tmp_path / "resource_metrics_w1.db", {
        1: ("preprocess_alpha", samples(1_790_000_000, 6, 95.0, 300 * 1024**2)),
        2: ("train_beta", samples(1_790_000_010, 4, 180.0, 2 * 1024**3)),
    })
    out = CliRunner().invoke(plot_resources, [str(db), "--cdn"])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "resource_metrics_w1.html").read_text()
    assert "preprocess_alpha" in html and "train_beta" in html
    assert "Summary" in html and "CPU %" in html
    assert len(html) > 10_000


def test_plot_a_directory_to_a_chosen_file(tmp_path):
    make_db(tmp_path / "ru" / "resource_metrics_a.db", {1: ("alpha_job", samples(1_790_000_000, 3, 50.0, 10**8))})
    make_db(tmp_path / "ru" / "resource_metrics_b.db", {2: ("beta_job", samples(1_790_000_000, 3, 50.0, 10**8))})
    target = tmp_path / "plots" / "all.html"
    out = CliRunner().invoke(plot_resources, [str(tmp_path / "ru"), "-o", str(target)])
    assert out.exit_code == 0, out.output
    html = target.read_text()
    assert "alpha_job" in html and "beta_job" in html
    assert len(html) > 1_000_000  # plotly.js embedded: viewable offline


def test_empty_file_and_missing_plotly_are_clear_errors(tmp_path, monkeypatch):
    empty = make_db(tmp_path / "empty.db", {})
    out = CliRunner().invoke(plot_resources, [str(empty)])
    assert out.exit_code == 1 and "no samples" in out.output
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)  # import fails as if not installed
    out = CliRunner().invoke(plot_resources, [str(empty)])
    assert out.exit_code == 1 and "pip install 'torc[plots]'" in out.output
