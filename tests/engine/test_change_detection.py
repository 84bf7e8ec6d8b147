"""Input fingerprints (``process_changed_job_inputs``): what counts as a changed job, and what not."""

import pytest

from tests.engine.flow import Flow


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


def changed(flow, wf: int) -> list[str]:
    return flow.post(f"/workflows/{wf}/process_changed_job_inputs", params={"dry_run": True})["reinitialized_jobs"]


def run_all(flow, wf: int, node: int) -> None:
    while jobs := flow.claim(wf):
        for job in jobs:
            flow.run_one(wf, job["id"], node)


def test_a_new_or_removed_dependency_is_a_change(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {}, "c": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert changed(flow, wf) == []
    flow.put(f"/jobs/{ids['b']}", {"workflow_id": wf, "name": "b", "command": "echo b", "depends_on_job_ids": [ids["a"]]})
    flow.put(f"/jobs/{ids['c']}", {"workflow_id": wf, "name": "c", "command": "echo c", "depends_on_job_ids": []})
    assert changed(flow, wf) == ["b", "c"]


def test_renaming_an_upstream_job_changes_its_dependents(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    flow.put(f"/jobs/{ids['a']}", {"workflow_id": wf, "name": "a2", "command": "echo a"})
    assert changed(flow, wf) == ["b"]


def test_a_full_initialize_records_the_inputs_of_the_new_run(flow):
    """A changed job that is reset and initialized runs with its new inputs: afterwards it is not
    'changed' any more (upstream recomputes the fingerprint at every initialize)."""
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    run_all(flow, wf, node)
    flow.put(f"/jobs/{ids['a']}", {"workflow_id": wf, "name": "a", "command": "echo changed"})
    assert changed(flow, wf) == ["a"]
    flow.post(f"/workflows/{wf}/reset_job_status")
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert changed(flow, wf) == []
    run_all(flow, wf, node)
    assert changed(flow, wf) == []


def test_data_a_job_writes_is_no_change_for_its_readers(flow):
    """The producer fills ``result`` while the workflow runs; only ``params`` is the user's input."""
    wf = flow.workflow()
    result = flow.post("/user_data", {"workflow_id": wf, "name": "result"})["id"]
    params = flow.post("/user_data", {"workflow_id": wf, "name": "params", "data": {"alpha": 1}})["id"]
    ids = flow.make_jobs(wf, {
        "produce": {"input_user_data_ids": [params], "output_user_data_ids": [result]},
        "consume": {"input_user_data_ids": [result]},
    })
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    (job,) = flow.claim(wf)
    flow.start(job["id"], node)
    flow.put(f"/user_data/{result}", {"workflow_id": wf, "name": "result", "data": {"value": 42}})  # as the job would
    flow.complete(job["id"], wf, node)
    run_all(flow, wf, node)
    assert changed(flow, wf) == []
    flow.put(f"/user_data/{params}", {"workflow_id": wf, "name": "params", "data": {"alpha": 2}})
    assert changed(flow, wf) == ["produce"]
    assert flow.post(f"/workflows/{wf}/process_changed_job_inputs")["reinitialized_jobs"] == ["produce"]
    assert flow.statuses(wf) == {"produce": "uninitialized", "consume": "completed"}
    flow.post(f"/workflows/{wf}/initialize_jobs", params={"only_uninitialized": True})
    assert flow.statuses(wf) == {"produce": "ready", "consume": "blocked"}
    assert changed(flow, wf) == [] and ids


def test_implicit_edges_that_appear_at_initialize_are_fingerprinted(flow):
    """``write`` becomes the writer of ``read``'s input: the new edge is stored and fingerprinted
    by the next full initialize, so it is not reported as a change afterwards."""
    wf = flow.workflow()
    data = flow.post("/files", {"workflow_id": wf, "name": "data", "path": "data.csv"})["id"]
    ids = flow.make_jobs(wf, {"write": {}, "read": {"input_file_ids": [data]}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert changed(flow, wf) == []
    flow.put(f"/jobs/{ids['write']}", {"workflow_id": wf, "name": "write", "command": "echo write", "output_file_ids": [data]})
    flow.post(f"/workflows/{wf}/reset_job_status")
    flow.post(f"/workflows/{wf}/initialize_jobs")
    assert flow.statuses(wf) == {"write": "ready", "read": "blocked"}
    assert changed(flow, wf) == []


def snapshot(flow, wf: int) -> tuple:
    files = {f["id"]: f["st_mtime"] for f in flow.get("/files", params={"workflow_id": wf})["items"]}
    return flow.run_id(wf), flow.statuses(wf), files


def test_reinitialize_applies_the_whole_plan_in_one_transaction(flow):
    wf = flow.workflow()
    raw = flow.post("/files", {"workflow_id": wf, "name": "raw", "path": "raw", "st_mtime": 1.0})["id"]
    ids = flow.make_jobs(wf, {"a": {"input_file_ids": [raw]}, "b": {"depends_on": ["a"]}, "c": {}, "d": {"depends_on": ["c"]}, "e": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    run_all(flow, wf, node)
    flow.put(f"/jobs/{ids['c']}", {"workflow_id": wf, "name": "c", "command": "echo changed"})
    answer = flow.post(f"/workflows/{wf}/reinitialize", {"run_id": 1, "reset_job_ids": [ids["a"]], "file_mtimes": [{"file_id": raw, "st_mtime": 2.5}]})
    assert answer == {"workflow_id": wf, "run_id": 2, "num_ready": 2, "num_canceled": 0, "reinitialized_jobs": ["c"]}
    assert snapshot(flow, wf) == (2, {"a": "ready", "b": "blocked", "c": "ready", "d": "blocked", "e": "completed"}, {raw: 2.5})
    events = flow.get("/events", params={"workflow_id": wf, "category": "workflow_reinitialized"})["items"]
    assert events[-1]["data"]["run_id"] == 2 and events[-1]["data"]["num_ready"] == 2


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"run_id": 7}, 409, "run_id 7 is not the workflow's current run 1"),
        ({"run_id": 1, "reset_job_ids": [999999]}, 422, "reset_job_ids: [999999] not found"),
        ({"run_id": 1, "file_mtimes": [{"file_id": 999999, "st_mtime": 3.0}]}, 422, "file_mtimes: [999999] not found"),
        ({"run_id": 1, "busy": True}, 409, "1 pending or running jobs"),
    ],
    ids=["stale-run", "unknown-job", "unknown-file", "jobs-running"],
)
def test_a_refused_reinitialize_changes_nothing(flow, body, status, message):
    wf = flow.workflow()
    raw = flow.post("/files", {"workflow_id": wf, "name": "raw", "path": "raw", "st_mtime": 1.0})["id"]
    ids = flow.make_jobs(wf, {"a": {"input_file_ids": [raw]}, "b": {"depends_on": ["a"]}, "other": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    body = dict(body)  # the parameters are shared by both backends' runs
    busy = body.pop("busy", False)
    while jobs := flow.claim(wf):
        for job in jobs:
            if not (busy and job["name"] == "other"):  # left pending: a worker holds it
                flow.run_one(wf, job["id"], node)
    flow.put(f"/jobs/{ids['b']}", {"workflow_id": wf, "name": "b", "command": "echo changed"})
    before = snapshot(flow, wf)
    request = {"reset_job_ids": [ids["a"]], "file_mtimes": [{"file_id": raw, "st_mtime": 2.0}], **body}
    assert message in flow.post(f"/workflows/{wf}/reinitialize", request, expect=status)["message"]
    assert snapshot(flow, wf) == before
    assert changed(flow, wf) == ["b"], "the changed job was not consumed by the refused request"
