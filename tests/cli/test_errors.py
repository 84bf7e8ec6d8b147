"""Failures are one line on stderr with a non-zero exit code, never a traceback."""

import socket

import pytest

from tests.cli.conftest import CLI_SPECS


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("workflows", "get", 999),
        ("workflows", "status", 999),
        ("workflows", "initialize", 999),
        ("workflows", "cancel", 999),
        ("workflows", "reinitialize", 999),
        ("workflows", "reinitialize", 999, "--dry-run"),
        ("workflows", "reset-status", 999),
        ("workflows", "sync-status", 999),
        ("jobs", "list", 999),
        ("results", "list", 999),
        ("events", "list", 999),
        ("files", "list", 999),
        ("user-data", "list", 999),
    ],
    ids=lambda args: " ".join(map(str, args[:2])),
)
def test_unknown_workflow(torc, args):
    result = torc(*args, expect_exit=1)
    assert result.stderr.strip() == "Error: workflow 999 not found"
    assert torc("-f", "json", *args, expect_exit=1).stdout == ""


def test_unknown_job(torc):
    assert torc("jobs", "get", 4242, expect_exit=1).stderr.strip() == "Error: job 4242 not found"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/torc-service/v1"


def test_unreachable_server_names_the_url(torc):
    url = closed_port_url()
    result = torc("--retry-seconds", "0", "workflows", "list", url=url, expect_exit=1)
    assert_one_line_error(result, f"cannot reach the torc server at {url}", "Connection refused")


def test_unreachable_server_retries_then_fails(torc):
    url = closed_port_url()
    result = torc("--retry-seconds", "0.5", "--log-level", "error", "workflows", "create", CLI_SPECS / "two_pipelines.yaml", url=url, expect_exit=1)
    assert_one_line_error(result, url, "gave up after")


def test_out_of_range_paging_is_one_line_naming_the_option(torc):
    """An offset beyond what the API allows (the generated client checks the documented bound
    before sending) is one line naming the parameter."""
    wf = torc.create(CLI_SPECS / "two_pipelines.yaml")
    result = torc("jobs", "list", wf, "--offset", 2**40, expect_exit=1)
    assert_one_line_error(result, "offset")


def test_usage_errors_exit_2(torc):
    assert torc("workflows", "get", "not-a-number", expect_exit=2).exit_code == 2
    assert torc("jobs", "list", 1, "--status", "sleeping", expect_exit=2).exit_code == 2
    assert "not in the range" in torc("jobs", "get", 2**40, expect_exit=2).stderr
