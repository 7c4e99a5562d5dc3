"""Unit trace (spec 02_rules §10): everything about one SN in a handful of indexed queries — the unit
with its work order, run, product and frozen route version; its tracks with station and operator;
the data values of those tracks with their limits and judges; its defects.

Must stay fast at millions of tracks: every query is by the unit's id or by the ids of its tracks
(indexes ix_track_unit_in, ix_data_value_track_id, ix_defect_unit_id), and the route snapshot comes
from the per-process plan cache. Later contexts add sections through
`extension_points.UNIT_TRACE_SECTIONS` (materials, readiness, inspections, SPI/AOI results, dispositions, MRB).
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import (
    DataValue, Defect, Line, Product, Run, Station, Track, Unit, WorkOrder,
)
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.scope import line_filter, require_permission, require_visible
from . import extension_points
from .runs import run_missing


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _value(row) -> Any:
    for column in ("value_number", "value_text", "value_bool", "value_json"):
        value = getattr(row, column)
        if value is not None:
            return value
    return None


def lookup(term: str, *, actor: Actor) -> Optional[tuple[str, str]]:
    """What a scanned or typed search term names among what the actor may see: ("UNIT", sn) or
    ("RUN", run no), else None (a unit or run on another line is not named: platform/scope.py)."""
    if db.session.execute(select(Unit.id).join(Run, Run.id == Unit.run_id)
                          .where(Unit.sn == term, line_filter(actor, Run.line_id))).first():
        return ("UNIT", term)
    if db.session.execute(select(Run.id).where(Run.run_no == term, line_filter(actor, Run.line_id))).first():
        return ("RUN", term)
    return None


def unit_trace(*, actor: Actor, sn: str) -> dict[str, Any]:
    """`GET /trace/units/{sn}` (`trace:read`)."""
    require_permission(actor, "trace:read")
    head = db.session.execute(
        select(Unit.id, Unit.sn, Unit.status, Unit.current_step_no, Unit.rework_count, Unit.created_at,
               Run.id.label("run_id"), Run.run_no, Run.status.label("run_status"), Run.plan_qty,
               Run.route_version_id, Run.started_at, Run.ended_at, Run.line_id, Run.parent_run_id,
               WorkOrder.wo_no, WorkOrder.status.label("wo_status"), WorkOrder.planned_qty,
               Product.code.label("product_code"), Product.name.label("product_name"),
               Line.code.label("line_code"))
        .join(Run, Run.id == Unit.run_id).join(WorkOrder, WorkOrder.id == Unit.work_order_id)
        .join(Product, Product.id == WorkOrder.product_id).join(Line, Line.id == Run.line_id)
        .where(Unit.sn == sn)).first()
    missing = DomainError("UNIT_NOT_FOUND", M("No unit with SN {sn} on the lines you may see.", sn=sn), {"sn": sn})
    if head is None:
        raise missing
    require_visible(actor, head.line_id, missing)
    plan = plan_for(head.route_version_id)
    tracks = db.session.execute(
        select(Track.id, Track.step_no, Track.in_at, Track.out_at, Track.result, Track.mode, Track.operator,
               Track.source, Track.run_id, Station.code.label("station"))
        .join(Station, Station.id == Track.station_id).where(Track.unit_id == head.id)
        .order_by(Track.in_at, Track.id)).all()
    values: dict[int, list[dict[str, Any]]] = {}
    if tracks:
        for row in db.session.execute(select(DataValue).where(DataValue.track_id.in_([t.id for t in tracks]))
                                      .order_by(DataValue.id)).scalars():
            values.setdefault(row.track_id, []).append(row)
    defects = db.session.execute(select(Defect).where(Defect.unit_id == head.id).order_by(Defect.id)).scalars().all()
    parent_no = None
    if head.parent_run_id:
        parent_no = db.session.execute(select(Run.run_no).where(Run.id == head.parent_run_id)).scalar_one()
    children = db.session.execute(select(Run.run_no).where(Run.parent_run_id == head.run_id)).scalars().all()

    def spec_limits(step_no: int, name: str) -> dict[str, Any]:
        step = plan.step(step_no)
        spec = step.specs_by_name.get(name) if step else None
        if spec is None:
            return {"uom": None, "lsl": None, "target": None, "usl": None, "limitAction": None}
        return {"uom": spec.uom, "lsl": spec.lsl, "target": spec.target, "usl": spec.usl,
                "limitAction": spec.limit_action}

    trace: dict[str, Any] = {
        "unit": {"sn": head.sn, "status": head.status, "currentStepNo": head.current_step_no,
                 "reworkCount": head.rework_count, "createdAt": _iso(head.created_at)},
        "workOrder": {"woNo": head.wo_no, "status": head.wo_status, "plannedQty": head.planned_qty},
        "run": {"runNo": head.run_no, "status": head.run_status, "planQty": head.plan_qty, "line": head.line_code,
                "startedAt": _iso(head.started_at), "endedAt": _iso(head.ended_at)},
        "product": {"code": head.product_code, "name": head.product_name},
        "routeVersion": {"routingCode": plan.routing_code, "versionNo": plan.version_no, "status": plan.status},
        "steps": [s.to_dict() for s in plan.steps],
        "tracks": [{
            "stepNo": t.step_no, "operation": plan.step(t.step_no).operation_code if plan.step(t.step_no) else None,
            "station": t.station, "operator": t.operator, "inAt": _iso(t.in_at), "outAt": _iso(t.out_at),
            "result": t.result, "mode": t.mode, "source": t.source,
            "dataValues": [{"spec": v.spec_name, "value": _value(v), **spec_limits(t.step_no, v.spec_name),
                            "judge": v.judge, "alarmed": v.alarmed, "source": v.source}
                           for v in values.get(t.id, [])],
        } for t in tracks],
        "defects": [{"id": d.id, "code": d.code, "stepNo": d.step_no, "location": d.location,
                     "description": d.description, "status": d.status, "source": d.source,
                     "recordedAt": _iso(d.created_at)} for d in defects],
        "parentRun": parent_no,
        "childRuns": list(children),
    }
    context = {"unitId": head.id, "runId": head.run_id, "plan": plan}
    for section in extension_points.UNIT_TRACE_SECTIONS:
        section(trace, context)
    return trace


def run_trace(*, actor: Actor, run_no: str) -> dict[str, Any]:
    """`GET /trace/runs/{runNo}` (`trace:read`): the run with its work order, product, line and route
    version; its units with their status, step, tracks in this run (count, failed, last result) and
    defects; later contexts add the readiness history, loading records, inspections and MRB decisions
    (`extension_points.RUN_TRACE_SECTIONS`). A handful of queries by the run's id (ix_unit_run_status,
    ix_track_run, ix_defect_unit_id), whatever the run's size."""
    require_permission(actor, "trace:read")
    head = db.session.execute(
        select(Run.id, Run.run_no, Run.status, Run.plan_qty, Run.route_version_id, Run.started_at, Run.ended_at,
               Run.line_id, Run.parent_run_id, Run.authorized_by, WorkOrder.wo_no, WorkOrder.status.label("wo_status"),
               WorkOrder.planned_qty, Product.code.label("product_code"), Product.name.label("product_name"),
               Line.code.label("line_code"))
        .join(WorkOrder, WorkOrder.id == Run.work_order_id).join(Product, Product.id == WorkOrder.product_id)
        .join(Line, Line.id == Run.line_id).where(Run.run_no == run_no)).first()
    missing = run_missing(run_no)
    if head is None:
        raise missing
    require_visible(actor, head.line_id, missing)
    plan = plan_for(head.route_version_id)
    units = db.session.execute(select(Unit.id, Unit.sn, Unit.status, Unit.current_step_no, Unit.rework_count)
                               .where(Unit.run_id == head.id).order_by(Unit.sn)).all()
    tracks: dict[int, list] = {}
    for t in db.session.execute(select(Track.unit_id, Track.step_no, Track.result, Track.in_at, Track.id)
                                .where(Track.run_id == head.id).order_by(Track.in_at, Track.id)):
        tracks.setdefault(t.unit_id, []).append(t)
    defects: dict[int, list] = {}
    if units:
        for d in db.session.execute(select(Defect.unit_id, Defect.code, Defect.step_no, Defect.status, Defect.source)
                                    .where(Defect.unit_id.in_(select(Unit.id).where(Unit.run_id == head.id)))
                                    .order_by(Defect.id)):
            defects.setdefault(d.unit_id, []).append(d)
    parent_no = None
    if head.parent_run_id:
        parent_no = db.session.execute(select(Run.run_no).where(Run.id == head.parent_run_id)).scalar_one()
    counts: dict[str, int] = {}
    for u in units:
        counts[u.status] = counts.get(u.status, 0) + 1
    trace: dict[str, Any] = {
        "run": {"runNo": head.run_no, "status": head.status, "planQty": head.plan_qty, "line": head.line_code,
                "startedAt": _iso(head.started_at), "endedAt": _iso(head.ended_at), "authorizedBy": head.authorized_by,
                "parentRunNo": parent_no,
                "childRuns": list(db.session.execute(select(Run.run_no).where(Run.parent_run_id == head.id)
                                                     .order_by(Run.run_no)).scalars())},
        "workOrder": {"woNo": head.wo_no, "status": head.wo_status, "plannedQty": head.planned_qty},
        "product": {"code": head.product_code, "name": head.product_name},
        "routeVersion": {"routingCode": plan.routing_code, "versionNo": plan.version_no},
        "unitCounts": counts,
        "units": [{
            "sn": u.sn, "status": u.status, "currentStepNo": u.current_step_no, "reworkCount": u.rework_count,
            "tracks": len(tracks.get(u.id, [])),
            "failedTracks": sum(1 for t in tracks.get(u.id, []) if t.result == "FAIL"),
            "lastStepNo": tracks[u.id][-1].step_no if tracks.get(u.id) else None,
            "lastResult": tracks[u.id][-1].result if tracks.get(u.id) else None,
            "defects": [{"code": d.code, "stepNo": d.step_no, "status": d.status, "source": d.source}
                        for d in defects.get(u.id, [])],
        } for u in units],
    }
    context = {"runId": head.id, "plan": plan}
    for section in extension_points.RUN_TRACE_SECTIONS:
        section(trace, context)
    return trace


EXPORT_FORMATS = ("csv", "xlsx")


def require_export(actor: Actor, fmt: str) -> None:
    """A trace exported as a file (`format=csv|xlsx`) needs `trace:export`; another format is refused."""
    if fmt not in EXPORT_FORMATS:
        raise DomainError("VALIDATION_ERROR", M("format must be json, csv or xlsx, not {format}.", format=repr(fmt)),
                          {"fields": {"format": "json, csv or xlsx"}})
    require_permission(actor, "trace:export")
