"""Inbound (and later outbound) integration messages (spec 01_domain_model §6): every message is
logged, for idempotency and the integration status page."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import IdMixin, JSONType, Model, UTCDateTime, utcnow

MESSAGE_STATUSES = ("NEW", "SUCCESS", "FAILED", "DUPLICATE")


class IntegrationMessage(IdMixin, Model):
    """One inbound message. Idempotency comes in two kinds: by event id (`dedupe_key`, carried only by
    the successful original, unique per system) and by content (`content_hash` of the latest
    successful message of the same business key, e.g. a work order sent again unchanged). Repeats are
    logged as DUPLICATE rows pointing at the original, failures as FAILED rows (a corrected retry is a
    new message)."""

    __tablename__ = "integration_message"
    __table_args__ = (
        UniqueConstraint("system", "dedupe_key"),
        Index("ix_integration_message_system_received", "system", "received_at"),
        Index("ix_integration_message_key", "system", "entity_type", "business_key"),
    )
    direction: Mapped[str] = mapped_column(String(4), default="IN", nullable=False)
    system: Mapped[str] = mapped_column(String(16), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(32), nullable=False)
    business_key: Mapped[Optional[str]] = mapped_column(String(128))
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(160))
    content_hash: Mapped[Optional[str]] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(8), default="AUTO", nullable=False)
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    payload: Mapped[Optional[dict]] = mapped_column(JSONType)
    result: Mapped[Optional[dict]] = mapped_column(JSONType)
    error: Mapped[Optional[str]] = mapped_column(Text)
    error_code: Mapped[Optional[str]] = mapped_column(String(64))
    duplicate_of_id: Mapped[Optional[int]] = mapped_column(ForeignKey("integration_message.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
