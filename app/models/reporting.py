"""Derived report data (services/reporting/summary.py): the first TrackOuts of closed hours counted per
15-minute UTC slot, run and step, so a month's first-pass yield reads a few thousand rows instead of
every track. Rebuildable from the tracks at any time; not audited (it records no decision, like an
index)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UTCDateTime, utcnow


class FpySlot(Model):
    __tablename__ = "report_fpy_slot"
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)  # UTC epoch seconds // 900
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    step_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_outs: Mapped[int] = mapped_column(Integer, nullable=False)
    first_pass: Mapped[int] = mapped_column(Integer, nullable=False)


class SummaryHour(Model):
    """A closed UTC hour whose first TrackOuts are in report_fpy_slot (an hour without any has no
    slot rows, but is marked here all the same)."""
    __tablename__ = "report_summary_hour"
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # UTC epoch seconds // 3600
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
