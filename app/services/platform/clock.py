"""The services' one clock: timezone-aware UTC (ARCHITECTURE "Time"). The models' column defaults use
the same function, so a row written by a service and one defaulted by the database layer agree."""
from __future__ import annotations

from ...models.base import utcnow as now

__all__ = ["now"]
