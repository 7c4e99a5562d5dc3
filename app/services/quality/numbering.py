"""Inspection numbers, one sequence per type (FAI-00001…, OQC-00001…): FAI and OQC do not share a
counter. The number is computed in the INSERT itself; on PostgreSQL a transaction-level advisory lock
per type makes two creations in parallel wait for each other instead of taking the same number (SQLite
already holds the database write lock)."""
from __future__ import annotations

from sqlalchemy import func, select, text

from ...models import Inspection
from ..platform.uow import UnitOfWork

_LOCK_KEYS = {"FAI": 7_117_001, "OQC": 7_117_002}
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def next_seq(uow: UnitOfWork, kind: str):
    """The next number of this type, as an SQL expression for the new inspection's `seq`."""
    if uow.connection.dialect.name == "postgresql":
        uow.execute(_ADVISORY_LOCK, {"key": _LOCK_KEYS[kind]})
    return (select(func.coalesce(func.max(Inspection.seq), 0) + 1)
            .where(Inspection.type == kind).scalar_subquery())
