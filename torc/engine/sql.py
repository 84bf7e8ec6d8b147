"""Set-based SQL helpers for the hot paths: chunked IN lists, bulk INSERT and bulk UPDATE.

peewee builds a multi-row INSERT value by value in Python, which costs seconds for 100,000 rows.
These helpers hand whole batches to the driver instead: ``executemany`` on SQLite (a C loop over
one prepared statement); on PostgreSQL, ``COPY`` for inserts (the rows written as CSV by the
C ``csv`` module; ``execute_values`` formats each row in Python, which cost 7.3 s against 4.2 s
for 100,000 jobs) and ``execute_values`` for updates (a few large statements).
"""

import csv
import io

from torc.db.connection import database_proxy, is_sqlite

#: Ids per IN (...) list: below SQLite's bound-parameter limit with room for other parameters.
ID_CHUNK = 5000
#: Rows per statement for PostgreSQL's execute_values (updates).
PAGE = 5000


def in_chunks(ids) -> list[list]:
    """Slices of at most ID_CHUNK ids (peewee's ``chunked`` pads every group to full size first,
    which cost milliseconds per one-id call on the claim/complete path)."""
    ids = list(ids)
    return [ids[start:start + ID_CHUNK] for start in range(0, len(ids), ID_CHUNK)]


def _cursor():
    return database_proxy.obj.cursor()


def _columns(columns) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def bulk_insert(table: str, columns: list[str], rows: list[tuple], returning_ids: bool = False) -> list[int]:
    """Insert ``rows`` (tuples in ``columns`` order); return the new ids in row order if asked.

    Must run inside the caller's write transaction. Ids: on SQLite, a table's new rowids are
    ``max(id) + 1, + 2, …`` while this transaction holds the write lock (checked afterwards); on
    PostgreSQL they are drawn from the table's sequence first and inserted explicitly.
    """
    if not rows:
        return []
    cursor = _cursor()
    if is_sqlite():
        start = cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0] + 1 if returning_ids else None
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f'INSERT INTO "{table}" ({_columns(columns)}) VALUES ({marks})', rows)
        if not returning_ids:
            return []
        end = cursor.execute(f'SELECT MAX(id) FROM "{table}"').fetchone()[0]
        if end - start + 1 != len(rows):
            raise RuntimeError(f"bulk insert into {table}: ids are not contiguous")
        return list(range(start, end + 1))
    if returning_ids:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", (len(rows),))
        ids = [row[0] for row in cursor.fetchall()]
        rows = [(new_id, *row) for new_id, row in zip(ids, rows)]
        columns = ["id", *columns]
    else:
        ids = []
    cursor.copy_expert(f'COPY "{table}" ({_columns(columns)}) FROM STDIN WITH (FORMAT csv)', csv_for_copy(rows))
    return ids


def csv_for_copy(rows: list[tuple]) -> io.StringIO:
    """Rows as PostgreSQL's ``COPY ... (FORMAT csv)`` reads them: None is an unquoted empty field
    (NULL), an empty string a quoted one. The ``csv`` module writes both unquoted, so the rare
    rows holding an empty string are written field by field. Order is kept only within each kind
    of row: callers give ids explicitly or do not need them."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(row for row in rows if "" not in row)
    for row in rows:
        if "" in row:
            text.write(",".join('""' if v == "" else "" if v is None else _csv_field(v) for v in row) + "\n")
    text.seek(0)
    return text


def _csv_field(value) -> str:
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow([value])
    return line.getvalue()


def bulk_update(table: str, column: str, pairs: list[tuple[int, object]]) -> None:
    """``UPDATE table SET column = value WHERE id = key`` for many (key, value) pairs."""
    if not pairs:
        return
    cursor = _cursor()
    if is_sqlite():
        cursor.executemany(f'UPDATE "{table}" SET "{column}" = ? WHERE id = ?', [(value, key) for key, value in pairs])
        return
    from psycopg2.extras import execute_values

    execute_values(
        cursor,
        f'UPDATE "{table}" SET "{column}" = v.val FROM (VALUES %s) AS v(key, val) WHERE "{table}".id = v.key',
        pairs,
        page_size=PAGE,
    )


_CACHED_SQL: dict[tuple, str] = {}


def first(model, key: str, build, params: tuple):
    """The first ``model`` row of a fixed-shape query, or None; its SQL is built by peewee once per
    database kind (``build()`` with placeholder values, no LIMIT: peewee makes that a parameter
    too) and reused with ``params``. Building SQL
    costs peewee ~0.2–0.4 ms per statement, a large share of a claim or completion request."""
    cache_key = (key, type(database_proxy.obj))
    if cache_key not in _CACHED_SQL:
        _CACHED_SQL[cache_key] = build().sql()[0]
    return next(iter(model.raw(_CACHED_SQL[cache_key], *params)), None)


def rows(sql: str, params=()) -> list[tuple]:
    """Raw query results as tuples (no model instances: the fast path for large reads)."""
    return execute(sql, params).fetchall()


def marks(count: int) -> str:
    """``count`` bound-parameter placeholders of the current database (``?`` on SQLite, ``%s`` on
    PostgreSQL), comma-separated: hot-path SQL is written once and runs on both."""
    return ", ".join([database_proxy.obj.param] * count)


def execute(sql: str, params=()):
    """Run one statement of hot-path SQL on the current database; returns the cursor."""
    return database_proxy.obj.execute_sql(sql, params)


def ids_of(sql: str, params=()) -> list[int]:
    """The first column of every row, e.g. the ids an ``UPDATE … RETURNING id`` changed."""
    return [row[0] for row in rows(sql, params)]


def exists(sql: str, params=()) -> bool:
    """Whether ``SELECT 1 … LIMIT 1``-style ``sql`` finds a row."""
    return execute(sql, params).fetchone() is not None


def row_lock() -> str:
    """Suffix locking the rows a claim reads: none on SQLite (``BEGIN IMMEDIATE`` already holds the
    write lock), ``FOR UPDATE OF job SKIP LOCKED`` on PostgreSQL (claimers take disjoint rows)."""
    return "" if is_sqlite() else " FOR UPDATE OF job SKIP LOCKED"


def pinned_sort_key(column: str, value: int) -> tuple[str, str]:
    """``(WHERE term, ORDER BY prefix)`` for "``column`` is ``value``" in a query ordered by the
    columns after ``column`` in a composite index, written so that PostgreSQL walks that index.

    With ``status = 2 … ORDER BY id``, PostgreSQL's planner may walk the primary key instead and
    filter whenever its statistics say most jobs are ready (as right after a large workflow is
    created and analyzed): midway through a run it then steps over every claimed or finished job
    below the first ready one, 18 ms instead of 0.2 ms per claim with 30,000 of 100,000 jobs
    claimed. A one-value range keeps the column in the sort key, which only the composite index
    provides. SQLite picks indexes by their columns, and a range would end its use of the index
    at that column, so it keeps the equality.
    """
    if is_sqlite():
        return f"{column} = {value}", ""
    return f"{column} BETWEEN {value} AND {value}", f"{column}, "


def changed_rows(cursor) -> int:
    """Rows changed by the statement just run; Python's sqlite3 reports -1 for ``WITH … UPDATE``."""
    if cursor.rowcount >= 0:
        return cursor.rowcount
    return database_proxy.obj.execute_sql("SELECT changes()").fetchone()[0]


#: Rows written at once above which PostgreSQL's planner statistics are refreshed at once.
ANALYZE_THRESHOLD = 10_000


def refresh_statistics(rows_written: int) -> None:
    """After a bulk load, let PostgreSQL's planner know the tables grew (autovacuum would only
    notice later), so the next queries of the same request use indexes and hash joins."""
    if rows_written >= ANALYZE_THRESHOLD and not is_sqlite():
        database_proxy.obj.execute_sql("ANALYZE job, job_depends_on, job_input_file, job_output_file")
