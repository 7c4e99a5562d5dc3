"""Moving the data to another kind of database (issue 12; runbook sop/ops/sqlite-to-postgresql.md):
`flask mes migrate-db --to URL` from the suite's database into an empty, migrated database of the other
kind — SQLite → PostgreSQL in the SQLite pass, PostgreSQL → SQLite in the PostgreSQL pass — keeps every
row (equal counts and content digests, computed here as well), leaves the audit table append-only, and
the app then runs on the target: a sign-in, and a board tracked in and out."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from ops.test_backup_restore import state_of
from support import (
    BACKEND, PG_URL, LiveApi, flask_cli, libpq, ok_data, pass_step, pg_unavailable_reason, unique_tag,
)


@pytest.fixture
def other_database(tmp_path):
    """An empty database of the other kind, migrated to this release (dropped at the end)."""
    if BACKEND == "sqlite":
        reason = pg_unavailable_reason()
        if reason:
            pytest.skip(f"migrate-db to PostgreSQL needs one: {reason}")
        import psycopg
        head = PG_URL.rpartition("/")[0]
        name = f"mes_target_{unique_tag()}"
        with psycopg.connect(libpq(f"{head}/postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = f"{head}/{name}"
    else:
        head, name, url = None, None, f"sqlite:///{tmp_path / 'target.db'}"
    yield url
    if name:
        with psycopg.connect(libpq(f"{head}/postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migrate_db_copies_every_row_and_the_app_runs_on_the_target(history, other_database, server_factory):
    target = other_database
    refused = flask_cli(history.url, "mes", "migrate-db", "--to", target)  # not migrated yet
    assert refused.returncode != 0 and "flask db upgrade" in refused.stderr
    assert flask_cli(target, "db", "upgrade").returncode == 0

    engine = create_engine(history.url)  # an account edited by one created after it (e.g. an unlock)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE ab_user SET changed_by_fk = (SELECT max(id) FROM ab_user) "
                              "WHERE id = (SELECT min(id) FROM ab_user)"))
    finally:
        engine.dispose()
    done = flask_cli(history.url, "mes", "migrate-db", "--to", target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every table matches" in done.stdout and "(100 %)" in done.stdout
    source_state = state_of(history.url)
    assert state_of(target) == source_state  # every table, row for row, across the two kinds of database
    assert source_state["track"]["rows"] and source_state["audit_event"]["rows"]

    engine = create_engine(target)
    try:
        with pytest.raises(Exception, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_event SET action = 'CHANGED'"))
    finally:
        engine.dispose()

    again = flask_cli(history.url, "mes", "migrate-db", "--to", target)
    assert again.returncode != 0 and "The target is not empty" in again.stderr
    assert state_of(target) == source_state

    server = server_factory(db_url=target)  # the app on the target: ids and sequences carry on
    api = LiveApi(server.url)
    sn = f"{history.run_no}-MOVED"
    for step in (10, 20, 30, 40, 50):
        pass_step(api, history.run_no, sn, step)
    trace = ok_data(api("planner").get(f"/api/v1/trace/units/{sn}"))
    assert trace["unit"]["status"] == "DONE" and len(trace["tracks"]) == 5
    server.process.terminate()
    server.process.wait(timeout=30)
    after = state_of(target)
    assert after["track"]["rows"] == source_state["track"]["rows"] + 5
    assert after["audit_event"]["rows"] > source_state["audit_event"]["rows"]
