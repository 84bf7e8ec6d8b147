"""Opening the database: SQLite (embedded default) or PostgreSQL, one code path for both.

``open_database`` turns a path or a ``postgresql://`` URL into a peewee database, binds the models
to it through ``database_proxy``, creates the tables of a new database and refuses a database
created by another schema version (no silent corruption: see docs/server.md and ``torc.db.migrations`` for upgrades).
"""

import contextlib
import os
from urllib.parse import unquote, urlparse

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase

#: Bump when a model changes in a way an existing database does not have.
SCHEMA_VERSION = 3

DEFAULT_SQLITE_PATH = "torc.db"

database_proxy = pw.DatabaseProxy()


class DatabaseError(Exception):
    """The database cannot be used (unreachable, wrong schema version, bad URL)."""


#: SQLite settings: WAL lets readers run beside the one writer; ``synchronous=NORMAL`` is safe
#: with WAL; the busy timeout makes concurrent writers wait instead of failing at once.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": 1,
    "busy_timeout": 45000,
}


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def make_database(target: str | None = None, *, max_connections: int = 32) -> pw.Database:
    """Build (but do not connect) the peewee database for a SQLite path or a PostgreSQL URL."""
    target = target or os.environ.get("TORC_DATABASE_URL") or DEFAULT_SQLITE_PATH
    if is_postgres_url(target):
        url = urlparse(target)
        name = unquote(url.path.lstrip("/"))
        if not name:
            raise DatabaseError(f"PostgreSQL URL {target!r} names no database")
        return PooledPostgresqlDatabase(
            name,
            user=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            host=url.hostname or "localhost",
            port=url.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
        )
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///"):]
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise DatabaseError(f"cannot create SQLite database {target!r}: directory {directory!r} does not exist")
    return pw.SqliteDatabase(target, pragmas=SQLITE_PRAGMAS, timeout=45, check_same_thread=False)


def open_database(target: str | None = None, *, create: bool = True, max_connections: int = 32) -> pw.Database:
    """Make the database, bind the models to it, create or verify the schema."""
    from torc.db.models import ALL_MODELS, SchemaVersion

    db = make_database(target, max_connections=max_connections)
    database_proxy.initialize(db)
    try:
        with db.connection_context():
            if not db.table_exists(SchemaVersion._meta.table_name):
                if not create:
                    raise DatabaseError("the database has no torc schema")
                with write_transaction():
                    db.create_tables(ALL_MODELS)
                    if not SchemaVersion.select().exists():
                        SchemaVersion.create(version=SCHEMA_VERSION)
            found = SchemaVersion.select(SchemaVersion.version).scalar()
            if found != SCHEMA_VERSION:
                raise DatabaseError(
                    f"database schema version {found} does not match this torc's version {SCHEMA_VERSION}; "
                    "back it up and upgrade it with 'python -m torc.db.migrations DATABASE' (docs/server.md) before starting the server"
                )
    except pw.OperationalError as exc:
        raise DatabaseError(f"cannot open database {describe(target)}: {exc}") from exc
    return db


def describe(target: str | None) -> str:
    """The database target without a password, for messages."""
    target = target or os.environ.get("TORC_DATABASE_URL") or DEFAULT_SQLITE_PATH
    if is_postgres_url(target):
        url = urlparse(target)
        if url.password:
            return target.replace(f":{url.password}@", ":***@")
    return target


def is_sqlite() -> bool:
    return isinstance(database_proxy.obj, pw.SqliteDatabase)


def write_transaction():
    """A transaction for a read that decides a write.

    On SQLite it starts with ``BEGIN IMMEDIATE`` so the write lock is taken before the read and two
    transactions cannot both read the same state and then both write; PostgreSQL uses row locks
    (``FOR UPDATE``) inside an ordinary transaction instead.
    """
    db = database_proxy.obj
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()


def clear_all_tables() -> None:
    """Delete every row of every table except the schema version (tests start from empty)."""
    from torc.db.models import ALL_MODELS, SchemaVersion

    db = database_proxy.obj
    tables = [m._meta.table_name for m in ALL_MODELS if m is not SchemaVersion]
    with db.connection_context():
        if is_sqlite():
            with db.atomic():
                db.execute_sql("PRAGMA defer_foreign_keys = ON")
                for table in tables:
                    db.execute_sql(f'DELETE FROM "{table}"')
                with contextlib.suppress(pw.OperationalError):
                    db.execute_sql("DELETE FROM sqlite_sequence")
        else:
            quoted = ", ".join(f'"{t}"' for t in tables)
            db.execute_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
