"""Data-scope filters: a user bound to lines/stations sees and acts on those only.

Reading a record by its business key (a unit trace by SN, a run, a work order): a record outside the
reader's lines is answered exactly like one that does not exist (`require_visible`) — the same code,
status (404 for the key in the path), message and details — so that no one learns which SNs, runs or
work orders exist on lines they may not see. Actions on a record keep answering FORBIDDEN (403): the
user was given the key to act on and needs to know why they may not."""
from __future__ import annotations

from sqlalchemy import false, true
from sqlalchemy.sql import ColumnElement

from .actor import Actor
from .errors import DomainError


def line_filter(actor: Actor, line_id_col) -> ColumnElement:
    """WHERE clause restricting rows with a line id to the actor's scope."""
    scope = actor.scope
    if actor.is_admin or scope.is_all:
        return true()
    if not scope.line_ids:
        return false()
    return line_id_col.in_(sorted(scope.line_ids))


def station_filter(actor: Actor, station_id_col, line_id_col) -> ColumnElement:
    """WHERE clause restricting rows with a station (and its line) to the actor's scope."""
    scope = actor.scope
    if actor.is_admin or scope.is_all:
        return true()
    if scope.mode == "LINES":
        return line_id_col.in_(sorted(scope.line_ids)) if scope.line_ids else false()
    return station_id_col.in_(sorted(scope.station_ids)) if scope.station_ids else false()


def in_line_scope(actor: Actor, line_id: int | None) -> bool:
    """May the actor see and act on this line (an admin, a scope of ALL, or a binding to the line)?"""
    return actor.is_admin or actor.scope.allows_line(line_id)


def require_visible(actor: Actor, line_id: int | None, missing: DomainError) -> None:
    """A record read by its business key is on one of the actor's lines, else `missing` — the very
    error an unknown key gets (e.g. UNIT_NOT_FOUND), so the answer does not tell that it exists."""
    if not in_line_scope(actor, line_id):
        raise missing


def sees_all_lines(actor: Actor) -> bool:
    """Is the actor bound to no line in particular (an admin, or a scope of ALL)?"""
    return actor.is_admin or actor.scope.is_all


def require_line(actor: Actor, line_id: int | None, line_code: str | None = None) -> None:
    """FORBIDDEN unless the line is in the actor's scope."""
    if in_line_scope(actor, line_id):
        return
    raise DomainError("FORBIDDEN", f"Line {line_code or line_id} is outside your assigned lines.")


def require_station(actor: Actor, station_id: int | None, line_id: int | None,
                    station_code: str | None = None) -> None:
    """FORBIDDEN unless the station is in the actor's scope (its line, for a scope of LINES)."""
    if actor.is_admin or actor.scope.allows_station(station_id, line_id):
        return
    raise DomainError("FORBIDDEN", f"Station {station_code or station_id} is outside your assigned stations.")


def require_permission(actor: Actor, permission: str) -> None:
    """FORBIDDEN unless the actor has the domain permission."""
    if not actor.can(permission):
        raise DomainError("FORBIDDEN", f"You do not have the permission {permission}.")
