"""Counting what the hot path sends to the database (issue 16's statement budget): used by
tests/api/test_statement_budget.py (through support.py) and by tests/perf/counts.py. No app imports:
counts.py measures other checkouts with it too."""
from __future__ import annotations

from sqlalchemy import event


class StatementCounter:
    """The statements requests send to the database, as the hot path's budget counts them (issue 16):
    every cursor execution (an executemany is one: SQLAlchemy sends it as one multi-row INSERT), plus
    on PostgreSQL the BEGIN psycopg sends by itself before a transaction's first statement (SQLite's
    BEGIN [IMMEDIATE] is a cursor execution of ours already). COMMIT is not counted; the pool's
    pre-ping (`pool_pre_ping`, one `SELECT 1` when a request takes a connection) is counted apart, in
    `pings`. `log` keeps the statements' text when `keep` is set."""

    def __init__(self, engine, *, keep: bool = False) -> None:
        self.engine, self.keep = engine, keep
        self.n, self.pings, self.log = 0, 0, []
        self._postgres = engine.dialect.name == "postgresql"

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        self.n += 1
        if self.keep:
            self.log.append(" ".join(statement.split()))

    def _begin(self, conn):
        if self._postgres:
            self.n += 1
            if self.keep:
                self.log.append("BEGIN (psycopg)")

    def _checkout(self, dbapi_connection, record, proxy):
        self.pings += 1

    def __enter__(self) -> "StatementCounter":
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        if self.engine.pool._pre_ping:
            event.listen(self.engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)
        if event.contains(self.engine.pool, "checkout", self._checkout):
            event.remove(self.engine.pool, "checkout", self._checkout)

    def take(self) -> int:
        """The statements counted since the last take (and start over)."""
        n, self.n, self.log = self.n, 0, []
        return n
