"""Production: work orders, runs, units, tracks, data values, defects (spec 01_domain_model §3).

Indexes are chosen for the hot path (unit by SN, the open track of a unit, units of a run by status),
for trace (tracks of a unit, data values of a track, defects of a unit) and for the reports
(services/reporting/): units by the time they ended (`ix_unit_ended`: output, scrap, and WIP as the
units whose `ended_at` is NULL), closed tracks by time (`ix_track_out`, covering the first-pass-yield
query of the hours not in the report summary, models/reporting.py) and defects by time. The reports read these indexes rather than counters
kept up to date by every scan: `ended_at`, `max_out_step_no` and `first_out` are written by the
UPDATEs a TrackOut already makes, so the hot path gains no statement and no row every worker of a
line would queue on.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    Boolean, Date, Float, ForeignKey, Index, Integer, String, Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime, utcnow
from .master import Line, Product, Station
from .routing import ExecutableRouteVersion, Routing

WORK_ORDER_SOURCES = ("MANUAL", "ERP")
TRACK_RESULTS = ("PASS", "FAIL")
TRACK_MODES = ("NORMAL", "FAI_TRIAL")
JUDGES = ("PASS", "FAIL", "NA")


class WorkOrder(IdMixin, TimestampMixin, Model):
    __tablename__ = "work_order"
    wo_no: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), nullable=False, index=True)
    planned_qty: Mapped[int] = mapped_column(Integer, nullable=False)
    routing_id: Mapped[Optional[int]] = mapped_column(ForeignKey("routing.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    source_system: Mapped[str] = mapped_column(String(8), default="MANUAL", nullable=False)
    due_date: Mapped[Optional[date]] = mapped_column(Date)
    line_id: Mapped[Optional[int]] = mapped_column(ForeignKey("line.id"), index=True)
    released_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    meta: Mapped[Optional[dict]] = mapped_column(JSONType)

    product: Mapped[Product] = relationship()
    routing: Mapped[Optional[Routing]] = relationship()
    line: Mapped[Optional[Line]] = relationship()
    runs: Mapped[list["Run"]] = relationship(back_populates="work_order", order_by="Run.id")


class Run(IdMixin, TimestampMixin, Model):
    __tablename__ = "run"
    __table_args__ = (Index("ix_run_line_status", "line_id", "status"),)
    run_no: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), nullable=False, index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("line.id"), nullable=False)
    route_version_id: Mapped[int] = mapped_column(ForeignKey("executable_route_version.id"), nullable=False)
    plan_qty: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    shift_code: Mapped[Optional[str]] = mapped_column(String(16))
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    parent_run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("run.id"), index=True)
    rework_type: Mapped[Optional[str]] = mapped_column(String(16))
    authorization_type: Mapped[Optional[str]] = mapped_column(String(16))
    fai_waived: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    fai_waiver_reason: Mapped[Optional[str]] = mapped_column(Text)
    authorized_by: Mapped[Optional[str]] = mapped_column(String(128))
    authorized_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    work_order: Mapped[WorkOrder] = relationship(back_populates="runs")
    line: Mapped[Line] = relationship()
    route_version: Mapped[ExecutableRouteVersion] = relationship()
    parent: Mapped[Optional["Run"]] = relationship(remote_side="Run.id")


class Unit(IdMixin, TimestampMixin, Model):
    __tablename__ = "unit"
    __table_args__ = (Index("ix_unit_run_status", "run_id", "status"),
                      Index("ix_unit_ended", "ended_at", "run_id", "status"))
    sn: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), nullable=False, index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    current_step_no: Mapped[Optional[int]] = mapped_column(Integer)
    rework_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # when the unit became DONE (its last TrackOut) or SCRAPPED; NULL while it is in work (WIP)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # the highest step it has tracked out of: a TrackOut at a step not above it is a repeat visit
    max_out_step_no: Mapped[Optional[int]] = mapped_column(Integer)

    run: Mapped[Run] = relationship()
    work_order: Mapped[WorkOrder] = relationship()


class Track(IdMixin, Model):
    """One unit's visit to one step at one station. `open_unit_id` equals unit_id while the track is
    open and NULL once closed: its unique index makes a second open track of a unit impossible on
    every database (the portable form of a partial unique index)."""

    __tablename__ = "track"
    __table_args__ = (
        Index("ix_track_unit_in", "unit_id", "in_at"),
        Index("ix_track_run", "run_id"),
        Index("uq_track_open_unit", "open_unit_id", unique=True),
        Index("ix_track_out", "out_at", "run_id", "step_no", "first_out", "result"),
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), nullable=False)
    step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), nullable=False)
    operator_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id"))
    operator: Mapped[Optional[str]] = mapped_column(String(128))
    in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    out_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    result: Mapped[Optional[str]] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(16), default="NORMAL", nullable=False)
    inspection_id: Mapped[Optional[int]] = mapped_column(Integer)  # the FAI of a trial track
    source: Mapped[str] = mapped_column(String(8), default="MANUAL", nullable=False)
    open_unit_id: Mapped[Optional[int]] = mapped_column(Integer)
    # set at TrackOut: the unit's first TrackOut at this step (first-pass yield counts these)
    first_out: Mapped[Optional[bool]] = mapped_column(Boolean)

    station: Mapped[Station] = relationship()


class DataValue(IdMixin, Model):
    __tablename__ = "data_value"
    __table_args__ = (Index("ix_data_value_spec", "spec_id", "collected_at"),  # SPC charts by spec and time
                      Index("ix_data_value_spc_seq", "spec_id", "spc_seq"))   # a TrackOut's last points of a chart
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"), nullable=False, index=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("data_collection_spec.id"), nullable=False)
    spec_name: Mapped[str] = mapped_column(String(128), nullable=False)
    value_number: Mapped[Optional[float]] = mapped_column(Float)
    value_text: Mapped[Optional[str]] = mapped_column(Text)
    value_bool: Mapped[Optional[bool]] = mapped_column(Boolean)
    value_json: Mapped[Optional[dict]] = mapped_column(JSONType)
    judge: Mapped[str] = mapped_column(String(8), nullable=False)
    alarmed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    source: Mapped[str] = mapped_column(String(8), default="MANUAL", nullable=False)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # the value's place in its spec's SPC series, from the TrackOut that stored it while the spec's chart was
    # armed (services/quality/spc_alarms.py); NULL otherwise
    spc_seq: Mapped[Optional[int]] = mapped_column(Integer)


class Defect(IdMixin, TimestampMixin, Model):
    __tablename__ = "defect"
    __table_args__ = (Index("ix_defect_created", "created_at"),)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    track_id: Mapped[Optional[int]] = mapped_column(ForeignKey("track.id"), index=True)
    step_no: Mapped[Optional[int]] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    location: Mapped[Optional[str]] = mapped_column(String(128))
    description: Mapped[Optional[str]] = mapped_column(Text)
    qty: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="RECORDED", nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(16), default="MANUAL", nullable=False)
