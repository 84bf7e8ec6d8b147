"""Work a database does for a piece of engine code, counted by the database itself, not the clock.

On SQLite, the virtual-machine instructions executed (a progress handler called for every one);
on PostgreSQL, the table rows read (``pg_stat_xact_user_tables`` of the current transaction).
Both grow with the rows a query steps over, so a test can assert that an operation costs the
same however large the workflow is, without timing anything.
"""

from torc.db.connection import database_proxy, is_sqlite

ROWS_READ = "SELECT COALESCE(SUM(seq_tup_read), 0) + COALESCE(SUM(idx_tup_fetch), 0) FROM pg_stat_xact_user_tables"


def work_of(operation) -> tuple[int, object]:
    """(work, result) of ``operation()``, run inside the caller's transaction."""
    db = database_proxy.obj
    if is_sqlite():
        steps = [0]

        def count():
            steps[0] += 1
            return 0

        db.connection().set_progress_handler(count, 1)
        try:
            result = operation()
        finally:
            db.connection().set_progress_handler(None, 1)
        return steps[0], result
    before = db.execute_sql(ROWS_READ).fetchone()[0]
    result = operation()
    return int(db.execute_sql(ROWS_READ).fetchone()[0] - before), result
