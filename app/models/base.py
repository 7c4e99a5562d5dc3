"""Shared model plumbing: naming convention, UTC datetimes, JSON, timestamps.

Every table lives on Flask-AppBuilder's `Model.metadata` (Flask-SQLAlchemy's `db.metadata` stays
empty); the naming convention is set here, before any of our models is declared, so Alembic batch
mode on SQLite can drop and recreate named constraints.
"""
from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import JSON, DateTime, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = Model.metadata
metadata.naming_convention = NAMING_CONVENTION


# Set only by the demo-history generator (`flask mes seed --demo-history`, platform/clock.py): the
# services then record weeks of history at the times it plays them. Unset everywhere else.
_simulated_now: ContextVar[Optional[datetime]] = ContextVar("mes_simulated_now", default=None)


def utcnow() -> datetime:
    simulated = _simulated_now.get()
    return simulated if simulated is not None else datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on every backend (SQLite returns naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )
