"""The plant's time zone on screens (MES_TIMEZONE): the one display format of a stored UTC time, and
the one reading of a date or date-time a user types into a filter.

Times are stored in UTC; every console screen shows them in the plant's zone with an unambiguous label
("2026-07-01 18:00:00 UTC+08:00", never "CST", which is China's, Cuba's and the US Central zone alike),
and a date a user enters means that day in the plant's zone, converted to UTC for the query.

Languages (issue 17, zh-CN): one format in every language — the ISO-like `yyyy-MM-dd HH:mm[:ss]` with
the UTC offset, 24-hour clock. It is what Chinese plants read on their systems and labels, and it is the
national standard's own notation (GB/T 7408, the Chinese edition of ISO 8601); Babel's zh medium format
("2026年7月1日 18:00:00") is longer, sorts badly in tables and CSV, and would make a screenshot or an
export read differently per user. So nothing here depends on the language except the words around a
time, which the templates translate (`_('at %(time)s', time=…|mes_datetime)`); `format_datetime`'s
`locale` exists for a language that needs another order later (`LOCALE_PATTERNS`). The terminals' and
the line board's clocks (loading.js, board.js) format with the same 24-hour pattern in the plant's zone.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def plant_zone() -> ZoneInfo:
    name = (current_app.config.get("MES_TIMEZONE") if has_app_context() else None) or "UTC"
    return ZoneInfo(name)


def offset_label(offset: Optional[timedelta]) -> str:
    """'UTC+08:00', 'UTC-05:00', 'UTC+05:30'; plain 'UTC' for a zero offset."""
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def zone_label(moment: Optional[datetime] = None) -> str:
    """The label of the plant's zone at `moment` (now by default: a zone with daylight saving changes
    its offset): 'UTC+08:00 (Asia/Shanghai)' for headings and filter hints; 'UTC' for a UTC plant."""
    zone = plant_zone()
    moment = moment or datetime.now(timezone.utc)
    label = offset_label(moment.astimezone(zone).utcoffset())
    return label if zone.key == "UTC" else f"{label} ({zone.key})"


def to_datetime(value) -> Optional[datetime]:
    """A datetime (naive = UTC) or an ISO-8601 string as an aware datetime; None for anything else."""
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# strftime patterns (with seconds, without) per language; a language not listed uses the default, the
# ISO-like one (the module docstring: zh-CN reads it, GB/T 7408)
DEFAULT_PATTERNS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
LOCALE_PATTERNS: dict[str, tuple[str, str]] = {}


def format_datetime(value, seconds: bool = True, locale: Optional[str] = None) -> str:
    """A stored UTC time shown in the plant's zone with its UTC offset: '2026-07-01 18:00:00 UTC+08:00'
    (the Jinja filter `mes_datetime`), the same in English and Chinese. Takes a datetime (naive = UTC) or
    an ISO-8601 string (the services' dicts); anything else is shown as it is, None as blank."""
    moment = to_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    local = moment.astimezone(plant_zone())
    with_seconds, without = LOCALE_PATTERNS.get(locale or "", DEFAULT_PATTERNS)
    return local.strftime(with_seconds if seconds else without) + " " + offset_label(local.utcoffset())


def format_date(value) -> str:
    """The plant-local calendar day of a stored UTC time (a date input's value): '2026-07-01'."""
    moment = to_datetime(value)
    return moment.astimezone(plant_zone()).date().isoformat() if moment else ""


def local_to_utc(value: str, *, end_of_day: bool = False) -> datetime:
    """A date or date-time a user typed, read in the plant's zone (unless it carries an offset), in UTC.
    A date alone is the start of that plant day (or, with `end_of_day`, its last microsecond). Raises
    ValueError for anything else."""
    if len(value) == 10:
        day = date.fromisoformat(value)
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=plant_zone())
    return moment.astimezone(timezone.utc)


def register(app) -> None:
    """The Jinja filters and globals of the plant's time (every console template)."""
    app.jinja_env.filters["mes_datetime"] = format_datetime
    app.jinja_env.filters["mes_date"] = format_date
    app.jinja_env.globals["mes_zone_label"] = zone_label
