"""CRUD of every workflow-owned resource through the real HTTP server, on SQLite and PostgreSQL."""

import threading

import pytest
import requests

from tests.api.helpers import Http
from tests.support.records import seed_every_kind


@pytest.fixture
def http(api_url):
    return Http(api_url)


def _compute_node(wf):
    return {
        "workflow_id": wf, "hostname": "node1", "pid": 42, "start_time": "2026-01-01T00:00:00Z",
        "num_cpus": 4, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local",
        "scheduler": {"scheduled_compute_node_id": 7},
    }


def _result(wf):
    """A result of the workflow's job "j" (created by ``test_crud_round_trip``'s setup hook)."""
    return {
        "workflow_id": wf, "job_id": JOB_OF_WORKFLOW[wf], "run_id": 1, "attempt_id": 1, "compute_node_id": 1,
        "return_code": 0, "exec_time_minutes": 0.5, "completion_time": "2026-01-01T00:00:00Z", "status": "completed",
    }


#: workflow id → a job of it, for bodies that reference a job (results).
JOB_OF_WORKFLOW: dict[int, int] = {}

# path, body factory, an update (field, new value)
RESOURCES = {
    "files": ("/files", lambda wf: {"workflow_id": wf, "name": "f1", "path": "data/f1.txt"}, ("path", "data/other.txt")),
    "user_data": ("/user_data", lambda wf: {"workflow_id": wf, "name": "u1", "data": {"a": 1}}, ("data", {"b": [1, 2]})),
    "resource_requirements": (
        "/resource_requirements",
        lambda wf: {"workflow_id": wf, "name": "big", "num_cpus": 8, "memory": "16g", "runtime": "PT2H"},
        ("num_gpus", 2),
    ),
    "slurm_schedulers": (
        "/slurm_schedulers",
        lambda wf: {"workflow_id": wf, "name": "cpu", "account": "acct", "nodes": 1, "walltime": "01:00:00"},
        ("partition", "short"),
    ),
    "local_schedulers": ("/local_schedulers", lambda wf: {"workflow_id": wf, "num_cpus": 4, "memory": "8g"}, ("num_cpus", 2)),
    "events": ("/events", lambda wf: {"workflow_id": wf, "timestamp": 1000, "data": {"category": "user", "message": "hi"}}, ("timestamp", 2000)),
    "compute_nodes": ("/compute_nodes", _compute_node, ("is_active", False)),
    "scheduled_compute_nodes": (
        "/scheduled_compute_nodes",
        lambda wf: {"workflow_id": wf, "scheduler_id": 1234, "scheduler_config_id": 1, "scheduler_type": "slurm", "status": "pending"},
        ("status", "active"),
    ),
    "jobs": ("/jobs", lambda wf: {"workflow_id": wf, "name": "j1", "command": "echo hi"}, ("command", "echo bye")),
    "results": ("/results", _result, ("return_code", 3)),
}


@pytest.fixture
def workflow(http):
    """A new workflow with one job (results need one), as a factory."""

    def make(name="wf"):
        wf = http.workflow(name)
        JOB_OF_WORKFLOW[wf] = http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true"})["id"]
        return wf

    yield make
    JOB_OF_WORKFLOW.clear()


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_crud_round_trip(http, workflow, resource):
    path, body, (field, value) = RESOURCES[resource]
    wf = workflow()
    created = http.post(path, body(wf))
    item_id = created["id"]
    for key, expected in body(wf).items():
        assert created[key] == expected, key
    assert http.get(f"{path}/{item_id}") == created

    listed = http.get(path, params={"workflow_id": wf})
    assert item_id in [item["id"] for item in listed["items"]]
    assert listed["max_limit"] == 10000 and listed["offset"] == 0 and listed["has_more"] is False
    assert listed["count"] == len(listed["items"]) == listed["total_count"]

    updated = http.put(f"{path}/{item_id}", {**body(wf), field: value})
    assert updated[field] == value
    assert http.get(f"{path}/{item_id}")[field] == value

    assert http.delete(f"{path}/{item_id}")["id"] == item_id
    http.get(f"{path}/{item_id}", expect=404)


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_delete_all_of_a_workflow_leaves_other_workflows_alone(http, workflow, resource):
    path, body, _ = RESOURCES[resource]
    wf1, wf2 = workflow("a"), workflow("b")
    http.post(path, body(wf1))
    kept = http.post(path, body(wf2))
    assert http.delete(path, params={"workflow_id": wf1})["count"] >= 1
    remaining = [item["id"] for item in http.get(path, params={"workflow_id": wf1})["items"]]
    if resource == "resource_requirements":
        assert len(remaining) == 1  # the workflow's "default" stays
    elif resource == "jobs":
        assert remaining == [] and http.get("/jobs", params={"workflow_id": wf2})["total_count"] == 2
    else:
        assert remaining == []
    assert http.get(f"{path}/{kept['id']}")["workflow_id"] == wf2


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_list_of_unknown_workflow_is_404(http, resource):
    path = RESOURCES[resource][0]
    answer = http.get(path, expect=404, params={"workflow_id": 999})
    assert "workflow 999 not found" in answer["message"]


def test_workflow_crud_and_status(http):
    wf = http.post("/workflows", {"name": "w", "user": "me", "description": "d", "project": "p"})
    assert wf["timestamp"] and wf["status_id"]
    assert wf["compute_node_wait_for_new_jobs_seconds"] == 90
    assert http.put(f"/workflows/{wf['id']}", {"name": "w2", "user": "me"})["name"] == "w2"
    assert http.get(f"/workflows/{wf['id']}")["description"] == "d"  # left out → kept
    status = http.get(f"/workflows/{wf['id']}/status")
    assert status["run_id"] == 1 and status["is_canceled"] is False and status["is_archived"] is False
    http.put(f"/workflows/{wf['id']}/status", {"is_canceled": False, "run_id": 1, "is_archived": True})
    assert http.get("/workflows", params={"is_archived": True})["total_count"] == 1
    assert http.get("/workflows", params={"is_archived": False})["total_count"] == 0
    assert http.get(f"/workflows/{wf['id']}/is_uninitialized")["is_uninitialized"] is True
    http.put(f"/workflows/{wf['id']}/status", {"is_canceled": False, "run_id": 0}, expect=422)


def test_workflow_list_filters_sort_and_pages(http):
    for i in range(7):
        http.workflow(f"w{i}", user="alice" if i % 2 else "bob")
    assert http.get("/workflows", params={"user": "alice"})["total_count"] == 3
    page = http.get("/workflows", params={"limit": 3, "offset": 3, "sort_by": "name", "reverse_sort": True})
    assert [w["name"] for w in page["items"]] == ["w3", "w2", "w1"]
    assert page["has_more"] is True and page["total_count"] == 7 and page["count"] == 3
    answer = http.get("/workflows", expect=422, params={"sort_by": "nonsense"})
    assert "sort_by" in answer["message"]


def test_limits_above_the_cap_are_capped_not_refused(http):
    wf = http.workflow()
    http.post("/bulk_jobs", {"jobs": [{"workflow_id": wf, "name": f"j{i}", "command": "true"} for i in range(10_001)]})
    page = http.get("/jobs", params={"workflow_id": wf, "limit": 50_000})
    assert page["count"] == len(page["items"]) == 10_000 and page["max_limit"] == 10_000
    assert page["total_count"] == 10_001 and page["has_more"] is True
    rest = http.get("/jobs", params={"workflow_id": wf, "limit": 50_000, "offset": 10_000})
    assert rest["count"] == 1 and rest["has_more"] is False
    assert {j["id"] for j in page["items"]}.isdisjoint(j["id"] for j in rest["items"])
    ids = http.get(f"/workflows/{wf}/job_ids")
    assert ids["count"] == len(ids["job_ids"]) == 10_001 and ids["job_ids"] == sorted(ids["job_ids"])
    assert set(ids["job_ids"]) == {j["id"] for j in page["items"] + rest["items"]}


def test_job_ids_of_a_workflow(http):
    wf, other = http.workflow("a"), http.workflow("b")
    ids = [http.post("/jobs", {"workflow_id": wf, "name": f"j{i}", "command": "true"})["id"] for i in range(3)]
    http.post("/jobs", {"workflow_id": other, "name": "x", "command": "true"})
    assert http.get(f"/workflows/{wf}/job_ids") == {"job_ids": ids, "count": 3}
    assert http.get(f"/workflows/{http.workflow('empty')}/job_ids") == {"job_ids": [], "count": 0}
    assert "not found" in http.get("/workflows/999999/job_ids", expect=404)["message"]


@pytest.mark.parametrize("query", ["job_dependencies", "job_file_relationships", "job_user_data_relationships"])
def test_graph_queries_page_through_every_row_once(http, query):
    wf = http.workflow()
    files = [http.post("/files", {"workflow_id": wf, "name": f"f{i}", "path": f"f{i}"})["id"] for i in range(6)]
    data = [http.post("/user_data", {"workflow_id": wf, "name": f"u{i}"})["id"] for i in range(6)]
    previous = None
    for i in range(6):  # a chain: job i writes f{i}/u{i}, job i+1 reads them and waits for job i
        previous = http.post("/jobs", {
            "workflow_id": wf, "name": f"j{i}", "command": "true",
            "depends_on_job_ids": [previous] if previous else [],
            "output_file_ids": [files[i]], "output_user_data_ids": [data[i]],
            "input_file_ids": [files[i - 1]] if i else [], "input_user_data_ids": [data[i - 1]] if i else [],
        })["id"]
    everything = http.get(f"/workflows/{wf}/{query}")
    assert everything["count"] == everything["total_count"] == (5 if query == "job_dependencies" else 6)
    rows, offset = [], 0
    while True:
        page = http.get(f"/workflows/{wf}/{query}", params={"offset": offset, "limit": 2})
        assert page["total_count"] == everything["total_count"] and page["count"] == len(page["items"]) <= 2
        rows += page["items"]
        offset += page["count"]
        if not page["has_more"]:
            break
    assert rows == everything["items"]
    capped = http.get(f"/workflows/{wf}/{query}", params={"limit": 50_000})
    assert capped["max_limit"] == 10_000 and capped["items"] == everything["items"]


def test_deleting_a_workflow_deletes_everything_it_owns(http, server):
    doomed = seed_every_kind(http.session, http.base)
    kept = seed_every_kind(http.session, http.base)
    wf = doomed["workflow"]
    before = server.rows_of_workflow(wf)
    empty = sorted(table for table, count in before.items() if count == 0)
    assert not empty, f"seed_every_kind left these tables empty, so the test would prove nothing for them: {empty}"
    kept_before = server.rows_of_workflow(kept["workflow"])

    http.delete(f"/workflows/{wf}")

    assert server.rows_of_workflow(wf) == dict.fromkeys(before, 0)
    assert server.rows_of_workflow(kept["workflow"]) == kept_before
    http.get(f"/workflows/{wf}", expect=404)
    for kind, path in [("job", "/jobs"), ("file", "/files"), ("user_data", "/user_data"), ("result", "/results"),
                       ("event", "/events"), ("compute_node", "/compute_nodes"), ("local_scheduler", "/local_schedulers"),
                       ("scheduled_compute_node", "/scheduled_compute_nodes"), ("slurm_scheduler", "/slurm_schedulers"),
                       ("failure_handler", "/failure_handlers"), ("resource_requirements", "/resource_requirements")]:
        http.get(f"{path}/{doomed[kind]}", expect=404)
        assert http.get(f"{path}/{kept[kind]}")["workflow_id"] == kept["workflow"]
    # The access group is not the workflow's: it stays, only the link to the workflow goes.
    assert http.get(f"/access_groups/{doomed['access_group']}")["id"] == doomed["access_group"]
    assert [g["id"] for g in http.get(f"/workflows/{kept['workflow']}/access_groups")["items"]] == [kept["access_group"]]


def test_default_resource_requirements_are_protected(http):
    wf = http.workflow()
    (default,) = http.get("/resource_requirements", params={"workflow_id": wf})["items"]
    assert default["name"] == "default" and default["num_cpus"] == 1 and default["runtime"] == "P0DT1M"
    assert "default" in http.post("/resource_requirements", {"workflow_id": wf, "name": "default"}, expect=409)["message"]
    http.delete(f"/resource_requirements/{default['id']}", expect=409)
    http.put(f"/resource_requirements/{default['id']}", {"workflow_id": wf, "name": "renamed"}, expect=422)
    rr = http.post("/resource_requirements", {"workflow_id": wf, "name": "small"})
    http.post("/resource_requirements", {"workflow_id": wf, "name": "small"}, expect=409)
    http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true", "resource_requirements_id": rr["id"]})
    assert "used by 1 job" in http.delete(f"/resource_requirements/{rr['id']}", expect=409)["message"]


@pytest.mark.parametrize("field,value", [("memory", "lots"), ("memory", "12q"), ("runtime", "2 hours"), ("runtime", "P")])
def test_bad_memory_and_runtime_strings_are_422(http, field, value):
    wf = http.workflow()
    answer = http.post("/resource_requirements", {"workflow_id": wf, "name": "r", field: value}, expect=422)
    assert field in answer["message"] and value in answer["message"]


def test_jobs_default_requirements_relationships_and_filters(http):
    wf = http.workflow()
    (default,) = http.get("/resource_requirements", params={"workflow_id": wf})["items"]
    f_in = http.post("/files", {"workflow_id": wf, "name": "in", "path": "in"})["id"]
    f_out = http.post("/files", {"workflow_id": wf, "name": "out", "path": "out"})["id"]
    ud = http.post("/user_data", {"workflow_id": wf, "name": "u"})["id"]
    a = http.post("/jobs", {"workflow_id": wf, "name": "a", "command": "true", "input_file_ids": [f_in], "output_file_ids": [f_out], "output_user_data_ids": [ud]})
    assert a["status"] == "uninitialized" and a["attempt_id"] == 1
    assert a["resource_requirements_id"] == default["id"]
    b = http.post("/jobs", {"workflow_id": wf, "name": "b", "command": "true", "depends_on_job_ids": [a["id"]], "input_file_ids": [f_out], "input_user_data_ids": [ud]})
    assert b["depends_on_job_ids"] == [a["id"]] and b["input_file_ids"] == [f_out]

    def names(**params):
        return [j["name"] for j in http.get("/jobs", params={"workflow_id": wf, **params})["items"]]

    assert names(upstream_job_id=a["id"]) == ["b"]
    assert names(needs_file_id=f_in) == ["a"]
    assert names(status="uninitialized") == ["a", "b"]
    listed = http.get("/jobs", params={"workflow_id": wf, "include_relationships": True})["items"]
    assert listed[1]["depends_on_job_ids"] == [a["id"]]
    assert [f["name"] for f in http.get("/files", params={"workflow_id": wf, "produced_by_job_id": a["id"]})["items"]] == ["out"]
    assert [f["name"] for f in http.get("/files", params={"workflow_id": wf, "is_output": False})["items"]] == ["in"]
    assert [u["name"] for u in http.get("/user_data", params={"workflow_id": wf, "consumer_job_id": b["id"]})["items"]] == ["u"]

    replaced = http.put(f"/jobs/{b['id']}", {"workflow_id": wf, "name": "b", "command": "true", "depends_on_job_ids": []})
    assert replaced["depends_on_job_ids"] == [] and replaced["input_file_ids"] == [f_out]
    http.put(f"/jobs/{b['id']}", {"workflow_id": wf, "name": "b", "command": "true", "depends_on_job_ids": [b["id"]]}, expect=422)
    http.put(f"/jobs/{b['id']}", {"workflow_id": wf, "name": "b", "command": "true", "status": "completed"}, expect=422)


def test_bulk_job_creation_is_all_or_nothing(http):
    wf = http.workflow()
    jobs = [{"workflow_id": wf, "name": f"j{i}", "command": f"echo {i}"} for i in range(2500)]
    created = http.post("/bulk_jobs", {"jobs": jobs})["jobs"]
    assert [j["name"] for j in created] == [f"j{i}" for i in range(2500)]
    assert len({j["id"] for j in created}) == 2500
    bad = [{"workflow_id": wf, "name": "ok", "command": "true"}, {"workflow_id": wf, "name": "bad", "command": "true", "depends_on_job_ids": [10**9]}]
    answer = http.post("/bulk_jobs", {"jobs": bad}, expect=422)
    assert "depends_on_job_ids" in answer["message"]
    assert http.get("/jobs", params={"workflow_id": wf, "limit": 1})["total_count"] == 2500
    mixed = [{"workflow_id": wf, "name": "x", "command": "true"}, {"workflow_id": http.workflow(), "name": "y", "command": "true"}]
    assert "one workflow" in http.post("/bulk_jobs", {"jobs": mixed}, expect=422)["message"]


def test_results_keep_the_latest_per_job(http):
    wf = http.workflow()
    job = http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true"})["id"]

    def result(attempt, rc):
        body = {"workflow_id": wf, "job_id": job, "run_id": 1, "attempt_id": attempt, "compute_node_id": 1, "return_code": rc, "exec_time_minutes": 0.5, "completion_time": "2026-01-01T00:00:00Z", "status": "failed" if rc else "completed"}
        return http.post("/results", body)["id"]

    first, second = result(1, 3), result(2, 0)
    latest = http.get("/results", params={"workflow_id": wf})["items"]
    assert [r["id"] for r in latest] == [second] and latest[0]["status"] == "completed"
    every = http.get("/results", params={"workflow_id": wf, "all_runs": True})["items"]
    assert [r["id"] for r in every] == [first, second]
    assert [r["id"] for r in http.get("/results", params={"workflow_id": wf, "all_runs": True, "return_code": 3})["items"]] == [first]


def test_events_filter_by_category_and_time(http):
    wf = http.workflow()
    http.post("/events", {"workflow_id": wf, "timestamp": 10, "data": {"category": "a"}})
    http.post("/events", {"workflow_id": wf, "timestamp": 20, "data": {"category": "b"}})
    http.post("/events", {"workflow_id": wf, "timestamp": 30, "data": {"category": "a"}})
    assert [e["timestamp"] for e in http.get("/events", params={"workflow_id": wf, "category": "a"})["items"]] == [10, 30]
    assert [e["timestamp"] for e in http.get("/events", params={"workflow_id": wf, "after_timestamp": 15})["items"]] == [20, 30]
    assert http.get(f"/workflows/{wf}/latest_event_timestamp")["timestamp"] == 30


def test_compute_node_filters(http):
    wf = http.workflow()
    http.post("/compute_nodes", _compute_node(wf))
    other = {**_compute_node(wf), "hostname": "node2", "scheduler": {}}
    http.post("/compute_nodes", other)
    assert [n["hostname"] for n in http.get("/compute_nodes", params={"workflow_id": wf, "scheduled_compute_node_id": 7})["items"]] == ["node1"]
    assert [n["hostname"] for n in http.get("/compute_nodes", params={"workflow_id": wf, "hostname": "node2"})["items"]] == ["node2"]


def test_failure_handlers(http):
    wf = http.workflow()
    rules = '[{"exit_codes": [75], "max_retries": 2}]'
    handler = http.post("/failure_handlers", {"workflow_id": wf, "name": "retry", "rules": rules})
    assert http.get(f"/failure_handlers/{handler['id']}")["rules"] == rules
    assert [h["name"] for h in http.get(f"/workflows/{wf}/failure_handlers")["items"]] == ["retry"]
    for bad in ("not json", '{"a": 1}', '[{"exit_codes": ["x"]}]', '[{"retries": 1}]'):
        assert "rules" in http.post("/failure_handlers", {"workflow_id": wf, "name": "x", "rules": bad}, expect=422)["message"]
    http.delete(f"/failure_handlers/{handler['id']}")
    http.get(f"/failure_handlers/{handler['id']}", expect=404)


def test_slurm_scheduler_template_round_trip(http):
    """A scheduler's own sbatch template is stored, returned, changed and cleared; older clients omit it."""
    wf = http.workflow()
    body = {"workflow_id": wf, "name": "gpu", "account": "acct", "nodes": 1, "walltime": "01:00:00"}
    created = http.post("/slurm_schedulers", {**body, "template": "/site/gpu.sh"})
    assert http.get(f"/slurm_schedulers/{created['id']}")["template"] == "/site/gpu.sh"
    assert http.put(f"/slurm_schedulers/{created['id']}", {**body, "template": "site.sh"})["template"] == "site.sh"
    assert http.put(f"/slurm_schedulers/{created['id']}", {**body, "template": None})["template"] is None
    assert http.post("/slurm_schedulers", body)["template"] is None

    spec = {"workflow": {"name": "w", "user": "u"}, "jobs": [{"name": "j", "command": "true"}],
            "slurm_schedulers": [{"name": "cpu", "account": "acct", "template": "/site/cpu.sh"}]}
    from_spec = http.post("/workflows/from_spec", spec)["workflow"]["id"]
    (scheduler,) = http.get("/slurm_schedulers", params={"workflow_id": from_spec})["items"]
    assert (scheduler["name"], scheduler["template"]) == ("cpu", "/site/cpu.sh")


def test_workflow_actions_are_listed_and_not_claimable_before_their_trigger(http):
    wf = http.workflow()
    node = http.post("/compute_nodes", _compute_node(wf))["id"]
    start = {"workflow_id": wf, "trigger_type": "on_workflow_start", "action_type": "run_commands", "action_config": {"commands": ["echo hi"]}}
    once = http.post(f"/workflows/{wf}/actions", start)
    every = http.post(f"/workflows/{wf}/actions", {**start, "trigger_type": "on_worker_start", "persistent": True})
    assert [a["id"] for a in http.get(f"/workflows/{wf}/actions")] == [once["id"], every["id"]]
    assert http.get(f"/workflows/{wf}/actions/pending") == []
    refused = http.post(f"/workflows/{wf}/actions/{once['id']}/claim", {"compute_node_id": node}, expect=409)
    assert "has not fired" in refused["message"]
    http.post(f"/workflows/{wf}/actions/{once['id']}/claim", {"compute_node_id": 10**6}, expect=422)
    http.post(f"/workflows/{wf}/actions/{10**6}/claim", {"compute_node_id": node}, expect=404)
    http.post(f"/workflows/{wf}/actions", {**start, "trigger_type": "sometimes"}, expect=422)
    http.post(f"/workflows/{wf}/actions", {**start, "workflow_id": wf + 1}, expect=422)


def test_an_action_is_claimed_once_when_workers_race(http):
    """Upstream's contract: the winner gets 200 (``claimed``), every other claimer 409."""
    wf = http.workflow()
    start = {"workflow_id": wf, "trigger_type": "on_workflow_start", "action_type": "run_commands", "action_config": {"commands": ["true"]}}
    action = http.post(f"/workflows/{wf}/actions", start)["id"]
    nodes = [http.post("/compute_nodes", {**_compute_node(wf), "hostname": f"n{i}"})["id"] for i in range(8)]
    http.post(f"/workflows/{wf}/initialize_jobs")  # fires on_workflow_start
    barrier = threading.Barrier(len(nodes))
    answers = {}

    def claim(node):
        with requests.Session() as session:
            barrier.wait()
            answers[node] = session.post(f"{http.base}/workflows/{wf}/actions/{action}/claim", json={"compute_node_id": node}, timeout=60)

    threads = [threading.Thread(target=claim, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [node for node, answer in answers.items() if answer.status_code == 200]
    assert len(winners) == 1, {node: answer.status_code for node, answer in answers.items()}
    assert answers[winners[0]].json() == {"action_id": action, "success": True, "claimed": True}
    for node, answer in answers.items():
        if node != winners[0]:
            assert answer.status_code == 409 and f"already claimed by compute node {winners[0]}" in answer.json()["message"]
    (stored,) = http.get(f"/workflows/{wf}/actions")
    assert stored["executed"] is True and stored["executed_by"] == winners[0]


def test_remote_workers(http):
    wf = http.workflow()
    added = http.post(f"/workflows/{wf}/remote_workers", ["alice@host1:2222", "host2", "[::1]:22", "host2"])
    assert [w["worker"] for w in added] == ["alice@host1:2222", "host2", "[::1]:22"]
    http.post(f"/workflows/{wf}/remote_workers", ["host2"])
    assert sorted(w["worker"] for w in http.get(f"/workflows/{wf}/remote_workers")) == sorted(["alice@host1:2222", "host2", "[::1]:22"])
    http.delete(f"/workflows/{wf}/remote_workers/host2")
    http.delete(f"/workflows/{wf}/remote_workers/host2", expect=404)
    assert "worker" in http.post(f"/workflows/{wf}/remote_workers", ["bad host; rm -rf /"], expect=422)["message"]
    http.post(f"/workflows/{wf}/remote_workers", {"not": "a list"}, expect=422)


def test_access_groups(http):
    wf = http.workflow(user="owner")
    group = http.post("/access_groups", {"name": "team", "description": "d"})
    http.post("/access_groups", {"name": "team"}, expect=409)
    http.post(f"/access_groups/{group['id']}/members", {"user_name": "bob", "group_id": group["id"]})
    http.post(f"/access_groups/{group['id']}/members", {"user_name": "bob", "group_id": group["id"]}, expect=409)
    assert [m["user_name"] for m in http.get(f"/access_groups/{group['id']}/members")["items"]] == ["bob"]
    assert [g["name"] for g in http.get("/users/bob/groups")["items"]] == ["team"]
    assert http.get(f"/access_check/{wf}/bob")["has_access"] is False
    http.post(f"/workflows/{wf}/access_groups", {"workflow_id": wf, "group_id": group["id"]})
    assert http.get(f"/access_check/{wf}/bob")["has_access"] is True
    assert http.get(f"/access_check/{wf}/owner")["has_access"] is True
    assert http.get(f"/access_check/{wf}/eve")["has_access"] is False
    assert [g["id"] for g in http.get(f"/workflows/{wf}/access_groups")["items"]] == [group["id"]]
    http.delete(f"/workflows/{wf}/access_groups/{group['id']}")
    http.delete(f"/access_groups/{group['id']}/members/bob")
    http.delete(f"/access_groups/{group['id']}/members/bob", expect=404)
    http.delete(f"/access_groups/{group['id']}")
    http.get(f"/access_groups/{group['id']}", expect=404)


def test_access_group_lists_page_sort_and_cap_like_every_list(http):
    groups = [http.post("/access_groups", {"name": name})["id"] for name in ("b-team", "a-team", "c-team")]
    for group in groups:
        http.post(f"/access_groups/{group}/members", {"user_name": "bob", "group_id": group})
    page = http.get("/access_groups", params={"limit": 50_000})
    assert page["limit"] == 10_000 and page["total_count"] == 3 and page["has_more"] is False
    assert [g["name"] for g in http.get("/access_groups", params={"sort_by": "name"})["items"]] == ["a-team", "b-team", "c-team"]
    first = http.get("/users/bob/groups", params={"limit": 2, "sort_by": "name", "reverse_sort": True})
    assert [g["name"] for g in first["items"]] == ["c-team", "b-team"] and first["has_more"] is True and first["limit"] == 2
    rest = http.get("/users/bob/groups", params={"limit": 2, "offset": 2, "sort_by": "name", "reverse_sort": True})
    assert [g["name"] for g in rest["items"]] == ["a-team"] and rest["has_more"] is False
    assert http.get(f"/access_groups/{groups[0]}/members", params={"limit": 50_000})["limit"] == 10_000
    assert http.get("/access_groups")["limit"] == 100  # upstream's default page size
