"""Readiness checks, feeder loading, line consumables and genealogy (spec 01_domain_model §4, and
MaterialUse in §3)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime, utcnow
from .master import Line, Material, MaterialLot, Product, Station
from .routing import Routing

CHECK_KINDS = ("PRECHECK", "FORMAL")
STENCIL_STATUSES = ("READY", "NOT_READY", "MAINTENANCE")
PASTE_STATUSES = ("COMPLIANT", "NON_COMPLIANT", "EXPIRED")


class ReadinessCheck(IdMixin, Model):
    """One evaluation of a run's readiness. `inputs_hash` fingerprints everything the items were
    computed from: a FORMAL check is current while the fingerprint still matches."""

    __tablename__ = "readiness_check"
    __table_args__ = (Index("ix_readiness_check_run_kind", "run_id", "kind", "id"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    checked_by: Mapped[str] = mapped_column(String(128), nullable=False)
    inputs_hash: Mapped[str] = mapped_column(String(64), nullable=False)

    items: Mapped[list["ReadinessItem"]] = relationship(back_populates="check", order_by="ReadinessItem.id",
                                                        cascade="all, delete-orphan")


class ReadinessItem(IdMixin, Model):
    __tablename__ = "readiness_item"
    check_id: Mapped[int] = mapped_column(ForeignKey("readiness_check.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    item_type: Mapped[str] = mapped_column(String(16), nullable=False)
    item_key: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    fail_code: Mapped[Optional[str]] = mapped_column(String(64))
    fail_reason: Mapped[Optional[str]] = mapped_column(Text)
    evidence: Mapped[Optional[dict]] = mapped_column(JSONType)
    waived_by: Mapped[Optional[str]] = mapped_column(String(128))
    waived_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    waive_reason: Mapped[Optional[str]] = mapped_column(Text)

    check: Mapped[ReadinessCheck] = relationship(back_populates="items")


class FeederSlot(IdMixin, TimestampMixin, Model):
    __tablename__ = "feeder_slot"
    __table_args__ = (UniqueConstraint("line_id", "slot_code"),)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id"), nullable=False, index=True)
    station_id: Mapped[Optional[int]] = mapped_column(ForeignKey("station.id"), index=True)
    slot_code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[Optional[str]] = mapped_column(String(128))
    position: Mapped[Optional[int]] = mapped_column(Integer)
    current_lot_id: Mapped[Optional[int]] = mapped_column(ForeignKey("material_lot.id"))
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    locked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    locked_reason: Mapped[Optional[str]] = mapped_column(Text)

    line: Mapped[Line] = relationship()
    station: Mapped[Optional[Station]] = relationship()
    current_lot: Mapped[Optional[MaterialLot]] = relationship()
    mappings: Mapped[list["SlotMaterialMapping"]] = relationship(back_populates="slot", cascade="all, delete-orphan",
                                                                 passive_deletes=True)

    def __repr__(self) -> str:
        return f"{self.line.code if self.line else self.line_id}/{self.slot_code}"


class SlotMaterialMapping(IdMixin, TimestampMixin, Model):
    """The slot table: which material a slot expects (primary = lowest priority non-alternate), for
    every product/routing or scoped to one."""

    __tablename__ = "slot_material_mapping"
    slot_id: Mapped[int] = mapped_column(ForeignKey("feeder_slot.id", ondelete="CASCADE"), nullable=False, index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"), nullable=False)
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("product.id"))
    routing_id: Mapped[Optional[int]] = mapped_column(ForeignKey("routing.id"))
    priority: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    is_alternate: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    slot: Mapped[FeederSlot] = relationship(back_populates="mappings")
    material: Mapped[Material] = relationship()
    product: Mapped[Optional[Product]] = relationship()
    routing: Mapped[Optional[Routing]] = relationship()


class RunSlotExpectation(IdMixin, TimestampMixin, Model):
    __tablename__ = "run_slot_expectation"
    __table_args__ = (UniqueConstraint("run_id", "slot_id"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False, index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("feeder_slot.id"), nullable=False)
    expected_material_id: Mapped[int] = mapped_column(ForeignKey("material.id"), nullable=False)
    alternates: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)  # material codes
    status: Mapped[str] = mapped_column(String(16), default="PENDING", nullable=False)
    loaded_material_id: Mapped[Optional[int]] = mapped_column(ForeignKey("material.id"))
    loaded_lot_id: Mapped[Optional[int]] = mapped_column(ForeignKey("material_lot.id"))
    loaded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    loaded_by: Mapped[Optional[str]] = mapped_column(String(128))

    slot: Mapped[FeederSlot] = relationship()
    expected_material: Mapped[Material] = relationship(foreign_keys=[expected_material_id])
    loaded_material: Mapped[Optional[Material]] = relationship(foreign_keys=[loaded_material_id])
    loaded_lot: Mapped[Optional[MaterialLot]] = relationship()


class LoadingRecord(IdMixin, Model):
    """Every scan is a row. A FAIL scan has no status (nothing was loaded); a loaded reel is LOADED
    until it is replaced (REPLACED) or taken off (UNLOADED)."""

    __tablename__ = "loading_record"
    __table_args__ = (Index("ix_loading_record_run_slot", "run_id", "slot_id"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False)
    slot_id: Mapped[int] = mapped_column(ForeignKey("feeder_slot.id"), nullable=False)
    lot_id: Mapped[Optional[int]] = mapped_column(ForeignKey("material_lot.id"), index=True)
    barcode: Mapped[str] = mapped_column(String(160), nullable=False)
    expected_material_code: Mapped[Optional[str]] = mapped_column(String(64))
    scanned_material_code: Mapped[Optional[str]] = mapped_column(String(64))
    verify_result: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[Optional[str]] = mapped_column(String(16))
    fail_reason: Mapped[Optional[str]] = mapped_column(String(64))
    loaded_by: Mapped[str] = mapped_column(String(128), nullable=False)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    unloaded_by: Mapped[Optional[str]] = mapped_column(String(128))
    unloaded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    replace_reason: Mapped[Optional[str]] = mapped_column(Text)

    slot: Mapped[FeederSlot] = relationship()
    lot: Mapped[Optional[MaterialLot]] = relationship()


class LineStencil(IdMixin, Model):
    """A stencil bound to a line. `current_line_id` is set while the binding is current: its unique
    index allows one current stencil per line."""

    __tablename__ = "line_stencil"
    __table_args__ = (Index("uq_line_stencil_current", "current_line_id", unique=True),)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id"), nullable=False, index=True)
    stencil_id: Mapped[str] = mapped_column(String(64), nullable=False)
    current_line_id: Mapped[Optional[int]] = mapped_column(Integer)
    bound_by: Mapped[str] = mapped_column(String(128), nullable=False)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    unbound_by: Mapped[Optional[str]] = mapped_column(String(128))
    unbound_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    @property
    def is_current(self) -> bool:
        return self.current_line_id is not None


class LineSolderPaste(IdMixin, Model):
    """A solder-paste lot bound to a line, with the times of its jar (issue 18 paste timers): out of the
    refrigerator (thaw start), opened, put on the stencil. services/preparation/paste.py records them."""

    __tablename__ = "line_solder_paste"
    __table_args__ = (Index("uq_line_solder_paste_current", "current_line_id", unique=True),)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id"), nullable=False, index=True)
    lot_no: Mapped[str] = mapped_column(String(64), nullable=False)
    current_line_id: Mapped[Optional[int]] = mapped_column(Integer)
    bound_by: Mapped[str] = mapped_column(String(128), nullable=False)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    unbound_by: Mapped[Optional[str]] = mapped_column(String(128))
    unbound_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    thaw_started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    opened_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    on_stencil_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    @property
    def is_current(self) -> bool:
        return self.current_line_id is not None


class StencilStatus(IdMixin, Model):
    """Append-only stencil status records (TPM or manual); the latest by event_time counts."""

    __tablename__ = "stencil_status"
    __table_args__ = (Index("ix_stencil_status_latest", "stencil_id", "event_time"),)
    event_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    stencil_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    tension: Mapped[Optional[float]] = mapped_column(Float)
    extra: Mapped[Optional[dict]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class SolderPasteStatus(IdMixin, Model):
    __tablename__ = "solder_paste_status"
    __table_args__ = (Index("ix_solder_paste_status_latest", "lot_no", "event_time"),)
    event_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lot_no: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    thawed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    extra: Mapped[Optional[dict]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class EquipmentStatusEvent(IdMixin, Model):
    """Append-only equipment status messages (TPM or manual); the equipment row keeps the latest."""

    __tablename__ = "equipment_status_event"
    event_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class MaterialUse(IdMixin, Model):
    """Genealogy: which lot went into which unit, at which track, slot and step."""

    __tablename__ = "material_use"
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"), nullable=False, index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"), nullable=False)
    slot_code: Mapped[Optional[str]] = mapped_column(String(32))
    step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
