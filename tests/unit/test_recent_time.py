"""A time a person at the line types (the Loading Terminal's paste times): an ISO date-time, or a plant clock
time HH:MM meaning the latest such moment not after now (web/filters.parse_recent_time)."""
from datetime import datetime, timezone

import pytest

from app.services.platform.clock import simulated
from app.services.platform.errors import DomainError
from app.web.filters import parse_recent_time

NOW = datetime(2026, 12, 4, 0, 10, tzinfo=timezone.utc)  # outside an app the plant zone is UTC


@pytest.mark.parametrize("typed, expected", [
    ("00:05", datetime(2026, 12, 4, 0, 5, tzinfo=timezone.utc)),       # earlier today
    ("23:40", datetime(2026, 12, 3, 23, 40, tzinfo=timezone.utc)),     # just after midnight: yesterday's
    ("7:30", datetime(2026, 12, 3, 7, 30, tzinfo=timezone.utc)),
    (" 00:10 ", NOW),
    ("00:13", datetime(2026, 12, 4, 0, 13, tzinfo=timezone.utc)),      # a clock 3 min fast: still today's
    ("00:16", datetime(2026, 12, 3, 0, 16, tzinfo=timezone.utc)),      # beyond the 5 min skew: yesterday's
    ("2026-12-03T21:00+00:00", datetime(2026, 12, 3, 21, 0, tzinfo=timezone.utc)),
])
def test_a_clock_time_is_the_latest_such_moment(typed, expected):
    with simulated(NOW):
        assert parse_recent_time(typed, "at") == expected


@pytest.mark.parametrize("typed", ["24:00", "12:60", "noon"])
def test_anything_else_is_refused(typed):
    with simulated(NOW), pytest.raises(DomainError) as refused:
        parse_recent_time(typed, "at")
    assert refused.value.code == "VALIDATION_ERROR"


def test_empty_is_none():
    assert parse_recent_time(None, "at") is None and parse_recent_time("", "at") is None
