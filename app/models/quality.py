"""Quality: FAI and OQC inspections, OQC sampling rules, SPI/AOI results, dispositions, rework tasks
and MRB decisions (spec 01_domain_model §5, InspectionResult in §6)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime, utcnow
from .master import Line, Product
from .routing import Routing

INSPECTION_TYPES = ("FAI", "OQC")
INSPECTION_STATUSES = ("PENDING", "INSPECTING", "PASS", "FAIL")
ITEM_RESULTS = ("PASS", "FAIL", "NA")
SAMPLING_TYPES = ("PERCENTAGE", "FIXED")
DISPOSITION_TYPES = ("REWORK", "SCRAP", "HOLD")
REWORK_TASK_STATUSES = ("OPEN", "DONE", "CANCELLED")
MRB_DECISIONS = ("RELEASE", "REWORK", "SCRAP")
REWORK_TYPES = ("REUSE_PREP", "FULL_PREP")
INSPECTION_RESULT_TYPES = ("SPI", "AOI")


class Inspection(IdMixin, TimestampMixin, Model):
    """An FAI or OQC inspection of a run. `open_key` is `"{run_id}:{type}"` while the inspection is
    PENDING or INSPECTING and NULL afterwards: its unique index allows at most one open inspection
    per run and type on SQLite and PostgreSQL alike."""

    __tablename__ = "inspection"
    __table_args__ = (Index("ix_inspection_run_type", "run_id", "type", "id"),
                      Index("uq_inspection_type_seq", "type", "seq", unique=True))
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(8), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)  # numbered per type: FAI-00001, OQC-00001
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    open_key: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    sample_qty: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    passed_qty: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    failed_qty: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    sampled_sns: Mapped[Optional[list]] = mapped_column(JSONType)  # OQC: the random sample
    sampling_rule_id: Mapped[Optional[int]] = mapped_column(ForeignKey("oqc_sampling_rule.id"))
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    inspector: Mapped[Optional[str]] = mapped_column(String(128))
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    decided_by: Mapped[Optional[str]] = mapped_column(String(128))
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    signed_by: Mapped[Optional[str]] = mapped_column(String(128))
    signed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    remark: Mapped[Optional[str]] = mapped_column(Text)

    items: Mapped[list["InspectionItem"]] = relationship(back_populates="inspection", order_by="InspectionItem.id",
                                                         cascade="all, delete-orphan")

    @property
    def number(self) -> str:
        """The inspection's number as people see it (`FAI-00012`); the API's paths use the id."""
        return f"{self.type}-{self.seq:05d}"

    @staticmethod
    def open_key_for(run_id: int, kind: str) -> str:
        """The `open_key` of a run's open inspection of this type (FAI or OQC): the one way to find it."""
        return f"{run_id}:{kind}"


class InspectionItem(IdMixin, Model):
    __tablename__ = "inspection_item"
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    unit_sn: Mapped[str] = mapped_column(String(80), nullable=False)
    item_name: Mapped[str] = mapped_column(String(128), nullable=False)
    item_spec: Mapped[Optional[str]] = mapped_column(String(256))
    actual_value: Mapped[Optional[str]] = mapped_column(String(256))
    result: Mapped[str] = mapped_column(String(8), nullable=False)
    defect_code: Mapped[Optional[str]] = mapped_column(String(64))
    inspected_by: Mapped[str] = mapped_column(String(128), nullable=False)
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    inspection: Mapped[Inspection] = relationship(back_populates="items")


class OqcSamplingRule(IdMixin, TimestampMixin, Model):
    """Which runs get an OQC and how many units: scope fields left empty match every run."""

    __tablename__ = "oqc_sampling_rule"
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("product.id"))
    line_id: Mapped[Optional[int]] = mapped_column(ForeignKey("line.id"))
    routing_id: Mapped[Optional[int]] = mapped_column(ForeignKey("routing.id"))
    sampling_type: Mapped[str] = mapped_column(String(16), nullable=False)
    sample_value: Mapped[float] = mapped_column(Float, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    product: Mapped[Optional[Product]] = relationship()
    line: Mapped[Optional[Line]] = relationship()
    routing: Mapped[Optional[Routing]] = relationship()

    def __repr__(self) -> str:
        return self.name


class InspectionResult(IdMixin, Model):
    """An SPI/AOI machine result (or its manual entry): a FAIL forces the unit's TrackOut at that step."""

    __tablename__ = "inspection_result"
    __table_args__ = (Index("ix_inspection_result_unit_step", "unit_id", "step_no"),)
    event_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    type: Mapped[str] = mapped_column(String(8), nullable=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False, index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    track_id: Mapped[Optional[int]] = mapped_column(ForeignKey("track.id"))
    result: Mapped[str] = mapped_column(String(8), nullable=False)
    defects: Mapped[Optional[list]] = mapped_column(JSONType)
    late: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Disposition(IdMixin, Model):
    __tablename__ = "disposition"
    __table_args__ = (Index("ix_disposition_decided", "decided_at"),)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defect.id"), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(8), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    to_step_no: Mapped[Optional[int]] = mapped_column(Integer)
    decided_by: Mapped[str] = mapped_column(String(128), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    released_by: Mapped[Optional[str]] = mapped_column(String(128))
    released_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    release_reason: Mapped[Optional[str]] = mapped_column(Text)


class ReworkTask(IdMixin, Model):
    __tablename__ = "rework_task"
    __table_args__ = (Index("ix_rework_task_unit_status", "unit_id", "status"),
                      Index("ix_rework_task_created", "created_at"))
    disposition_id: Mapped[int] = mapped_column(ForeignKey("disposition.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    from_step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    to_step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="OPEN", nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    done_by: Mapped[Optional[str]] = mapped_column(String(128))
    done_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    remark: Mapped[Optional[str]] = mapped_column(Text)


class MrbDecision(IdMixin, Model):
    __tablename__ = "mrb_decision"
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False, index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), nullable=False)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    rework_type: Mapped[Optional[str]] = mapped_column(String(16))
    rework_from_step_no: Mapped[Optional[int]] = mapped_column(Integer)
    fai_waiver: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    fai_waiver_reason: Mapped[Optional[str]] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(128), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    rework_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("run.id"))
