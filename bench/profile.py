"""``python -m bench.profile``: where the server's time goes on the no-op and hop hot paths.

The server runs in this process (the Flask app on a fresh SQLite file, through its test client),
under cProfile, and receives the requests ``torc run`` sends in benchmarks 1 and 2: one
``complete_jobs`` per batch of ended jobs with the next claim riding on it (``--batch 2``: the
no-op steady state with two slots; ``--chain``: a dependency chain, one job per request). The
HTTP client and the jobs themselves are left out, so the profile is the server's work per request.
Prints the milliseconds per request and their split by layer, then the top functions.
"""

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from torc.api.app import create_app
from torc.api.base import BASE_PATH
from torc.db.connection import open_database

#: Layer of a function, by the first fragment its file name contains (order matters).
LAYERS = [
    ("database driver (SQL execution)", ("sqlite3", "psycopg2", "{method 'execute'", "{method 'fetch")),
    ("peewee", ("peewee",)),
    ("marshmallow / flask-smorest / webargs (schemas)", ("marshmallow", "flask_smorest", "webargs", "apispec")),
    ("flask / werkzeug (HTTP)", ("flask", "werkzeug")),
    ("json", ("json",)),
    ("torc engine and API (Python)", ("torc/",)),
]


def layer(filename: str, name: str) -> str:
    text = f"{filename} {name}"
    for label, fragments in LAYERS:
        if any(fragment in text for fragment in fragments):
            return label
    return "other"


def _post(client, path: str, body) -> dict:
    answer = client.post(BASE_PATH + path, json=body)
    if answer.status_code != 200:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.get_data(as_text=True)[:500]}")
    return answer.get_json()


def run(jobs: int, batch: int, chain: bool) -> tuple[cProfile.Profile, int, float]:
    """Run the workflow to its end under the profiler; return it, the request count and the wall time."""
    folder = tempfile.mkdtemp(prefix="torc-profile-")
    app = create_app(open_database(str(Path(folder) / "torc.db")))
    client = app.test_client()
    records = [{"name": f"j{i}", "command": "true", "depends_on": [f"j{i - 1}"] if chain and i else []} for i in range(jobs)]
    workflow_id = _post(client, "/workflows/from_spec", {"workflow": {"name": "profile", "user": "bench"}, "jobs": records})["workflow"]["id"]
    _post(client, f"/workflows/{workflow_id}/initialize_jobs", None)
    node = _post(client, "/compute_nodes", {
        "workflow_id": workflow_id, "hostname": "h", "pid": 1, "start_time": "2026-01-01T00:00:00Z", "num_cpus": batch,
        "memory_gb": 4.0, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local",
    })["id"]
    run_id = client.get(f"{BASE_PATH}/workflows/{workflow_id}/status").get_json()["run_id"]
    offer = {"num_cpus": batch, "memory_gb": 4.0, "num_gpus": 0, "num_nodes": 1}
    claim = {"limit": batch, "resources": offer, "compute_node_id": node, "start": True}
    running = [job["id"] for job in _post(client, f"/workflows/{workflow_id}/claim_jobs_based_on_resources/{batch}?compute_node_id={node}&start=true", offer)["jobs"]]
    profile, requests, started = cProfile.Profile(), 0, time.perf_counter()
    while running:
        completions = [{"job_id": job_id, "status": "completed", "result": {
            "job_id": job_id, "workflow_id": workflow_id, "run_id": run_id, "compute_node_id": node, "return_code": 0,
            "exec_time_minutes": 0.0, "completion_time": "2026-01-01T00:00:01Z", "status": "completed",
        }} for job_id in running]
        body = {"completions": completions, "compute_node_id": node, "claim": claim}
        profile.enable()
        answer = _post(client, f"/workflows/{workflow_id}/complete_jobs/{run_id}", body)
        profile.disable()
        requests += 1
        running = [job["id"] for job in answer["claimed"]["jobs"]]
    return profile, requests, time.perf_counter() - started


def report(profile: cProfile.Profile, requests: int, top: int) -> str:
    stats = pstats.Stats(profile)
    by_layer: dict[str, float] = {}
    for (filename, _, name), (_, _, own, _, _) in stats.stats.items():
        key = layer(filename, name)
        by_layer[key] = by_layer.get(key, 0.0) + own
    total = sum(by_layer.values())
    lines = [f"{requests} requests, {total / requests * 1000:.2f} ms of profiled server time each", "", "| layer | ms/request | share |", "| --- | --- | --- |"]
    lines += [f"| {key} | {value / requests * 1000:.2f} | {value / total:.0%} |" for key, value in sorted(by_layer.items(), key=lambda kv: -kv[1])]
    lines += ["", f"top {top} functions by own time:"]
    ranked = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]
    lines += [f"  {own / requests * 1000:7.3f} ms/req  {calls / requests:6.1f} calls/req  {Path(filename).name}:{line} {name}"
              for (filename, line, name), (_, calls, own, _, _) in ranked]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the workflow (default 2000)")
    parser.add_argument("--batch", type=int, default=2, help="jobs completed and claimed per request (default 2: the no-op steady state)")
    parser.add_argument("--chain", action="store_true", help="each job depends on the previous one (the hop benchmark; implies --batch 1)")
    parser.add_argument("--top", type=int, default=15, help="functions listed (default 15)")
    options = parser.parse_args(argv)
    batch = 1 if options.chain else options.batch
    profile, requests, seconds = run(options.jobs, batch, options.chain)
    print(f"{'chain' if options.chain else 'no-op'}: {options.jobs} jobs, {batch} per request, {seconds:.1f} s under the profiler")
    print(report(profile, requests, options.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
