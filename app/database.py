"""Connection-level settings every engine gets (the app's, Alembic's, the CLI's).

SQLite: WAL, foreign keys, a busy timeout, and pysqlite's implicit transaction handling replaced by
explicit BEGINs (SQLAlchemy's documented recipe). That makes migrations transactional (pysqlite does
not BEGIN before DDL) and lets a unit of work ask for `BEGIN IMMEDIATE` (take the write lock up front,
so two writers queue on the busy timeout instead of failing on a snapshot upgrade). Plain reads keep a
deferred BEGIN, so they never serialise.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

IMMEDIATE = "mes_begin_immediate"
_busy_timeout_ms = 10000


def configure(busy_timeout_ms: int) -> None:
    global _busy_timeout_ms
    _busy_timeout_ms = busy_timeout_ms


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record):
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(_busy_timeout_ms)}")
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
    except dbapi_connection.OperationalError:
        pass  # a read-only connection (a backup file being verified) keeps the file's journal mode
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA temp_store = MEMORY")  # the reports' GROUP BY sorts: in memory, not temp files
    cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get(IMMEDIATE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
