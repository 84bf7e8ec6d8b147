"""Shared fixtures: a real torc server per database backend, and a fresh database per test.

``backend`` is session-scoped and parametrized, so pytest runs every SQLite test, then every
PostgreSQL test, each against one ``torc-server`` subprocess (gunicorn on a free loopback port).
``api_url`` empties every table before each test, so each test starts from a fresh database.
PostgreSQL must be reachable (``TORC_TEST_POSTGRES_URL``, default the local trust-auth server):
the tests fail rather than skip without it.
"""

import os
import uuid

import pytest

from tests.support.servers import ServerProcess, create_postgres_database, drop_postgres_database

POSTGRES_ADMIN_URL = os.environ.get("TORC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session", autouse=True)
def _no_client_config_files(tmp_path_factory):
    """The developer's or the machine's torc configuration files must not change what tests see
    (in this process and in the torc processes tests start): only a test's own files count."""
    saved = {name: os.environ.get(name) for name in ("TORC_SYSTEM_CONFIG", "XDG_CONFIG_HOME", "TORC_CONFIG")}
    empty = tmp_path_factory.mktemp("no-config")
    os.environ.update(TORC_SYSTEM_CONFIG=str(empty / "system.toml"), XDG_CONFIG_HOME=str(empty))
    os.environ.pop("TORC_CONFIG", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request, tmp_path_factory):
    """(name, database URL) of a new, empty database of each kind."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path_factory.mktemp("sqlite") / "torc.db")
        return
    name = f"torc_test_{uuid.uuid4().hex[:12]}"
    url = create_postgres_database(POSTGRES_ADMIN_URL, name)
    yield "postgres", url
    drop_postgres_database(POSTGRES_ADMIN_URL, name)


@pytest.fixture(scope="session")
def server(backend):
    """A running torc-server subprocess for the backend; stopped with SIGTERM at the end.

    Its lost-worker sweeper is off: the tests that expire leases recover them with an explicit
    ``sync_status`` and assert its report, which a sweep in between would take from them. Tests of
    the sweeper start their own server."""
    _, url = backend
    with ServerProcess(url, extra_args=["--lost-worker-check-seconds", "0"]) as process:
        yield process


@pytest.fixture
def api_url(server):
    """Base URL of the API (``http://127.0.0.1:PORT/torc-service/v1``) over a database emptied for this test."""
    server.clear_database()
    return server.api_url
