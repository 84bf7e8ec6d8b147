"""The over-utilization and likely-cause rules, on plain records."""

import pytest

from torc.reports.utilization import Requested, check_resource_utilization, format_bytes, latest_results, likely_cause

GIB = 1024**3
RRS = [
    {"id": 1, "name": "default", "num_cpus": 1, "memory": "1m", "runtime": "P0DT1M"},
    {"id": 2, "name": "small", "num_cpus": 2, "memory": "1g", "runtime": "PT10M"},
    {"id": 3, "name": "bare", "num_cpus": 0},
]


def job(job_id, rr=2):
    return {"id": job_id, "name": f"j{job_id}", "resource_requirements_id": rr}


def result(job_id, status="completed", rc=0, minutes=1.0, memory=None, cpu=None, run_id=1, **extra):
    return {"job_id": job_id, "status": status, "return_code": rc, "exec_time_minutes": minutes,
            "peak_memory_bytes": memory, "peak_cpu_percent": cpu, "run_id": run_id, **extra}


def check(results, jobs, **kw):
    return {f.job_id: f for f in check_resource_utilization(results, jobs, RRS, **kw)}


def test_each_resource_is_checked_against_its_request():
    jobs = [job(i) for i in range(1, 6)]
    found = check([
        result(1, memory=GIB // 2, cpu=150),        # within everything
        result(2, memory=3 * GIB // 2),              # memory 1.5×
        result(3, cpu=250),                           # 2 CPUs → 200 %; 250 > 220
        result(4, cpu=215),                           # inside the 10 % tolerance
        result(5, minutes=15),                        # runtime 1.5×
    ], jobs)
    assert sorted(found) == [2, 3, 5]
    memory = found[2].exceeded[0]
    assert (memory.resource, memory.ratio, memory.requested_text, memory.used_text) == ("memory", 1.5, "1.00 GiB", "1.50 GiB")
    assert found[3].exceeded[0].resource == "cpu" and found[3].exceeded[0].ratio == 1.25
    assert found[5].exceeded[0].resource == "runtime" and found[5].exceeded[0].used == 900
    assert all(f.likely_cause is None for f in found.values())  # completed jobs have no failure cause


def test_cpu_tolerance_is_configurable():
    assert 4 in check([result(4, cpu=215)], [job(4)], cpu_tolerance=0.0)


def test_missing_statistics_default_and_unset_requirements_are_skipped():
    jobs = [job(1), job(2, rr=1), job(3, rr=3), job(4, rr=99)]
    found = check([
        result(1),  # monitoring off: no peaks; runtime fine
        result(2, memory=GIB, cpu=500, minutes=60),  # the default placeholder requirements
        result(3, memory=GIB, cpu=500, minutes=60),  # nothing requested
        result(4, memory=GIB),  # unknown requirements
        result(5, memory=GIB),  # unknown job
    ], jobs)
    assert found == {}


def test_failed_jobs_only_with_include_failed_and_with_a_cause():
    jobs = [job(i) for i in range(1, 5)]
    results = [
        result(1, "failed", 137, minutes=2, memory=2 * GIB),  # OOM: memory over, SIGKILL
        result(2, "failed", -9, minutes=1),                    # OOM: SIGKILL early, no memory data
        result(3, "terminated", -15, minutes=9.5),             # timeout: 95 % of the runtime
        result(4, "failed", 1, minutes=1),                     # an ordinary failure
    ]
    assert check(results, jobs) == {}
    found = check(results, jobs, include_failed=True)
    assert sorted(found) == [1, 2, 3]
    assert found[1].likely_cause == "oom" and "SIGKILL" in found[1].cause_detail
    assert [e.resource for e in found[1].exceeded] == ["memory"]
    assert found[2].likely_cause == "oom" and found[2].exceeded == []
    assert found[3].likely_cause == "timeout"


@pytest.mark.parametrize(
    ("rc", "minutes", "memory", "cause"),
    [
        (137, 9.5, None, "timeout"),  # SIGKILL near the limit: the time limit, not memory
        (137, 8.5, None, None),       # between 80 and 90 %: cannot tell
        (152, 1, None, "timeout"),    # SIGXCPU
        (1, 11, None, "timeout"),     # ran past its runtime
        (1, 1, 2 * GIB, "oom"),       # memory over, whatever the return code
    ],
)
def test_likely_cause(rc, minutes, memory, cause):
    requested = Requested.of(RRS[1])
    assert likely_cause(result(1, "failed", rc, minutes=minutes, memory=memory), requested)[0] == cause


def test_latest_result_wins():
    old = result(1, "failed", 137, memory=5 * GIB, run_id=1)
    new = result(1, memory=GIB // 4, run_id=2)
    assert latest_results([new, old])[1] is new
    assert check([old, new], [job(1)]) == {}


def test_format_bytes():
    assert format_bytes(512) == "512 B" and format_bytes(3 * 1024**2) == "3.00 MiB"
