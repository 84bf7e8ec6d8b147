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
