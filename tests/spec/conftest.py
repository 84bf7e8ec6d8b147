"""Shared helpers for the torc.spec tests: build a spec from a few fields, catch its error."""

from pathlib import Path

import pytest

from torc.spec import ExpandedWorkflow, SpecError, load_workflow_spec


@pytest.fixture
def expand():
    """``expand(jobs, **workflow_fields)`` -> ExpandedWorkflow of a minimal spec."""

    def _expand(jobs: list, **fields) -> ExpandedWorkflow:
        return load_workflow_spec({"name": "wf", "jobs": jobs, **fields}, source_name="spec.yaml")

    return _expand


@pytest.fixture
def spec_error(expand):
    """``spec_error(jobs, **workflow_fields)`` -> the SpecError the spec raises."""

    def _error(jobs: list, **fields) -> SpecError:
        with pytest.raises(SpecError) as info:
            expand(jobs, **fields)
        return info.value

    return _error


@pytest.fixture
def write(tmp_path: Path):
    """``write(name, text)`` -> path of a new file holding ``text``."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def job():
    """``job(workflow, name)`` -> that expanded job's record."""

    def _job(workflow: ExpandedWorkflow, name: str) -> dict:
        return next(record for record in workflow.jobs if record["name"] == name)

    return _job
