"""Genealogy (spec 02_rules §6, §10): which reels went into which board, and lot recall.

At TrackOut of a `consumes_material` step one MaterialUse row is written per LOADED loading record of
the run — a REUSE_PREP rework run uses its parent's — restricted to the slots of the station the unit
is at when slots are tied to stations. A reel replaced mid-run therefore appears on the units tracked
out before the change, and the new reel on those after it.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, literal, or_, select

from ...extensions import db
from ...models import (
    FeederSlot, LoadingRecord, Material, MaterialLot, MaterialUse, Product, Run, Unit, WorkOrder,
)
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.scope import line_filter, require_permission
from .loading import barcode_parts, lot_by_number


_use = MaterialUse.__table__
# one statement: a MaterialUse row per LOADED loading record of the run's reels at this station
RECORD_MATERIAL_USE = insert(_use).from_select(
    ["unit_id", "lot_id", "track_id", "slot_code", "step_no", "recorded_at"],
    select(bindparam("unit_id", type_=_use.c.unit_id.type), LoadingRecord.lot_id,
           bindparam("track_id", type_=_use.c.track_id.type), FeederSlot.slot_code,
           bindparam("step_no", type_=_use.c.step_no.type), bindparam("at", type_=_use.c.recorded_at.type))
    .join(FeederSlot, FeederSlot.id == LoadingRecord.slot_id)
    .where(LoadingRecord.run_id == bindparam("run_id"), LoadingRecord.status == literal("LOADED"),
           or_(FeederSlot.station_id.is_(None), FeederSlot.station_id == bindparam("station_id"))))


def _loading_run_id(run) -> int:
    """The run whose reels a run builds with: a REUSE_PREP rework run uses its parent's."""
    return run.parent_run_id if run.parent_run_id is not None and run.rework_type == "REUSE_PREP" else run.id


def record_material_use(uow, scan) -> None:
    """TRACK_OUT hook: genealogy at a material-consuming step."""
    if not scan.step.consumes_material:
        return
    uow.execute(RECORD_MATERIAL_USE, {"unit_id": scan.unit.id, "track_id": scan.track_id, "step_no": scan.step.step_no,
                                      "at": now(), "run_id": _loading_run_id(scan.run),
                                      "station_id": scan.station.id})


def trace_materials(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: the lots used, by step and slot."""
    rows = db.session.execute(
        select(Material.code, MaterialLot.lot_no, MaterialLot.supplier, MaterialUse.slot_code, MaterialUse.step_no,
               MaterialUse.recorded_at)
        .join(MaterialLot, MaterialLot.id == MaterialUse.lot_id).join(Material, Material.id == MaterialLot.material_id)
        .where(MaterialUse.unit_id == context["unitId"]).order_by(MaterialUse.step_no, MaterialUse.slot_code,
                                                                   MaterialUse.id)).all()
    trace["materials"] = [{"materialCode": m, "lotNo": lot, "supplier": supplier, "slotCode": slot, "stepNo": step,
                           "recordedAt": at.isoformat()} for m, lot, supplier, slot, step, at in rows]


def lot_recall(*, actor: Actor, material_code: str, lot_no: str) -> dict[str, Any]:
    """`GET /trace/material-lots/{materialCode}/{lotNo}` (`trace:read`): every SN, run, WO and product
    that used the lot, with counts. Users bound to lines see the units of their lines."""
    require_permission(actor, "trace:read")
    lot = db.session.execute(select(MaterialLot).join(Material, Material.id == MaterialLot.material_id)
                             .where(Material.code == material_code, MaterialLot.lot_no == lot_no)).scalar_one_or_none()
    if lot is None:
        raise DomainError("MATERIAL_LOT_NOT_FOUND", f"No lot {material_code}|{lot_no}.",
                          {"materialCode": material_code, "lotNo": lot_no})
    rows = db.session.execute(
        select(Unit.sn, Unit.status, Run.run_no, WorkOrder.wo_no, Product.code, MaterialUse.step_no,
               MaterialUse.slot_code, func.min(MaterialUse.recorded_at))
        .join(Unit, Unit.id == MaterialUse.unit_id).join(Run, Run.id == Unit.run_id)
        .join(WorkOrder, WorkOrder.id == Unit.work_order_id).join(Product, Product.id == WorkOrder.product_id)
        .where(MaterialUse.lot_id == lot.id, line_filter(actor, Run.line_id))
        .group_by(Unit.sn, Unit.status, Run.run_no, WorkOrder.wo_no, Product.code, MaterialUse.step_no,
                  MaterialUse.slot_code)
        .order_by(Unit.sn)).all()
    units = [{"sn": sn, "status": status, "runNo": run_no, "woNo": wo_no, "productCode": product, "stepNo": step,
              "slotCode": slot, "usedAt": at.isoformat() if at else None}
             for sn, status, run_no, wo_no, product, step, slot, at in rows]

    def counted(key: str) -> list[dict[str, Any]]:
        counts: dict[str, set] = {}
        for u in units:
            counts.setdefault(u[key], set()).add(u["sn"])
        return [{key: k, "units": len(v)} for k, v in sorted(counts.items())]
    return {"lot": {"materialCode": material_code, "lotNo": lot.lot_no, "supplier": lot.supplier,
                    "dateCode": lot.date_code, "iqcResult": lot.iqc_result},
            "units": units, "runs": counted("runNo"), "workOrders": counted("woNo"), "products": counted("productCode"),
            "counts": {"units": len({u["sn"] for u in units}), "runs": len({u["runNo"] for u in units}),
                       "workOrders": len({u["woNo"] for u in units})}}


def find_lot(text: str) -> tuple[str, str]:
    """A recall search term — `MATERIAL|LOT` (the reel label; also `:` `@` `#`) or a bare lot number
    that names exactly one lot — as (material code, lot no). Read-only: unlike a loading scan, an
    unknown lot is never created."""
    parts = barcode_parts(text)
    if len(parts) == 2:
        return parts[0], parts[1]
    lot = lot_by_number(parts[0])
    return lot.material.code, lot.lot_no
