"""SPI/AOI inspection results (spec 02_rules §8 and §4 TrackOut step 2, §11 inbound rules).

A result arrives from the SPI/AOI machine (the integration account: source AUTO) or is entered by hand
when the machine link is down (`quality:inspection_result`: quality, leaders, and operators at their own
stations; source MANUAL, operator = the signed-in user, a body `operator` is ignored). It is idempotent
by event id and logged as an integration message (services/integration/inbox.py `receive`).

What a FAIL does depends on where the unit is:
- still at that step (QUEUED at it, or tracked in at it): its TrackOut there is forced to FAIL with the
  result's defects (`force_track_out`, a TrackOut forcer; the response says `forcedBy: "AOI"|"SPI"`);
- moved on (a *late* FAIL, audited `LATE_INSPECTION_FAIL`): the defects are recorded and a QUEUED unit
  becomes OUT_FAILED (awaiting disposition); an IN_STATION unit's current TrackOut is forced to FAIL; a
  DONE unit stays DONE with the defect recorded for the run's OQC/MRB. A unit OUT_FAILED or ON_HOLD keeps
  its status and gets the defects for its next decision; a SCRAPPED unit gets them already CLOSED.

`InspectionResult.track_id` is the track a FAIL decided: set on arrival when the unit is tracked in (the
current track will be forced) or already past the step (the track it inspected), and by the forced
TrackOut otherwise. A FAIL that still has no track waits for the unit's next TrackOut at that step, and
forces exactly one TrackOut — a unit reworked back through the step is judged afresh.
"""
from __future__ import annotations

from typing import Any, Optional

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import and_, bindparam, exists, false, or_, select, update

from ...extensions import db
from ...models import (
    Defect, InspectionResult, Operation, RoutingStep, Run, Station, Track, Unit,
)
from ...models.quality import INSPECTION_RESULT_TYPES
from ..engineering.master_data import active_defect_code
from ..engineering.route_plans import plan_for
from ..integration.inbox import InboundResult, receive, source_of
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.inputs import EventTime, Key, Text, Whole
from ..platform.scope import require_station
from ..platform.states import transition
from ..platform.uow import UnitOfWork
from ..production.units import move as move_unit
from ..production.execution import load_station
from ..production.extension_points import Force


class DefectItemSchema(Schema):
    code = Key("defect_code", required=True)
    location = Text(128, single_line=True, load_default=None, allow_none=True)
    description = Text(load_default=None, allow_none=True)

    class Meta:
        unknown = EXCLUDE


class InspectionResultSchema(Schema):
    eventId = Key("event_id", required=True)
    eventTime = EventTime(required=True)
    type = fields.String(required=True, validate=validate.OneOf(INSPECTION_RESULT_TYPES))
    sn = Key("sn", required=True)
    stationCode = Key("code", required=True)
    stepNo = Whole("step_no", load_default=None, allow_none=True, strict=True)
    result = fields.String(required=True, validate=validate.OneOf(("PASS", "FAIL")))
    defects = fields.List(fields.Nested(DefectItemSchema), load_default=list)

    class Meta:
        unknown = EXCLUDE


def _may_record(actor: Actor) -> None:
    if not (actor.can("integration:inbound") or actor.can("quality:inspection_result")):
        raise DomainError("FORBIDDEN", M("You may not send or enter SPI/AOI results."))


def manual_entry_type(actor: Actor, station_code: str) -> Optional[str]:
    """What the Station Terminal of this station offers to enter by hand while the machine's link is
    down: SPI or AOI when the station's group serves an SPI/AOI step of some routing and the actor may
    record results (`quality:inspection_result`); else None. The entry itself is checked like any
    result (the station must do the unit's step)."""
    if not actor.can("quality:inspection_result"):
        return None
    codes = set(db.session.execute(
        select(Operation.code).join(RoutingStep, RoutingStep.operation_id == Operation.id)
        .join(Station, Station.group_id == RoutingStep.station_group_id)
        .where(Station.code == station_code, Operation.code.in_(INSPECTION_RESULT_TYPES))).scalars())
    return sorted(codes)[0] if codes else None


def _system(payload: Any) -> str:
    """The integration system the message is logged under (SPI or AOI; AOI when the type is unreadable)."""
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if kind in INSPECTION_RESULT_TYPES else "AOI"


def receive_inspection_result(*, actor: Actor, payload: Any) -> InboundResult:
    """`POST /integration/inspection-results` (integration, or `quality:inspection_result` by hand)
    `{eventId, eventTime, type SPI|AOI, sn, stationCode, stepNo?, result, defects[]}`: the step defaults to
    the unit's current step; a FAIL needs at least one defect (`DEFECTS_REQUIRED`) of known codes."""
    _may_record(actor)
    source, operator = source_of(actor)

    def handler(uow: UnitOfWork, data: dict) -> dict:
        return _apply(uow, actor, data, source, operator)

    return receive(actor=actor, system=_system(payload), entity_type="INSPECTION_RESULT",
                   action="INSPECTION_RESULT_RECORD", payload=payload, schema=InspectionResultSchema(),
                   key=lambda d: d["sn"], handler=handler, event_id=lambda d: d["eventId"])


def _apply(uow: UnitOfWork, actor: Actor, data: dict, source: str, operator: Optional[str]) -> dict:
    sn = data["sn"].strip()
    uow.entity_type, uow.entity_key = "UNIT", sn
    station = load_station(data["stationCode"].strip())
    if actor.actor_type != "INTEGRATION":
        require_station(actor, station.id, station.line_id, station.code)
    unit = db.session.execute(uow.lock(select(Unit).where(Unit.sn == sn))
                              .execution_options(populate_existing=True)).scalar_one_or_none()
    if unit is None:
        raise DomainError("UNIT_NOT_FOUND", M("No unit with SN {sn}.", sn=sn), {"sn": sn})
    run = db.session.get(Run, unit.run_id)
    if station.line_id != run.line_id:
        raise DomainError("STATION_LINE_MISMATCH", M("Station {station} is not on the line of unit {sn}'s run {run}.",
                                                    station=station.code, sn=sn, run=run.run_no))
    plan = plan_for(run.route_version_id)
    step_no = data.get("stepNo") if data.get("stepNo") is not None else unit.current_step_no
    step = plan.step(step_no)
    open_track = db.session.execute(select(Track.id, Track.step_no).where(Track.open_unit_id == unit.id)).first()
    inspected = db.session.execute(select(Track.id).where(Track.unit_id == unit.id, Track.step_no == step_no)
                                   .order_by(Track.id.desc()).limit(1)).scalar_one_or_none()
    if step is None or (unit.current_step_no is not None and step_no > unit.current_step_no and inspected is None):
        raise DomainError("STEP_MISMATCH", M("Unit {sn} is at step {current}: a result for step {step} is for a step "
                                             "the unit has not reached (or the route does not have).", sn=sn,
                                             current=unit.current_step_no, step=step_no),
                          {"stepNo": step_no, "currentStepNo": unit.current_step_no})
    if not step.accepts(station_type=station.station_type, group_code=station.group_code, station_code=station.code):
        raise DomainError("STATION_MISMATCH", M("Station {station} does not do {step}: that step is done at {where}.",
                                                station=station.code, step=step.label(), where=step.where()),
                          {"stepNo": step_no, "stationGroupCode": step.station_group_code})
    if db.session.execute(select(InspectionResult.id).where(InspectionResult.event_id == data["eventId"])).first():
        # the same event id under the other type (SPI vs AOI), so not found as a duplicate of this system
        raise DomainError("VALIDATION_ERROR", M("Event {event} was already received as another result type.",
                                                event=data["eventId"]),
                          {"fields": {"eventId": "already used"}})
    defects = [{"code": active_defect_code(d["code"]), "location": (d.get("location") or "").strip() or None,
                "description": d.get("description") or None} for d in data.get("defects") or []]
    if data["result"] == "FAIL" and not defects:
        raise DomainError("DEFECTS_REQUIRED", M("A FAIL result needs at least one defect {{code, location?, "
                                                "description?}}."),
                          {"fields": {"defects": "at least one for FAIL"}})

    at_step = ((unit.status == "QUEUED" and unit.current_step_no == step_no)
               or (unit.status == "IN_STATION" and open_track is not None and open_track.step_no == step_no))
    late = not at_step
    track_id = open_track.id if unit.status == "IN_STATION" and (at_step or data["result"] == "FAIL") else inspected
    effect, defect_ids, before = "NONE", [], unit.status
    if data["result"] == "FAIL":
        if unit.status == "IN_STATION":
            effect = "FORCES_TRACK_OUT"
        elif at_step:  # QUEUED at the step: its TrackOut there will be forced
            effect, track_id = "FORCES_TRACK_OUT", None
        else:
            defect_ids = _record_defects(uow, unit, step_no, inspected, defects, data["type"],
                                         closed=unit.status == "SCRAPPED")
            if unit.status == "QUEUED":
                move_unit(unit, "DEFECT")
                unit.updated_at = now()
                effect = "UNIT_OUT_FAILED"
            else:
                effect = "DEFECTS_RECORDED"
    record = InspectionResult(event_id=data["eventId"], event_time=data["eventTime"], type=data["type"], run_id=run.id,
                              station_id=station.id, unit_id=unit.id, step_no=step_no, track_id=track_id,
                              result=data["result"], defects=defects, late=late, source=source, operator=operator)
    uow.session.add(record)
    uow.session.flush()
    uow.payload = {"system": data["type"], "eventId": data["eventId"], "stepNo": step_no, "result": data["result"],
                   "source": source, "late": late, "effect": effect}
    if data["result"] == "FAIL" and late:
        uow.audit("LATE_INSPECTION_FAIL", "UNIT", sn,
                  diff={"before": {"status": before}, "after": {"status": unit.status}} if before != unit.status else None,
                  payload={"inspectionResultId": record.id, "type": data["type"], "stepNo": step_no,
                           "unitStatus": unit.status, "effect": effect, "defectIds": defect_ids,
                           "defects": [d["code"] for d in defects]})
    return {**result_to_dict(record, sn=sn, run_no=run.run_no, station_code=station.code),
            "effect": effect, "unitStatus": unit.status, "defectIds": defect_ids}


def _record_defects(uow: UnitOfWork, unit: Unit, step_no: int, track_id: Optional[int], defects: list[dict],
                    kind: str, *, closed: bool = False) -> list[int]:
    at, ids = now(), []
    for d in defects:
        defect = Defect(unit_id=unit.id, track_id=track_id, step_no=step_no, code=d["code"], location=d.get("location"),
                        description=d.get("description") or f"{kind} FAIL", qty=1, status="RECORDED", source="AUTO",
                        created_at=at, updated_at=at)
        if closed:  # nothing left to decide on a scrapped unit
            defect.status = transition("DEFECT", defect.status, "CLOSE")
        uow.session.add(defect)
        uow.session.flush()
        ids.append(defect.id)
    return ids


def settle_pending_fails(uow: UnitOfWork, unit: Unit) -> list[int]:
    """A unit taken off its step by hand (a manual defect on a QUEUED unit) never has the TrackOut a
    waiting SPI/AOI FAIL would force: record that FAIL's defects now, so they are decided together."""
    pending = db.session.execute(select(InspectionResult).where(
        InspectionResult.unit_id == unit.id, InspectionResult.result == "FAIL", InspectionResult.track_id.is_(None),
        InspectionResult.late.is_(False))).scalars().all()
    for result in pending:
        _record_defects(uow, unit, result.step_no, None, result.defects or [], result.type)
        result.late = True  # no longer waits for a TrackOut
    return [r.id for r in pending]


# ---------------------------------------------------------------------------------------------
# The TrackOut forcer (02_rules §4 step 2): one indexed read per TrackOut (ix_inspection_result_unit_step)
# ---------------------------------------------------------------------------------------------

_ir = InspectionResult.__table__
def _fails_for(unit_id, track_id, step_no):
    """The FAIL results that decide a TrackOut of the unit's track at step_no: bound to that track, or
    still waiting (no track, not late) at that step."""
    return and_(_ir.c.unit_id == unit_id, _ir.c.result == "FAIL",
                or_(_ir.c.track_id == track_id,
                    and_(_ir.c.track_id.is_(None), _ir.c.late == false(), _ir.c.step_no == step_no)))


FAILS_FOR_TRACK_OUT = (select(_ir.c.id, _ir.c.type, _ir.c.defects)
                       .where(_fails_for(bindparam("unit_id"), bindparam("track_id"), bindparam("step_no")))
                       .order_by(_ir.c.id))


def fail_waiting_for_track_out(unit, track):
    """SCAN_FLAGS "inspection_fail": a FAIL result decides the TrackOut of the unit's open track (the
    scan's query reads it; most TrackOuts then need no query of their own)."""
    return exists().where(_fails_for(unit.c.id, track.c.id, track.c.step_no))
BIND_TO_TRACK = update(_ir).where(_ir.c.id.in_(bindparam("ids", expanding=True))).values(track_id=bindparam("track_id"))


def force_track_out(uow: UnitOfWork, scan) -> Optional[Force]:
    """An SPI/AOI FAIL for this unit and step (or a late one bound to this track) forces the TrackOut to
    FAIL with the results' defects (source AUTO); the results are bound to the track they decided."""
    if not scan.flag("inspection_fail"):
        return None
    rows = uow.execute(FAILS_FOR_TRACK_OUT, {"unit_id": scan.unit.id, "track_id": scan.track_id,
                                             "step_no": scan.step.step_no}).all()
    if not rows:
        return None
    uow.execute(BIND_TO_TRACK, {"ids": [r.id for r in rows], "track_id": scan.track_id})
    defects = [{"code": d["code"], "location": d.get("location"), "description": d.get("description") or f"{kind} FAIL",
                "source": "AUTO"} for _id, kind, items in rows for d in (items or [])]
    return Force(by=rows[0].type, defects=defects)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def result_to_dict(r: InspectionResult, *, sn: str, run_no: str, station_code: str) -> dict[str, Any]:
    return {"id": r.id, "eventId": r.event_id, "eventTime": r.event_time.isoformat(), "type": r.type, "sn": sn,
            "runNo": run_no, "stationCode": station_code, "stepNo": r.step_no, "result": r.result,
            "defects": r.defects or [], "late": r.late, "trackId": r.track_id, "source": r.source,
            "operator": r.operator, "receivedAt": r.received_at.isoformat() if r.received_at else None}


def trace_inspection_results(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: the unit's SPI/AOI results, oldest first."""
    rows = db.session.execute(select(InspectionResult, Station.code, Run.run_no)
                              .join(Station, Station.id == InspectionResult.station_id)
                              .join(Run, Run.id == InspectionResult.run_id)
                              .where(InspectionResult.unit_id == context["unitId"])
                              .order_by(InspectionResult.event_time, InspectionResult.id)).all()
    sn = trace["unit"]["sn"]
    trace["inspectionResults"] = [result_to_dict(r, sn=sn, run_no=run_no, station_code=code) for r, code, run_no in rows]
