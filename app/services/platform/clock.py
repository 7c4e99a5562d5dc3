"""The services' one clock: timezone-aware UTC (ARCHITECTURE "Time"). The models' column defaults use
the same function, so a row written by a service and one defaulted by the database layer agree.

`simulated(at)` sets the clock of the current context to a past moment: only the demo-history generator
(seed/history.py) uses it, to play weeks of production through the real services at their own times."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from ...models.base import _simulated_now
from ...models.base import utcnow as now

# how far ahead of the server's clock a time reported from the line may be (a terminal's or a scanner's clock a
# little fast): not yet "in the future"
CLOCK_SKEW = timedelta(minutes=5)

__all__ = ["now", "simulated"]


@contextmanager
def simulated(at: datetime) -> Iterator[None]:
    """Within the block (this thread / context only), `now()` answers `at`."""
    if at.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    token = _simulated_now.set(at)
    try:
        yield
    finally:
        _simulated_now.reset(token)
