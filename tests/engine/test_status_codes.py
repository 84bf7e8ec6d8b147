"""Job status names and integer codes are upstream torc's: names in the API, codes in the database."""

from pathlib import Path

import yaml

from tests.engine.flow import Flow
from torc.db.connection import open_database
from torc.db.models import Job
from torc.status import JobStatus

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_SPEC = ROOT / "tests" / "data" / "upstream" / "torc-openapi-v0.12.yaml"

#: Upstream's JobStatus (src/models.rs, torc-reference.md §3). Its OpenAPI enum lists the names of
#: codes 0-9 in code order and lacks pending_failed (10).
UPSTREAM_CODES = {
    "uninitialized": 0, "blocked": 1, "ready": 2, "pending": 3, "running": 4, "completed": 5,
    "failed": 6, "canceled": 7, "terminated": 8, "disabled": 9, "pending_failed": 10,
}


def test_names_and_codes_are_upstreams():
    assert {status.label: int(status) for status in JobStatus} == UPSTREAM_CODES
    upstream_enum = yaml.safe_load(UPSTREAM_SPEC.read_text())["components"]["schemas"]["job_status"]["enum"]
    assert upstream_enum == [name for name, code in sorted(UPSTREAM_CODES.items(), key=lambda item: item[1]) if code < 10]
    enums = list(status_enums(yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())))
    assert len(enums) >= 3 and all(enum == [*upstream_enum, "pending_failed"] for enum in enums)


def status_enums(node):
    """Every enum of job statuses in an OpenAPI document (they are inline in the properties)."""
    if isinstance(node, dict):
        if "uninitialized" in node.get("enum", ()):
            yield node["enum"]
        for value in node.values():
            yield from status_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from status_enums(value)


def test_the_api_speaks_names_and_the_database_stores_codes(backend, api_url):
    flow = Flow(api_url)
    wf = flow.workflow()
    ids = flow.make_jobs(wf, {"a": {}, "b": {"depends_on": ["a"]}, "c": {}, "off": {"status": "disabled"}, "later": {}})
    flow.post(f"/workflows/{wf}/initialize_jobs")
    node = flow.node(wf)
    flow.claim(wf, limit=2)  # a and c
    flow.start(ids["c"], node)
    flow.put(f"/jobs/{ids['later']}/manage_status_change/uninitialized/1")
    expected = {"a": "pending", "b": "blocked", "c": "running", "off": "disabled", "later": "uninitialized"}
    assert flow.statuses(wf) == expected
    db = open_database(backend[1])
    with db.connection_context():
        stored = {name: status for name, status in Job.select(Job.name, Job.status).where(Job.workflow == wf).tuples()}
    assert stored == {name: UPSTREAM_CODES[label] for name, label in expected.items()}
