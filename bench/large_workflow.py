"""Create and initialize a large workflow: N jobs and N-1 edges (a chain), one request each.

Measures the set-based creation path (``create_workflow_from_spec``) and ``initialize_jobs``,
end to end over HTTP, plus the server's peak memory.
"""

import psutil

from bench.common import Timer, report, server
from torc.client import make_api


def chain_jobs(count: int) -> list[dict]:
    return [{"name": f"j{i}", "command": "true", "depends_on": [f"j{i - 1}"] if i else []} for i in range(count)]


def server_rss(process) -> int:
    """Peak-ish RSS: the gunicorn master and its workers, summed."""
    root = psutil.Process(process.process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def run(backend: str, jobs: int) -> dict:
    records = {"workflow": {"name": "large", "user": "bench"}, "jobs": chain_jobs(jobs)}
    with server(backend) as srv:
        api = make_api(srv.api_url)
        with Timer() as create:
            workflow = api.create_workflow_from_records(records).workflow.id
        with Timer() as initialize:
            answer = api.workflows.initialize_jobs(workflow)
        rss = server_rss(srv)
    assert answer.num_ready == 1
    return report(
        f"large_workflow[{backend}]",
        {"jobs": jobs, "edges": jobs - 1, "create_s": create.seconds, "initialize_s": initialize.seconds,
         "total_s": create.seconds + initialize.seconds, "server_rss_mb": rss / 2**20},
    )
