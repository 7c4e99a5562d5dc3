"""Move the data to another database — SQLite → PostgreSQL when a plant outgrows one machine (spec
05_ops "Scale-out"; runbook sop/ops/sqlite-to-postgresql.md).

The target is created and migrated beforehand (`DATABASE_URL=<target> flask db upgrade`), so it has the
very schema of this release with its triggers (the audit table's append-only guard among them); the
copy refuses a target that is not at the source's migration or that holds data. Every table is copied
in dependency order, in batches, ids as they are, in one transaction of the target (a failure leaves it
empty); the sequences of the target are then set past the highest id; finally every table is compared —
row counts and content digests, read through the models' column types so that SQLite's and
PostgreSQL's values compare equal (ops/inventory.py).
"""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from flask_appbuilder import Model
from sqlalchemy import Table, create_engine, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import Connection, Engine

from .backup import BackupError, backend_of, safe_url
from .inventory import database_state, differences, migration_revision

BATCH = 2000
# written by the migrations themselves: present in every freshly migrated database
MIGRATION_ROWS = {"security_version"}


@dataclass
class CopyResult:
    tables: int
    rows: int
    seconds: float


def _engine(url: str, source: bool) -> Engine:
    backend_of(url)  # SQLite or PostgreSQL only
    # hide_parameters: an error message must not print the rows (password hashes, e-mails)
    if source and url.startswith("postgresql"):  # one snapshot for the copy and the check
        return create_engine(url, isolation_level="REPEATABLE READ", hide_parameters=True)
    return create_engine(url, hide_parameters=True)


def check_target(source: Connection, target: Connection) -> None:
    """The target is another database, migrated to the source's revision, and empty."""
    revision = migration_revision(source)
    if revision is None:
        raise BackupError("The current database was never migrated: nothing to copy.")
    target_revision = migration_revision(target)
    if target_revision != revision:
        raise BackupError(f"The target is at migration {target_revision}, the current database at {revision}: "
                          "create the target database and run `DATABASE_URL=<target> flask db upgrade` (this "
                          "release's code) first.")
    tables = [t for t in Model.metadata.sorted_tables if t.name in set(inspect(target).get_table_names())]
    holding = [t.name for t in tables if t.name not in MIGRATION_ROWS
               and target.execute(select(func.count()).select_from(t)).scalar_one()]
    if holding:
        raise BackupError(f"The target is not empty ({', '.join(holding[:8])}{' …' if len(holding) > 8 else ''} hold "
                          "rows): copy only into a new, freshly migrated database.")


def _set_sequences(target: Connection) -> None:
    """PostgreSQL: every sequence behind a column default past the column's highest value."""
    rows = target.execute(text(
        "SELECT table_name, column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'")).all()
    for table, column, default in rows:
        match = re.match(r"nextval\('([^']+)'", default)
        if match:
            target.execute(text(f'SELECT setval(\'{match.group(1)}\', coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'))


@contextmanager
def _copy_failure() -> Iterator[None]:
    try:
        yield
    except DBAPIError as error:  # the target's transaction rolled back: it is as empty as before
        raise BackupError(f"The copy failed and the target was left empty: {error.orig}") from error


def copy_database(source_url: str, target_url: str, *, say: Callable[[str], None] = lambda _: None,
                  progress: Optional[Callable[[int, int], None]] = None) -> CopyResult:
    """Copy every row of the current database into an empty, migrated target, then verify every
    table. Refusals and a failed verification raise BackupError (the target left empty, or as copied
    for inspection when only the verification failed)."""
    if source_url == target_url:
        raise BackupError("The target is the current database.")
    started = time.monotonic()
    src_engine, dst_engine = _engine(source_url, True), _engine(target_url, False)
    try:
        with src_engine.connect() as source:
            with dst_engine.connect() as target:
                check_target(source, target)
            present = set(inspect(source).get_table_names())
            tables = [t for t in Model.metadata.sorted_tables if t.name in present]
            counts = {t.name: source.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
            total = sum(counts.values())
            say(f"Copying {total} rows of {len(tables)} tables from {safe_url(source_url)} to {safe_url(target_url)} …")
            copied = 0

            def tick(rows: int) -> None:
                nonlocal copied
                copied += rows
                if progress:
                    progress(copied, total)

            with _copy_failure(), dst_engine.begin() as target:
                for table in MIGRATION_ROWS:
                    target.execute(Model.metadata.tables[table].delete())
                for table in tables:
                    _copy_table(source, target, table, tick)
                if target.dialect.name == "postgresql":
                    _set_sequences(target)
            say("Verifying every table (row counts and content digests) …")
            expected = {name: state.to_dict() for name, state in database_state(source).items()}
            source.rollback()
        with dst_engine.connect() as target:
            problems = differences(expected, database_state(target))
            _check_append_only(target, problems)
        if problems:
            raise BackupError("The copy does not match the current database: " + "; ".join(problems[:20]))
        return CopyResult(len(tables), total, time.monotonic() - started)
    finally:
        src_engine.dispose()
        dst_engine.dispose()


def _copy_table(source: Connection, target: Connection, table: Table, tick: Callable[[int], None]) -> None:
    """One table in primary-key order, in batches. A row's reference to a row of the same table (a user
    changed by a user created later, a message that duplicates another) is written once every row of
    the table is in: the foreign key holds at every statement, on SQLite and PostgreSQL alike."""
    order = list(table.primary_key.columns) or list(table.columns)
    own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    kept = [c.name for c in table.columns if c.onupdate is not None]  # an UPDATE would renew them
    later: list[dict] = []
    batch: list[dict] = []
    result = source.execute(select(table).order_by(*order).execution_options(yield_per=BATCH))
    for row in result.mappings():
        values = dict(row)
        refs = {name: values[name] for name in own if values[name] is not None}
        if refs:
            later.append({**{f"pk_{c.name}": values[c.name] for c in table.primary_key.columns},
                          **refs, **{name: values[name] for name in kept}})
            values.update(dict.fromkeys(refs))
        batch.append(values)
        if len(batch) >= BATCH:
            target.execute(table.insert(), batch)
            tick(len(batch))
            batch = []
    if batch:
        target.execute(table.insert(), batch)
        tick(len(batch))
    for values in later:
        where = [c == values[f"pk_{c.name}"] for c in table.primary_key.columns]
        target.execute(table.update().where(*where).values(
            {name: value for name, value in values.items() if not name.startswith("pk_")}))


def _check_append_only(target: Connection, problems: list[str]) -> None:
    """The audit table refuses changes on the target too (its trigger came with the migrations)."""
    if not target.execute(text("SELECT 1 FROM audit_event LIMIT 1")).first():
        return
    savepoint = target.begin_nested() if target.in_transaction() else target.begin()
    try:
        target.execute(text("UPDATE audit_event SET action = action"))
        problems.append("audit_event accepted an UPDATE: its append-only trigger is missing")
    except DBAPIError as error:
        if "append-only" not in str(error.orig):
            problems.append(f"audit_event: the append-only probe failed otherwise: {error.orig}")
    finally:
        savepoint.rollback()
