"""AuditEvent (spec 01_domain_model §6): append-only, enforced by the ORM guard below and by a
database trigger created in the migrations (SQLite and PostgreSQL).

ElectronicSignature: an electronic signature (21 CFR Part 11 §11.50/§11.70): who signed (re-entering
their password), what it means, when, and the record it signs. As unchangeable as the audit trail.

AuditArchive: one export of older audit events to a checksummed JSONL file (`flask mes audit-archive`,
services/platform/audit_archive.py). The events stay in audit_event; the archive rows are as
unchangeable as the events they describe (the same guards)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from .base import IdMixin, JSONType, Model, UTCDateTime, utcnow

ACTOR_TYPES = ("USER", "SYSTEM", "INTEGRATION")


class AuditEvent(IdMixin, Model):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_key"),
        Index("ix_audit_event_actor_at", "actor_id", "at"),
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(Integer)  # no FK: the trail outlives users
    actor_username: Mapped[str] = mapped_column(String(128), nullable=False)
    actor_roles: Mapped[Optional[str]] = mapped_column(String(512))
    actor_type: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    entity_type: Mapped[Optional[str]] = mapped_column(String(64))
    entity_key: Mapped[Optional[str]] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    error_code: Mapped[Optional[str]] = mapped_column(String(64))
    diff: Mapped[Optional[dict]] = mapped_column(JSONType)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    payload: Mapped[Optional[dict]] = mapped_column(JSONType)
    request_id: Mapped[Optional[str]] = mapped_column(String(64))
    ip: Mapped[Optional[str]] = mapped_column(String(64))


class ElectronicSignature(IdMixin, Model):
    """One signature, linked to the record it signs (`entity_type` + `entity_key`, e.g. INSPECTION 12)
    and to its run; written in the transaction of the signed change (services/platform/signatures.py)."""

    __tablename__ = "electronic_signature"
    __table_args__ = (Index("ix_electronic_signature_entity", "entity_type", "entity_key"),)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    signer_id: Mapped[int] = mapped_column(Integer, nullable=False)  # no FK: signatures outlive users
    signer_username: Mapped[str] = mapped_column(String(128), nullable=False)
    signer_name: Mapped[str] = mapped_column(String(256), nullable=False)  # the printed name at signing time
    meaning: Mapped[str] = mapped_column(String(128), nullable=False)  # e.g. "FAI approved", "MRB: release"
    entity_type: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_key: Mapped[str] = mapped_column(String(256), nullable=False)
    run_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    remark: Mapped[Optional[str]] = mapped_column(Text)
    request_id: Mapped[Optional[str]] = mapped_column(String(64))


class AuditArchive(IdMixin, Model):
    __tablename__ = "audit_archive"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    # the events archived: at >= period_start and at < period_end (the previous archive's end, or the
    # oldest event's time, up to --before). Unique: two archives never cover the same period.
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, unique=True)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    file: Mapped[str] = mapped_column(String(1024), nullable=False)  # where it was written
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditAppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditArchive, "before_update")
@event.listens_for(ElectronicSignature, "before_update")
def _no_update(mapper, connection, target):  # pragma: no cover - guard
    raise AuditAppendOnlyError("audit events and archives are append-only")


@event.listens_for(AuditEvent, "before_delete")
@event.listens_for(AuditArchive, "before_delete")
@event.listens_for(ElectronicSignature, "before_delete")
def _no_delete(mapper, connection, target):  # pragma: no cover - guard
    raise AuditAppendOnlyError("audit events and archives are append-only")
