"""What a database holds, table by table: row counts and content digests that compare equal across
copies of the same data — a backup and its restore, a SQLite database and its PostgreSQL copy.

A digest reads every row of a table in primary-key order through the model's column types (so a UTC
time read back from SQLite and from PostgreSQL is the same value) and hashes one canonical JSON line
per row — over the model's columns the database has (an older migration's database lacks the newer
ones). Tables the models do not know (e.g. a newer release's) are counted, not digested.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

from flask_appbuilder import Model
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

SKIPPED = ("alembic_version", "sqlite_sequence", "sqlite_stat1")


@dataclass(frozen=True)
class TableState:
    rows: int
    sha256: Optional[str] = None  # None when not digested

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def table_names(conn: Connection) -> list[str]:
    """The application's tables present in the database, in dependency order (parents first), then
    any table the models do not know, by name."""
    present = set(inspect(conn).get_table_names()) - set(SKIPPED)
    known = [t.name for t in Model.metadata.sorted_tables if t.name in present]
    return known + sorted(present - set(known))


def table_state(conn: Connection, name: str, *, digest: bool = True) -> TableState:
    table = Model.metadata.tables.get(name)
    if table is None:
        count = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
        return TableState(count)
    if not digest:
        return TableState(conn.execute(select(func.count()).select_from(table)).scalar_one())
    # the model's columns that this database has: a database at an older migration (a backup taken
    # before the upgrade, an older backup restored) lacks the newer ones
    present = {column["name"] for column in inspect(conn).get_columns(name)}
    columns = [c for c in table.columns if c.name in present]
    order = [c for c in table.primary_key.columns if c.name in present] or columns
    hasher, rows = hashlib.sha256(), 0
    result = conn.execute(select(*columns).order_by(*order).execution_options(yield_per=5000))
    for row in result:
        hasher.update(json.dumps([_canonical(v) for v in row], separators=(",", ":"), default=str).encode())
        hasher.update(b"\n")
        rows += 1
    return TableState(rows, hasher.hexdigest())


def database_state(conn: Connection, *, digest: bool = True) -> dict[str, TableState]:
    """Every table's state (in one transaction of `conn`: a consistent view)."""
    return {name: table_state(conn, name, digest=digest) for name in table_names(conn)}


def migration_revision(conn: Connection) -> Optional[str]:
    """The database's Alembic revision (None when it was never migrated)."""
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def differences(expected: dict[str, dict], actual: dict[str, TableState]) -> list[str]:
    """What differs between a recorded state ({table: {rows, sha256}}) and a database's state."""
    out = []
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if want is None:
            out.append(f"{name}: not in the backup, {have.rows} row(s) here")
        elif have is None:
            out.append(f"{name}: missing ({want['rows']} row(s) in the backup)")
        elif want["rows"] != have.rows:
            out.append(f"{name}: {have.rows} row(s), the backup has {want['rows']}")
        elif want.get("sha256") and have.sha256 and want["sha256"] != have.sha256:
            out.append(f"{name}: same row count, different content")
    return out
