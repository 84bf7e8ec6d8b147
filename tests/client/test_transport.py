"""The client layer against fake socket servers: version check, retries, errors (no database)."""

import logging
import time
import warnings
from pathlib import Path

import pytest
import yaml

from tests.client.fake_servers import DroppingServer, FakeTorcServer, LateServer, free_port
from torc.api_version import API_VERSION
from torc.client import (
    REPEATABLE_OPERATIONS,
    ApiException,
    RetryPolicy,
    TorcApi,
    TorcConnectionError,
    TorcVersionError,
    TorcVersionWarning,
    describe_error,
    make_api,
)
from torc.client import transport
from torc.client.api import generated_api_classes
from torc.openapi_client.models import ClaimActionRequest, WorkflowModel

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(total_seconds=5, initial_delay=0.05, max_delay=0.5)
MAJOR, MINOR = (int(part) for part in API_VERSION.split(".")[:2])


@pytest.fixture(scope="module")
def spec_operations() -> dict[str, tuple[str, str]]:
    """operationId → (METHOD, tag) of the checked-in spec."""
    spec = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    return {
        op["operationId"]: (method.upper(), op["tags"][0])
        for item in spec["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


# Shape of TorcApi and of the generated code it relies on


def test_torc_api_has_one_attribute_per_tag(spec_operations):
    tags = {tag for _, tag in spec_operations.values()}
    assert set(generated_api_classes()) == tags
    assert set(TorcApi.__annotations__) == tags, "update the annotations of TorcApi"
    api = make_api("http://127.0.0.1:9/torc-service/v1")
    for tag in tags:
        assert type(getattr(api, tag)).__name__ == TorcApi.__annotations__[tag]
    with pytest.raises(AttributeError):
        api.no_such_tag


def test_every_operation_is_recognised_by_the_retry_hook(spec_operations):
    """The hook reads the operationId off ``_<operationId>_serialize`` (see transport.py)."""
    classes = generated_api_classes()
    for op_id, (_, tag) in spec_operations.items():
        assert hasattr(classes[tag], f"_{op_id}_serialize"), op_id


def test_repeatable_operations_are_writes_of_the_spec_that_create_claim_and_delete_nothing(spec_operations):
    assert REPEATABLE_OPERATIONS <= set(spec_operations), "names must be operationIds of api/openapi.yaml"
    assert not {op for op in REPEATABLE_OPERATIONS if spec_operations[op][0] == "GET"}, "reads are always retried"
    never = ("create_", "add_", "claim_", "complete_", "start_", "retry_", "delete_", "remove_", "initialize_", "manage_")
    assert not {op for op in REPEATABLE_OPERATIONS if op.startswith(never)}


# Version check


def test_other_major_version_fails_clearly():
    with FakeTorcServer(version="99.0.0") as server:
        api = make_api(server.url, retry=FAST)
        with pytest.raises(TorcVersionError) as caught:
            api.system.ping()
        message = str(caught.value)
        assert "99.0.0" in message and API_VERSION in message and server.url in message
        assert server.requests == [("GET", "/torc-service/v1/version")], "nothing else may be sent"
        with pytest.raises(TorcVersionError):  # and it stays refused
            api.system.ping()


def test_newer_minor_version_warns_once():
    with FakeTorcServer(version=f"{MAJOR}.{MINOR + 1}.0") as server:
        api = make_api(server.url, retry=FAST)
        with pytest.warns(TorcVersionWarning, match=rf"{MAJOR}\.{MINOR + 1}\.0"):
            assert api.system.ping().status == "ok"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            api.system.ping()
        assert [path for _, path in server.requests].count("/torc-service/v1/version") == 1


@pytest.mark.parametrize(
    "server_version",
    ["v" + API_VERSION, f"{MAJOR}.{MINOR - 1}.0", f"{MAJOR}.0.0", f"{MAJOR}.{MINOR}.99"],
    ids=["same", "older minor", "oldest minor", "newer patch"],
)
def test_same_or_older_minor_is_silent(server_version):
    assert MINOR >= 1, "pick an older minor by hand once the minor version is 0"
    with FakeTorcServer(version=server_version) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_api(server.url).system.ping().status == "ok"
        assert [path for _, path in server.requests] == ["/torc-service/v1/version", "/torc-service/v1/ping"]


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_version_check_can_be_skipped(how, monkeypatch):
    with FakeTorcServer(version="99.0.0") as server:
        if how == "environment":
            monkeypatch.setenv("TORC_SKIP_VERSION_CHECK", "1")
            api = make_api(server.url)
        else:
            api = make_api(server.url, skip_version_check=True)
        assert api.system.ping().status == "ok"
        assert server.requests == [("GET", "/torc-service/v1/ping")]


def test_environment_configures_url_and_basic_auth(monkeypatch):
    monkeypatch.setenv("TORC_API_URL", "http://example.invalid:1234/torc-service/v1/")
    monkeypatch.setenv("TORC_PASSWORD", "secret")
    monkeypatch.setenv("USER", "alice")
    api = make_api()
    assert api.url == "http://example.invalid:1234/torc-service/v1"
    assert api.api_client.default_headers["Authorization"] == "Basic YWxpY2U6c2VjcmV0"  # alice:secret
    monkeypatch.delenv("TORC_API_URL")
    monkeypatch.delenv("TORC_PASSWORD")
    api = make_api()
    assert api.url == "http://localhost:8080/torc-service/v1"
    assert "Authorization" not in api.api_client.default_headers


# Retries


def test_get_waits_for_a_server_that_starts_late(caplog):
    port = free_port()
    caplog.set_level(logging.WARNING, logger="torc.client")
    with LateServer(port, delay=1.0) as late:
        started = time.monotonic()
        assert make_api(f"http://127.0.0.1:{port}/torc-service/v1", retry=FAST).system.ping().status == "ok"
        assert time.monotonic() - started >= 0.9
        assert late.server.requests == [("GET", "/torc-service/v1/version"), ("GET", "/torc-service/v1/ping")]
    retries = [r for r in caplog.records if r.name == "torc.client" and r.levelno == logging.WARNING]
    assert retries and "Connection refused" in retries[0].getMessage()


def test_post_is_retried_when_the_connection_was_refused():
    """Nothing reached the server, so even a creation may be sent again."""
    port = free_port()
    with LateServer(port, delay=0.5) as late:
        api = make_api(f"http://127.0.0.1:{port}/torc-service/v1", skip_version_check=True, retry=FAST)
        created = api.workflows.create_workflow(WorkflowModel(name="w", user="u"))
        assert created.id == 1
        assert late.server.requests == [("POST", "/torc-service/v1/workflows")]


def test_claim_is_not_retried_after_the_request_was_sent_but_get_is():
    with DroppingServer() as server:
        api = make_api(server.url, skip_version_check=True, retry=RetryPolicy(total_seconds=1, initial_delay=0.05))
        with pytest.raises(TorcConnectionError, match="not retried") as caught:
            api.workflow_actions.claim_action(1, 2, ClaimActionRequest(compute_node_id=3))
        assert len(server.requests) == 1, "a claim must not be sent twice"
        assert server.requests[0].startswith(b"POST /torc-service/v1/workflows/1/actions/2/claim ")
        assert b'"compute_node_id": 3' in server.requests[0]
        assert "claim_action" in describe_error(caught.value)

        server.requests.clear()
        with pytest.raises(TorcConnectionError, match="gave up after"):
            api.workflows.get_workflow(1)
        assert len(server.requests) > 2
        assert all(r.startswith(b"GET /torc-service/v1/workflows/1 ") for r in server.requests)


@pytest.mark.parametrize(
    "call,retried",
    [
        (lambda api: api.jobs.start_job(1, 1, 1), False),  # PUT, but a second copy would be a 409
        (lambda api: api.workflows.delete_workflow(1), False),  # DELETE: a second copy would be a 404
        (lambda api: api.workflows.update_workflow(1, WorkflowModel(name="w", user="u")), True),
        (lambda api: api.compute_nodes.heartbeat_compute_node(1), True),
        (lambda api: api.workflows.reset_job_status(1), True),  # a POST that sets an absolute state
    ],
    ids=["start_job", "delete_workflow", "update_workflow", "heartbeat_compute_node", "reset_job_status"],
)
def test_after_a_broken_connection_only_repeatable_operations_are_sent_again(call, retried):
    with DroppingServer() as server:
        api = make_api(server.url, skip_version_check=True, retry=RetryPolicy(total_seconds=0.5, initial_delay=0.05))
        with pytest.raises(TorcConnectionError, match="gave up after" if retried else "not retried"):
            call(api)
        assert (len(server.requests) > 1) is retried, len(server.requests)


def test_allowlisted_post_is_retried_after_a_broken_connection(monkeypatch):
    monkeypatch.setattr(transport, "REPEATABLE_OPERATIONS", frozenset({"claim_action"}))
    with DroppingServer() as server:
        api = make_api(server.url, skip_version_check=True, retry=RetryPolicy(total_seconds=0.5, initial_delay=0.05))
        with pytest.raises(TorcConnectionError, match="gave up after"):
            api.workflow_actions.claim_action(1, 2, ClaimActionRequest(compute_node_id=3))
        assert len(server.requests) > 1


def test_503_is_retried_then_succeeds(caplog):
    caplog.set_level(logging.WARNING, logger="torc.client")
    with FakeTorcServer(unavailable=2) as server:
        api = make_api(server.url, skip_version_check=True, retry=FAST)
        assert api.workflows.create_workflow(WorkflowModel(name="w", user="u")).id == 1
        assert len(server.requests) == 3
    assert sum("HTTP 503" in r.getMessage() for r in caplog.records) == 2


def test_503_past_the_retry_budget_is_the_server_error():
    with FakeTorcServer(unavailable=1000) as server:
        api = make_api(server.url, skip_version_check=True, retry=RetryPolicy(total_seconds=0.3, initial_delay=0.05))
        with pytest.raises(ApiException) as caught:
            api.system.ping()
        assert caught.value.status == 503
        assert describe_error(caught.value) == "HTTP 503 Service Unavailable: database busy, retry"


def test_retry_time_is_bounded():
    api = make_api(f"http://127.0.0.1:{free_port()}/torc-service/v1", retry=RetryPolicy(total_seconds=0.5, initial_delay=0.1))
    started = time.monotonic()
    with pytest.raises(TorcConnectionError, match="Connection refused"):
        api.system.ping()
    assert time.monotonic() - started < 2


# Error descriptions


def test_describe_error_uses_the_server_message():
    exc = ApiException(status=422, reason="UNPROCESSABLE ENTITY")
    exc.body = '{"code": 422, "status": "Unprocessable Entity", "message": "name: too short", "errors": {"json": {}}}'
    assert describe_error(exc) == "HTTP 422 UNPROCESSABLE ENTITY: name: too short"
    exc.body = "<html>\n proxy error </html>"
    assert describe_error(exc) == "HTTP 422 UNPROCESSABLE ENTITY: <html> proxy error </html>"
    assert describe_error(ValueError("x\ny")) == "ValueError: x y"
