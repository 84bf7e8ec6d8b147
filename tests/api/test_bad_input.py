"""Bad requests get a 4xx JSON answer with a message naming the problem: never a 500, never HTML."""

import json
import random
import re
import socket

import pytest
import requests

from tests.api.helpers import Http
from torc.api.base import decimal_at_most


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


def test_unknown_method_lists_the_allowed_ones(http):
    answer = http.session.patch(http.base + "/workflows")
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "POST"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_ids_beyond_32_bits_are_404_whatever_the_method(http, method):
    """Not 405: werkzeug says "method not allowed" when a converter refuses a value after the
    path matched and another method is routed there."""
    body = {"workflow_id": 1, "name": "j", "command": "true"} if method == "PUT" else None
    for ident in (2**31, 10**12):
        answer = http.session.request(method, f"{http.base}/jobs/{ident}", json=body)
        assert answer.status_code == 404, (ident, answer.status_code, answer.text)
        assert answer.headers["Content-Type"].startswith("application/json")
    assert "not found" in http.call(method, f"/jobs/{2**31 - 1}", expect=404, json=body)["message"]


def test_decimal_at_most_matches_exactly_the_numbers_up_to_the_limit():
    for limit in (0, 7, 10, 20, 99, 1000, 3050, 2**31 - 1):
        pattern = re.compile(decimal_at_most(limit) + r"\Z")
        numbers = {*range(min(limit + 30, 4000)), limit, limit + 1, limit * 10, *random.Random(limit).choices(range(20 * limit + 20), k=500)}
        wrong = [n for n in numbers if bool(pattern.match(str(n))) != (n <= limit)]
        assert not wrong, (limit, wrong[:5])


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("compute_node_wait_for_new_jobs_seconds", 2.5, "Not a valid integer."),
        ("compute_node_wait_for_new_jobs_seconds", "30", "Not a valid integer."),
        ("use_pending_failed", 0, "Not a valid boolean."),
        ("use_pending_failed", "yes", "Not a valid boolean."),
    ],
)
def test_json_values_of_the_wrong_json_type_are_refused_not_coerced(http, field, value, message):
    """marshmallow alone would store 2 for 2.5 and read 0 or "yes" as a boolean."""
    answer = http.post("/workflows", {"name": "w", "user": "u", field: value}, expect=422)
    assert f"{field}: {message}" in answer["message"]


def test_whole_numbers_written_as_floats_and_text_query_values_still_work(http):
    created = http.post("/workflows", {"name": "w", "user": "u", "compute_node_wait_for_new_jobs_seconds": 30.0})
    assert created["compute_node_wait_for_new_jobs_seconds"] == 30
    wf = created["id"]
    http.post("/jobs", {"workflow_id": wf, "name": "j", "command": "true", "depends_on_job_ids": []})
    assert "depends_on_job_ids" in http.post("/jobs", {"workflow_id": wf, "name": "k", "command": "true", "depends_on_job_ids": [1.5]}, expect=422)["message"]
    assert http.get("/jobs", params={"workflow_id": str(wf), "include_relationships": "true", "limit": "5"})["count"] == 1


def _raw_http(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are (requests would fix them) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_long_urls_are_served(http):
    """gunicorn's default refuses request lines over 4,094 bytes with an HTML 414."""
    path = "data/" + "x" * 20_000
    wf = http.workflow()
    http.post("/files", {"workflow_id": wf, "name": "long", "path": path})
    assert [f["name"] for f in http.get("/files", params={"workflow_id": wf, "path": path})["items"]] == ["long"]


@pytest.mark.parametrize(
    "request_bytes,status",
    [
        (b"GET /torc-service/v1/ping HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
        (b"GET /torc-service/v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 10_000 + b"\r\n\r\n", 431),
    ],
    ids=["malformed request line", "oversized header"],
)
def test_requests_gunicorn_refuses_get_the_json_error_body(api_url, server, request_bytes, status):
    code, headers, body = _raw_http(server.port, request_bytes)
    assert code == status
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["code"] == payload["errorNum"] == status and payload["message"] and payload["error"]["message"]
