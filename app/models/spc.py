"""Statistical process control on collected data (issue 18): a chart per numeric data-collection spec
with its frozen baseline limits, and the alarms its run rules raise."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime
from .routing import DataCollectionSpec

SPC_ALARM_ACTIONS = ("ALARM", "HOLD")
SPC_ALARM_STATUSES = ("OPEN", "ACKNOWLEDGED")


class SpcChart(IdMixin, TimestampMixin, Model):
    """How a spec is charted (`chart_type` IMR, XBAR_R or XBAR_S with `subgroup_size`), which run rules
    are enabled, what an alarm does, and the baseline limits — frozen until an engineer recomputes them
    (all baseline columns are NULL until then)."""

    __tablename__ = "spc_chart"
    spec_id: Mapped[int] = mapped_column(ForeignKey("data_collection_spec.id"), nullable=False, unique=True)
    chart_type: Mapped[str] = mapped_column(String(8), nullable=False)
    subgroup_size: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    rules: Mapped[list] = mapped_column(JSONType, nullable=False)
    same_side_run: Mapped[int] = mapped_column(Integer, default=9, nullable=False)
    on_alarm: Mapped[str] = mapped_column(String(8), default="ALARM", nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    center: Mapped[Optional[float]] = mapped_column(Float)
    lcl: Mapped[Optional[float]] = mapped_column(Float)
    ucl: Mapped[Optional[float]] = mapped_column(Float)
    sigma: Mapped[Optional[float]] = mapped_column(Float)
    dispersion_center: Mapped[Optional[float]] = mapped_column(Float)
    dispersion_lcl: Mapped[Optional[float]] = mapped_column(Float)
    dispersion_ucl: Mapped[Optional[float]] = mapped_column(Float)
    sigma_within: Mapped[Optional[float]] = mapped_column(Float)
    baseline_points: Mapped[Optional[int]] = mapped_column(Integer)
    baseline_from: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    baseline_to: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    baseline_by: Mapped[Optional[str]] = mapped_column(String(128))
    baseline_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    spec: Mapped[DataCollectionSpec] = relationship()


class SpcAlarm(IdMixin, TimestampMixin, Model):
    """A run rule that fired at the TrackOut whose value completed its pattern; OPEN until someone
    acknowledges it with a reason."""

    __tablename__ = "spc_alarm"
    __table_args__ = (Index("ix_spc_alarm_chart", "chart_id", "id"), Index("ix_spc_alarm_status", "status"))
    chart_id: Mapped[int] = mapped_column(ForeignKey("spc_chart.id"), nullable=False)
    rule: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("unit.id"), index=True)
    track_id: Mapped[Optional[int]] = mapped_column(ForeignKey("track.id"))
    value: Mapped[Optional[float]] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="OPEN", nullable=False)
    acknowledged_by: Mapped[Optional[str]] = mapped_column(String(128))
    acknowledged_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    reason: Mapped[Optional[str]] = mapped_column(Text)
