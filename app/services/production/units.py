"""A unit's status moves (01_domain_model §7) and what follows them, in one place.

`ended_at` follows the status: the moment a unit becomes DONE (its last TrackOut) or SCRAPPED, and
NULL again when it leaves them (an MRB rework sends DONE units back to work). The reports count
output, scrap and WIP by it (services/production/reports.py). The ORM paths (dispositions, MRB)
move a unit with `move`; the hot path's Core UPDATE takes the same value from `ended_at_after`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from ...models import Unit
from ..platform.clock import now
from ..platform.states import is_terminal, transition


def ended_at_after(status: str, at: datetime) -> Optional[datetime]:
    """The `ended_at` of a unit that has just moved to `status` at `at`."""
    return at if is_terminal("UNIT", status) else None


def move(unit: Unit, event: str, at: Optional[datetime] = None) -> str:
    """Move the unit by the UNIT state table (refused moves raise) and keep `ended_at` with it."""
    unit.status = transition("UNIT", unit.status, event)
    unit.ended_at = ended_at_after(unit.status, at or now())
    return unit.status
