"""Exposure clocks, without the database (issue 18): the floor life of moisture-sensitive devices
(IPC/JEDEC J-STD-033) and the time windows of solder paste. The use cases (loading verification, the
readiness items, the Loading Terminal) record the events and ask these functions where a clock stands.

MSD floor life (J-STD-033 table 5-1, at ≤ 30 °C / 60 % RH): level 1 unlimited, 2 one year, 2a four weeks,
3 168 h, 4 72 h, 5 48 h, 5a 24 h; level 6 must be baked before use and its floor life is the time on the
label (`label_hours`). A reel's clock starts when it leaves its dry pack (OPENED), pauses while it is in
dry storage or resealed in a dry bag (DRY_IN … DRY_OUT), and a bake (BAKED, at the end of the bake)
resets the exposure to zero with the reel back on the floor. The warning comes `warn_before` ahead of the
end (a plant setting); a spent floor life is EXPIRED.

Solder paste: a jar must have thawed (out of the refrigerator) for at least `min_thaw` before it is
opened or used, may be open at most `max_open`, and on the stencil at most `max_stencil`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from ...models.master import MSL_LEVELS

FLOOR_LIFE_HOURS: dict[str, Optional[float]] = {
    "1": None,          # unlimited
    "2": 365 * 24.0,
    "2a": 4 * 7 * 24.0,
    "3": 168.0,
    "4": 72.0,
    "5": 48.0,
    "5a": 24.0,
    "6": None,          # time on label: the reel's label says
}
MSD_LEVELS = tuple(FLOOR_LIFE_HOURS)
assert MSD_LEVELS == MSL_LEVELS, "the floor lives cover exactly the levels master data accepts"
MSD_EVENTS = ("OPENED", "DRY_IN", "DRY_OUT", "BAKED")


def floor_life(level: str, label_hours: Optional[float] = None) -> Optional[timedelta]:
    """The floor life of a level (None: unlimited). Level 6 needs the time on the label."""
    level = (level or "").strip().lower()
    if level not in FLOOR_LIFE_HOURS:
        raise ValueError(f"moisture sensitivity level must be one of {', '.join(MSD_LEVELS)}, got {level!r}")
    if level == "6":
        if not label_hours or label_hours <= 0:
            raise ValueError("level 6 needs the time on the label (hours)")
        return timedelta(hours=label_hours)
    hours = FLOOR_LIFE_HOURS[level]
    return None if hours is None else timedelta(hours=hours)


@dataclass(frozen=True)
class MsdClock:
    state: str                      # SEALED (never opened), ON_FLOOR, DRY (paused)
    exposure: timedelta             # accumulated time on the floor since the dry pack or the last bake
    floor_life: Optional[timedelta]  # None: unlimited
    remaining: Optional[timedelta]   # None: unlimited
    status: str                     # OK, WARN, EXPIRED
    expires_at: Optional[datetime]  # when the floor life runs out if the reel stays on the floor


def msd_clock(events: Iterable[tuple[str, datetime]], at: datetime, life: Optional[timedelta],
              warn_before: timedelta = timedelta(hours=4)) -> MsdClock:
    """Where a reel's clock stands `at`, from its events (kind, time) in any order; events after `at`
    are ignored. A DRY_IN without an OPENED before it (a reel stored dry from the start) keeps it DRY."""
    state, exposure, since = "SEALED", timedelta(0), None
    for kind, when in sorted(((k, t) for k, t in events if t <= at), key=lambda e: e[1]):
        if kind not in MSD_EVENTS:
            raise ValueError(f"MSD event must be one of {', '.join(MSD_EVENTS)}, got {kind!r}")
        if state == "ON_FLOOR" and kind in ("DRY_IN", "BAKED"):
            exposure += when - since
        if kind == "BAKED":
            exposure, state, since = timedelta(0), "ON_FLOOR", when
        elif kind in ("OPENED", "DRY_OUT") and state != "ON_FLOOR":
            state, since = "ON_FLOOR", when
        elif kind == "DRY_IN":
            state = "DRY"
    if state == "ON_FLOOR":
        exposure += at - since
    if life is None:
        return MsdClock(state, exposure, None, None, "OK", None)
    remaining = life - exposure
    status = "EXPIRED" if remaining <= timedelta(0) else "WARN" if remaining < warn_before else "OK"
    expires_at = at + remaining if state == "ON_FLOOR" else None
    return MsdClock(state, exposure, life, remaining, status, expires_at)


@dataclass(frozen=True)
class PasteWindows:
    min_thaw: Optional[timedelta]
    max_open: Optional[timedelta]
    max_stencil: Optional[timedelta]


@dataclass(frozen=True)
class PasteClock:
    status: str                     # OK, THAWING (not usable yet), NOT_THAWED (no thaw start), EXPIRED
    reason: Optional[str]           # which window, for the message
    remaining: Optional[timedelta]  # THAWING: until usable; OK: until the first window closes (None: no limit)


def paste_clock(windows: PasteWindows, at: datetime, *, thaw_started_at: Optional[datetime],
                opened_at: Optional[datetime] = None, on_stencil_at: Optional[datetime] = None) -> PasteClock:
    """Whether a paste jar may be used `at`: thawed long enough, not open too long, not on the stencil
    too long. Windows the material does not set do not apply."""
    if windows.min_thaw is not None:
        if thaw_started_at is None:
            return PasteClock("NOT_THAWED", "thaw", None)
        thawed = at - thaw_started_at
        if thawed < windows.min_thaw:
            return PasteClock("THAWING", "thaw", windows.min_thaw - thawed)
    left = []
    for reason, start, window in (("open", opened_at, windows.max_open), ("stencil", on_stencil_at, windows.max_stencil)):
        if start is None or window is None:
            continue
        rest = window - (at - start)
        if rest <= timedelta(0):
            return PasteClock("EXPIRED", reason, timedelta(0))
        left.append((rest, reason))
    if not left:
        return PasteClock("OK", None, None)
    rest, reason = min(left)
    return PasteClock("OK", reason, rest)
