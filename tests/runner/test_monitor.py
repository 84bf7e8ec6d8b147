"""ResourceMonitor against real process trees: peaks, averages, short jobs, the time-series file."""

import sqlite3
import subprocess
import sys
import time

import pytest

from torc.runner.monitor import SUMMARY_KEYS, ResourceMonitor

PY = sys.executable
# 200 MB held for 1.5 s in one child while another child spins a core for 2 s.
TREE = (
    f"{PY} -c 'x = bytearray(200_000_000); import time; time.sleep(1.5)' & "
    f"{PY} -c 'import time\nend = time.time() + 2\nwhile time.time() < end: pass' & wait"
)


def start(command: str) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-c", command], start_new_session=True)


@pytest.fixture
def monitor(tmp_path):
    monitor = ResourceMonitor(interval=0.3, time_series_path=tmp_path / "resource_utilization" / "metrics.db")
    monitor.start()
    yield monitor
    monitor.stop()


def test_process_tree_peaks_and_time_series(monitor, tmp_path):
    job = start(TREE)
    monitor.add_job(7, "tree", job.pid)
    assert job.wait(timeout=30) == 0
    stats = monitor.remove_job(7)
    assert stats["peak_memory_bytes"] >= 190_000_000
    assert stats["peak_cpu_percent"] > 50
    assert 0 < stats["avg_memory_bytes"] <= stats["peak_memory_bytes"]
    assert 0 < stats["avg_cpu_percent"] <= stats["peak_cpu_percent"]
    monitor.stop()  # writes the remaining samples
    with sqlite3.connect(tmp_path / "resource_utilization" / "metrics.db") as db:
        rows = db.execute("SELECT cpu_percent, memory_bytes, num_processes FROM job_resource_samples WHERE job_id = 7").fetchall()
        names = db.execute("SELECT job_id, job_name FROM job_metadata").fetchall()
    assert len(rows) >= 3
    assert max(r[1] for r in rows) == stats["peak_memory_bytes"]
    assert max(r[2] for r in rows) == 3  # bash and its two children
    assert names == [(7, "tree")]


def test_short_job_is_sampled_once_on_add(tmp_path):
    monitor = ResourceMonitor(interval=60)  # no periodic sample during the test
    monitor.start()
    try:
        job = start(f"{PY} -c 'x = bytearray(50_000_000); import time; time.sleep(0.6)'")
        monitor.add_job(1, "short", job.pid)
        job.wait(timeout=30)
        stats = monitor.remove_job(1)
    finally:
        monitor.stop()
    assert stats["peak_memory_bytes"] >= 45_000_000
    assert stats["avg_cpu_percent"] is not None


def test_job_gone_before_any_sample_gives_none_values():
    monitor = ResourceMonitor(interval=60)
    monitor.start()
    try:
        job = start("true")
        job.wait(timeout=30)  # reaped: nothing left to sample
        monitor.add_job(2, "instant", job.pid)
        assert monitor.remove_job(2) == dict.fromkeys(SUMMARY_KEYS)
    finally:
        monitor.stop()


def test_unknown_job_and_disabled_monitor():
    monitor = ResourceMonitor(interval=1)
    monitor.start()
    assert monitor.remove_job(12345) == dict.fromkeys(SUMMARY_KEYS)
    monitor.stop()
    monitor.stop()  # idempotent
    disabled = ResourceMonitor(enabled=False)
    disabled.start()
    job = start("sleep 0.5")
    disabled.add_job(3, "off", job.pid)
    time.sleep(0.3)
    assert disabled.remove_job(3) == dict.fromkeys(SUMMARY_KEYS)
    job.wait(timeout=30)
    disabled.stop()


def test_many_jobs_and_concurrent_removal(monitor):
    jobs = {i: start("sleep 0.8") for i in range(8)}
    for job_id, job in jobs.items():
        monitor.add_job(job_id, f"sleep{job_id}", job.pid)
    for job_id, job in jobs.items():
        job.wait(timeout=30)
        stats = monitor.remove_job(job_id)
        assert stats["peak_memory_bytes"] > 0 and stats["peak_cpu_percent"] < 50


def test_removing_a_live_job_takes_a_last_sample():
    monitor = ResourceMonitor(interval=60)
    monitor.start()
    job = start("sleep 5")
    try:
        time.sleep(0.1)
        monitor.add_job(4, "alive", job.pid)
        stats = monitor.remove_job(4)  # before the first scheduled sample
    finally:
        job.kill()
        job.wait(timeout=30)
        monitor.stop()
    assert stats["peak_memory_bytes"] > 0 and stats["avg_cpu_percent"] is not None
