"""Exposure clocks (issue 18, app/services/preparation/exposure.py): MSD floor life per J-STD-033 with
pauses in dry storage and bake resets, and the solder-paste windows, on timelines worked out by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.services.preparation.exposure import PasteWindows, floor_life, msd_clock, paste_clock

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


@pytest.mark.parametrize("level,hours", [("1", None), ("2", 8760), ("2a", 672), ("2A", 672), ("3", 168),
                                         ("4", 72), ("5", 48), ("5a", 24)])
def test_the_floor_life_of_each_level(level, hours):
    assert floor_life(level) == (None if hours is None else hours * H)


def test_level_6_takes_the_time_on_the_label_and_unknown_levels_are_refused():
    assert floor_life("6", label_hours=6) == 6 * H
    for bad in (("6", None), ("7", None), ("", None), ("3b", None)):
        with pytest.raises(ValueError):
            floor_life(*bad)


def test_a_reel_on_the_floor_runs_its_clock_out():
    life = floor_life("5a")  # 24 h
    opened = [("OPENED", T0)]
    assert msd_clock([], T0 + 100 * H, life).state == "SEALED"
    clock = msd_clock(opened, T0 + 10 * H, life)
    assert (clock.state, clock.exposure, clock.remaining, clock.status) == ("ON_FLOOR", 10 * H, 14 * H, "OK")
    assert clock.expires_at == T0 + 24 * H
    assert msd_clock(opened, T0 + 20 * H, life).status == "OK"
    assert msd_clock(opened, T0 + 20 * H + timedelta(seconds=1), life).status == "WARN"  # 4 h before the end
    assert msd_clock(opened, T0 + 23 * H, life, warn_before=30 * timedelta(minutes=1)).status == "OK"
    spent = msd_clock(opened, T0 + 24 * H, life)
    assert (spent.status, spent.remaining) == ("EXPIRED", timedelta(0))


def test_dry_storage_pauses_and_a_bake_resets():
    life = floor_life("3")  # 168 h
    events = [("OPENED", T0), ("DRY_IN", T0 + 100 * H), ("DRY_OUT", T0 + 300 * H)]
    paused = msd_clock(events, T0 + 200 * H, life)
    assert (paused.state, paused.exposure, paused.remaining, paused.expires_at) == ("DRY", 100 * H, 68 * H, None)
    resumed = msd_clock(events, T0 + 365 * H, life)
    assert (resumed.exposure, resumed.status) == (165 * H, "WARN")
    assert resumed.expires_at == T0 + 368 * H
    assert msd_clock(events, T0 + 368 * H, life).status == "EXPIRED"
    baked = events + [("BAKED", T0 + 400 * H)]
    after = msd_clock(baked, T0 + 410 * H, life)
    assert (after.state, after.exposure, after.status) == ("ON_FLOOR", 10 * H, "OK")
    # events arrive in any order; events after the moment asked about do not count yet
    assert msd_clock(list(reversed(baked)), T0 + 410 * H, life) == after
    assert msd_clock(baked, T0 + 50 * H, life).exposure == 50 * H


def test_a_reel_stored_dry_from_the_start_and_unlimited_levels():
    assert msd_clock([("DRY_IN", T0)], T0 + 500 * H, floor_life("3")).exposure == timedelta(0)
    unlimited = msd_clock([("OPENED", T0)], T0 + 9000 * H, floor_life("1"))
    assert (unlimited.status, unlimited.remaining, unlimited.exposure) == ("OK", None, 9000 * H)
    with pytest.raises(ValueError):
        msd_clock([("WASHED", T0)], T0 + H, floor_life("3"))


WINDOWS = PasteWindows(min_thaw=4 * H, max_open=24 * H, max_stencil=8 * H)


def test_paste_must_thaw_first():
    assert paste_clock(WINDOWS, T0, thaw_started_at=None).status == "NOT_THAWED"
    thawing = paste_clock(WINDOWS, T0 + 3 * H, thaw_started_at=T0)
    assert (thawing.status, thawing.remaining) == ("THAWING", H)
    assert paste_clock(WINDOWS, T0 + 4 * H, thaw_started_at=T0).status == "OK"


def test_paste_open_and_stencil_windows():
    opened, stencil = T0 + 5 * H, T0 + 6 * H
    ok = paste_clock(WINDOWS, T0 + 10 * H, thaw_started_at=T0, opened_at=opened, on_stencil_at=stencil)
    assert (ok.status, ok.reason, ok.remaining) == ("OK", "stencil", 4 * H)   # 8 h on the stencil from 6 h
    late = paste_clock(WINDOWS, T0 + 14 * H, thaw_started_at=T0, opened_at=opened, on_stencil_at=stencil)
    assert (late.status, late.reason) == ("EXPIRED", "stencil")
    long_open = paste_clock(WINDOWS, T0 + 29 * H, thaw_started_at=T0, opened_at=opened)
    assert (long_open.status, long_open.reason) == ("EXPIRED", "open")
    only_open = paste_clock(WINDOWS, T0 + 9 * H, thaw_started_at=T0, opened_at=opened)
    assert (only_open.reason, only_open.remaining) == ("open", 20 * H)
    free = paste_clock(PasteWindows(None, None, None), T0, thaw_started_at=None)
    assert (free.status, free.remaining) == ("OK", None)
