"""Our additions to Flask-AppBuilder's security tables: data-scope bindings, role scopes, login
lockout and the shared security version that validates per-process caches."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import Column, ForeignKey, Integer, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UTCDateTime
from .master import Line, Station

SCOPES = ("ALL", "LINES", "STATIONS")

user_line_binding = Table(
    "user_line_binding",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("line_id", Integer, ForeignKey("line.id", ondelete="CASCADE"), primary_key=True),
)

user_station_binding = Table(
    "user_station_binding",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("station_id", Integer, ForeignKey("station.id", ondelete="CASCADE"), primary_key=True),
)


class MesUser(User):
    """FAB's user plus data-scope bindings, the time of the last failed login (lockout) and the
    session version (a console session is valid while it carries the current one: security/manager.py)."""

    __tablename__ = "ab_user"
    last_failed_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    lines: Mapped[list[Line]] = relationship(Line, secondary=user_line_binding, order_by=Line.code)
    stations: Mapped[list[Station]] = relationship(
        Station, secondary=user_station_binding, order_by=Station.code
    )


# A new password or a deactivation ends every console session of the user, whichever screen, API or
# CLI command makes the change (sign-out bumps the version itself: security/manager.py).
@event.listens_for(MesUser.password, "set", propagate=True)
def _password_set(target: MesUser, value, oldvalue, initiator) -> None:
    target.session_version = (target.session_version or 1) + 1


@event.listens_for(MesUser.active, "set", propagate=True)
def _active_set(target: MesUser, value, oldvalue, initiator) -> None:
    if not value:
        target.session_version = (target.session_version or 1) + 1


class RoleScope(Model):
    """The data scope of a role (ALL / LINES / STATIONS), a small table beside FAB's ab_role."""

    __tablename__ = "role_scope"
    role_id: Mapped[int] = mapped_column(
        ForeignKey("ab_role.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(16), nullable=False, default="ALL")
    role: Mapped[Role] = relationship(Role)

    def __repr__(self) -> str:
        return f"{self.role.name if self.role else self.role_id}: {self.scope}"


class SecurityVersion(Model):
    """One row, bumped in the same transaction as any user, role, permission, binding or API-key
    change; per-process permission caches compare against it on every request."""

    __tablename__ = "security_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
