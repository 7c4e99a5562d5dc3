"""Who is acting: a person, the system (CLI, seed) or an integration (API key)."""
from __future__ import annotations

from dataclasses import dataclass, field

SCOPE_ORDER = {"STATIONS": 0, "LINES": 1, "ALL": 2}


@dataclass(frozen=True)
class DataScope:
    """ALL, or the lines / stations a user is bound to. LINES/STATIONS with no bindings is empty.

    For STATIONS, `line_ids` holds the lines of the bound stations (what such a user may see)."""

    mode: str = "ALL"
    line_ids: frozenset[int] = frozenset()
    station_ids: frozenset[int] = frozenset()

    @property
    def is_all(self) -> bool:
        return self.mode == "ALL"

    def allows_line(self, line_id: int | None) -> bool:
        return self.is_all or (line_id is not None and line_id in self.line_ids)

    def allows_station(self, station_id: int | None, line_id: int | None) -> bool:
        if self.is_all:
            return True
        if self.mode == "LINES":
            return line_id is not None and line_id in self.line_ids
        return station_id is not None and station_id in self.station_ids


ALL_SCOPE = DataScope("ALL")


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    actor_type: str = "USER"  # USER / SYSTEM / INTEGRATION
    roles: tuple[str, ...] = ()
    permissions: frozenset[str] = field(default_factory=frozenset)  # domain names, e.g. "exec:track_in"
    scope: DataScope = ALL_SCOPE
    is_admin: bool = False

    def can(self, permission: str) -> bool:
        return self.is_admin or self.actor_type == "SYSTEM" or permission in self.permissions

    @property
    def roles_label(self) -> str:
        return ",".join(self.roles)


SYSTEM = Actor(user_id=None, username="SYSTEM", actor_type="SYSTEM", roles=(), is_admin=True)
