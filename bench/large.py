"""Large workflow: create and initialize N jobs with E dependency edges, over HTTP.

torc's way (``torc run SPEC``, ``torc submit SPEC``) is one ``create_workflow_from_spec`` request
with ``initialize=true`` (``TorcApi.create_workflow_from_records``), which writes each job once,
already placed. Up to 100,000 jobs, each backend is also measured the two-request way of
``torc workflows create`` followed by ``torc workflows initialize``.
The edges: job i depends on job i-1 (a chain) for the first E edges, then job i also on job i-2.
Peak memory is the largest ``VmHWM`` among the server's processes (see ``server_peak_rss``).
"""

from bench.common import Timer, backend_unavailable, server, server_peak_rss
from bench.harness import Benchmark, Column, Competitor
from torc.client import make_api


def parse_size(text: str) -> tuple[int, int, int | None]:
    """``JOBS[:EDGES][@RUNS]``, e.g. ``100000:100000``, or ``1000000@1`` (no edges, run once)."""
    size, _, runs = text.partition("@")
    jobs, _, edges = size.partition(":")
    jobs, edges, runs = int(jobs), int(edges or 0), int(runs) if runs else None
    if jobs < 1 or not 0 <= edges <= max(2 * jobs - 3, jobs - 1) or (runs is not None and runs < 1):
        raise ValueError(f"{text}: need 1 <= JOBS, 0 <= EDGES <= 2*JOBS-3 and 1 <= RUNS")
    return jobs, edges, runs


def job_records(jobs: int, edges: int) -> list[dict]:
    depends = [[] for _ in range(jobs)]
    chain = min(edges, jobs - 1)
    for i in range(1, chain + 1):
        depends[i].append(f"j{i - 1}")
    for i in range(2, 2 + edges - chain):
        depends[i].append(f"j{i - 2}")
    return [{"name": f"j{i}", "command": "/bin/true", "depends_on": d} for i, d in enumerate(depends)]


#: Largest workflow also measured with separate create and initialize requests.
TWO_REQUESTS_UP_TO = 100_000


def measure(backend: str, records: list[dict], two_requests: bool = False) -> dict:
    ready = sum(1 for r in records if not r["depends_on"])
    spec = {"workflow": {"name": "large", "user": "bench"}, "jobs": records}
    with server(backend) as srv:
        api = make_api(srv.api_url)
        with Timer() as total:
            if two_requests:
                num_ready = api.workflows.initialize_jobs(api.create_workflow_from_records(spec).workflow.id).num_ready
            else:
                num_ready = api.create_workflow_from_records(spec, initialize=True).num_ready
        peak = server_peak_rss(srv)
    if num_ready != ready:
        raise RuntimeError(f"{num_ready} jobs ready after initialization, expected {ready}")
    return {"total_s": total.seconds, "peak_rss_mb": peak / 2**20}


def benchmarks(options) -> list[Benchmark]:
    result = []
    for jobs, edges, runs in map(parse_size, options.large_size):
        records = []  # built once, at the first run, shared by the backends and repetitions

        def run(backend, two_requests=False, jobs=jobs, edges=edges, records=records):
            if not records:
                records.extend(job_records(jobs, edges))
            return measure(backend, records, two_requests)

        ways = [(backend, False) for backend in options.backend]
        if jobs <= TWO_REQUESTS_UP_TO:
            ways += [(backend, True) for backend in options.backend]

        result.append(Benchmark(
            name=f"large-{jobs}",
            title=f"Large workflow: {jobs:,} jobs, {edges:,} edges",
            method="Create and initialize the workflow on a fresh database: one request (create_workflow_from_spec with "
                   "initialize=true, as torc run SPEC does), and, marked '2 requests', create then initialize_jobs; "
                   "peak RSS of the busiest server process.",
            params={"jobs": jobs, "edges": edges},
            repeat=runs,
            metric=Column("total_s", "create + init s", "{:,.2f}"),
            higher_is_better=False,
            columns=[Column("peak_rss_mb", "server peak RSS MB", "{:,.0f}")],
            competitors=[
                Competitor(f"{backend}, 2 requests" if two else backend, lambda b=backend, t=two, r=run: r(b, t), backend_unavailable(backend))
                for backend, two in ways
            ],
        ))
    return result
