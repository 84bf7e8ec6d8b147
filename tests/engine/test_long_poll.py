"""Long-poll claims (``wait_seconds``): they wake the moment work appears, also when another server
process made it, return on completion, cancellation and timeout, and hold no transaction while
they wait. Both databases.

A waiting claim is observed through ``GET /server_stats`` (``num_waiting_claims`` of the process
that answers), so these tests run their own one-process servers on the test database: a test
acts only once the claim is known to be parked on the server, never after a guessed sleep.
"""

import sqlite3
import threading
import time

import psycopg2
import pytest

from tests.engine.flow import Flow
from tests.support.servers import ServerProcess
from torc.engine.claims import DEFAULT_MAX_WAIT_SECONDS, _max_wait_seconds

#: A wake-up must come from the notification, not from the waiter's 1-second re-check.
CROSS_PROCESS_BOUND = 0.5


@pytest.fixture(scope="module")
def servers(backend):
    """Two one-process servers on the backend's database (the shared test server has two processes)."""
    with ServerProcess(backend[1], workers=1, threads=16) as first, ServerProcess(backend[1], workers=1, threads=16) as second:
        yield first, second


@pytest.fixture
def flows(api_url, servers):
    return tuple(Flow(server.api_url) for server in servers)


def parked(flow: Flow, count: int = 1, timeout: float = 15.0) -> None:
    """Return once ``count`` claims wait on ``flow``'s server process."""
    deadline = time.monotonic() + timeout
    while (waiting := flow.get("/server_stats")["num_waiting_claims"]) < count:
        assert time.monotonic() < deadline, f"{waiting} of {count} claims waiting after {timeout} s"
        time.sleep(0.002)


class Waiter(threading.Thread):
    """A long-poll claim in a thread of its own; ``answer`` and ``returned_at`` when it is back."""

    def __init__(self, flow: Flow, path: str, body=None, **params):
        super().__init__(daemon=True)
        self.flow, self.path, self.body, self.params = Flow(flow.base), path, body, params
        self.answer = self.returned_at = None
        self.start()

    def run(self):
        self.answer = self.flow.post(self.path, self.body, params=self.params)
        self.returned_at = time.monotonic()

    def result(self, timeout: float = 30.0) -> dict:
        self.join(timeout)
        assert not self.is_alive(), "the long poll did not return"
        return self.answer


def running_upstream(flow: Flow, dependent: dict | None = None) -> tuple[int, dict[str, int], int]:
    """``a`` running, ``b`` waiting for it."""
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"], **(dependent or {})}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.start(ids["a"], node)
    return wf, ids, node


def test_a_waiting_claim_gets_the_dependent_within_100ms_of_the_upstream_completion(flows):
    flow = flows[0]
    wf, ids, node = running_upstream(flow)
    waiter = Waiter(flow, f"/workflows/{wf}/claim_next_jobs", wait_seconds=20)
    parked(flow)
    completed_at = time.monotonic()
    flow.complete(ids["a"], wf, node)
    assert [j["name"] for j in waiter.result()["jobs"]] == ["b"]
    assert waiter.returned_at - completed_at < 0.1, f"claimed {waiter.returned_at - completed_at:.3f} s after the completion was sent"


def test_a_waiting_resource_claim_takes_only_work_that_fits(flows):
    flow = flows[0]
    wf = flow.workflow()
    big = flow.post("/resource_requirements", {"workflow_id": wf, "name": "big", "num_cpus": 8})["id"]
    ids = flow.make_jobs(wf, {"a": {}, "c": {}, "too_big": {"depends_on": ["a"], "resource_requirements_id": big}, "fits": {"depends_on": ["c"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    offer = {"num_cpus": 4, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1}
    waiter = Waiter(flow, f"/workflows/{wf}/claim_jobs_based_on_resources/10", offer, wait_seconds=20)
    parked(flow)
    flow.run_one(wf, ids["a"], node)  # makes too_big ready: it does not fit, the claim keeps waiting
    assert flow.statuses(wf)["too_big"] == "ready"
    parked(flow)
    assert waiter.is_alive()
    completed_at = time.monotonic()
    flow.run_one(wf, ids["c"], node)
    assert [j["name"] for j in waiter.result()["jobs"]] == ["fits"]
    assert waiter.returned_at - completed_at < 0.5
    assert flow.statuses(wf)["too_big"] == "ready"


def test_a_completion_in_another_server_process_wakes_the_claim(flows):
    """SQLite: the other process's commit is seen through PRAGMA data_version; PostgreSQL: NOTIFY."""
    waiting_on, completing_on = flows
    wf, ids, node = running_upstream(completing_on)
    for attempt in range(2):
        waiter = Waiter(waiting_on, f"/workflows/{wf}/claim_next_jobs", wait_seconds=20, compute_node_id=node)
        parked(waiting_on)
        completed_at = time.monotonic()
        if attempt == 0:
            completing_on.complete(ids["a"], wf, node)
            expected = ["b"]
        else:  # hand b back: it is ready again, made so by the other process
            completing_on.put(f"/jobs/{ids['b']}/manage_status_change/ready/1")
            expected = ["b"]
        assert [j["name"] for j in waiter.result()["jobs"]] == expected
        assert waiter.returned_at - completed_at < CROSS_PROCESS_BOUND, f"woke after {waiter.returned_at - completed_at:.3f} s"


@pytest.mark.parametrize("ending", ["complete", "cancel"])
def test_a_waiting_claim_returns_when_the_workflow_completes_or_is_canceled(flows, ending):
    flow = flows[0]
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf)
    flow.start(ids["a"], node)
    waiter = Waiter(flow, f"/workflows/{wf}/claim_next_jobs", wait_seconds=20)
    parked(flow)
    if ending == "complete":
        flow.complete(ids["a"], wf, node)
    else:
        flow.put(f"/workflows/{wf}/cancel")
    answer = waiter.result(timeout=5)
    assert answer == {"jobs": [], "reason": "workflow is complete" if ending == "complete" else "workflow is canceled"}
    assert flow.get("/server_stats")["num_waiting_claims"] == 0


def test_a_waiting_claim_times_out(flows):
    flow = flows[0]
    wf, _, _ = running_upstream(flow)
    started = time.monotonic()
    answer = flow.post(f"/workflows/{wf}/claim_next_jobs", params={"wait_seconds": 0.5})
    assert answer == {"jobs": [], "reason": "no ready jobs"}
    assert 0.45 < time.monotonic() - started < 5


def test_waiting_claims_hold_no_transaction_and_block_no_writer(backend, flows):
    flow = flows[0]
    wf, ids, node = running_upstream(flow)
    waiters = [Waiter(flow, f"/workflows/{wf}/claim_next_jobs", wait_seconds=30) for _ in range(8)]
    parked(flow, count=8)
    kind, url = backend
    if kind == "sqlite":
        conn = sqlite3.connect(url, timeout=0.5, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if a waiter held the write lock
        conn.execute("ROLLBACK")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "a read transaction is open: the checkpoint could not complete"
        conn.close()
    else:
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state IN ('idle in transaction', 'idle in transaction (aborted)', 'active')"
            )
            assert cur.fetchone()[0] == 0, "a server connection is inside a transaction while claims wait"
        conn.close()
    other = flow.workflow("writer")
    started = time.monotonic()
    flow.make_jobs(other, {f"w{i}": {} for i in range(5)})
    flow.post(f"/workflows/{other}/initialize_jobs")
    assert time.monotonic() - started < 10
    parked(flow, count=8)  # still waiting: the writes were not for them
    flow.complete(ids["a"], wf, node)  # b becomes ready: exactly one waiter takes it
    deadline = time.monotonic() + 15
    while not (done := [waiter for waiter in waiters if not waiter.is_alive()]):
        assert time.monotonic() < deadline, "no waiter took b"
        time.sleep(0.002)
    (first,) = done
    assert [job["name"] for job in first.answer["jobs"]] == ["b"]
    flow.run_one(wf, ids["b"], node)  # the workflow is complete: the others return
    assert [waiter.result(timeout=5) for waiter in waiters if waiter is not first] == [{"jobs": [], "reason": "workflow is complete"}] * 7


def test_wait_seconds_is_capped_by_the_server(backend, api_url):
    with ServerProcess(backend[1], workers=1, threads=4, env={"TORC_MAX_CLAIM_WAIT_SECONDS": "1"}) as capped:
        flow = Flow(capped.api_url)
        wf, _, _ = running_upstream(flow)
        started = time.monotonic()
        answer = flow.post(f"/workflows/{wf}/claim_next_jobs", params={"wait_seconds": 600})
        elapsed = time.monotonic() - started
    assert answer["jobs"] == [] and 0.9 < elapsed < 10, f"returned after {elapsed:.2f} s"


def test_the_default_cap_is_a_minute_and_a_bad_setting_is_refused(monkeypatch):
    monkeypatch.delenv("TORC_MAX_CLAIM_WAIT_SECONDS", raising=False)
    assert _max_wait_seconds() == DEFAULT_MAX_WAIT_SECONDS == 60
    monkeypatch.setenv("TORC_MAX_CLAIM_WAIT_SECONDS", "soon")
    with pytest.raises(ValueError, match="TORC_MAX_CLAIM_WAIT_SECONDS='soon'"):
        _max_wait_seconds()
