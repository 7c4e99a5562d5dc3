"""Routings, execution config, data-collection specs and executable versions (spec 01_domain_model §2)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (
    Boolean, Column, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint, event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import IdMixin, JSONType, Model, TimestampMixin, UTCDateTime, utcnow
from .master import Operation, Product, StationGroup

ITEM_TYPES = ("KEY", "OBSERVATION")
DATA_TYPES = ("NUMBER", "TEXT", "BOOLEAN", "ENUM", "JSON")
METHODS = ("MANUAL", "AUTO")
LIMIT_ACTIONS = ("WARN", "FAIL")
SOURCE_SYSTEMS = ("MES", "ERP")
CONFIG_SCOPES = ("ROUTE", "OPERATION", "STEP")
VERSION_STATUSES = ("READY", "INVALID")


class DataCollectionSpec(IdMixin, TimestampMixin, Model):
    """A parameter measured at an operation (name unique per operation)."""

    __tablename__ = "data_collection_spec"
    __table_args__ = (UniqueConstraint("operation_id", "name"),)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    item_type: Mapped[str] = mapped_column(String(16), default="KEY", nullable=False)
    data_type: Mapped[str] = mapped_column(String(16), default="NUMBER", nullable=False)
    enum_options: Mapped[Optional[list]] = mapped_column(JSONType)
    method: Mapped[str] = mapped_column(String(16), default="MANUAL", nullable=False)
    uom: Mapped[Optional[str]] = mapped_column(String(32))
    lsl: Mapped[Optional[float]] = mapped_column(Float)
    target: Mapped[Optional[float]] = mapped_column(Float)
    usl: Mapped[Optional[float]] = mapped_column(Float)
    limit_action: Mapped[Optional[str]] = mapped_column(String(8))
    is_required: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    operation: Mapped[Operation] = relationship()

    @property
    def limits_text(self) -> str:
        """Limits (NUMBER) or options (ENUM) in one short text, for lists and pickers."""
        if self.data_type == "ENUM":
            return " / ".join(self.enum_options or [])
        if self.data_type != "NUMBER" or (self.lsl is None and self.usl is None and self.target is None):
            return ""
        def fmt(v):
            return f"{v:g}" if v is not None else "–"
        middle = f" … {fmt(self.target)} … " if self.target is not None else " … "
        return f"{fmt(self.lsl)}{middle}{fmt(self.usl)}" + (f" {self.uom}" if self.uom else "")

    def __repr__(self) -> str:
        op = self.operation.code if self.operation else self.operation_id
        return f"{op} / {self.name}"


class Routing(IdMixin, TimestampMixin, Model):
    __tablename__ = "routing"
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("product.id"), index=True)
    process_type: Mapped[str] = mapped_column(String(8), nullable=False)
    source_system: Mapped[str] = mapped_column(String(8), default="MES", nullable=False)
    source_key: Mapped[Optional[str]] = mapped_column(String(128))
    version_label: Mapped[Optional[str]] = mapped_column(String(32))
    effective_from: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    effective_to: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    product: Mapped[Optional[Product]] = relationship()
    steps: Mapped[list["RoutingStep"]] = relationship(
        back_populates="routing", order_by="RoutingStep.step_no", cascade="all, delete-orphan",
        passive_deletes=True)
    configs: Mapped[list["RouteExecutionConfig"]] = relationship(
        back_populates="routing", cascade="all, delete-orphan", passive_deletes=True)
    versions: Mapped[list["ExecutableRouteVersion"]] = relationship(
        back_populates="routing", order_by="ExecutableRouteVersion.version_no")

    @property
    def is_erp(self) -> bool:
        return self.source_system == "ERP"

    def __repr__(self) -> str:
        return self.code


class RoutingStep(IdMixin, TimestampMixin, Model):
    """One step of a routing. The last step is the one with the highest step_no (computed, not
    stored, so it can never disagree with the step list)."""

    __tablename__ = "routing_step"
    __table_args__ = (UniqueConstraint("routing_id", "step_no"),)
    routing_id: Mapped[int] = mapped_column(ForeignKey("routing.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    step_no: Mapped[int] = mapped_column(Integer, nullable=False)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id"), nullable=False, index=True)
    station_group_id: Mapped[Optional[int]] = mapped_column(ForeignKey("station_group.id"), index=True)
    station_type: Mapped[Optional[str]] = mapped_column(String(16))
    requires_fai: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    routing: Mapped[Routing] = relationship(back_populates="steps")
    operation: Mapped[Operation] = relationship()
    station_group: Mapped[Optional[StationGroup]] = relationship()

    def __repr__(self) -> str:
        return f"{self.step_no} {self.operation.code if self.operation else ''}".strip()


route_config_data_spec = Table(
    "route_config_data_spec",
    Model.metadata,
    Column("config_id", Integer, ForeignKey("route_execution_config.id", ondelete="CASCADE"), primary_key=True),
    Column("spec_id", Integer, ForeignKey("data_collection_spec.id"), primary_key=True),
)


class RouteExecutionConfig(IdMixin, TimestampMixin, Model):
    """Overrides for a routing at ROUTE, OPERATION or STEP scope. A null field does not override;
    data specs are bound through an association table. `scope_key` ("ROUTE", "OP:<operation id>",
    "STEP:<step id>") makes one config per scope unique on every database."""

    __tablename__ = "route_execution_config"
    __table_args__ = (UniqueConstraint("routing_id", "scope_key"),)
    routing_id: Mapped[int] = mapped_column(ForeignKey("routing.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    scope_key: Mapped[str] = mapped_column(String(32), nullable=False)
    step_id: Mapped[Optional[int]] = mapped_column(ForeignKey("routing_step.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("operation.id"), index=True)
    station_type: Mapped[Optional[str]] = mapped_column(String(16))
    station_group_id: Mapped[Optional[int]] = mapped_column(ForeignKey("station_group.id"))
    allowed_station_codes: Mapped[Optional[list]] = mapped_column(JSONType)
    requires_fai: Mapped[Optional[bool]] = mapped_column(Boolean)

    routing: Mapped[Routing] = relationship(back_populates="configs")
    step: Mapped[Optional[RoutingStep]] = relationship()
    operation: Mapped[Optional[Operation]] = relationship()
    station_group: Mapped[Optional[StationGroup]] = relationship()
    data_specs: Mapped[list[DataCollectionSpec]] = relationship(
        secondary=route_config_data_spec, order_by=DataCollectionSpec.name)

    @staticmethod
    def key_for(scope: str, *, step_id: int | None = None, operation_id: int | None = None) -> str:
        if scope == "ROUTE":
            return "ROUTE"
        if scope == "OPERATION":
            return f"OP:{operation_id}"
        return f"STEP:{step_id}"


class ExecutableRouteVersion(IdMixin, Model):
    """An immutable compiled snapshot of a routing and its execution config."""

    __tablename__ = "executable_route_version"
    __table_args__ = (UniqueConstraint("routing_id", "version_no"),)
    routing_id: Mapped[int] = mapped_column(ForeignKey("routing.id"), nullable=False, index=True)
    version_no: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    snapshot: Mapped[dict] = mapped_column(JSONType, nullable=False)
    errors: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    compiled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    compiled_by: Mapped[str] = mapped_column(String(128), nullable=False)

    routing: Mapped[Routing] = relationship(back_populates="versions")


class VersionImmutableError(RuntimeError):
    pass


@event.listens_for(ExecutableRouteVersion, "before_update")
def _versions_are_immutable(mapper, connection, target):
    raise VersionImmutableError("executable route versions are immutable")


@event.listens_for(ExecutableRouteVersion, "before_delete")
def _versions_are_kept(mapper, connection, target):
    raise VersionImmutableError("executable route versions are never deleted")
