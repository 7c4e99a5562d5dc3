"""First TrackOuts per 15-minute UTC slot, run and step, for the hours that are over: what the
first-pass yield of a long period reads instead of every track (a month of one busy line is ~430k
tracks, over half a second of SQLite time to scan; its summary is ~15k rows).

Which and why (issue 14, "indexes or pre-aggregation"): the day and week views read the covering
index `ix_track_out` directly; for the month the first-pass-yield counts of *closed* hours are kept
in `report_fpy_slot`, filled by the first report that needs an hour, not by the TrackOut. Keeping it
in the TrackOut's transaction would add a statement to every TrackOut and make every TrackOut of a
step in the same quarter-hour update one row (a row lock all workers queue on, on PostgreSQL); the
hot path stays as it is.

Why the counts of a closed hour are exact and final: a track's `out_at` is the TrackOut's own time
on the services' clock, and neither `first_out` nor `result` changes after the TrackOut. Once an hour
is over by GRACE (a transaction still in flight, a worker's clock a little behind), no track can
join it, so its counts never change. The one writer of past times is the demo-history generator
(platform/clock.simulated): it forgets the hours it played (`forget`). Restores and database moves
copy this table with the tracks. `flask mes report-summary --rebuild` drops and refills it.

A report's period [start, end) reads the summary for the whole closed UTC hours inside it and the
tracks for the rest (a partial first or last hour, the current hour): the figures are the same as
reading only the tracks (tests/api/test_reports.py compares both with plain SQL).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...extensions import db
from ...models import FpySlot, SummaryHour, Track
from ..platform.clock import now
from ..platform.uow import begin_write_transaction
from .period import SLOT_SECONDS, Bucket, Period, slot_number_sql

GRACE = timedelta(minutes=5)
HOUR_SECONDS = 3600
FILL_HOURS = 24 * 31  # the most hours one fill transaction summarises (one month of tracks)


@dataclass(frozen=True)
class FirstOuts:
    """First TrackOuts of one run at one step in one bucket, and how many of them passed."""
    run_id: int
    step_no: int
    bucket: Bucket
    first: int
    passed: int


def first_outs(period: Period) -> list[FirstOuts]:
    """The first TrackOuts in the period per run, step and bucket: closed whole hours from the summary
    (filled first where missing), the rest from the tracks."""
    first_hour = -(-int(period.start.timestamp()) // HOUR_SECONDS)  # ceil
    last_hour = min(int(period.end.timestamp()) // HOUR_SECONDS, closed_until())
    if last_hour <= first_hour:
        return list(_from_tracks(period, period.start, period.end))
    fill(first_hour, last_hour)
    rows = list(_from_summary(period, first_hour, last_hour))
    rows.extend(_from_tracks(period, period.start, _at(first_hour)))
    rows.extend(_from_tracks(period, _at(last_hour), period.end))
    return rows


def closed_until() -> int:
    """The first hour (UTC epoch hour) that is not over by GRACE yet."""
    return int((now() - GRACE).timestamp()) // HOUR_SECONDS


def fill(first_hour: int, last_hour: int) -> int:
    """Summarise the hours [first_hour, last_hour) not summarised yet (each no later than
    `closed_until()`); answer how many were. The counting reads in the request's read transaction;
    only the inserts take the write lock, a month at a time. Two reports filling the same hours at
    once insert the same counts: the second one's rows are skipped."""
    if "uow" in db.session.info:  # its commits would commit (or its rollback undo) the caller's work
        raise RuntimeError("the report summary is filled outside a unit of work")
    last_hour = min(last_hour, closed_until())
    have = set(db.session.execute(select(SummaryHour.hour).where(
        SummaryHour.hour >= first_hour, SummaryHour.hour < last_hour)).scalars())
    missing = [hour for hour in range(first_hour, last_hour) if hour not in have]
    for start, end in _ranges(missing, FILL_HOURS):
        counts = _count_first_outs(slot_number_sql(Track.out_at, db.engine.dialect.name, SLOT_SECONDS),
                                   _at(start), _at(end))
        begin_write_transaction()
        insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        if counts:
            db.session.execute(insert(FpySlot).on_conflict_do_nothing(), [
                {"slot": int(s), "run_id": run_id, "step_no": step_no, "first_outs": int(first),
                 "first_pass": int(passed or 0)} for run_id, step_no, s, first, passed in counts])
        filled_at = now()
        db.session.execute(insert(SummaryHour).on_conflict_do_nothing(),
                           [{"hour": hour, "filled_at": filled_at} for hour in range(start, end) if hour not in have])
        db.session.commit()
    return len(missing)


def forget(start: datetime, end: datetime) -> None:
    """Drop the summary of every hour touching [start, end), in a transaction of its own: tracks were
    written there after the fact (the demo-history generator)."""
    begin_write_transaction()
    first_hour = int(start.timestamp()) // HOUR_SECONDS
    last_hour = -(-int(end.timestamp()) // HOUR_SECONDS)
    db.session.execute(delete(FpySlot).where(FpySlot.slot >= first_hour * 4, FpySlot.slot < last_hour * 4))
    db.session.execute(delete(SummaryHour).where(SummaryHour.hour >= first_hour, SummaryHour.hour < last_hour))
    db.session.commit()


def fill_all() -> int:
    """Summarise every closed hour since the first TrackOut that is not yet; answer how many were."""
    first = db.session.execute(select(func.min(Track.out_at))).scalar()
    if first is None:
        return 0
    return fill(int(first.timestamp()) // HOUR_SECONDS, closed_until())


def rebuild() -> int:
    """Empty the summary and summarise every closed hour again; answer how many were."""
    begin_write_transaction()
    db.session.execute(delete(FpySlot))
    db.session.execute(delete(SummaryHour))
    db.session.commit()
    return fill_all()


def _from_summary(period: Period, first_hour: int, last_hour: int) -> Iterator[FirstOuts]:
    # grouped in SQL into the period's slots (hours where the zone and shifts allow): 4× fewer rows
    per = period.slot_seconds // SLOT_SECONDS
    slot = (FpySlot.slot // per).label("slot") if per > 1 else FpySlot.slot
    rows = db.session.execute(
        select(slot, FpySlot.run_id, FpySlot.step_no, func.sum(FpySlot.first_outs), func.sum(FpySlot.first_pass))
        .where(FpySlot.slot >= first_hour * 4, FpySlot.slot < last_hour * 4)
        .group_by(slot, FpySlot.run_id, FpySlot.step_no)).all()
    buckets: dict[int, Bucket] = {}
    for slot_no, run_id, step_no, first, passed in rows:
        bucket = buckets.get(slot_no)
        if bucket is None:
            bucket = buckets[slot_no] = period.bucket_of(_at(slot_no, SLOT_SECONDS * per))
        yield FirstOuts(run_id, step_no, bucket, int(first), int(passed))


def _from_tracks(period: Period, start: datetime, end: datetime) -> Iterator[FirstOuts]:
    if start >= end:
        return
    for run_id, step_no, slot_no, first, passed in _count_first_outs(
            period.slot_sql(Track.out_at, db.engine.dialect.name), start, end):
        yield FirstOuts(run_id, step_no, period.bucket_of_slot(slot_no), int(first), int(passed or 0))


def _count_first_outs(slot, start: datetime, end: datetime) -> list:
    """(run, step, slot, first TrackOuts, of them PASS) of the tracks closed in [start, end), read from
    the covering index ix_track_out; `slot` is the SQL slot expression to group by."""
    slot = slot.label("slot")
    return db.session.execute(
        select(Track.run_id, Track.step_no, slot, func.count(), func.sum(case((Track.result == "PASS", 1), else_=0)))
        .where(Track.out_at >= start, Track.out_at < end, Track.first_out.is_(True))
        .group_by(Track.run_id, Track.step_no, slot)).all()


def _at(number: int, seconds: int = HOUR_SECONDS) -> datetime:
    return datetime.fromtimestamp(number * seconds, tz=timezone.utc)


def _ranges(hours: Iterable[int], longest: int) -> Iterator[tuple[int, int]]:
    """Contiguous runs of sorted hours as [start, end), none longer than `longest`."""
    start = end = None
    for hour in hours:
        if start is not None and hour == end and end - start < longest:
            end += 1
            continue
        if start is not None:
            yield start, end
        start, end = hour, hour + 1
    if start is not None:
        yield start, end
