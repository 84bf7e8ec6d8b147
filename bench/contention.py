"""Claim contention: C processes claim from one workflow of N ready jobs, for a time window.

Each claimer is a process (forked, so no GIL is shared) looping on
``claim_jobs_based_on_resources`` (the endpoint ``torc run`` uses in resource mode) with a small
limit, offering that many CPUs; it reads the answer's job ids from the raw response, skipping the
generated client's model validation, so that the clients' CPU time stays small next to the
server's. The claimers are released at once and claim until the window (``--contention-seconds``)
ends or they get an empty answer; the clock runs until the last one stopped. So the figures are
taken with between N and N - claimed jobs ready (the size of the ready set matters: the claim
queries look at it). No job may be claimed twice (``duplicates``); when the claimers drained the
workflow, every job must have been claimed (``missing``). A run with either is a failure.
"""

import json
import multiprocessing
import time

from bench.common import Timer, backend_unavailable, server
from bench.harness import Benchmark, Column, Competitor
from torc.client import make_api
from torc.openapi_client.models import ComputeNodesResources


def _claimer(url: str, workflow_id: int, limit: int, window: float, barrier, results) -> None:
    try:
        results.put(_claim(url, workflow_id, limit, window, barrier))
    except Exception as error:
        results.put(("error", f"{type(error).__name__}: {error}"))


def _claim(url: str, workflow_id: int, limit: int, window: float, barrier) -> tuple:
    api = make_api(url, skip_version_check=True)
    offer = ComputeNodesResources(num_cpus=limit, memory_gb=limit, num_gpus=0, num_nodes=1)
    api.system.ping()  # a warm connection
    claimed, claims, drained = [], 0, False
    barrier.wait()
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        response = api.workflows.claim_jobs_based_on_resources_without_preload_content(workflow_id, limit, offer)
        if response.status != 200:
            return "error", f"HTTP {response.status}: {response.data[:200]!r}"
        ids = [job["id"] for job in json.loads(response.data)["jobs"]]
        if not ids:
            drained = True
            break
        claims += 1
        claimed.extend(ids)
    return claims, claimed, drained


def measure(backend: str, jobs: int, claimers: int, limit: int, window: float) -> dict:
    context = multiprocessing.get_context("fork")
    with server(backend) as srv:
        api = make_api(srv.api_url)
        records = {"workflow": {"name": "contention", "user": "bench"}, "jobs": [{"name": f"j{i}", "command": "/bin/true"} for i in range(jobs)]}
        workflow_id = api.create_workflow_from_records(records, initialize=True).workflow.id
        barrier, results = context.Barrier(claimers + 1), context.Queue()
        processes = [context.Process(target=_claimer, args=(srv.api_url, workflow_id, limit, window, barrier, results)) for _ in range(claimers)]
        try:
            for process in processes:
                process.start()
            barrier.wait(timeout=120)
            with Timer() as timer:
                answers = [results.get(timeout=window + 120) for _ in processes]
        finally:
            for process in processes:
                if process.is_alive():
                    process.join(timeout=5)
                if process.is_alive():
                    process.kill()
    errors = [a[1] for a in answers if a[0] == "error"]
    if errors:
        raise RuntimeError(f"{len(errors)} claimers failed, e.g. {errors[0]}")
    ids = [i for _, claimed, _ in answers for i in claimed]
    unique = set(ids)
    drained = all(drained for _, _, drained in answers)
    missing = jobs - len(unique) if drained else 0
    if len(ids) != len(unique) or missing:
        raise RuntimeError(f"{len(ids) - len(unique)} job ids claimed more than once, {missing} never claimed")
    return {
        "claims_per_s": sum(claims for claims, _, _ in answers) / timer.seconds,
        "jobs_per_s": len(ids) / timer.seconds,
        "seconds": timer.seconds,
        "claimed": len(unique),
        "duplicates": len(ids) - len(unique),
        "missing": missing,
        "drained": int(drained),
    }


def benchmarks(options) -> list[Benchmark]:
    jobs, claimers, limit, window = options.contention_jobs, options.claimers, options.claim_limit, options.contention_seconds
    return [Benchmark(
        name="contention",
        title=f"Claim contention: {claimers} claimers, {jobs:,} ready jobs, up to {limit} per claim",
        method=(f"{claimers} processes call `claim_jobs_based_on_resources` (limit {limit}) for {window:g} s or until nothing "
                "is left; duplicates (ids claimed twice) must be 0, and missing ids (never claimed) too when drained."),
        params={"jobs": jobs, "claimers": claimers, "limit": limit, "window_s": window},
        metric=Column("claims_per_s", "claims/s", "{:,.0f}"),
        higher_is_better=True,
        columns=[Column("jobs_per_s", "jobs/s", "{:,.0f}"), Column("claimed", "claimed", "{:,.0f}"), Column("seconds", "s", "{:,.1f}"),
                 Column("duplicates", "duplicates", "{:.0f}"), Column("missing", "missing", "{:.0f}")],
        competitors=[Competitor(b, lambda b=b: measure(b, jobs, claimers, limit, window), backend_unavailable(b)) for b in options.backend],
    )]
