"""Backup and restore drills (issue 12; runbook sop/ops/backup-restore.md), on SQLite and PostgreSQL:
the runbook's commands run as processes (`flask mes backup|restore`) against a database a gunicorn
server is writing to, and every check reads the database itself (row counts and content digests of
every table, the audit table's triggers)."""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.ops.inventory import database_state
from support import LiveApi, authorized_run, flask_cli, pass_step

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def flask_mes(db_url: str, *args: str):
    """`flask mes …` as an operator runs it (support.flask_cli)."""
    return flask_cli(db_url, "mes", *args)


def state_of(db_url: str) -> dict:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {name: s.to_dict() for name, s in database_state(conn).items()}
    finally:
        engine.dispose()


def audit_triggers(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                             "AND tbl_name = 'audit_event'")).scalars())
            return set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass "
                                         "AND NOT tgisinternal")).scalars())
    finally:
        engine.dispose()


class Writer(threading.Thread):
    """An operator tracking boards through the SMT route over HTTP until told to stop."""

    def __init__(self, api: LiveApi, run_no: str) -> None:
        super().__init__(daemon=True)
        self.api, self.run_no = api, run_no
        self.stop, self.units, self.error = threading.Event(), 0, None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                sn = f"{self.run_no}-W{self.units:04d}"
                for step in (10, 20, 30, 40, 50):
                    pass_step(self.api, self.run_no, sn, step)
                self.units += 1
        except Exception as exc:  # reported by the test
            self.error = exc


def backup_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".sqlite3", ".pgdump"))


def test_a_backup_taken_while_units_are_tracked_restores_exactly(server_factory, tmp_path):
    server = server_factory()
    api = LiveApi(server.url)
    writer = Writer(api, authorized_run(api, qty=400))
    writer.start()
    while writer.units < 2 and writer.error is None:
        time.sleep(0.05)
    done = flask_mes(server.db_url, "backup", "--to", str(tmp_path / "backups"))
    units_at_backup = writer.units
    assert done.returncode == 0, done.stderr
    while writer.units < units_at_backup + 3 and writer.error is None:  # the data changes after the backup
        time.sleep(0.05)
    writer.stop.set()
    writer.join(timeout=30)
    assert writer.error is None, writer.error
    server.process.terminate()  # the runbook: stop the app, then restore
    server.process.wait(timeout=30)

    (data,) = backup_files(tmp_path / "backups")
    metadata = json.loads(data.with_suffix(".json").read_text())
    assert metadata["format"] == "linemes-backup/1" and metadata["digests"] is True
    assert data.with_suffix(".sha256").read_text().split() == [metadata["sha256"], data.name]
    changed = state_of(server.db_url)
    assert changed["unit"]["rows"] > metadata["tables"]["unit"]["rows"] >= 2
    triggers = audit_triggers(server.db_url)

    done = flask_mes(server.db_url, "restore", "--from", str(data), "--yes", "--safety-dir", str(tmp_path / "safety"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digests equal" in done.stdout and "Restore complete." in done.stdout
    assert state_of(server.db_url) == metadata["tables"]  # every table, row for row
    assert audit_triggers(server.db_url) == triggers and triggers
    # the database as it was before the restore was kept, and restoring it brings the change back
    (safety,) = backup_files(tmp_path / "safety")
    assert safety.name.startswith("linemes-safety-")
    done = flask_mes(server.db_url, "restore", "--from", str(safety), "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {k: v["rows"] for k, v in state_of(server.db_url).items()} == {k: v["rows"] for k, v in changed.items()}


def _refused(db_url: str, before: dict, *args: str, says: str) -> None:
    done = flask_mes(db_url, "restore", *args)
    assert done.returncode != 0, done.stdout
    assert says in done.stderr, done.stderr
    assert state_of(db_url) == before


def backed_up_stopped_server(server_factory, tmp_path):
    """A server's database with the server stopped and one backup of it: (server, folder, backup, state)."""
    server = server_factory()
    server.process.terminate()
    server.process.wait(timeout=30)
    folder = tmp_path / "backups"
    assert flask_mes(server.db_url, "backup", "--to", str(folder)).returncode == 0
    (data,) = backup_files(folder)
    return server, folder, data, state_of(server.db_url)


def test_restore_refuses_what_it_must_not_restore_and_changes_nothing(server_factory, tmp_path):
    server, folder, data, before = backed_up_stopped_server(server_factory, tmp_path)

    _refused(server.db_url, before, "--from", str(data), says="run the command again with --yes")

    tampered = folder / ("tampered" + data.suffix)
    tampered.write_bytes(data.read_bytes()[:-1] + bytes([data.read_bytes()[-1] ^ 0xFF]))
    meta = json.loads(data.with_suffix(".json").read_text())
    tampered.with_suffix(".json").write_text(json.dumps({**meta, "file": tampered.name}))
    _refused(server.db_url, before, "--from", str(tampered), "--yes", says="does not match its checksum")

    newer = folder / ("newer" + data.suffix)
    newer.write_bytes(data.read_bytes())
    newer.with_suffix(".json").write_text(json.dumps({**meta, "file": newer.name,
                                                      "migration_revision": "0099_from_the_future"}))
    _refused(server.db_url, before, "--from", str(newer), "--yes", says="comes from a newer LineMES")

    foreign = folder / "notes.sqlite3"
    foreign.write_text("not a database")
    _refused(server.db_url, before, "--from", str(foreign), "--yes", says="is not a LineMES backup")
    foreign.with_suffix(".json").write_text(json.dumps({"hello": "world"}))
    _refused(server.db_url, before, "--from", str(foreign), "--yes", says="is not the metadata of a LineMES backup")

    other = folder / ("other" + (".pgdump" if data.suffix == ".sqlite3" else ".sqlite3"))
    other.write_bytes(data.read_bytes())
    other.with_suffix(".json").write_text(json.dumps({**meta, "file": other.name,
                                                      "backend": "postgresql" if meta["backend"] == "sqlite"
                                                      else "sqlite"}))
    _refused(server.db_url, before, "--from", str(other), "--yes", says="flask mes migrate-db")
    assert not [p for p in folder.iterdir() if p.name.startswith("linemes-safety-")]  # refused before any change


def test_a_restore_that_fails_midway_rolls_back_and_names_the_safety_backup(server_factory, tmp_path):
    """A backup whose files agree with each other but whose data cannot be loaded (cut short on
    PostgreSQL: pg_restore writes part of it and then fails; not a database at all on SQLite)."""
    server, folder, data, before = backed_up_stopped_server(server_factory, tmp_path)
    damaged = folder / ("damaged" + data.suffix)
    damaged.write_bytes(data.read_bytes()[: data.stat().st_size // 2] if data.suffix == ".pgdump"
                        else b"not a database " * 1000)
    digest = hashlib.sha256(damaged.read_bytes()).hexdigest()
    meta = json.loads(data.with_suffix(".json").read_text())
    damaged.with_suffix(".json").write_text(json.dumps({**meta, "file": damaged.name, "sha256": digest}))
    damaged.with_suffix(".sha256").write_text(f"{digest}  {damaged.name}\n")
    _refused(server.db_url, before, "--from", str(damaged), "--yes", says="The safety backup of the database as it was")
    assert audit_triggers(server.db_url)


def test_nightly_backups_keep_the_newest(server_factory, tmp_path):
    server = server_factory()
    server.process.terminate()
    server.process.wait(timeout=30)
    folder = tmp_path / "nightly"
    for _ in range(3):
        done = flask_mes(server.db_url, "backup", "--to", str(folder), "--keep", "2", "--no-digests")
        assert done.returncode == 0, done.stderr
    files = backup_files(folder)
    assert len(files) == 2 and all(f.with_suffix(".json").exists() and f.with_suffix(".sha256").exists()
                                   for f in files)
    assert "removed the old backup" in done.stdout
    done = flask_mes(server.db_url, "backup", "--to", str(folder), "--keep", "0")  # refused before any backup
    assert done.returncode != 0 and "Invalid value for '--keep'" in done.stderr
    assert backup_files(folder) == files


# the options of the runbooks' commands that the ops tests run
TESTED_OPTIONS = {"backup": {"--to", "--keep", "--no-digests"}, "restore": {"--from", "--yes", "--safety-dir"},
                  "upgrade": {"--backup-dir"}, "migrate-db": {"--to"}, "audit-archive": {"--before", "--to"},
                  "check": set(), "sync-roles": set(), "seed": {"--demo"}, "create-api-key": set(),  # these four:
                  # tests/api/test_seed_and_cli.py
                  "acceptance": {"--base-url", "--integration-key", "--json-file", "--junit-file", "--track",
                                 "--scenario"}}  # tests/ops/test_acceptance_runner.py
RUNBOOKS = ["backup-restore.md", "upgrade.md", "sqlite-to-postgresql.md", "logs-and-metrics.md", "troubleshooting.md",
            "sizing.md", "audit-archive.md", "acceptance.md"]


@pytest.mark.parametrize("runbook", RUNBOOKS)
def test_the_runbooks_commands_are_the_tested_ones(runbook):
    """The runbooks show only `flask mes` commands and options that tests/ops runs."""
    text_ = (PROJECT_ROOT / "sop" / "ops" / runbook).read_text()
    commands = re.findall(r"flask mes ([\w-]+)((?: --?[\w-]+(?: [^\s`-][^\s`]*)?)*)", text_)
    for command, rest in commands:
        assert command in TESTED_OPTIONS, command
        options = set(re.findall(r"(--[\w-]+)", rest))
        assert options <= TESTED_OPTIONS[command], (command, options)
    if runbook == "backup-restore.md":
        assert "pg_dump" in text_ and "postgresql-client-15" in text_


def test_the_tested_options_are_the_commands_real_ones():
    from app.cli import mes
    for command, options in TESTED_OPTIONS.items():
        real = {opt for param in mes.commands[command].params for opt in (*param.opts, *param.secondary_opts)}
        assert options <= real, (command, options - real)


def test_the_postgresql_tools_get_the_whole_url_but_not_the_password():
    from app.ops.backup import _pg_args
    args, env = _pg_args("postgresql+psycopg://linemes:s%40cret@/linemes?host=/run/postgresql&sslmode=require")
    assert "s@cret" not in " ".join(args) and "cret" not in " ".join(args) and env["PGPASSWORD"] == "s@cret"
    assert args == ["-d", "postgresql://linemes@/linemes?host=%2Frun%2Fpostgresql&sslmode=require"]
