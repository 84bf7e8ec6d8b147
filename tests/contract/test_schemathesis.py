"""The spec tells the truth: schemathesis fuzzes every operation of the emitted OpenAPI document
against a live server, on SQLite and on PostgreSQL, with valid and with invalid requests.

Two runs per operation and backend:

* **positive** (``test_valid_requests_get_documented_answers``): schemathesis' coverage phase sends
  schema-valid boundary values (minimum and maximum integers, empty and long strings, optional
  fields left out) and its fuzzing phase has seeded, derandomized Hypothesis generate
  ``POSITIVE_EXAMPLES`` more schema-valid requests;
* **negative** (``test_invalid_requests_are_refused_as_documented``): requests that break the
  document (wrong types, out-of-range values, missing required fields, unknown methods),
  ``NEGATIVE_EXAMPLES`` fuzzed ones plus the coverage phase's; they must be refused with a 4xx.

Every answer must pass:

* ``not_a_server_error``: no 5xx, whatever arrives;
* ``explicit_status_code_conformance`` (below): a 4xx is one the operation lists. schemathesis' own
  ``status_code_conformance`` accepts any status once an operation documents ``default``, which
  every operation here does (the error body of 5xx answers), so it could never fail;
* ``content_type_conformance``: the body is ``application/json`` as documented;
* ``response_schema_conformance``: the body validates against the documented schema (error bodies
  too: every 4xx documents the error schema);
* ``response_headers_conformance``: documented headers are present and valid;
* negative run only: ``negative_data_rejection`` (an invalid request is never accepted: the server
  is as strict as its document) and ``unsupported_method`` (405 with an ``Allow`` header).

Random ids would almost always miss and only exercise the 404 paths, so before each operation a
fresh small workflow is seeded (jobs, files, user data, schedulers, nodes,
results, events, an action, an access group); a strategy hook then swaps, in about half of the
generated cases, the ids in paths, queries and bodies for the seeded ones, so handlers run their
real code (inserts with arbitrary strings and integers, state transitions, claims) too.

Bounds (about two minutes for both runs and both backends on 2 busy cores): a fixed number of
fuzzed requests per operation, no shrinking (failures are reported as found; the seed makes them
reproducible), a ``REQUEST_TIMEOUT`` per request as the deadline (Hypothesis' own deadline stays
off: it measures network and database latency, which is noise here) and pytest-timeout per
operation. There is no time budget after which operations would be skipped: every operation is
fuzzed in every run. The only skips are schemathesis' own "Impossible to generate negative test
cases" for the negative run of operations without any input (``GET /ping``, ``GET /version``),
reported after their coverage phase (requests with undeclared methods) has run and passed.

Not exclusions of operations, but two adjustments to what is generated, both for the API's semantics:
``wait_seconds`` of the claim endpoints is a long poll (the server sleeps up to 60 s when nothing
can be claimed, as documented), so the test caps it at 0.1 s; and only the checks above run:
schemathesis' other defaults (``positive_data_acceptance``, ``use_after_free``, ...) assume that
every schema-valid request succeeds or that the API is stateless REST, which this API does not
promise (e.g. a job cannot depend on itself, a membership's ``group_id`` must equal the path's).
"""

import os

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
)

from tests.support.records import seed_every_kind
from torc.api.openapi import build_spec

#: Deeper local runs: TORC_SCHEMATHESIS_EXAMPLES=200 TORC_SCHEMATHESIS_NEGATIVE_EXAMPLES=50 TORC_SCHEMATHESIS_SEED=7
SEED = int(os.environ.get("TORC_SCHEMATHESIS_SEED", "20260101"))
POSITIVE_EXAMPLES = int(os.environ.get("TORC_SCHEMATHESIS_EXAMPLES", "15"))
NEGATIVE_EXAMPLES = int(os.environ.get("TORC_SCHEMATHESIS_NEGATIVE_EXAMPLES", "5"))
REQUEST_TIMEOUT = 10


@schemathesis.check
def explicit_status_code_conformance(ctx, response, case):
    """Every 4xx answer is one the operation lists explicitly (``default`` does not count)."""
    if case.method.upper() != case.operation.method.upper():
        return  # a probe with another HTTP method: 405 is right, and unsupported_method checks it
    status = response.status_code
    listed = [code for code in case.operation.responses.status_codes if code != "default"]
    if status < 500 and str(status) not in listed and f"{status // 100}XX" not in listed:
        raise AssertionError(f"{case.operation.label} answered {status}, which it does not document (documented: {', '.join(listed)})")


POSITIVE_CHECKS = [
    not_a_server_error,
    explicit_status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection, unsupported_method]


def load_schema(mode: str, max_examples: int):
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": mode,
                "max-examples": max_examples,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )
    return schemathesis.openapi.from_dict(build_spec(), config=config)


positive = load_schema("positive", POSITIVE_EXAMPLES)
negative = load_schema("negative", NEGATIVE_EXAMPLES)

#: Ids (and names) of the seeded records, filled by the ``seeded`` fixture before each operation's examples.
KNOWN: dict[str, int | str] = {}

#: First path segment → which seeded id a path's ``{id}`` means.
ID_BY_COLLECTION = {
    "workflows": "workflow",
    "jobs": "job",
    "files": "file",
    "user_data": "user_data",
    "resource_requirements": "resource_requirements",
    "results": "result",
    "events": "event",
    "compute_nodes": "compute_node",
    "scheduled_compute_nodes": "scheduled_compute_node",
    "slurm_schedulers": "slurm_scheduler",
    "local_schedulers": "local_scheduler",
    "failure_handlers": "failure_handler",
    "access_groups": "access_group",
}

#: Parameter or body field name → seeded value (besides the path's own ``{id}``).
ID_BY_NAME = {
    "user_name": "user_name",
    "worker": "worker",
    "workflow_id": "workflow",
    "job_id": "job",
    "compute_node_id": "compute_node",
    "group_id": "access_group",
    "action_id": "action",
    "run_id": "run_id",
    "resource_requirements_id": "resource_requirements",
    "scheduler_id": None,  # a Slurm job id on scheduled nodes, a scheduler on jobs: leave random
    "failure_handler_id": "failure_handler",
    "scheduler_config_id": "slurm_scheduler",
}


def _with_known_ids(values, collection: str | None):
    if not isinstance(values, dict) or not KNOWN:
        return values
    values = dict(values)
    for name in values:
        key = ID_BY_COLLECTION.get(collection) if name == "id" else ID_BY_NAME.get(name)
        if key in KNOWN:
            values[name] = KNOWN[key]
    return values


def _half_known(context, strategy):
    collection = context.operation.path.strip("/").split("/")[0]
    return st.one_of(strategy, strategy.map(lambda values: _with_known_ids(values, collection)))


for _schema in (positive, negative):
    for _location in ("path_parameters", "body", "query"):
        _schema.hook(f"before_generate_{_location}")(_half_known)


def _no_long_poll(case) -> None:
    """Claims wait up to ``wait_seconds`` (at most 60 s) when nothing can be claimed: cap it at 0.1 s."""
    try:
        too_long = float(case.query["wait_seconds"]) > 0.1
    except (KeyError, TypeError, ValueError):
        too_long = False
    if too_long:
        case.query["wait_seconds"] = 0.1


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def live(backend, server):
    """(backend name, base URL) of the backend's server over a database emptied once.

    Not emptied per operation (``api_url`` would): TRUNCATE of every table costs a second on a busy
    PostgreSQL, and what earlier operations left behind only makes the answers more varied.
    """
    server.clear_database()
    return backend[0], server.api_url


@pytest.fixture
def seeded(live, http):
    """The live server's base URL, with a freshly seeded workflow whose ids are in ``KNOWN``."""
    _, url = live
    KNOWN.clear()
    KNOWN.update(seed_every_kind(http, url))
    yield url
    KNOWN.clear()


SETTINGS = hypothesis.settings(deadline=None, suppress_health_check=list(HealthCheck))


@positive.parametrize()
@SETTINGS
def test_valid_requests_get_documented_answers(case, seeded, http):
    _no_long_poll(case)
    case.call_and_validate(base_url=seeded, session=http, checks=POSITIVE_CHECKS, timeout=REQUEST_TIMEOUT)


@negative.parametrize()
@SETTINGS
def test_invalid_requests_are_refused_as_documented(case, seeded, http):
    _no_long_poll(case)
    case.call_and_validate(base_url=seeded, session=http, checks=NEGATIVE_CHECKS, timeout=REQUEST_TIMEOUT)
