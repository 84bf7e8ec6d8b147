"""Set-based helpers shared by the engine: chunked IN lists and bulk per-row updates."""

from peewee import chunked

from torc.db.connection import database_proxy, is_sqlite

#: Ids per IN (...) list: below SQLite's bound-parameter limit with room for other parameters.
ID_CHUNK = 5000


def in_chunks(ids):
    return chunked(list(ids), ID_CHUNK)


def bulk_update_text(table: str, column: str, pairs: list[tuple[int, str]]) -> None:
    """``UPDATE table SET column = v WHERE id = k`` for many (k, v) pairs in few statements."""
    db = database_proxy.obj
    for chunk in chunked(pairs, ID_CHUNK // 2):
        values = ", ".join(["(?, ?)" if is_sqlite() else "(%s, %s)"] * len(chunk))
        params = [item for pair in chunk for item in pair]
        db.execute_sql(
            f'UPDATE "{table}" SET "{column}" = v.val FROM (VALUES {values}) AS v(key, val) WHERE "{table}".id = v.key'
            if not is_sqlite()
            else f'WITH v(key, val) AS (VALUES {values}) UPDATE "{table}" SET "{column}" = (SELECT val FROM v WHERE v.key = "{table}".id) WHERE id IN (SELECT key FROM v)',
            params,
        )


def changed_rows(cursor) -> int:
    """Rows changed by the statement just run; Python's sqlite3 reports -1 for ``WITH … UPDATE``."""
    if cursor.rowcount >= 0:
        return cursor.rowcount
    return database_proxy.obj.execute_sql("SELECT changes()").fetchone()[0]
