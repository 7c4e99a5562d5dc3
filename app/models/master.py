"""Plant master data (spec 01_domain_model §1). Engineers maintain these in the console."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime, utcnow

PROCESS_TYPES = ("SMT", "DIP")
STATION_TYPES = ("MANUAL", "AUTO", "BATCH", "TEST")
EQUIPMENT_STATUSES = ("NORMAL", "DOWN", "MAINTENANCE")
DATA_SOURCES = ("AUTO", "MANUAL")
IQC_RESULTS = ("PENDING", "ACCEPTED", "REJECTED")
READINESS_ITEM_TYPES = ("ROUTE", "EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE", "LOADING")


def all_readiness_items() -> list[str]:
    return list(READINESS_ITEM_TYPES)


class Product(IdMixin, TimestampMixin, Model):
    __tablename__ = "product"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    process_type: Mapped[str] = mapped_column(String(8), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    bom_items: Mapped[list["BomItem"]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return self.code


class Material(IdMixin, TimestampMixin, Model):
    __tablename__ = "material"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[Optional[str]] = mapped_column(String(64))
    uom: Mapped[str] = mapped_column(String(16), default="PCS", nullable=False)
    model: Mapped[Optional[str]] = mapped_column(String(128))
    msl: Mapped[Optional[str]] = mapped_column(String(8))
    # solder paste (category SOLDER_PASTE) only: its windows in hours (services/preparation/paste.py)
    paste_min_thaw_hours: Mapped[Optional[float]] = mapped_column(Float)
    paste_max_open_hours: Mapped[Optional[float]] = mapped_column(Float)
    paste_max_stencil_hours: Mapped[Optional[float]] = mapped_column(Float)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __repr__(self) -> str:
        return self.code


class BomItem(IdMixin, TimestampMixin, Model):
    __tablename__ = "bom_item"
    __table_args__ = (UniqueConstraint("product_id", "material_id"),)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.id", ondelete="CASCADE"), nullable=False, index=True
    )
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"), nullable=False, index=True)
    qty_per: Mapped[float] = mapped_column(Float, default=1.0, nullable=False)
    ref_designators: Mapped[Optional[str]] = mapped_column(Text)

    product: Mapped[Product] = relationship(back_populates="bom_items")
    material: Mapped[Material] = relationship()

    def __repr__(self) -> str:
        return f"{self.product} / {self.material} x{self.qty_per:g}"


MSL_LEVELS = ("1", "2", "2a", "3", "4", "5", "5a", "6")  # moisture sensitivity levels, J-STD-033


class MaterialLot(IdMixin, TimestampMixin, Model):
    __tablename__ = "material_lot"
    __table_args__ = (UniqueConstraint("material_id", "lot_no"),)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"), nullable=False, index=True)
    lot_no: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    supplier: Mapped[Optional[str]] = mapped_column(String(128))
    date_code: Mapped[Optional[str]] = mapped_column(String(32))
    qty: Mapped[Optional[float]] = mapped_column(Float)
    iqc_result: Mapped[str] = mapped_column(String(16), default="PENDING", nullable=False)
    iqc_date: Mapped[Optional[date]] = mapped_column(Date)
    msd_label_hours: Mapped[Optional[float]] = mapped_column(Float)  # MSL 6: the floor life on the label

    material: Mapped[Material] = relationship()

    def __repr__(self) -> str:
        return f"{self.material}|{self.lot_no}"


class Line(IdMixin, TimestampMixin, Model):
    __tablename__ = "line"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    process_type: Mapped[str] = mapped_column(String(8), nullable=False)
    readiness_checks_enabled: Mapped[list] = mapped_column(
        JSONType, default=all_readiness_items, nullable=False
    )
    # the planned output (boards per hour) the reports, the dashboard and the line board compare with
    target_per_hour: Mapped[Optional[int]] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    stations: Mapped[list["Station"]] = relationship(back_populates="line")

    def __repr__(self) -> str:
        return self.code


class StationGroup(IdMixin, TimestampMixin, Model):
    __tablename__ = "station_group"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)

    stations: Mapped[list["Station"]] = relationship(back_populates="group")

    def __repr__(self) -> str:
        return self.code


class Station(IdMixin, TimestampMixin, Model):
    __tablename__ = "station"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id"), nullable=False, index=True)
    group_id: Mapped[Optional[int]] = mapped_column(ForeignKey("station_group.id"), index=True)
    station_type: Mapped[str] = mapped_column(String(16), default="MANUAL", nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    line: Mapped[Line] = relationship(back_populates="stations")
    group: Mapped[Optional[StationGroup]] = relationship(back_populates="stations")
    equipment: Mapped[Optional["Equipment"]] = relationship(back_populates="station", uselist=False)

    def __repr__(self) -> str:
        return self.code


class Operation(IdMixin, TimestampMixin, Model):
    __tablename__ = "operation"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    default_station_type: Mapped[str] = mapped_column(String(16), default="MANUAL", nullable=False)
    is_key_quality: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    consumes_material: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __repr__(self) -> str:
        return self.code


class Equipment(IdMixin, TimestampMixin, Model):
    __tablename__ = "equipment"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    station_id: Mapped[Optional[int]] = mapped_column(ForeignKey("station.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="NORMAL", nullable=False)
    source: Mapped[str] = mapped_column(String(8), default="MANUAL", nullable=False)
    status_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    station: Mapped[Optional[Station]] = relationship(back_populates="equipment")

    def __repr__(self) -> str:
        return self.code


class DefectCode(IdMixin, TimestampMixin, Model):
    __tablename__ = "defect_code"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    category: Mapped[Optional[str]] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __repr__(self) -> str:
        return self.code


class MsdEvent(IdMixin, Model):
    """A moisture-sensitive reel's clock event (J-STD-033; services/preparation/msd.py): OPENED (out of its
    dry pack), DRY_IN / DRY_OUT (dry cabinet or resealed dry bag: the clock pauses), BAKED (exposure reset).
    Append-only; recorded at the Loading Terminal / by the API, or by WMS."""

    __tablename__ = "msd_event"
    __table_args__ = (Index("ix_msd_event_lot", "lot_id", "at"),)
    lot_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    source: Mapped[str] = mapped_column(String(8), default="MANUAL", nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(128), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
