"""`flask mes …` commands (spec 05_ops): seed, sync-roles, create-user, create-api-key, check, backup,
restore, upgrade, migrate-db, audit-archive, acceptance, import."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .services.platform import users as user_service
from .services.platform.actor import SYSTEM
from .services.platform.errors import DomainError, catalogue_markdown

mes = AppGroup("mes", help="LineMES administration commands.")


def _cli_actor():
    """SYSTEM, named with the operating-system user who ran the command (audit: who archived, imported)."""
    import dataclasses
    import getpass
    import os
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        who = f"uid {os.getuid()}"
    return dataclasses.replace(SYSTEM, username=f"SYSTEM ({who})")


def _fail(error: DomainError) -> None:
    click.secho(f"Error {error.code}: {error.message}", fg="red", err=True)
    if error.details:
        click.echo(f"  details: {error.details}", err=True)
    sys.exit(1)


@mes.command("sync-roles")
def sync_roles_command():
    """Create all permissions and reset the preset roles to the catalogue (idempotent)."""
    from .security.sync import sync_roles
    counts = sync_roles()
    for role, n in counts.items():
        click.echo(f"  {role:<12} {n:>4} permissions")
    click.echo("Roles and permissions are in sync.")


@mes.command("seed")
@click.option("--demo", is_flag=True, help="Also load the demo users and master data.")
@click.option("--demo-history", is_flag=True,
              help="Then play weeks of production history on the demo lines (once; needs the demo data).")
@click.option("--days", type=click.IntRange(min=1, max=90), default=14, show_default=True,
              help="With --demo-history: how many days of history, ending yesterday.")
@click.option("--seed", "random_seed", type=int, default=2026, show_default=True,
              help="With --demo-history: the random seed (the same seed plays the same history).")
def seed_command(demo: bool, demo_history: bool, days: int, random_seed: int):
    """Roles, permissions and the admin account; with --demo the demo data set (idempotent); with
    --demo-history weeks of production history for dashboards, reports and trace demos."""
    from seed.loader import DEMO_PASSWORD, seed_base, seed_demo
    try:
        if demo_history:  # the demo data dated before the history it is the base of
            from datetime import timedelta

            from seed.history import history_start
            from .services.platform.clock import simulated
            with simulated(history_start(days) - timedelta(days=1)):
                report = seed_demo(msd_reels=False)  # the opened reels are dated from now: after the history
        else:
            report = seed_demo() if demo else seed_base()
    except DomainError as error:
        _fail(error)
        return
    if report.created:
        for kind, keys in report.created.items():
            click.echo(f"  created {len(keys):>3} {kind}")
    else:
        click.echo("  nothing to create (already seeded)")
    if report.admin_password:
        click.secho(f"  admin password (shown once): {report.admin_password}", fg="yellow")
    if demo or demo_history:
        click.echo(f"  demo users: planner engineer quality leader material operator operator2 manager board "
                   f"— password {DEMO_PASSWORD}")
    if demo_history:
        from seed.history import HistoryError, seed_history
        try:
            with click.progressbar(length=days, label=f"Playing {days} days of history", file=sys.stderr) as bar:
                summary = seed_history(days=days, seed=random_seed, progress=bar.update)
        except HistoryError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            sys.exit(1)
        from seed.loader import seed_msd_reels
        for reel in seed_msd_reels().created.get("msd_reels", []):
            click.echo(f"  moisture-sensitive reel {reel}")
        from seed.loader import start_demo_paste_thaw
        start_demo_paste_thaw()  # the history played its own jars: the demo starts with one thawing again
        click.echo(f"  history: {summary.runs} runs, {summary.units} boards, {summary.tracks} tracks, "
                   f"{summary.defects} defects, {summary.scrapped} scrapped")
        click.echo(f"  on hold: run {summary.held_run}; MRB rework run: {summary.mrb_rework_run}; "
                   f"lot recall case: {summary.recall_lot}")


@mes.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Role name (repeatable).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--email", default=None)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--line", "lines", multiple=True, help="Line binding (repeatable).")
@click.option("--station", "stations", multiple=True, help="Station binding (repeatable).")
def create_user_command(username, roles, password, email, first_name, last_name, lines, stations):
    """Create a user (the password policy applies)."""
    try:
        user_service.create_user(actor=SYSTEM, spec=user_service.UserSpec(
            username=username, password=password, roles=roles, email=email, first_name=first_name,
            last_name=last_name, lines=lines, stations=stations))
    except DomainError as error:
        _fail(error)
    click.echo(f"User {username} created with roles {', '.join(roles)}.")


@mes.command("create-api-key")
@click.argument("username")
@click.option("--name", default="default", help="A label for the key.")
def create_api_key_command(username, name):
    """Create an API key for USER and print it once (it is stored hashed)."""
    try:
        result = user_service.create_api_key(actor=SYSTEM, username=username, name=name)
    except DomainError as error:
        _fail(error)
        return
    click.echo("API key (shown once, store it now):")
    click.secho(result["key"], fg="green")


@mes.command("error-catalogue")
@click.option("--write", is_flag=True, help="Write sop/error-catalogue.md instead of printing it.")
def error_catalogue_command(write: bool):
    """The error catalogue of the SOPs (generated from the code)."""
    from config import PROJECT_ROOT

    text = catalogue_markdown()
    if write:
        (PROJECT_ROOT / "sop" / "error-catalogue.md").write_text(text, encoding="utf-8")
        click.echo("sop/error-catalogue.md written.")
    else:
        click.echo(text, nl=False)


@mes.command("check")
def check_command():
    """Configuration, database reachability, migration head and disk space."""
    from .health import database_status
    ok = True
    cfg = current_app.config
    click.echo(f"  environment   {cfg['MES_ENV']}")
    click.echo(f"  database      {_safe_url(cfg['SQLALCHEMY_DATABASE_URI'])}")
    status = database_status()
    click.echo(f"  reachable     {status['db']}")
    click.echo(f"  migration     {status.get('migration')} (head {status.get('head')})")
    ok = ok and status["db"] == "ok" and status.get("migration") == status.get("head")
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///"):]).parent
        free = shutil.disk_usage(folder if folder.exists() else Path.cwd()).free / 2**30
        click.echo(f"  disk free     {free:.1f} GiB in {folder}")
        ok = ok and free > 1
    click.secho("OK" if ok else "PROBLEMS FOUND", fg="green" if ok else "red")
    sys.exit(0 if ok else 1)


@mes.command("backup")
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the backups (created if missing).")
@click.option("--keep", type=click.IntRange(min=1), default=None, help="Keep only the newest N backups in the folder.")
@click.option("--digests/--no-digests", default=True, show_default=True,
              help="Record a content digest per table (the restore then compares contents, not only counts).")
def backup_command(folder: Path, keep: int | None, digests: bool):
    """Back up the database while the app runs: data, metadata and SHA-256 (sop/ops/backup-restore.md)."""
    from .ops.backup import BackupError, create_backup, rotate
    try:
        backup = create_backup(current_app.config["SQLALCHEMY_DATABASE_URI"], folder, digest=digests, say=click.echo)
        if keep is not None:
            rotate(folder, keep, say=click.echo)
    except BackupError as error:
        click.secho(f"Backup failed: {error}", fg="red", err=True)
        sys.exit(1)
    click.secho(f"Backup written: {backup.data}", fg="green")


@mes.command("restore")
@click.option("--from", "source", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup's data file (or its .json).")
@click.option("--yes", is_flag=True, help="Really replace the current database (stop the app first).")
@click.option("--safety-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the safety backup of the current database goes (default: beside the backup).")
def restore_command(source: Path, yes: bool, safety_dir: Path | None):
    """Restore a backup: checks it, backs up the current database, restores, verifies every table."""
    from .health import migration_head
    from .ops.backup import BackupError, check_restorable, read_backup, restore_backup
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        if not yes:
            backup = read_backup(source)
            check_restorable(backup, url)
            raise BackupError(f"{backup.data.name} can be restored, and would replace the database "
                              f"{_safe_url(url)}: stop the app, then run the command again with --yes.")
        restore_backup(source, url, safety_folder=safety_dir, say=click.echo)
    except BackupError as error:
        click.secho(f"Restore stopped: {error}", fg="red", err=True)
        sys.exit(1)
    revision = read_backup(source).metadata["migration_revision"]
    if revision != migration_head():
        click.secho(f"The restored database is at migration {revision}; this release expects {migration_head()}: "
                    "run `flask mes upgrade` (or `flask db upgrade`) before starting the app.", fg="yellow")
    click.secho("Restore complete.", fg="green")


@mes.command("upgrade")
@click.option("--backup-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the backup taken first goes (default: instance/backups).")
def upgrade_command(backup_dir: Path | None):
    """Upgrade the database to this release: backup → migrations → roles → readiness probe. Stops at
    the first failure and prints the command that restores the backup (sop/ops/upgrade.md)."""
    from alembic import command as alembic_command

    from config import INSTANCE_DIR

    from .health import database_status, migration_head
    from .ops.backup import BackupError, create_backup
    from .security.sync import sync_roles
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    folder = backup_dir or INSTANCE_DIR / "backups"
    before = database_status()
    click.echo(f"Database {_safe_url(url)} at migration {before.get('migration')}; this release: {migration_head()}.")
    backup = None
    if before["db"] == "ok" and before.get("migration"):
        try:
            backup = create_backup(url, folder, digest=False, say=click.echo)
        except BackupError as error:
            click.secho(f"Upgrade stopped before any change: the backup failed: {error}", fg="red", err=True)
            sys.exit(1)
    rollback = (f"flask mes restore --from {backup.data} --yes" if backup else
                "(no backup: the database was empty — drop it and run the upgrade again)")

    def stop(step: str, error: object) -> None:
        click.secho(f"Upgrade stopped at {step}: {error}", fg="red", err=True)
        click.secho(f"The database may be changed. To go back to it as it was: {rollback}", fg="yellow", err=True)
        sys.exit(1)

    try:
        click.echo("Migrating …")
        alembic_command.upgrade(current_app.extensions["migrate"].migrate.get_config(), "head")
    except Exception as error:  # a migration that fails rolls back; say how to get the backup anyway
        stop("the migrations", f"{error.__class__.__name__}: {error}")
    try:
        click.echo("Syncing roles and permissions …")
        sync_roles()
    except Exception as error:
        stop("sync-roles", f"{error.__class__.__name__}: {error}")
    after = database_status()
    if after["db"] != "ok" or after.get("migration") != after.get("head"):
        stop("the readiness probe", f"database {after['db']}, migration {after.get('migration')}, "
                                    f"expected {after.get('head')}")
    click.secho(f"Upgrade complete: migration {after['migration']}, ready."
                + (f" The backup taken first: {backup.data}" if backup else ""), fg="green")


@mes.command("migrate-db")
@click.option("--to", "target", required=True, help="The target database URL (created and migrated beforehand).")
def migrate_db_command(target: str):
    """Copy every row into an empty, migrated database (e.g. SQLite → PostgreSQL) and verify every
    table (sop/ops/sqlite-to-postgresql.md)."""
    from config import normalise_database_url

    from .ops.backup import BackupError
    from .ops.migrate_db import copy_database

    shown = [0]

    def progress(done: int, total: int) -> None:  # a line per 5 % (and the last)
        if done >= total or done - shown[0] >= max(total // 20, 1):
            shown[0] = done
            click.echo(f"  {done} of {total} rows ({100 * done // max(total, 1)} %)")

    try:
        result = copy_database(current_app.config["SQLALCHEMY_DATABASE_URI"], normalise_database_url(target),
                               say=click.echo, progress=progress)
    except BackupError as error:
        click.secho(f"migrate-db stopped: {error}", fg="red", err=True)
        sys.exit(1)
    click.secho(f"Copied {result.rows} rows of {result.tables} tables in {result.seconds:.1f} s; every table "
                "matches (row counts and digests). Point DATABASE_URL at the target and start the app.", fg="green")


@mes.command("audit-archive")
@click.option("--before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Archive the events before this day (YYYY-MM-DD, UTC; today at the latest).")
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the archive files (created if missing).")
def audit_archive_command(before, folder: Path):
    """Export the audit events not yet archived that happened before DATE to a JSONL file with its
    SHA-256, and record the archive. The audit table keeps every event (sop/ops/audit-archive.md)."""
    from .services.platform.audit_archive import archive_events
    actor = _cli_actor()
    try:
        result = archive_events(actor=actor, before=before.date(), folder=folder)
    except DomainError as error:
        _fail(error)
        return
    if result.archive is None:
        click.echo(f"Nothing to archive: no audit event before {result.period_end:%Y-%m-%d} "
                   + ("" if result.period_start is None else f"since {result.period_start:%Y-%m-%d %H:%M} ")
                   + "(UTC) that an archive does not hold already.")
        return
    archive = result.archive
    click.secho(f"Archived {archive.event_count} audit events (ids {archive.first_event_id}–"
                f"{archive.last_event_id}, {archive.period_start:%Y-%m-%d %H:%M} to {archive.period_end:%Y-%m-%d} "
                f"UTC) to {archive.file}\n  sha256 {archive.sha256} (also in {archive.file}.sha256)", fg="green")


@mes.command("report-summary")
@click.option("--rebuild", is_flag=True, help="Empty the summary first and count every closed hour again.")
def report_summary_command(rebuild: bool):
    """Summarise the first TrackOuts of every closed hour not summarised yet (the reports do it
    themselves on first need; run it at night so the first month view of the day need not)."""
    from .services.reporting import summary
    hours = summary.rebuild() if rebuild else summary.fill_all()
    click.echo(f"Report summary: {hours} hour(s) summarised.")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def register_cli(app: Flask) -> None:
    app.cli.add_command(mes)


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


@mes.command("acceptance")
@click.option("--track", type=click.Choice(["smt", "dip", "all"]), default="all", show_default=True,
              help="The scenarios of one line type, or all.")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              help="Only this scenario (S1 … S10; repeatable; `all` = every scenario of the track).")
@click.option("--base-url", default=None, metavar="URL",
              help="A running install (e.g. a staging server); without it a throw-away server is started.")
@click.option("--json-file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the results as JSON.")
@click.option("--junit-file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the results as JUnit XML (one test case per step).")
@click.option("--password", envvar="MES_DEMO_PASSWORD", default=None,
              help="The demo users' password [env MES_DEMO_PASSWORD; default the demo's].")
@click.option("--integration-key", envvar="MES_INTEGRATION_API_KEY", default=None,
              help="The integration account's API key [env MES_INTEGRATION_API_KEY; default the one "
                   "`make run` keeps in instance/integration_api_key.txt].")
def acceptance_command(track, scenarios, base_url, json_file, junit_file, password, integration_key):
    """Run the acceptance scenarios S1–S10 over HTTP (04_acceptance §3); exit 1 on any failure."""
    from contextlib import nullcontext

    from .acceptance import client, runner
    try:
        chosen = runner.select(track, scenarios)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--scenario") from error
    if not chosen:
        raise click.BadParameter(f"no scenario of track {track} among {', '.join(scenarios)}",
                                 param_hint="--scenario")
    if base_url and not integration_key and _is_local(base_url):  # the dev key goes to this machine's server only
        kept = Path(current_app.instance_path) / "integration_api_key.txt"
        integration_key = kept.read_text().strip() if kept.exists() else None
    server = nullcontext((base_url, integration_key)) if base_url else runner.throwaway_server(echo=click.echo)
    with server as (url, key):
        click.echo(f"LineMES acceptance against {url}: {', '.join(s.name for s in chosen)}")
        api = client.HttpApi(url, password=password or client.DEMO_PASSWORD, integration_key=key)
        results = runner.run_all(api, chosen, echo=click.echo)
    click.echo(runner.summary(results))
    if json_file:
        runner.write_json(results, json_file, base_url=url)
    if junit_file:
        runner.write_junit(results, junit_file)
    sys.exit(0 if all(r.ok for r in results) else 1)


@mes.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and show what would change; write nothing.")
def import_command(paths: tuple[Path, ...], dry_run: bool):
    """Import master data from an XLSX workbook (one sheet per list) or CSV files (one list each), with
    the headers of the console's exports: all the files in one transaction (all or nothing), audited,
    idempotent on business keys; the lists in dependency order, whatever the files' order."""
    from .services.engineering import master_import
    actor = _cli_actor()
    try:
        upload = master_import.read_files([(path.name, path.read_bytes()) for path in paths])
        with click.progressbar(length=upload.rows, label=f"{'Checking' if dry_run else 'Importing'} {upload.name}",
                               file=sys.stderr) as bar:
            report = master_import.import_upload(actor=actor, upload=upload, dry_run=dry_run, progress=bar.update)
    except DomainError as error:
        _fail(error)
        return
    for row in report.rows:
        if row.action == "UNCHANGED":
            continue
        line = f"  {row.sheet} row {row.row} {row.key}: {row.action}"
        if row.changes:
            line += " (" + ", ".join(f"{k} → {v}" for k, v in row.changes.items()) + ")"
        click.echo(line)
        for error in row.errors:
            click.secho(f"      {error.column or '-'}: {error.code} {error.message}", fg="red")
    for sheet, counts in report.counts().items():
        click.echo(f"{sheet}: " + ", ".join(f"{n} {action.lower()}" for action, n in counts.items()))
    if report.refused:
        click.secho(f"{len(report.refused)} rows refused: nothing was imported. Correct them and run it again.",
                    fg="red", err=True)
        sys.exit(1)
    click.echo(f"Dry run: nothing written (sha256 {report.sha256})." if dry_run
               else f"Imported {report.filename} (sha256 {report.sha256}).")
