"""Audit archive drills (issue 12; runbook sop/ops/audit-archive.md), on SQLite and PostgreSQL:
`flask mes audit-archive --before DATE --to PATH` exports the events of a period to a JSONL file whose
SHA-256 `sha256sum -c` confirms, records the archive, and deletes nothing; periods follow on without
gaps or overlaps; every refusal exits ≠ 0 and leaves no file and no row; the Audit Log lists the
archives; archive rows are as unchangeable as the events."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from support import SECRET_KEY, console_login, flask_cli

PROJECT_ROOT = Path(__file__).resolve().parents[2]

UTC = dt.timezone.utc
YEAR = dt.date.today().year - 1  # a year that is over, whenever the suite runs


def _at(month: int, day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(YEAR, month, day, hour, tzinfo=UTC)


@pytest.fixture
def old_events(app, fresh_db):
    """Three events in January and two in February of last year (inserted as they were written then)."""
    from app.extensions import db
    from app.services.platform.actor import SYSTEM
    from app.services.platform.audit import write_event

    with app.app_context():  # its own: a test's console requests must not share one (flask-login's g)
        for n, at in enumerate([_at(1, 10), _at(1, 20), _at(1, 31, 23), _at(2, 1, 0), _at(2, 27)]):
            write_event(db.session, SYSTEM, "OLD_EVENT", "TEST", f"E{n}", at=at, payload={"n": n, "text": "焊接 ok"})
        db.session.commit()
        ids = list(db.session.execute(text("SELECT id FROM audit_event WHERE action = 'OLD_EVENT' ORDER BY id"))
                   .scalars())
        db.session.remove()
    return ids


def _counts():
    from app.extensions import db
    from app.models import AuditArchive, AuditEvent
    counts = (db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
              db.session.execute(select(func.count()).select_from(AuditArchive)).scalar_one())
    db.session.remove()
    return counts


def _archive(database, before: str, folder):
    return flask_cli(database.url, "mes", "audit-archive", "--before", before, "--to", str(folder))


def test_archives_follow_on_keep_every_event_and_are_checksummed(app_ctx, fresh_db, old_events, tmp_path):
    from app.extensions import db
    from app.models import AuditArchive, AuditEvent
    events_before, _ = _counts()
    folder = tmp_path / "archives"

    january = _archive(fresh_db, f"{YEAR}-02-01", folder)
    assert january.returncode == 0, january.stderr
    assert "Archived 3 audit events" in january.stdout
    name = f"audit-{YEAR}0110-{YEAR}0201.jsonl"
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == old_events[:3]
    assert rows[0]["action"] == "OLD_EVENT" and rows[0]["payload"] == {"n": 0, "text": "焊接 ok"}
    assert dt.datetime.fromisoformat(rows[2]["at"]) == _at(1, 31, 23)
    check = subprocess.run(["sha256sum", "-c", name + ".sha256"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and f"{name}: OK" in check.stdout, check.stdout + check.stderr

    archive = db.session.execute(select(AuditArchive)).scalar_one()
    assert (archive.event_count, archive.first_event_id, archive.last_event_id) == (3, old_events[0], old_events[2])
    assert archive.period_start == _at(1, 10) and archive.period_end == _at(2, 1, 0)
    assert archive.sha256 == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert archive.file == str((folder / name).resolve()) and archive.size_bytes == (folder / name).stat().st_size
    assert archive.created_by.startswith("SYSTEM (")
    recorded = db.session.execute(select(AuditEvent).where(AuditEvent.action == "AUDIT_ARCHIVE")).scalar_one()
    assert recorded.entity_key == name and recorded.payload["events"] == 3
    assert recorded.payload["sha256"] == archive.sha256
    db.session.remove()
    assert _counts() == (events_before + 1, 1)  # nothing deleted; the archive's own event added

    # the next month follows on from where January ended: the event at 00:00 on 1 February is in it
    february = _archive(fresh_db, f"{YEAR}-03-01", folder)
    assert february.returncode == 0, february.stderr
    rows = [json.loads(line) for line in (folder / f"audit-{YEAR}0201-{YEAR}0301.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == old_events[3:]
    periods = db.session.execute(select(AuditArchive.period_start, AuditArchive.period_end)
                                 .order_by(AuditArchive.id)).all()
    assert periods == [(_at(1, 10), _at(2, 1, 0)), (_at(2, 1, 0), _at(3, 1, 0))]
    db.session.remove()

    # a month without events: nothing to archive, nothing written
    files = sorted(p.name for p in folder.iterdir())
    empty = _archive(fresh_db, f"{YEAR}-04-01", folder)
    assert empty.returncode == 0 and "Nothing to archive" in empty.stdout, empty.stdout + empty.stderr
    assert sorted(p.name for p in folder.iterdir()) == files
    assert _counts() == (events_before + 2, 2)


@pytest.mark.parametrize("before, code", [
    ("already", "AUDIT_ARCHIVE_ALREADY_COVERED"),
    ("tomorrow", "AUDIT_ARCHIVE_NOT_PAST"),
    ("file exists", "AUDIT_ARCHIVE_FILE_EXISTS"),
    ("folder is a file", "AUDIT_ARCHIVE_WRITE_FAILED"),
])
def test_a_refused_archive_changes_nothing(app_ctx, fresh_db, old_events, tmp_path, before, code):
    folder = tmp_path / "archives"
    assert _archive(fresh_db, f"{YEAR}-02-01", folder).returncode == 0
    date = f"{YEAR}-03-01"
    if before == "already":
        date = f"{YEAR}-01-15"
    elif before == "tomorrow":
        date = (dt.datetime.now(UTC).date() + dt.timedelta(days=1)).isoformat()
    elif before == "file exists":
        (folder / f"audit-{YEAR}0201-{YEAR}0301.jsonl").write_text("someone's file\n")
    else:
        (tmp_path / "plain-file").write_text("")
        folder = tmp_path / "plain-file" / "archives"
    files = sorted(p.name for p in (tmp_path / "archives").iterdir())
    counts = _counts()
    result = _archive(fresh_db, date, folder)
    assert result.returncode == 1 and f"Error {code}" in result.stderr, result.stdout + result.stderr
    assert sorted(p.name for p in (tmp_path / "archives").iterdir()) == files
    assert _counts() == counts
    if before == "file exists":
        assert (tmp_path / "archives" / f"audit-{YEAR}0201-{YEAR}0301.jsonl").read_text() == "someone's file\n"


def test_the_audit_log_lists_the_archives_and_they_cannot_be_changed(client, app, fresh_db, old_events, tmp_path):
    assert _archive(fresh_db, f"{YEAR}-02-01", tmp_path).returncode == 0
    console_login(client, "admin")
    page = client.get("/audit/").get_data(as_text=True)
    assert 'id="archives"' in page and f"audit-{YEAR}0110-{YEAR}0201.jsonl" in page
    assert f"{old_events[0]}–{old_events[2]}" in page
    client.get("/logout/")
    console_login(client, "operator")  # own events only: no archives section
    page = client.get("/audit/").get_data(as_text=True)
    assert "your own events" in page and 'id="archives"' not in page

    from sqlalchemy import create_engine
    engine = create_engine(fresh_db.url)
    try:
        for statement in ("UPDATE audit_archive SET event_count = 0", "DELETE FROM audit_archive"):
            with pytest.raises(Exception, match="append-only"):
                with engine.begin() as conn:
                    conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT event_count FROM audit_archive")).scalar_one() == 3
    finally:
        engine.dispose()


def test_two_archive_runs_at_once_leave_one_intact_archive(app, fresh_db, tmp_path):
    """E.g. the monthly timer catching up while IT runs the command by hand: one run records its
    archive, the other is refused (CONFLICT, or ALREADY_COVERED if it started after the first one
    finished) — and the recorded file is whole and matches its checksum."""
    from app.extensions import db
    from app.models import AuditArchive, AuditEvent
    from app.services.platform.actor import SYSTEM
    from app.services.platform.audit import event_values

    with app.app_context():
        db.session.execute(AuditEvent.__table__.insert(), [
            event_values(SYSTEM, "OLD_EVENT", "UNIT", f"SN{n:06d}", at=_at(1, 1) + dt.timedelta(seconds=30 * n),
                         payload={"station": "ST-AOI-01", "result": "PASS"}) for n in range(30_000)])
        db.session.commit()
        db.session.remove()
    folder = tmp_path / "archives"
    env = {**os.environ, "FLASK_APP": "app", "MES_ENV": "test", "SECRET_KEY": SECRET_KEY, "DATABASE_URL": fresh_db.url,
           "MES_LOG_LEVEL": "WARNING"}
    runs = [subprocess.Popen([sys.executable, "-m", "flask", "mes", "audit-archive", "--before", f"{YEAR}-02-01",
                              "--to", str(folder)], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert sorted(code for code, _, _ in outcomes) == [0, 1], outcomes
    (refused,) = [err for code, _, err in outcomes if code == 1]
    assert "AUDIT_ARCHIVE_CONFLICT" in refused or "AUDIT_ARCHIVE_ALREADY_COVERED" in refused, refused
    with app.app_context():
        archive = db.session.execute(select(AuditArchive)).scalar_one()
        db.session.remove()
    data = Path(archive.file).read_bytes()
    assert archive.event_count == 30_000 and len(data.splitlines()) == 30_000
    assert hashlib.sha256(data).hexdigest() == archive.sha256
    assert sorted(p.name for p in folder.iterdir()) == [Path(archive.file).name, Path(archive.file).name + ".sha256"]
