"""Backup and restore of the LineMES database (spec 05_ops; runbook sop/ops/backup-restore.md).

A backup is three files in one folder, named after the time it was taken (UTC):

    linemes-20261203-021500.sqlite3   the data: SQLite's online backup (a copy of every page, taken in
                                      one read transaction — consistent while the app writes), or
    linemes-20261203-021500.pgdump    pg_dump's custom format, taken in an exported snapshot
    linemes-20261203-021500.json      metadata: format, app version, backend, migration revision, time,
                                      and every table's row count and content digest — read in the
                                      same snapshot as the data
    linemes-20261203-021500.sha256    the data file's SHA-256, as `sha256sum -c` reads it

A restore checks before it changes anything — a LineMES backup (format), of this database's kind,
from a migration revision this release knows (never a newer one), the SHA-256 of the data — then makes
a safety backup of the current database, restores, and compares every table with the metadata.
Every refusal is a BackupError: the CLI prints it and exits non-zero, and nothing has changed.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import config as config_module

from ..version import __version__
from .inventory import TableState, database_state, differences, migration_revision

FORMAT = "linemes-backup/1"
PREFIX = "linemes-"
SAFETY_PREFIX = "linemes-safety-"
EXTENSIONS = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
Say = Callable[[str], None]


class BackupError(RuntimeError):
    """A refused or failed backup/restore, with what to do."""


@dataclass
class Backup:
    data: Path
    metadata: dict = field(default_factory=dict)

    @property
    def meta_path(self) -> Path:
        return self.data.with_suffix(".json")

    @property
    def sum_path(self) -> Path:
        return self.data.with_suffix(".sha256")


# ---------------------------------------------------------------------------------------------
# The database behind a URL
# ---------------------------------------------------------------------------------------------

def backend_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in EXTENSIONS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("The SQLite database has no file to back up.")
    return Path(database)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection arguments for pg_dump / pg_restore / psql — the URL's own, its query parameters
    (`host=/run/postgresql`, `sslmode=require` …) included — and an environment carrying the password
    (never on the command line, where `ps` shows it)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    conninfo = u._replace(password=None).set(drivername="postgresql", database=u.database or "postgres")
    return ["-d", conninfo.render_as_string(hide_password=False)], env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools of the server's major "
                          f"version (Debian: apt-get install postgresql-client-15).")
    return path


def app_version() -> str:
    """This release, and the commit when running from a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(config_module.PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5)
        if commit.returncode == 0 and commit.stdout.strip():
            return f"{__version__}+{commit.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def known_revisions() -> set[str]:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(config_module.PROJECT_ROOT / "migrations"))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


# ---------------------------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------------------------

def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def _free_name(folder: Path, prefix: str, extension: str) -> Path:
    stamp = _stamp()
    candidate = folder / f"{prefix}{stamp}{extension}"
    n = 1
    while candidate.exists() or candidate.with_suffix(".json").exists():
        n += 1
        candidate = folder / f"{prefix}{stamp}-{n}{extension}"
    return candidate


def _backup_sqlite(url: str, target: Path, digest: bool) -> tuple[Optional[str], dict[str, TableState]]:
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"No database file at {source}.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # every page in one step: one read transaction, a consistent copy
        dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained file (no -wal beside it)
        dst.commit()
    finally:
        dst.close()
        src.close()
    engine = create_engine(f"sqlite:///file:{target}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            return migration_revision(conn), database_state(conn, digest=digest)
    finally:
        engine.dispose()


def _backup_postgresql(url: str, target: Path, digest: bool) -> tuple[Optional[str], dict[str, TableState]]:
    pg_dump = _tool("pg_dump")
    args, env = _pg_args(url)
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # one snapshot for the dump and the metadata: what the metadata says is what the dump holds
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                                   f"--snapshot={snapshot}", "-f", str(target), *args],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            revision, state = migration_revision(conn), database_state(conn, digest=digest)
            conn.rollback()
            return revision, state
    finally:
        engine.dispose()


def create_backup(url: str, folder: Path, *, digest: bool = True, prefix: str = PREFIX,
                  say: Say = lambda _: None) -> Backup:
    """Back up the database at `url` into `folder` (created if missing): data, metadata, checksum."""
    backend = backend_of(url)
    folder.mkdir(parents=True, exist_ok=True)
    data = _free_name(folder, prefix, EXTENSIONS[backend])
    partial = data.with_name(data.name + ".partial")
    started = time.monotonic()
    say(f"Backing up {safe_url(url)} to {data} …")
    try:
        if backend == "sqlite":
            revision, state = _backup_sqlite(url, partial, digest)
        else:
            revision, state = _backup_postgresql(url, partial, digest)
        checksum = sha256_of(partial)
        metadata = {
            "format": FORMAT, "kind": "safety" if prefix == SAFETY_PREFIX else "backup",
            "app_version": app_version(), "backend": backend, "database": safe_url(url),
            "migration_revision": revision, "created_at": datetime.now(timezone.utc).isoformat(),
            "created_by": getpass.getuser(), "file": data.name, "size": partial.stat().st_size,
            "sha256": checksum, "digests": digest, "tables": {k: v.to_dict() for k, v in state.items()},
        }
        partial.rename(data)
        backup = Backup(data, metadata)
        backup.meta_path.write_text(json.dumps(metadata, indent=1) + "\n", encoding="utf-8")
        backup.sum_path.write_text(f"{checksum}  {data.name}\n", encoding="utf-8")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    rows = sum(t.rows for t in state.values())
    say(f"  {len(state)} tables, {rows} rows, {metadata['size'] / 2**20:.1f} MiB, migration {revision}, "
        f"sha256 {checksum[:16]}… in {time.monotonic() - started:.1f} s")
    return backup


def backups_in(folder: Path, *, kind: str = "backup") -> list[Backup]:
    """The LineMES backups of a kind in a folder, oldest first."""
    found = []
    for meta in folder.glob(f"{PREFIX}*.json"):
        try:
            metadata = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if metadata.get("format") == FORMAT and metadata.get("kind") == kind and metadata.get("file"):
            found.append(Backup(meta.with_name(metadata["file"]), metadata))
    return sorted(found, key=lambda b: (b.metadata.get("created_at", ""), b.data.name))


def rotate(folder: Path, keep: int, say: Say = lambda _: None) -> list[Path]:
    """Keep the newest `keep` backups (safety backups are never rotated away)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1.")
    removed = []
    for old in backups_in(folder)[:-keep]:
        for path in (old.data, old.meta_path, old.sum_path):
            path.unlink(missing_ok=True)
        removed.append(old.data)
        say(f"  removed the old backup {old.data.name}")
    return removed


# ---------------------------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------------------------

def read_backup(path: Path) -> Backup:
    """The backup a path names (its data file or its .json), checked to be a complete, untampered
    LineMES backup — or BackupError."""
    path = Path(path)
    meta_path = path if path.suffix == ".json" else path.with_suffix(".json")
    if not meta_path.exists():
        raise BackupError(f"{path} is not a LineMES backup: no metadata file {meta_path.name} beside it.")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{meta_path.name} is not readable backup metadata ({exc.__class__.__name__}).") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise BackupError(f"{meta_path.name} is not the metadata of a LineMES backup (format {FORMAT}).")
    backup = Backup(meta_path.with_name(str(metadata.get("file") or "")), metadata)
    if not metadata.get("file") or not backup.data.is_file():
        raise BackupError(f"The data file {metadata.get('file')} of {meta_path.name} is missing.")
    actual = sha256_of(backup.data)
    if actual != metadata.get("sha256"):
        raise BackupError(f"{backup.data.name} does not match its checksum (SHA-256 {actual[:16]}…, recorded "
                          f"{str(metadata.get('sha256'))[:16]}…): the file is damaged or was changed. "
                          "Use another backup.")
    if backup.sum_path.exists():
        recorded = backup.sum_path.read_text(encoding="utf-8").split()
        if not recorded or recorded[0] != actual:
            raise BackupError(f"{backup.data.name} does not match {backup.sum_path.name}: use another backup.")
    return backup


def check_restorable(backup: Backup, url: str) -> None:
    """Refuse what must not be restored here: another kind of database, or a newer release's data."""
    backend = backend_of(url)
    if backup.metadata.get("backend") != backend:
        raise BackupError(f"{backup.data.name} is a {backup.metadata.get('backend')} backup and this database is "
                          f"{backend}: restore it into a {backup.metadata.get('backend')} database, or move data "
                          "between databases with `flask mes migrate-db`.")
    revision = backup.metadata.get("migration_revision")
    if not revision:
        raise BackupError(f"{backup.data.name} holds a database that was never migrated: nothing to restore.")
    if revision not in known_revisions():
        raise BackupError(f"{backup.data.name} was made at migration {revision}, which this release does not know: "
                          "it comes from a newer LineMES. Upgrade this installation first, then restore.")


def _restore_sqlite(backup: Backup, url: str) -> None:
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup.data}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=60)
    try:
        src.backup(dst)  # under the destination's write lock: all pages or none
    finally:
        dst.close()
        src.close()


def _restore_postgresql(backup: Backup, url: str) -> None:
    """Empty the public schema and load the dump in one transaction that is committed only once
    pg_restore has produced the whole dump without error; on any error psql's session ends without a
    COMMIT and PostgreSQL rolls everything back (the schema included)."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    args, env = _pg_args(url)
    with tempfile.TemporaryFile() as script_err, tempfile.TemporaryFile() as loader_err:
        script = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "-f", "-", str(backup.data)],
                                  stdout=subprocess.PIPE, stderr=script_err, env=env)
        loader = subprocess.Popen([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", *args],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=loader_err, env=env)
        try:
            loader.stdin.write(b"BEGIN;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
            for chunk in iter(lambda: script.stdout.read(1 << 16), b""):
                loader.stdin.write(chunk)
            script.stdout.close()
            if script.wait() == 0:
                loader.stdin.write(b"\nCOMMIT;\n")
                loader.stdin.close()
            else:  # a dump cut short or unreadable: end the session mid-transaction, nothing commits
                loader.kill()
        except BrokenPipeError:
            pass  # psql stopped at an error (its transaction rolled back): its message says which
        finally:
            for stream in (loader.stdin, script.stdout):
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        script.wait()
        loader.wait()
        if script.returncode != 0 or loader.returncode != 0:
            messages = []
            for name, stream in (("psql", loader_err), ("pg_restore", script_err)):
                stream.seek(0)
                text_ = stream.read().decode(errors="replace").strip()
                if text_:
                    messages.append(f"{name}: {text_[:1500]}")
            raise BackupError("The restore failed and was rolled back; the database is as it was. "
                              + " ".join(messages))


def _current_state(url: str, digest: bool) -> tuple[Optional[str], dict[str, TableState]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migration_revision(conn), database_state(conn, digest=digest)
    finally:
        engine.dispose()


def _database_exists(url: str) -> bool:
    if backend_of(url) == "sqlite":
        return sqlite_path(url).exists()
    return True


def restore_backup(path: Path, url: str, *, safety_folder: Optional[Path] = None,
                   say: Say = lambda _: None) -> Optional[Backup]:
    """Restore a backup into the database at `url` (the app stopped). Returns the safety backup of
    what was there before (None when there was no database)."""
    backup = read_backup(path)
    check_restorable(backup, url)
    say(f"{backup.data.name}: a {backup.metadata['backend']} backup of {backup.metadata.get('created_at')}, "
        f"migration {backup.metadata['migration_revision']}, checksum OK.")
    safety = None
    if _database_exists(url):
        safety = create_backup(url, safety_folder or backup.data.parent, digest=False, prefix=SAFETY_PREFIX, say=say)
    say(f"Restoring into {safe_url(url)} …")
    try:
        if backup.metadata["backend"] == "sqlite":
            _restore_sqlite(backup, url)
        else:
            _restore_postgresql(backup, url)
    except (BackupError, sqlite3.Error) as error:
        kept = f" The safety backup of the database as it was: {safety.data}" if safety else ""
        raise BackupError(f"{error}{kept}") from error
    revision, state = _current_state(url, digest=bool(backup.metadata.get("digests")))
    problems = differences(backup.metadata.get("tables") or {}, state)
    if revision != backup.metadata["migration_revision"]:
        problems.insert(0, f"migration {revision}, the backup has {backup.metadata['migration_revision']}")
    if problems:
        undo = f"flask mes restore --from {safety.data} --yes" if safety else "(no safety backup: there was no database)"
        raise BackupError("The restored database does not match the backup: " + "; ".join(problems[:20])
                          + f". To go back to the database as it was: {undo}")
    say(f"  restored: {len(state)} tables, {sum(t.rows for t in state.values())} rows, as in the backup"
        + (" (digests equal)" if backup.metadata.get("digests") else " (row counts equal)") + ".")
    if safety is not None:
        say(f"  the database as it was before is kept in {safety.data}")
    return safety
