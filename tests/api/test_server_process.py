"""The torc-server process: port 0, version, clean SIGTERM, schema-version refusal."""

import json
import subprocess
import sys
import urllib.request

import peewee
import pytest
import yaml

from pathlib import Path

from tests.support.servers import ServerProcess
from torc.api_version import API_VERSION
from torc.db.connection import DatabaseError, SQLITE_PRAGMAS, open_database
from torc.db.models import SchemaVersion

REPO = Path(__file__).resolve().parents[2]


def test_port_zero_version_and_clean_sigterm(tmp_path):
    server = ServerProcess(str(tmp_path / "t.db")).start()
    with urllib.request.urlopen(server.api_url + "/version", timeout=10) as answer:
        version = json.load(answer)["version"]
    spec = yaml.safe_load((REPO / "api" / "openapi.yaml").read_text())
    assert version == spec["info"]["version"] == API_VERSION
    assert server.stop() == 0
    assert "Shutting down" in server.log_text()


def test_sqlite_settings(tmp_path):
    db = open_database(str(tmp_path / "p.db"))
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == SQLITE_PRAGMAS["synchronous"]
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == SQLITE_PRAGMAS["busy_timeout"]
    db.close()


def test_database_of_another_schema_version_is_refused(tmp_path):
    path = str(tmp_path / "old.db")
    db = open_database(path)
    with db.connection_context():
        SchemaVersion.update(version=SchemaVersion.version + 1).execute()
    db.close()
    with pytest.raises(DatabaseError, match="schema version"):
        open_database(path)
    run = subprocess.run(
        [sys.executable, "-m", "torc.api.cli", "run", "--port", "0", "--database", path],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "schema version" in run.stderr and "Traceback" not in run.stderr


def test_unusable_database_path_is_a_clear_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "torc.api.cli", "run", "--port", "0", "--database", str(tmp_path / "missing" / "t.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0 and "does not exist" in run.stderr and "Traceback" not in run.stderr
