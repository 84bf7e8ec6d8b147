"""Fixtures for CLI tests: ``torc`` runs the command line in-process against the test server.

Every test runs in its own temporary directory (workflow file paths are relative to it) and on a
fresh database of each backend (``api_url`` from tests/conftest.py).
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from torc.cli.main import cli
from torc.client import TorcApi, make_api

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"
UPSTREAM_SPECS = SPECS / "upstream"
CLI_SPECS = SPECS / "cli"


class Torc:
    """``torc("workflows", "list")`` → click ``Result``; fails the test on an unexpected exit code."""

    def __init__(self, url: str):
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args, expect_exit: int = 0, url: str | None = None, input: str | None = None) -> Result:
        argv = ["--url", url or self.url, *map(str, args)]
        result = self.runner.invoke(cli, argv, input=input)
        assert result.exit_code == expect_exit, (
            f"torc {' '.join(argv)} exited {result.exit_code}, expected {expect_exit}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
        )
        return result

    def json(self, *args, **kwargs):
        """Run with ``-f json`` and parse stdout (which must be nothing but JSON)."""
        return json.loads(self("-f", "json", *args, **kwargs).stdout)

    def create(self, spec: Path | str, *args) -> int:
        return self.json("workflows", "create", spec, *args)["workflow_id"]


@pytest.fixture
def torc(api_url, tmp_path, monkeypatch) -> Torc:
    monkeypatch.chdir(tmp_path)
    return Torc(api_url)


@pytest.fixture
def api(api_url) -> TorcApi:
    with make_api(api_url) as api:
        yield api
