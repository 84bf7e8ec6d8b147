"""The torc-server process: port 0, version, where the database comes from, clean SIGTERM,
schema-version refusal, the SQLite settings and the indexes of the hot queries."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.servers import ServerProcess, fresh_database
from torc.api_version import API_VERSION
from torc.db.connection import SCHEMA_VERSION, SQLITE_PRAGMAS, DatabaseError, is_sqlite, open_database
from torc.db.models import SchemaVersion, Workflow

REPO = Path(__file__).resolve().parents[2]
#: The console script pip installed next to this interpreter (what users run).
TORC_SERVER = str(Path(sys.executable).with_name("torc-server"))


@pytest.fixture(params=["sqlite", "postgres"])
def new_database(request, tmp_path):
    """The URL or path of a database no server has touched yet, of each kind."""
    with fresh_database(request.param, tmp_path, POSTGRES_ADMIN_URL) as database:
        yield database


def workflow_names(database: str) -> list[str]:
    db = open_database(database, create=False)
    with db.connection_context():
        names = [w.name for w in Workflow.select().order_by(Workflow.id)]
    db.close()
    return names


def create_workflow(server: ServerProcess, name: str) -> None:
    answer = requests.post(server.api_url + "/workflows", json={"name": name, "user": "u"}, timeout=30)
    assert answer.status_code == 200, answer.text


def test_port_zero_version_and_clean_sigterm(tmp_path):
    server = ServerProcess(str(tmp_path / "t.db")).start()
    with urllib.request.urlopen(server.api_url + "/version", timeout=10) as answer:
        version = json.load(answer)["version"]
    spec = yaml.safe_load((REPO / "api" / "openapi.yaml").read_text())
    assert version == spec["info"]["version"] == API_VERSION
    assert server.stop() == 0
    assert "Shutting down" in server.log_text()


def test_the_installed_script_uses_the_database_named_by_torc_database_url(new_database, tmp_path):
    with ServerProcess(None, command=[TORC_SERVER], env={"TORC_DATABASE_URL": new_database}, cwd=tmp_path) as server:
        create_workflow(server, "from-env")
    assert workflow_names(new_database) == ["from-env"]
    assert not (tmp_path / "torc.db").exists()


def test_without_a_database_option_the_server_uses_torc_db_in_its_working_directory(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "TORC_DATABASE_URL"}
    server = ServerProcess(None, command=[TORC_SERVER], cwd=tmp_path)
    server.env = env
    with server:
        create_workflow(server, "default-path")
    assert workflow_names(str(tmp_path / "torc.db")) == ["default-path"]


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    """A worker's long-poll claim that is waiting when the server gets SIGTERM still gets its answer."""
    server = ServerProcess(str(tmp_path / "t.db"), workers=1).start()
    try:
        base = server.api_url
        wf = requests.post(base + "/workflows", json={"name": "w", "user": "u"}, timeout=30).json()["id"]
        requests.post(base + "/jobs", json={"workflow_id": wf, "name": "j", "command": "true"}, timeout=30)  # never ready
        answers, wait_seconds = {}, 6

        def long_poll():
            try:
                answers["claim"] = requests.post(f"{base}/workflows/{wf}/claim_next_jobs", params={"wait_seconds": wait_seconds}, timeout=60)
            except requests.RequestException as exc:
                answers["error"] = exc

        started = time.monotonic()
        poll = threading.Thread(target=long_poll)
        poll.start()
        time.sleep(1.5)  # the server has long accepted the request and waits inside the handler
        assert poll.is_alive(), answers
        stopped = threading.Thread(target=lambda: answers.setdefault("exit", server.stop()))
        stopped.start()
        poll.join(timeout=60)
        stopped.join(timeout=60)
    finally:
        server.stop()
    assert "error" not in answers, f"the long poll was cut off by SIGTERM: {answers.get('error')}"
    assert answers["claim"].status_code == 200 and answers["claim"].json()["jobs"] == []
    assert time.monotonic() - started >= wait_seconds - 0.5, "the request did not wait: it was not in flight"
    assert answers["exit"] == 0


def test_database_of_another_schema_version_is_refused(new_database):
    db = open_database(new_database)
    with db.connection_context():
        SchemaVersion.update(version=SchemaVersion.version + 1).execute()
    db.close()
    with pytest.raises(DatabaseError, match="schema version"):
        open_database(new_database)
    run = subprocess.run(
        [TORC_SERVER, "run", "--port", "0", "--database", new_database],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert f"database schema version {SCHEMA_VERSION + 1} does not match this torc's version {SCHEMA_VERSION}" in run.stderr
    assert "docs/server.md" in run.stderr
    assert "Schema version and upgrades" in (REPO / "docs" / "server.md").read_text(), "the message points at that section"
    assert "TORC_SERVER_PORT" not in run.stdout, "it must refuse before it listens"


def test_unusable_database_path_is_a_clear_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "torc.api.cli", "run", "--port", "0", "--database", str(tmp_path / "missing" / "t.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0 and "does not exist" in run.stderr and "Traceback" not in run.stderr


def test_sqlite_settings(tmp_path):
    db = open_database(str(tmp_path / "p.db"))
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == SQLITE_PRAGMAS["synchronous"]
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == SQLITE_PRAGMAS["busy_timeout"]
    db.close()


#: The hot queries of claims, completions and graph walks: each must be answerable from an index.
HOT_QUERIES = {
    "jobs of a workflow in a status": "SELECT id FROM job WHERE workflow_id = 1 AND status = 2 ORDER BY id",
    "ready jobs of one requirement class": (
        "SELECT id FROM job WHERE workflow_id = 1 AND status = 2 AND resource_requirements_id = 3 ORDER BY id"
    ),
    "what a job waits for": "SELECT depends_on_job_id FROM job_depends_on WHERE job_id = 1",
    "what waits for a job": "SELECT job_id FROM job_depends_on WHERE depends_on_job_id = 1",
    "readers of a file": "SELECT job_id FROM job_input_file WHERE file_id = 1",
    "writers of a file": "SELECT job_id FROM job_output_file WHERE file_id = 1",
}


@pytest.mark.parametrize("query", sorted(HOT_QUERIES))
def test_hot_queries_are_served_by_an_index(backend, query):
    db = open_database(backend[1])
    with db.connection_context():
        if is_sqlite():
            plan = " | ".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + HOT_QUERIES[query]).fetchall())
            used_index = "SCAN" not in plan and "USING" in plan
        else:
            with db.atomic():  # SET LOCAL: only this transaction plans without sequential scans
                db.execute_sql("SET LOCAL enable_seqscan = off")
                plan = " | ".join(row[0] for row in db.execute_sql("EXPLAIN " + HOT_QUERIES[query]).fetchall())
            used_index = "Index" in plan and "Seq Scan" not in plan
    db.close()
    assert used_index, f"{query}: {plan}"
