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


#: Explicit, implicit (file, user data) and duplicate edges, ephemeral data, a job-triggered action.
RICH_SPEC = {
    "jobs": [
        job("prep", output_files=["raw"], output_user_data=["params"]),
        job("a", input_files=["raw"], depends_on=["prep", "prep"]),
        job("b", input_user_data=["params"], depends_on=["prep"]),
        job("report", depends_on=["a", "b"], input_user_data=["scratch"]),
        job("lone"),
    ],
    "files": [{"name": "raw", "path": "raw.txt"}],
    "user_data": [{"name": "params", "data": {"x": 1}}, {"name": "scratch", "data": [1, 2], "is_ephemeral": True}],
    "actions": [{"trigger_type": "on_jobs_ready", "action_type": "run_commands", "job_names": ["a", "b"], "action_config": {"commands": ["x"]}}],
}


def run_state(flow, wf):
    """What a client can see of a workflow: job statuses, the start event, actions, user data."""
    (event,) = flow.get("/events", params={"workflow_id": wf, "category": "workflow_started"})["items"]
    (action,) = flow.get(f"/workflows/{wf}/actions")
    pending = flow.get(f"/workflows/{wf}/actions/pending")
    data = {u["name"]: u["data"] for u in flow.get("/user_data", params={"workflow_id": wf})["items"]}
    return flow.statuses(wf), event["data"], (action["executed"], len(pending)), data


def test_create_with_initialize_is_create_then_initialize(flow):
    one = flow.post("/workflows/from_spec", records(**RICH_SPEC), params={"initialize": "true"})
    two = flow.post("/workflows/from_spec", records(**RICH_SPEC))
    assert one["num_ready"] == 2 and two.get("num_ready") is None
    assert flow.post(f"/workflows/{two['workflow']['id']}/initialize_jobs")["num_ready"] == 2
    first, second = one["workflow"]["id"], two["workflow"]["id"]
    assert run_state(flow, first) == run_state(flow, second)
    statuses, event, triggers, data = run_state(flow, first)
    assert statuses == {"prep": "ready", "a": "blocked", "b": "blocked", "report": "blocked", "lone": "ready"}
    assert event["num_ready"] == 2 and triggers == (False, 0) and data["scratch"] is None
    # The counters creation wrote release each job exactly when its last upstream ends.
    for wf in (first, second):
        node, order, pending = flow.node(wf), [], []
        while claimed := flow.claim(wf):
            for j in sorted(claimed, key=lambda j: j["name"]):
                flow.run_one(wf, j["id"], node)
                order.append(j["name"])
                pending.append(len(flow.get(f"/workflows/{wf}/actions/pending")))
        assert pending == [0, 1, 1, 1, 1], "the action on a and b fires once both are ready"
        assert order == ["lone", "prep", "a", "b", "report"] and set(flow.statuses(wf).values()) == {"completed"}
        assert flow.get(f"/workflows/{wf}/is_complete")["is_complete"] is True


def test_create_with_initialize_is_all_or_nothing(flow):
    bad = {**RICH_SPEC, "jobs": [*RICH_SPEC["jobs"], job("z", depends_on=["nope"])]}
    flow.post("/workflows/from_spec", records(**bad), params={"initialize": "true"}, expect=422)
    nothing_left(flow)
    answer = flow.post("/workflows/from_spec", records(**RICH_SPEC), params={"initialize": "maybe"}, expect=422)
    assert "initialize" in answer["message"]
    nothing_left(flow)


#: Text that a CSV or COPY encoder could get wrong: separators, quotes, escapes, line ends, empty.
AWKWARD = ["a,b", 'say "hi"', "back\\slash \\N \\.", "tab\there", "two\nlines\r\n\\.\nend", " ", "", "ünï €"]


def test_every_text_value_is_stored_as_given(flow):
    jobs = [job(f"j{i}", command=text or "x", invocation_script=text) for i, text in enumerate(AWKWARD)]
    jobs.append(job("none", invocation_script=None))
    created = flow.post("/workflows/from_spec", records(jobs, slurm_schedulers=[{"name": "s", "account": "", "partition": None}]))
    wf = created["workflow"]["id"]
    stored = {j["name"]: (j["command"], j["invocation_script"]) for j in flow.get("/jobs", params={"workflow_id": wf})["items"]}
    assert stored == {**{f"j{i}": (text or "x", text) for i, text in enumerate(AWKWARD)}, "none": ("echo none", None)}
    (scheduler,) = flow.get("/slurm_schedulers", params={"workflow_id": wf})["items"]
    assert (scheduler["account"], scheduler["partition"]) == ("", None), "an empty string is not NULL"
