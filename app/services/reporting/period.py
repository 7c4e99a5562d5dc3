"""The period of a report and its buckets, in the plant's time zone (MES_TIMEZONE) and shifts
(MES_SHIFTS).

A period is half-open, [from, to). `from` and `to` are ISO-8601: a date alone is that day in the
plant's zone (`to` a date: up to the end of that day), a date-time without an offset is plant time,
one with an offset is taken as given. Without `from` the period starts at the plant's midnight today;
without `to` it ends now.

Buckets (`hour`, `shift`, `day`) are local: an hour bucket is a local clock hour (a day with a DST
change has 23 or 25), a day starts at local midnight, a shift at its start time (MES_SHIFTS, by default
"EARLY=06:00,LATE=14:00,NIGHT=22:00": the night shift of 3 December runs to 06:00 on the 4th). The database groups
rows into 15-minute UTC slots (every time zone's offset is a multiple of 15 minutes, so a slot never
straddles a local hour; where the zone's offset and the shift starts are whole hours the slots are
hours) and this module maps the slots onto buckets.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Optional
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Integer, cast, func

from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M

SLOT = timedelta(minutes=15)
SLOT_SECONDS = 900
BUCKETS = ("hour", "shift", "day")
# the longest period per bucket: what a chart can show and the 1 s budget can read
MAX_DAYS = {"hour": 31, "shift": 92, "day": 366}
DEFAULT_SHIFTS = "EARLY=06:00,LATE=14:00,NIGHT=22:00"


@dataclass(frozen=True)
class Shift:
    name: str
    start: time


def parse_shifts(text: Optional[str]) -> list[Shift]:
    """MES_SHIFTS, "NAME=HH:MM,…": at least one shift, distinct names and start times, sorted by start."""
    shifts = []
    for part in (text or DEFAULT_SHIFTS).split(","):
        name, sep, start = part.strip().partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            shifts.append(Shift(name.strip(), time.fromisoformat(start.strip())))
        except ValueError:
            raise ValueError(f"MES_SHIFTS {text!r}: write the shifts as NAME=HH:MM separated by commas "
                             "(e.g. DAY=08:00,NIGHT=20:00)") from None
    if len({s.name for s in shifts}) != len(shifts) or len({s.start for s in shifts}) != len(shifts):
        raise ValueError(f"MES_SHIFTS {text!r}: shift names and start times must be distinct")
    return sorted(shifts, key=lambda s: s.start)


def plant_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("MES_TIMEZONE") or "UTC")


def plant_shifts() -> list[Shift]:
    return parse_shifts(current_app.config.get("MES_SHIFTS"))


@dataclass(frozen=True)
class Bucket:
    start: datetime  # aware, in the plant's zone
    label: str

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "label": self.label}


@dataclass(frozen=True)
class Period:
    start: datetime  # aware UTC, inclusive
    end: datetime    # aware UTC, exclusive
    bucket: str
    zone: ZoneInfo
    shifts: tuple[Shift, ...]

    def to_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "bucket": self.bucket,
                "timeZone": self.zone.key, "shifts": [f"{s.name}={s.start.strftime('%H:%M')}" for s in self.shifts]}

    # --- buckets ------------------------------------------------------------------------------

    def bucket_of(self, moment: datetime) -> Bucket:
        local = moment.astimezone(self.zone)
        if self.bucket == "hour":
            start = local.replace(minute=0, second=0, microsecond=0)
            return Bucket(start, start.strftime("%Y-%m-%d %H:00"))
        if self.bucket == "day":
            start = _local_midnight(local.date(), self.zone)
            return Bucket(start, local.date().isoformat())
        return self._shift_of(local)

    def _shift_of(self, local: datetime) -> Bucket:
        day, clock = local.date(), local.time().replace(tzinfo=None)
        current = [s for s in self.shifts if s.start <= clock]
        if current:
            shift = current[-1]
        else:  # before the first start of the day: the last shift of the day before
            shift, day = self.shifts[-1], day - timedelta(days=1)
        start = datetime.combine(day, shift.start).replace(tzinfo=self.zone)
        return Bucket(start, f"{day.isoformat()} {shift.name}")

    @property
    def slot_seconds(self) -> int:
        """Hours when no bucket edge falls inside an hour (the zone's offsets over the period and the
        shift starts are whole hours: the usual case, four times fewer groups), else 15 minutes."""
        return _slot_seconds(self)

    def slot_sql(self, column, dialect: str):
        """The slot of a datetime column, as SQL to group by: on SQLite the hour as text
        ('YYYY-MM-DD HH', cheaper than parsing every value) or the 15-minute number; on PostgreSQL
        the slot number."""
        seconds = self.slot_seconds
        if dialect == "sqlite" and seconds == 3600:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC
            return func.substr(column, 1, 13)
        return slot_number_sql(column, dialect, seconds)

    def bucket_of_slot(self, slot) -> Bucket:
        """The bucket of a slot value `slot_sql` grouped by."""
        return _bucket_of_slot(self, slot)

    def buckets(self) -> list[Bucket]:
        """Every bucket the period touches, in order (the x axis of a chart, zeros included)."""
        seen: dict[str, Bucket] = {}
        for moment in self._slot_starts():
            bucket = self.bucket_of(moment)
            seen.setdefault(bucket.start.isoformat(), bucket)
        return list(seen.values())

    def _slot_starts(self) -> Iterator[datetime]:
        first = int(self.start.timestamp()) // SLOT_SECONDS
        moment = datetime.fromtimestamp(first * SLOT_SECONDS, tz=timezone.utc)
        while moment < self.end:
            yield moment
            moment += SLOT


def slot_number_sql(column, dialect: str, seconds: int):
    """The number of the `seconds`-long UTC slot a datetime column falls in, as SQL (`//`: SQLAlchemy
    2's integer division; `/` on integers would be true division)."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer) // seconds
    return cast(func.floor(func.extract("epoch", column) / seconds), Integer)


@lru_cache(maxsize=65536)
def _bucket_of_slot(period: Period, slot) -> Bucket:
    """Slots repeat across a report's rows (every run, step and result of a slot): map each once."""
    if isinstance(slot, str):  # SQLite's hour text
        return period.bucket_of(datetime.fromisoformat(f"{slot}:00").replace(tzinfo=timezone.utc))
    return period.bucket_of(datetime.fromtimestamp(int(slot) * period.slot_seconds, tz=timezone.utc))


@lru_cache(maxsize=1024)
def _slot_seconds(period: Period) -> int:
    if any(s.start.minute or s.start.second for s in period.shifts) and period.bucket == "shift":
        return SLOT_SECONDS
    day = period.start
    while day <= period.end + timedelta(days=1):
        for moment in (day, day + timedelta(hours=12)):
            offset = period.zone.utcoffset(moment.replace(tzinfo=None))
            if offset is None or offset.total_seconds() % 3600:
                return SLOT_SECONDS
        day += timedelta(days=1)
    return 3600


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=zone)


def _moment(value: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return _local_midnight(day + timedelta(days=1) if end else day, zone)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("VALIDATION_ERROR", M("{field} is not an ISO date or date-time.", field=field),
                          {"fields": {field: "YYYY-MM-DD, or an ISO-8601 date-time"}}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


QUICK_PERIODS = (("today", "Today"), ("yesterday", "Yesterday"), ("7d", "Last 7 days"), ("30d", "Last 30 days"))


def quick_period(name: str) -> dict[str, str]:
    """`from`/`to` (plant dates, both days included) of a quick period: today, yesterday, 7d, 30d."""
    today = now().astimezone(plant_zone()).date()
    if name == "yesterday":
        day = (today - timedelta(days=1)).isoformat()
        return {"from": day, "to": day}
    days = {"7d": 6, "30d": 29}.get(name, 0)
    return {"from": (today - timedelta(days=days)).isoformat(), "to": today.isoformat()}


def _shown(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def period_from(*, date_from: Optional[str] = None, date_to: Optional[str] = None,
                bucket: Optional[str] = None, default_bucket: str = "hour") -> Period:
    """The period of a report from its query parameters (REPORT_PERIOD_INVALID, VALIDATION_ERROR)."""
    zone = plant_zone()
    kind = (bucket or default_bucket).strip().lower()
    if kind not in BUCKETS:
        raise DomainError("VALIDATION_ERROR", M("bucket must be hour, shift or day, not {bucket}.", bucket=repr(bucket)),
                          {"fields": {"bucket": "hour, shift or day"}})
    moment = now()
    end = _moment(date_to, "to", zone, end=True) if date_to else moment
    start = (_moment(date_from, "from", zone, end=False) if date_from
             else _local_midnight(moment.astimezone(zone).date(), zone))
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if start >= end:
        raise DomainError("REPORT_PERIOD_INVALID", M("The period starts ({start}) at or after its end ({end}): choose a start before the end.",
                            start=_shown(start, zone), end=_shown(end, zone)),
                          {"from": start.isoformat(), "to": end.isoformat()})
    if end - start > timedelta(days=MAX_DAYS[kind]):
        raise DomainError("REPORT_PERIOD_INVALID", (M("{kind} buckets cover at most {days} days: shorten the period or choose day.",
                             kind=kind, days=MAX_DAYS[kind]) if kind != "day" else
                           M("{kind} buckets cover at most {days} days: shorten the period or choose a shorter period.",
                             kind=kind, days=MAX_DAYS[kind])),
                          {"bucket": kind, "maxDays": MAX_DAYS[kind]})
    return Period(start, end, kind, zone, tuple(plant_shifts()))
