"""Test databases and servers: PostgreSQL databases per session, servers we can empty between tests."""

import contextlib
import uuid
from urllib.parse import urlparse

from torc.api.launcher import ServerProcess as _ServerProcess
from torc.db.connection import clear_all_tables, open_database
from torc.db.models import ALL_MODELS


def create_postgres_database(admin_url: str, name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return urlparse(admin_url)._replace(path=f"/{name}").geturl()


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@contextlib.contextmanager
def fresh_database(kind: str, directory, postgres_admin_url: str):
    """The path or URL of a database no server has touched yet: a SQLite file in ``directory`` or a
    new PostgreSQL database (dropped afterwards)."""
    if kind == "sqlite":
        yield str(directory / "fresh.db")
        return
    name = f"torc_test_{uuid.uuid4().hex[:12]}"
    url = create_postgres_database(postgres_admin_url, name)
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, name)


class ServerProcess(_ServerProcess):
    """A server whose database the tests can empty between tests."""

    def clear_database(self) -> None:
        db = open_database(self.database)
        clear_all_tables()
        db.close()

    def rows_of_workflow(self, workflow_id: int) -> dict[str, int]:
        """Table name → number of rows that belong to the workflow, for every table with a workflow column."""
        db = open_database(self.database)
        with db.connection_context():
            counts = {
                model._meta.table_name: model.select().where(model.workflow == workflow_id).count()
                for model in ALL_MODELS
                if "workflow" in model._meta.fields
            }
        db.close()
        return counts
