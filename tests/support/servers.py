"""Test databases and servers: PostgreSQL databases per session, servers we can empty between tests."""

from urllib.parse import urlparse

from torc.api.launcher import ServerProcess as _ServerProcess
from torc.db.connection import clear_all_tables, open_database


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


class ServerProcess(_ServerProcess):
    """A server whose database the tests can empty between tests."""

    def clear_database(self) -> None:
        db = open_database(self.database)
        clear_all_tables()
        db.close()
