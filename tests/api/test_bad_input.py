"""Bad requests get a 4xx JSON answer with a message naming the problem: never a 500, never HTML."""

import pytest
import requests

from tests.api.helpers import Http


@pytest.fixture
def http(api_url):
    return Http(api_url)


def test_malformed_json_is_400_json(http):
    answer = http.session.post(http.base + "/workflows", data='{"name": ', headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["message"] == "invalid request: json: Invalid JSON body."


@pytest.mark.parametrize(
    "body,needle",
    [
        ({"name": "w"}, "user: Missing data for required field."),
        ({"name": "w", "user": "u", "colour": "red"}, "colour: Unknown field."),
        ({"name": 5, "user": "u"}, "name: Not a valid string."),
        ({"name": "w", "user": "u", "compute_node_wait_for_new_jobs_seconds": "soon"}, "compute_node_wait_for_new_jobs_seconds: Not a valid integer."),
        ({"name": "w", "user": "u", "jobs_sort_method": "random"}, "jobs_sort_method"),
        ({"name": "w", "user": "u", "slurm_defaults": "{not json"}, "slurm_defaults: not valid JSON"),
        ([1, 2], "Invalid input type"),
    ],
)
def test_invalid_bodies_are_422_with_field_messages(http, body, needle):
    answer = http.post("/workflows", body, expect=422)
    assert needle in answer["message"], answer
    assert answer["code"] == 422 and answer["errorMessage"] == answer["message"] and answer["error"]


def test_unknown_ids_are_404(http):
    for path in ("/workflows/12345", "/jobs/12345", "/files/12345", "/results/12345", "/events/12345", "/access_groups/12345"):
        answer = http.get(path, expect=404)
        assert "12345 not found" in answer["message"]
    http.put("/jobs/12345", {"workflow_id": 1, "name": "j", "command": "true"}, expect=404)
    http.delete("/files/12345", expect=404)


def test_references_to_missing_rows_or_other_workflows_are_422(http):
    wf, other = http.workflow("a"), http.workflow("b")
    foreign_file = http.post("/files", {"workflow_id": other, "name": "f", "path": "f"})["id"]
    foreign_rr = http.post("/resource_requirements", {"workflow_id": other, "name": "rr"})["id"]
    job = {"workflow_id": wf, "name": "j", "command": "true"}
    for field, value in (("input_file_ids", [foreign_file]), ("resource_requirements_id", foreign_rr), ("depends_on_job_ids", [999]), ("failure_handler_id", 5)):
        answer = http.post("/jobs", {**job, field: value}, expect=422)
        assert field in answer["message"] and f"workflow {wf}" in answer["message"]
    http.post("/jobs", {**job, "workflow_id": 999}, expect=404)
    http.post("/results", {"workflow_id": wf, "job_id": 999, "run_id": 1, "compute_node_id": 1, "return_code": 0, "exec_time_minutes": 1, "completion_time": "t", "status": "completed"}, expect=422)


def test_moving_a_record_to_another_workflow_is_refused(http):
    wf, other = http.workflow("a"), http.workflow("b")
    file_id = http.post("/files", {"workflow_id": wf, "name": "f", "path": "f"})["id"]
    answer = http.put(f"/files/{file_id}", {"workflow_id": other, "name": "f", "path": "f"}, expect=422)
    assert "workflow_id" in answer["message"]


def test_wrong_types_in_query_strings_are_422(http):
    assert "workflow_id" in http.get("/jobs", expect=422, params={"workflow_id": "abc"})["message"]
    assert "status" in http.get("/jobs", expect=422, params={"workflow_id": 1, "status": "sleeping"})["message"]
    assert "offset" in http.get("/workflows", expect=422, params={"offset": -1})["message"]


def test_unknown_route_and_method_are_json(http):
    answer = http.session.get(http.base + "/nothing-here")
    assert answer.status_code == 404 and answer.json()["code"] == 404
    answer = http.session.patch(http.base + "/workflows")
    assert answer.status_code == 405 and answer.json()["code"] == 405


def test_new_job_with_a_managed_status_is_refused(http):
    wf = http.workflow()
    answer = http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true", "status": "completed"}, expect=422)
    assert "uninitialized or disabled" in answer["message"]
    assert http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true", "status": "disabled"})["status"] == "disabled"


def test_non_json_content_type_is_a_clear_error(http):
    answer = requests.post(http.base + "/workflows", data="name=w", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert answer.status_code in (400, 415, 422)
    assert answer.headers["Content-Type"].startswith("application/json")
