"""Creating a workflow from spec records is atomic, and no way of adding edges can store a cycle."""

import pytest

from tests.engine.flow import Flow


@pytest.fixture
def flow(api_url):
    return Flow(api_url)


def job(name, command=None, **fields):
    return {"name": name, "command": command or f"echo {name}", **fields}


def records(jobs, **parts):
    return {"workflow": {"name": "spec", "user": "tester"}, "jobs": jobs, **parts}


def nothing_left(flow):
    assert flow.get("/workflows")["total_count"] == 0


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        # The last job is bad: everything before it was already inserted in the transaction.
        ({"jobs": [job(f"j{i}") for i in range(200)] + [job("bad", depends_on=["nope"])]}, "job 'bad': unknown job 'nope'"),
        ({"jobs": [job("a", input_files=["missing"])], "files": [{"name": "f", "path": "f"}]}, "unknown file 'missing'"),
        ({"jobs": [job("a", resource_requirements="big")], "resource_requirements": [{"name": "big", "memory": "lots"}]}, "resource_requirements 'big'"),
        ({"jobs": [job("a"), job("a")]}, "duplicate names"),
        ({"jobs": [job("a")], "actions": [{"trigger_type": "on_jobs_ready", "action_type": "run_commands", "job_names": ["zz"]}]}, "unknown job 'zz'"),
    ],
    ids=["unknown-dependency-after-200-jobs", "unknown-file", "bad-memory", "duplicate-job", "unknown-action-job"],
)
def test_a_rejected_spec_leaves_nothing_behind(flow, parts, message):
    answer = flow.post("/workflows/from_spec", records(**parts), expect=422)
    assert message in answer["message"]
    nothing_left(flow)
    for table in ("/jobs", "/files", "/resource_requirements"):
        flow.get(table, params={"workflow_id": 1}, expect=404)


@pytest.mark.parametrize(
    ("jobs", "cycle"),
    [
        ([job("a", depends_on=["c"]), job("b", depends_on=["a"]), job("c", depends_on=["b"])], "a -> b -> c -> a"),
        ([job("a", depends_on=["a"])], "a -> a"),
        # Through a file: b writes what a reads, and b waits for a.
        ([job("a", input_files=["f"]), job("b", output_files=["f"], depends_on=["a"])], "a -> b -> a"),
    ],
    ids=["explicit", "self", "via-file"],
)
def test_the_server_refuses_a_cycle_and_names_it(flow, jobs, cycle):
    answer = flow.post("/workflows/from_spec", records(jobs, files=[{"name": "f", "path": "f"}]), expect=422)
    assert answer["message"] == f"dependency cycle: {cycle}"
    nothing_left(flow)


def test_a_long_chain_listed_backwards_is_no_cycle(flow):
    jobs = [job(f"j{i}", depends_on=[f"j{i + 1}"]) for i in range(2999)] + [job("j2999")]
    created = flow.post("/workflows/from_spec", records(jobs))
    assert created["num_dependencies"] == 2999


def test_an_update_that_closes_a_cycle_is_refused(flow):
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "c": {"depends_on": ["b"]}})
    answer = flow.put(f"/jobs/{ids['a']}", {"workflow_id": wf, "name": "a", "command": "echo a", "depends_on_job_ids": [ids["c"]]}, expect=422)
    assert answer["message"] == "dependency cycle: a -> b -> c -> a"
    assert flow.get(f"/jobs/{ids['a']}")["depends_on_job_ids"] == [], "the refused update changed nothing"


def test_initialize_refuses_a_cycle_through_files_linked_later(flow):
    wf = flow.workflow()
    f = flow.post("/files", {"workflow_id": wf, "name": "f", "path": "f"})["id"]
    g = flow.post("/files", {"workflow_id": wf, "name": "g", "path": "g"})["id"]
    flow.make_jobs(wf, {"a": {"input_file_ids": [f], "output_file_ids": [g]}, "b": {"input_file_ids": [g], "output_file_ids": [f]}})
    answer = flow.post(f"/workflows/{wf}/initialize_jobs", expect=422)
    assert answer["message"] == "dependency cycle: a -> b -> a"
    assert set(flow.statuses(wf).values()) == {"uninitialized"}
    assert flow.get(f"/workflows/{wf}/job_dependencies")["items"] == []
