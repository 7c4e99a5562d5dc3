"""Audit archive (spec 05_ops, `flask mes audit-archive --before DATE --to PATH`): older audit events
exported to a checksummed JSONL file, and the export recorded — who, when, which period, how many
events, the file and its SHA-256. The audit table itself is never deleted from (its trigger refuses);
an archive is a copy a plant can keep offline for as long as its quality system demands.

Periods follow on without gaps or overlaps: an archive takes the events with `at` from the previous
archive's end (the first one: from the oldest event) up to the start of the day `before` (UTC), so a
monthly job `--before <first of last month>` always exports exactly what is new. `before` may be today
at the latest (the archive then ends at last midnight: the events of a day in progress could still be
arriving); a date not later than the last archive's end is refused (nothing new to archive).

The file: one event per line, in id order, with the fields of the API's audit events (`event_to_dict`),
UTF-8; beside it `<file>.sha256` in the `sha256sum -c` format. The events are read in a read
transaction (SQLite writers carry on meanwhile), then the archive row and its audit event are written
in one short unit of work — re-checking that no other archive was recorded in between.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import AuditArchive, AuditEvent
from .actor import Actor
from .audit import event_to_dict
from .clock import now
from .errors import DomainError
from .uow import unit_of_work

BATCH = 5000


@dataclass(frozen=True)
class ArchiveResult:
    archive: AuditArchive | None  # None: there was nothing to archive
    period_start: dt.datetime | None
    period_end: dt.datetime


def list_archives(*, actor: Actor) -> list[AuditArchive]:
    """Every archive, newest first (there are a few per year): for those who read the whole audit log."""
    if not actor.can("audit:read_all"):
        raise DomainError("FORBIDDEN", "Only those who may read the whole audit log see its archives.")
    return list(db.session.execute(select(AuditArchive).order_by(AuditArchive.period_end.desc())).scalars())


def _last_end() -> dt.datetime | None:
    return db.session.execute(select(func.max(AuditArchive.period_end))).scalar_one()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def archive_events(*, actor: Actor, before: dt.date, folder: Path) -> ArchiveResult:
    """Export the events not yet archived that happened before the day `before` (UTC) into `folder`.
    Refusals (AUDIT_ARCHIVE_*) change nothing: no file is left behind, no row written."""
    end = day_start(before)
    today = day_start(now().date())
    if end > today:
        raise DomainError("AUDIT_ARCHIVE_NOT_PAST", details={"before": before.isoformat(),
                                                             "latest": now().date().isoformat()})
    last_end = _last_end()
    if last_end is not None and end <= last_end:
        raise DomainError("AUDIT_ARCHIVE_ALREADY_COVERED", details={"before": before.isoformat(),
                                                                    "archivedUpTo": last_end.isoformat()})
    period = AuditEvent.at < end if last_end is None else (AuditEvent.at >= last_end) & (AuditEvent.at < end)
    start = last_end or db.session.execute(select(func.min(AuditEvent.at)).where(period)).scalar_one()
    if start is None:  # no event at all before that day
        db.session.rollback()
        return ArchiveResult(None, None, end)

    name = f"audit-{start:%Y%m%d}-{end:%Y%m%d}.jsonl"
    path = folder / name
    if path.exists():
        raise DomainError("AUDIT_ARCHIVE_FILE_EXISTS", details={"file": str(path)})
    partial = folder / f".{name}.{uuid.uuid4().hex[:12]}.partial"  # this run's own, whatever runs beside it
    try:
        folder.mkdir(parents=True, exist_ok=True)
        digest, count, first_id, last_id = _write(partial, period)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise DomainError("AUDIT_ARCHIVE_WRITE_FAILED", details={"file": str(path), "error": str(error)}) from error
    finally:
        db.session.rollback()  # end the read transaction
    if count == 0:
        partial.unlink()
        return ArchiveResult(None, start, end)
    mine = [partial]  # the files this run made: the only ones it removes when it fails
    try:
        _publish(partial, path)
        mine[0] = path
        checksum = path.with_name(name + ".sha256")
        with checksum.open("x", encoding="utf-8") as out:
            mine.append(checksum)
            out.write(f"{digest}  {name}\n")
        with unit_of_work(actor, "AUDIT_ARCHIVE", "AUDIT_ARCHIVE", name) as uow:
            if _last_end() != last_end:
                raise DomainError("AUDIT_ARCHIVE_CONFLICT")
            archive = AuditArchive(created_by=actor.username, period_start=start, period_end=end,
                                   event_count=count, first_event_id=first_id, last_event_id=last_id,
                                   file=str(path.resolve()), size_bytes=path.stat().st_size, sha256=digest)
            db.session.add(archive)
            uow.payload = {"periodStart": start.isoformat(), "periodEnd": end.isoformat(), "events": count,
                           "firstEventId": first_id, "lastEventId": last_id, "sha256": digest}
    except BaseException as error:
        for leftover in mine:
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        if isinstance(error, (FileExistsError, IntegrityError)):  # another run got there first
            raise DomainError("AUDIT_ARCHIVE_CONFLICT") from error
        raise
    return ArchiveResult(archive, start, end)


def _publish(partial: Path, path: Path) -> None:
    """Give the finished file its name, never over an existing one (FileExistsError)."""
    try:
        os.link(partial, path)  # atomic and exclusive
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.replace(partial, path)
        return
    partial.unlink()


def _write(partial: Path, period) -> tuple[str, int, int, int]:
    """Stream the period's events into `partial` (id order), fsynced; their digest, count and id range."""
    digest = hashlib.sha256()
    count, first_id, last_id = 0, 0, 0
    stmt = select(AuditEvent.__table__).where(period).order_by(AuditEvent.id).execution_options(yield_per=BATCH)
    with partial.open("wb") as out:
        for row in db.session.execute(stmt):
            line = (json.dumps(event_to_dict(row), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            out.write(line)
            digest.update(line)
            count += 1
            first_id = first_id or row.id
            last_id = row.id
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), count, first_id, last_id
