"""``torc workflows create``: every spec format, dry runs, and spec errors as one line."""

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import UPSTREAM_SPECS
from torc import workflow_ops
from torc.spec import load_workflow_spec

DIAMONDS = [UPSTREAM_SPECS / "yaml/diamond_workflow.yaml", UPSTREAM_SPECS / "json/diamond_workflow.json5", UPSTREAM_SPECS / "kdl/diamond_workflow.kdl"]

#: Every upstream example must create a workflow (tests/data/specs/upstream, copied from upstream).
UPSTREAM_EXAMPLES = sorted(
    path for folder in ("yaml", "json", "subgraphs", "kdl") for path in (UPSTREAM_SPECS / folder).iterdir()
)


@pytest.mark.parametrize("spec", DIAMONDS, ids=lambda p: p.suffix)
def test_create_from_each_format(torc, api, spec):
    created = torc.json("workflows", "create", spec)
    assert created["num_jobs"] == 4 and created["num_files"] == 6 and created["name"] == "diamond_workflow"
    wf = created["workflow_id"]
    assert sorted(job.name for job in api.iter_jobs(wf)) == ["postprocess", "preprocess", "work1", "work2"]
    assert {Path(f.path).name for f in api.iter_files(wf)} == {f"f{i}.json" for i in range(1, 7)}


def test_create_prints_the_new_id_and_takes_a_user(torc, api):
    line = torc("workflows", "create", DIAMONDS[0], "--user", "alice").stdout.strip()
    (workflow,) = api.iter_workflows()
    assert line == f"Created workflow {workflow.id} (diamond_workflow) with 4 jobs"
    assert workflow.user == "alice"


@pytest.mark.parametrize("spec", DIAMONDS, ids=lambda p: p.suffix)
def test_dry_run_validates_and_creates_nothing(torc, api, spec):
    summary = torc.json("workflows", "create", spec, "--dry-run")
    assert summary["dry_run"] is True
    assert (summary["jobs"], summary["explicit_edges"], summary["implicit_edges"], summary["files"]) == (4, 0, 4, 6)
    table = torc("workflows", "create", spec, "--dry-run").stdout
    assert "implicit_edges" in table and "jobs" in table
    assert list(api.iter_workflows()) == []


def test_dry_run_needs_no_server(torc):
    torc("workflows", "create", DIAMONDS[0], "--dry-run", url="http://127.0.0.1:9/torc-service/v1")


def test_spec_error_is_one_line_naming_file_job_and_field(torc, api, tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\njobs:\n  - name: a\n    command: echo a\n  - name: b\n    command: echo b\n    depends_on: [nope]\n")
    result = torc("workflows", "create", spec, expect_exit=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(spec) in lines[0] and "job 'b'" in lines[0] and "jobs[1].depends_on" in lines[0] and "nope" in lines[0]
    assert result.stdout == ""
    torc("workflows", "create", spec, "--dry-run", expect_exit=1)
    assert list(api.iter_workflows()) == []


@pytest.mark.parametrize("problem", ["missing.yaml", "spec.txt"])
def test_unreadable_spec_is_one_line(torc, problem):
    result = torc("workflows", "create", problem, expect_exit=1)
    assert len(result.stderr.strip().splitlines()) == 1 and problem in result.stderr


SWEEP = """
name: sweep
files:
  - {name: "out_{i}", path: "results/run_{i:05d}/output.json", parameters: {i: "1:6000"}}
jobs:
  - {name: "sim_{i}", command: "simulate --seed {i} > ${files.output.out_{i}}", parameters: {i: "1:6000"}}
  - {name: summary, command: summarize, input_file_regexes: ["^out_"]}
"""


def run_create(api_url: str, spec: Path, stderr) -> subprocess.CompletedProcess:
    """``torc workflows create`` as its own process, stderr going to ``stderr``."""
    argv = [sys.executable, "-m", "torc.cli.main", "--url", api_url, "workflows", "create", str(spec)]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=120, check=True)


def test_progress_bars_on_a_terminal_and_silence_when_piped(api_url, tmp_path):
    """stderr on a pseudo-terminal: a bar per phase (jobs expanded and resolved, bytes uploaded),
    ticking seconds while the server creates the jobs. stderr on a pipe: nothing."""
    spec = tmp_path / "sweep.yaml"
    spec.write_text(SWEEP)
    piped = run_create(api_url, spec, subprocess.PIPE)
    assert piped.stderr == "" and piped.stdout.startswith("Created workflow")

    controller, terminal = pty.openpty()
    try:
        shown = run_create(api_url, spec, terminal)
        os.close(terminal)
        terminal = None
        screen = b""
        while select.select([controller], [], [], 0.5)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the other end is closed and everything was read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    text = screen.decode(errors="replace")
    assert shown.stdout.startswith("Created workflow") and "6,001 jobs" not in shown.stdout
    for phase in ("Reading", "Expanding jobs", "Resolving jobs", "Preparing 6,001 jobs", "Uploading", "Creating 6,001 jobs on the server"):
        assert phase in text, f"{phase!r} not shown: {text[-2000:]!r}"
    assert re.search(r"Expanding jobs\s+\[#+-*\]\s+\d+%", text), "no bar was drawn"
    assert re.search(r"Uploading [0-9.]+ MB to \S+\s+\[#{10,}\]\s+100%", text), "the upload bar did not finish"
    assert re.search(r"Creating 6,001 jobs on the server \.\.\. [0-9.]+ s", text)


def test_upload_progress_reports_every_byte(api, tmp_path):
    expanded = load_workflow_spec(tmp_path.joinpath("sweep.yaml").write_text(SWEEP) and tmp_path / "sweep.yaml")
    records = workflow_ops.spec_records(expanded)
    reports = []
    created = api.create_workflow_from_records(records, on_upload=lambda sent, total: reports.append((sent, total)))
    assert created.num_jobs == 6001 and created.num_files == 6000
    total = len(json.dumps(records, separators=(",", ":")).encode())  # the compact body the client sends
    assert reports[0] == (0, total) and reports[-1] == (total, total) and len(reports) > 2
    assert all(a[0] < b[0] for a, b in zip(reports, reports[1:])), "bytes sent only grow"


@pytest.mark.parametrize("spec", UPSTREAM_EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_upstream_example_creates(torc, api, spec):
    created = torc.json("workflows", "create", spec)
    wf = created["workflow_id"]
    assert created["num_jobs"] > 0
    assert api.jobs.list_jobs(wf, limit=0).total_count == created["num_jobs"]
    implicit = torc.json("workflows", "create", spec, "--dry-run")["implicit_edges"]
    edges = list(api.iter_items(api.workflows.list_job_dependencies, wf))
    assert len(edges) == created["num_dependencies"] + implicit, "explicit and implicit edges are stored at creation"
    # The fingerprints stored at creation are the ones the server computes from what it stored.
    assert api.workflows.process_changed_job_inputs(wf, dry_run=True).reinitialized_jobs == []
    api.workflows.initialize_jobs(wf)
    assert api.workflows.process_changed_job_inputs(wf, dry_run=True).reinitialized_jobs == []
