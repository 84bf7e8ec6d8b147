"""Waking long-poll claims when work may have appeared, without holding a transaction.

A claim that finds nothing waits on a per-process :class:`threading.Condition`. It is woken:

- directly, by engine code in the same process that made jobs ready (or completed or canceled a
  workflow): :func:`jobs_changed`;
- by a watcher thread that notices commits made by *other* server processes: on SQLite it reads
  ``PRAGMA data_version`` every few milliseconds (a shared-memory read in WAL mode, no disk I/O);
  on PostgreSQL it ``LISTEN``s on a channel that :func:`jobs_changed` ``NOTIFY``s inside the
  committing transaction, so the wake-up arrives exactly at commit.

Woken claims simply try again; a wake-up that finds nothing new costs one claim query. Waits are
also cut into slices of at most a second so that a lost wake-up can never stall a worker.
"""

import logging
import select
import sqlite3
import threading
from contextlib import contextmanager

import peewee as pw

from torc.db.connection import database_proxy, is_sqlite

logger = logging.getLogger(__name__)

CHANNEL = "torc_jobs_ready"
SQLITE_POLL_SECONDS = 0.005


class WakeupHub:
    def __init__(self):
        self._condition = threading.Condition()
        self._generation = 0
        self._waiting = 0
        self._watcher = None
        self._watcher_lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def waiting(self) -> int:
        """Claims of this process that found nothing and are waiting for work."""
        return self._waiting

    @contextmanager
    def waiter(self):
        """Count a claim as waiting while the block runs."""
        with self._condition:
            self._waiting += 1
        try:
            yield
        finally:
            with self._condition:
                self._waiting -= 1

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen_generation: int, timeout: float) -> None:
        """Return when something changed after ``seen_generation`` or ``timeout`` passed."""
        self._ensure_watcher()
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen_generation, timeout=timeout)

    def _ensure_watcher(self) -> None:
        if self._watcher is not None and self._watcher.is_alive():
            return
        with self._watcher_lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            target = _watch_sqlite if is_sqlite() else _watch_postgres
            self._watcher = threading.Thread(target=target, args=(database_proxy.obj, self), name="torc-wakeup", daemon=True)
            self._watcher.start()


def _watch_sqlite(db: pw.SqliteDatabase, hub: WakeupHub) -> None:
    conn = sqlite3.connect(db.database, check_same_thread=False)
    try:
        last = conn.execute("PRAGMA data_version").fetchone()[0]
        while True:
            threading.Event().wait(SQLITE_POLL_SECONDS)
            current = conn.execute("PRAGMA data_version").fetchone()[0]
            if current != last:
                last = current
                hub.notify()
    except sqlite3.Error:
        logger.exception("SQLite wake-up watcher stopped; long polls fall back to 1 s re-checks")
    finally:
        conn.close()


def _watch_postgres(db: pw.PostgresqlDatabase, hub: WakeupHub) -> None:
    import psycopg2

    try:
        conn = psycopg2.connect(dbname=db.database, **db.connect_params)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"LISTEN {CHANNEL}")
        while True:
            if select.select([conn], [], [], 5.0) == ([], [], []):
                continue
            conn.poll()
            if conn.notifies:
                conn.notifies.clear()
                hub.notify()
    except psycopg2.Error:
        logger.exception("PostgreSQL wake-up watcher stopped; long polls fall back to 1 s re-checks")


HUB = WakeupHub()


def jobs_changed() -> None:
    """Call inside the transaction that made jobs ready or finished/canceled a workflow."""
    if not is_sqlite():
        database_proxy.obj.execute_sql(f"NOTIFY {CHANNEL}")
    HUB.notify()
