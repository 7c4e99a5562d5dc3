"""Upgrade drills (issue 12; runbook sop/ops/upgrade.md), on SQLite and PostgreSQL: a database left
at an older migration with data in it — the demo data, and production history built through the API
by a running server — is upgraded with `flask mes upgrade`; every row it had is still there with every
value, and the audit table is still append-only. A migration that fails stops the upgrade with the
command that brings the backup back, and leaves the database as it was."""
from __future__ import annotations

import pytest
from sqlalchemy import MetaData, create_engine, select, text

from support import flask_cli

# the permission catalogue's tables: sync-roles resets them to this release's catalogue by design
RESET_BY_SYNC = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_permission_view_role"}
AUDIT_TRIGGERS = {"sqlite": {"audit_event_no_update", "audit_event_no_delete"},
                  "postgresql": {"audit_event_no_update_delete", "audit_event_no_truncate"}}


def _reflect(url: str) -> MetaData:
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(bind=engine)
        return meta
    finally:
        engine.dispose()


def copy_rows(source_url: str, target_url: str) -> None:
    """Every row of the source's tables that the (older) target has, with the columns it has."""
    old, new = _reflect(target_url), _reflect(source_url)
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        with source.connect() as src, target.begin() as dst:
            for table in reversed(old.sorted_tables):  # rows the migrations wrote (the security version)
                if table.name != "alembic_version" and dst.execute(select(table).limit(1)).first():
                    dst.execute(table.delete())
            for table in old.sorted_tables:
                if table.name == "alembic_version":
                    continue
                origin = new.tables[table.name]
                keys = [origin.c[c.name] for c in table.primary_key.columns] or [origin.c[table.columns[0].name]]
                rows = src.execute(select(*[origin.c[c.name] for c in table.columns]).order_by(*keys)).mappings().all()
                if rows:
                    dst.execute(table.insert(), [dict(r) for r in rows])
                if target.dialect.name == "postgresql" and "id" in table.primary_key.columns:
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM {table.name}))"))
    finally:
        source.dispose()
        target.dispose()


def rows_by_key(url: str, columns: dict[str, list[str]]) -> dict[str, dict]:
    """{table: {primary key: values of the given columns}}."""
    meta = _reflect(url)
    engine = create_engine(url)
    try:
        out = {}
        with engine.connect() as conn:
            for name, cols in columns.items():
                table = meta.tables[name]
                keys = [c.name for c in table.primary_key.columns] or cols
                result = conn.execute(select(*[table.c[c] for c in cols])).mappings()
                out[name] = {tuple(r[k] for k in keys): tuple(r[c] for c in cols) for r in result}
        return out
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def triggers(url: str) -> set[str]:
    sql = ("SELECT group_concat(name) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
           if url.startswith("sqlite") else
           "SELECT string_agg(tgname, ',') FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass AND NOT tgisinternal")
    return set((scalar(url, sql) or "").split(",")) - {""}


def old_database(history, empty_database, revision: str) -> tuple[str, dict[str, list[str]]]:
    """A database migrated to `revision`, holding the history's rows; and its tables' columns."""
    target = empty_database()
    migrated = flask_cli(target, "db", "upgrade", revision)
    assert migrated.returncode == 0, migrated.stderr
    copy_rows(history.url, target)
    meta = _reflect(target)
    return target, {t.name: [c.name for c in t.columns] for t in meta.sorted_tables if t.name != "alembic_version"}


@pytest.mark.parametrize("revision", ["0001_foundation", "0003_production", "0004_readiness_loading"])
def test_an_upgrade_keeps_every_row_and_the_audit_triggers(history, empty_database, tmp_path, revision):
    target, columns = old_database(history, empty_database, revision)
    before = rows_by_key(target, columns)
    assert before["audit_event"] and before["ab_user"] and before["product"]
    if revision != "0001_foundation":
        assert before["track"] and before["unit"] and before["defect"]

    done = flask_cli(target, "mes", "upgrade", "--backup-dir", str(tmp_path / "backups"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Upgrade complete" in done.stdout and scalar(target, "SELECT version_num FROM alembic_version") != revision
    assert list((tmp_path / "backups").glob("linemes-*.json"))  # it backed up first
    after = rows_by_key(target, columns)
    for table, rows in before.items():
        if table not in RESET_BY_SYNC:
            assert after[table] == rows, table  # every row, every value it had
    backend = "sqlite" if target.startswith("sqlite") else "postgresql"
    assert triggers(target) == AUDIT_TRIGGERS[backend] == triggers(history.url)
    engine = create_engine(target)
    try:
        with pytest.raises(Exception, match="append-only|audit"):
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_event SET action = 'CHANGED'"))
    finally:
        engine.dispose()
    check = flask_cli(target, "mes", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_failing_migration_stops_the_upgrade_and_changes_nothing(history, empty_database, tmp_path):
    target, columns = old_database(history, empty_database, "0004_readiness_loading")
    engine = create_engine(target)
    try:
        with engine.begin() as conn:  # a table in the way of the next migration (created by hand, say)
            conn.execute(text("CREATE TABLE inspection (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
    finally:
        engine.dispose()
    before = rows_by_key(target, columns)

    done = flask_cli(target, "mes", "upgrade", "--backup-dir", str(tmp_path / "backups"))
    assert done.returncode != 0
    assert "Upgrade stopped at the migrations" in done.stderr
    (backup,) = sorted((tmp_path / "backups").glob("linemes-*.json"))
    assert f"flask mes restore --from {backup.with_suffix('')}" in done.stderr
    assert scalar(target, "SELECT version_num FROM alembic_version") == "0004_readiness_loading"
    assert rows_by_key(target, columns) == before  # the failed migration rolled back as a whole


def test_a_backup_taken_before_the_upgrade_restores_and_verifies(history, empty_database, tmp_path):
    """This release's code backs up a database still at an older migration (the manual backup before
    `flask mes upgrade`) and restores it: digests over the columns that database has."""
    target, _ = old_database(history, empty_database, "0001_foundation")
    made = flask_cli(target, "mes", "backup", "--to", str(tmp_path))
    assert made.returncode == 0, made.stdout + made.stderr
    (data,) = [p for p in tmp_path.iterdir() if p.suffix in (".sqlite3", ".pgdump")]
    restored = flask_cli(target, "mes", "restore", "--from", str(data), "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "(digests equal)" in restored.stdout and "flask mes upgrade" in restored.stdout
