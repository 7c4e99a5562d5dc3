"""Execution — TrackIn / TrackOut with data collection (spec 02_rules §4). The hot path.

Lean by design: one query per entity (station with its group and equipment, run, unit, open track),
the route snapshot parsed once per version (services/plans.py), one transaction per scan. The scan's
statements are Core statements built once, at import, with bind parameters, and run on the unit of
work's connection: building a statement and passing it through the ORM session per call costs several
times what SQLite needs to execute it. Concurrency is the database's:
SQLite takes the write lock at BEGIN IMMEDIATE, PostgreSQL locks the unit row (FOR UPDATE), and the
unique `open_unit_id` of tracks makes a second open track of a unit impossible anyway.

Later capabilities plug in through three lists, without changing these functions:
- `PREP_RUN_GATES`: may admit a scan on a PREP run (the FAI trial) by returning (mode, inspection id);
- `TRACK_IN_CHECKS`: may refuse a TrackIn once the unit and its step are known (FAI trial limits);
- `TRACK_OUT_FORCERS`: may force a TrackOut to FAIL with their own defects (SPI/AOI results);
- `TRACK_OUT_HOOKS`: run after a track is closed (genealogy, rework tasks).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import DataValue, Defect, DefectCode, Equipment, Inspection, Run, Station, StationGroup, Track, Unit
from .actor import Actor
from .audit import record_failure
from .errors import DomainError
from .inspections import open_key
from .plans import RoutePlan, SpecPlan, StepPlan, plan_for
from .scope import require_permission, require_station
from .states import transition
from .uow import UnitOfWork, unit_of_work

ACTIVE_RUN = ("AUTHORIZED", "IN_PROGRESS")
UNIT_REFUSALS = {
    "IN_STATION": ("UNIT_ALREADY_IN_STATION", "Unit {sn} is already tracked in{where}: track it out first."),
    "DONE": ("UNIT_ALREADY_DONE", "Unit {sn} has finished its route."),
    "OUT_FAILED": ("UNIT_DISPOSITION_REQUIRED", "Unit {sn} failed and waits for a quality decision: hand it to quality."),
    "ON_HOLD": ("UNIT_ON_HOLD", "Unit {sn} is on hold: hand it to quality."),
    "SCRAPPED": ("UNIT_SCRAPPED", "Unit {sn} is scrapped: take it off the line."),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StationInfo:
    id: int
    code: str
    line_id: int
    station_type: str
    is_active: bool
    group_code: Optional[str]
    equipment_code: Optional[str]
    equipment_status: Optional[str]

    def valid_for(self, step: StepPlan, line_id: int) -> bool:
        return (self.is_active and self.line_id == line_id
                and step.accepts(station_type=self.station_type, group_code=self.group_code, station_code=self.code))


@dataclass
class RunInfo:
    id: int
    run_no: str
    status: str
    line_id: int
    route_version_id: int
    plan_qty: int
    work_order_id: int


@dataclass
class UnitInfo:
    id: int
    sn: str
    run_id: int
    status: str
    current_step_no: Optional[int]
    work_order_id: int


@dataclass
class Scan:
    """Everything a hook needs to know about one TrackIn/TrackOut."""
    actor: Actor
    station: StationInfo
    run: RunInfo
    plan: RoutePlan
    unit: Optional[UnitInfo] = None
    step: Optional[StepPlan] = None
    mode: str = "NORMAL"
    inspection_id: Optional[int] = None
    track_id: Optional[int] = None
    result: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Force:
    """A forced FAIL (e.g. an AOI result) with its own defects."""
    by: str
    defects: list[dict[str, Any]]


PrepGate = Callable[[UnitOfWork, Scan], Optional[tuple[str, Optional[int]]]]
Forcer = Callable[[UnitOfWork, Scan], Optional[Force]]
TrackOutHook = Callable[[UnitOfWork, Scan], None]

PREP_RUN_GATES: list[PrepGate] = []
TRACK_IN_CHECKS: list[TrackOutHook] = []  # once unit and step are known (the FAI trial's limits)
TRACK_OUT_FORCERS: list[Forcer] = []
TRACK_OUT_HOOKS: list[TrackOutHook] = []


# ---------------------------------------------------------------------------------------------
# The statements of a scan, built once (see the module docstring). An UPDATE takes its SET columns
# from the parameters it is executed with.
# ---------------------------------------------------------------------------------------------

_station, _group, _equipment = Station.__table__, StationGroup.__table__, Equipment.__table__
_run, _unit, _track = Run.__table__, Unit.__table__, Track.__table__

STATION_BY_CODE = (
    select(_station.c.id, _station.c.code, _station.c.line_id, _station.c.station_type, _station.c.is_active,
           _group.c.code.label("group_code"), _equipment.c.code.label("equipment_code"),
           _equipment.c.status.label("equipment_status"))
    .outerjoin(_group, _group.c.id == _station.c.group_id)
    .outerjoin(_equipment, (_equipment.c.station_id == _station.c.id) & _equipment.c.is_active.is_(True))
    .where(_station.c.code == bindparam("code"))
)
RUN_BY_NO = select(_run.c.id, _run.c.run_no, _run.c.status, _run.c.line_id, _run.c.route_version_id,
                   _run.c.plan_qty, _run.c.work_order_id).where(_run.c.run_no == bindparam("run_no"))
UNIT_BY_SN = select(_unit.c.id, _unit.c.sn, _unit.c.run_id, _unit.c.status, _unit.c.current_step_no,
                    _unit.c.work_order_id).where(_unit.c.sn == bindparam("sn"))
RUN_ROW = select(_run.c.id).where(_run.c.id == bindparam("run_id"))
UNITS_OF_RUN = select(func.count()).select_from(_unit).where(_unit.c.run_id == bindparam("run_id"))
OPEN_OQC_OF_RUN = select(Inspection.__table__.c.id).where(Inspection.__table__.c.open_key == bindparam("key"))
OPEN_TRACK_OF_UNIT = select(_track.c.id, _track.c.step_no, _track.c.station_id, _track.c.mode,
                            _track.c.inspection_id).where(_track.c.open_unit_id == bindparam("unit_id"))
INSERT_TRACK = insert(_track)
INSERT_UNIT = insert(_unit)
INSERT_DATA_VALUE = insert(DataValue.__table__)
UPDATE_UNIT = update(_unit).where(_unit.c.id == bindparam("unit_id"))
CLOSE_TRACK = update(_track).where(_track.c.id == bindparam("track_id"))


# ---------------------------------------------------------------------------------------------
# Loading the scan context (one query per entity)
# ---------------------------------------------------------------------------------------------

def load_station(code: str) -> StationInfo:
    row = db.session.connection().execute(STATION_BY_CODE, {"code": code}).first()
    if row is None:
        raise DomainError("STATION_NOT_FOUND", f"No station {code}.", {"stationCode": code})
    return StationInfo(*row)


def _usable_station(actor: Actor, code: str) -> StationInfo:
    station = load_station(code)
    if not station.is_active:
        raise DomainError("STATION_INACTIVE", f"Station {code} is inactive: use another station.")
    require_station(actor, station.id, station.line_id, station.code)
    if station.equipment_status in ("DOWN", "MAINTENANCE"):
        raise DomainError("EQUIPMENT_UNAVAILABLE", f"Equipment {station.equipment_code} of station {code} is "
                          f"{station.equipment_status}: call maintenance or use another station of the group.",
                          {"equipmentCode": station.equipment_code, "status": station.equipment_status})
    return station


def _load_run(uow: UnitOfWork, run_no: str) -> RunInfo:
    row = uow.execute(RUN_BY_NO, {"run_no": run_no}).first()
    if row is None:
        raise DomainError("RUN_NOT_FOUND", f"No run {run_no}.", {"runNo": run_no})
    return RunInfo(*row)


def _load_unit(uow: UnitOfWork, sn: str) -> Optional[UnitInfo]:
    row = uow.execute(uow.lock(UNIT_BY_SN), {"sn": sn}).first()
    return UnitInfo(*row) if row else None


def _context(uow: UnitOfWork, actor: Actor, station_code: str, run_no: str) -> Scan:
    """Station, scope, equipment, run, line and the run gate (02_rules §4, checks 1–2)."""
    station = _usable_station(actor, station_code)
    run = _load_run(uow, run_no)
    if station.line_id != run.line_id:
        raise DomainError("STATION_LINE_MISMATCH", f"Station {station_code} is not on the line of run {run_no}.")
    scan = Scan(actor=actor, station=station, run=run, plan=plan_for(run.route_version_id))
    return scan


def _run_gate(uow: UnitOfWork, scan: Scan) -> None:
    """AUTHORIZED or IN_PROGRESS: production. PREP: only what a gate admits (an FAI trial)."""
    if scan.run.status in ACTIVE_RUN:
        return
    if scan.run.status == "PREP":
        for gate in PREP_RUN_GATES:
            admitted = gate(uow, scan)
            if admitted is not None:
                scan.mode, scan.inspection_id = admitted
                return
    raise DomainError("RUN_NOT_AUTHORIZED", f"Run {scan.run.run_no} is {scan.run.status}: authorize the run, or "
                      "start an FAI for a trial.", {"status": scan.run.status})


def _audit(uow: UnitOfWork, action: str, sn: str, payload: dict[str, Any]) -> None:
    uow.entity_type, uow.entity_key, uow.action = "UNIT", sn, action
    uow.payload = payload


# ---------------------------------------------------------------------------------------------
# TrackIn
# ---------------------------------------------------------------------------------------------

def track_in(*, actor: Actor, station_code: str, sn: str, run_no: str) -> dict[str, Any]:
    """TrackIn (`exec:track_in`): open a track of the unit at its current step at this station.
    An unknown SN is registered at the first step of an active run that has fewer units than planned."""
    require_permission(actor, "exec:track_in")
    try:
        with unit_of_work(actor, "TRACK_IN", "UNIT", sn) as uow:
            return _track_in(uow, actor, station_code, (sn or "").strip(), run_no)
    except IntegrityError:
        # the same unit was tracked in (or registered) by another request at the same moment
        error = DomainError("UNIT_ALREADY_IN_STATION", f"Unit {sn} is already tracked in: track it out first.")
        record_failure(actor, "TRACK_IN", "UNIT", sn, error)
        raise error from None


def _track_in(uow: UnitOfWork, actor: Actor, station_code: str, sn: str, run_no: str) -> dict[str, Any]:
    if not sn:
        raise DomainError("VALIDATION_ERROR", "Scan an SN.", {"fields": {"sn": "required"}})
    scan = _context(uow, actor, station_code, run_no)
    _run_gate(uow, scan)
    unit = _load_unit(uow, sn)
    if unit is None:
        unit = _register(uow, scan, sn)
    if unit.run_id != scan.run.id:
        raise DomainError("UNIT_RUN_MISMATCH", f"Unit {sn} belongs to another run: select its own run.")
    if unit.status in UNIT_REFUSALS:
        code, text = UNIT_REFUSALS[unit.status]
        raise DomainError(code, text.format(sn=sn, where=_open_track_place(uow, unit.id)), {"status": unit.status})
    step = scan.plan.step(unit.current_step_no)
    if step is None:
        raise DomainError("STEP_MISMATCH", f"Unit {sn} is at step {unit.current_step_no}, which the run's route "
                          "does not have: call the line leader.")
    if not scan.station.valid_for(step, scan.run.line_id):
        raise DomainError("STATION_MISMATCH", f"Unit {sn} is at {step.expectation()}: take it there "
                          f"(not {station_code}).", {"stepNo": step.step_no, "stationGroupCode": step.station_group_code,
                                                     "allowedStationCodes": sorted(step.allowed_station_codes or [])})
    scan.unit, scan.step = unit, step
    for check in TRACK_IN_CHECKS:
        check(uow, scan)
    now = _now()
    new_status = transition("UNIT", unit.status, "TRACK_IN")
    track_id = uow.execute(INSERT_TRACK, {
        "unit_id": unit.id, "run_id": scan.run.id, "step_no": step.step_no, "station_id": scan.station.id,
        "operator_id": actor.user_id, "operator": actor.username, "in_at": now, "mode": scan.mode,
        "inspection_id": scan.inspection_id, "source": "MANUAL", "open_unit_id": unit.id}).inserted_primary_key[0]
    uow.execute(UPDATE_UNIT, {"unit_id": unit.id, "status": new_status, "updated_at": now})
    if scan.mode == "NORMAL" and scan.run.status == "AUTHORIZED":
        started = uow.session.execute(update(Run.__table__).where(
            Run.__table__.c.id == scan.run.id, Run.__table__.c.status == "AUTHORIZED").values(
            status=transition("RUN", "AUTHORIZED", "START"), started_at=now, updated_at=now)).rowcount
        if started:
            uow.audit("RUN_START", "RUN", scan.run.run_no, diff={"before": {"status": "AUTHORIZED"},
                                                                "after": {"status": "IN_PROGRESS"}})
    _audit(uow, "TRACK_IN", sn, {"station": station_code, "runNo": run_no, "stepNo": step.step_no,
                                 "mode": scan.mode})
    return {
        "unit": {"sn": sn, "status": new_status, "currentStepNo": step.step_no, "runNo": run_no},
        "track": {"id": track_id, "stepNo": step.step_no, "station": station_code, "inAt": now.isoformat(),
                  "mode": scan.mode, "operator": actor.username},
        "step": {**step.to_dict(), "dataSpecs": [s.to_dict() for s in step.specs]},
    }


def _open_track_place(uow: UnitOfWork, unit_id: int) -> str:
    """" at ST-MOUNT-01 (step 30)" for a unit tracked in somewhere (only read when a scan is refused)."""
    row = uow.execute(select(_station.c.code, _track.c.step_no).join(_station, _station.c.id == _track.c.station_id)
                      .where(_track.c.open_unit_id == unit_id)).first()
    return f" at {row.code} (step {row.step_no})" if row else ""


def _register(uow: UnitOfWork, scan: Scan, sn: str) -> UnitInfo:
    """An unknown SN becomes a unit when the run may build (active or FAI trial), the station is
    valid for the first step and the run has fewer units than planned."""
    first = scan.plan.first
    if not scan.station.valid_for(first, scan.run.line_id):
        raise DomainError("UNIT_NOT_FOUND", f"Unknown SN {sn}: new boards start at {first.expectation()}.",
                          {"sn": sn})
    uow.execute(uow.lock(RUN_ROW), {"run_id": scan.run.id})  # serialise registrations
    if uow.execute(OPEN_OQC_OF_RUN, {"key": open_key(scan.run.id, "OQC")}).first() is not None:
        raise DomainError("UNIT_NOT_FOUND", f"Unknown SN {sn}: run {scan.run.run_no} is closed out and waits for its "
                          "OQC; new boards go to another run.", {"sn": sn})
    units = uow.execute(UNITS_OF_RUN, {"run_id": scan.run.id}).scalar_one()
    if units >= scan.run.plan_qty:
        raise DomainError("UNIT_NOT_FOUND", f"Unknown SN {sn}, and run {scan.run.run_no} already has its "
                          f"{scan.run.plan_qty} units.", {"sn": sn})
    now = _now()
    unit_id = uow.execute(INSERT_UNIT, {
        "sn": sn, "work_order_id": scan.run.work_order_id, "run_id": scan.run.id, "status": "QUEUED",
        "current_step_no": first.step_no, "rework_count": 0, "created_at": now, "updated_at": now}).inserted_primary_key[0]
    uow.audit("UNIT_REGISTER", "UNIT", sn, payload={"runNo": scan.run.run_no, "station": scan.station.code})
    return UnitInfo(unit_id, sn, scan.run.id, "QUEUED", first.step_no, scan.run.work_order_id)


# ---------------------------------------------------------------------------------------------
# TrackOut
# ---------------------------------------------------------------------------------------------

def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def check_value(spec: SpecPlan, value: Any) -> dict[str, Any]:
    """The typed columns of a value, or DATA_VALUE_INVALID naming the spec."""
    def invalid(expected: str) -> DomainError:
        return DomainError("DATA_VALUE_INVALID", f"{spec.name} needs {expected} (got {json.dumps(value)[:40]}).",
                           {"spec": spec.name, "expected": expected})
    if spec.data_type == "NUMBER":
        number = _number(value)
        if number is None:
            raise invalid("a number")
        return {"value_number": number}
    if spec.data_type == "TEXT":
        if not isinstance(value, str) or not value.strip():
            raise invalid("a text")
        return {"value_text": value.strip()}
    if spec.data_type == "BOOLEAN":
        if not isinstance(value, bool):
            raise invalid("true or false")
        return {"value_bool": value}
    if spec.data_type == "ENUM":
        if not isinstance(value, str) or value not in (spec.enum_options or ()):
            raise invalid("one of " + ", ".join(spec.enum_options or ()))
        return {"value_text": value}
    if not isinstance(value, (dict, list)):
        raise invalid("a JSON object or list")
    return {"value_json": value}


def judge(spec: SpecPlan, columns: dict[str, Any]) -> str:
    """NUMBER values against lsl/usl: PASS or FAIL (NA without limits, and for other types)."""
    number = columns.get("value_number")
    if spec.data_type != "NUMBER" or (spec.lsl is None and spec.usl is None):
        return "NA"
    if (spec.lsl is not None and number < spec.lsl) or (spec.usl is not None and number > spec.usl):
        return "FAIL"
    return "PASS"


def _spec_for(step: StepPlan, ref: Any) -> SpecPlan:
    spec = None
    if isinstance(ref, int) and not isinstance(ref, bool):
        spec = step.specs_by_id.get(ref)
    elif isinstance(ref, str):
        spec = step.specs_by_name.get(ref.strip()) or (step.specs_by_id.get(int(ref)) if ref.strip().isdigit() else None)
    if spec is None:
        raise DomainError("DATA_SPEC_NOT_FOUND", f"{ref!r} is not a spec of step {step.step_no} ({step.operation_code}).",
                          {"spec": ref, "expected": [s.name for s in step.specs]})
    return spec


def track_out(*, actor: Actor, station_code: str, sn: str, run_no: str, result: str,
              data: list[dict[str, Any]] | None = None, defect: dict[str, Any] | None = None) -> dict[str, Any]:
    """TrackOut (`exec:track_out`): close the unit's open track at this station with PASS or FAIL,
    collected data (validated and judged against the frozen specs) and, on FAIL, a defect."""
    require_permission(actor, "exec:track_out")
    with unit_of_work(actor, "TRACK_OUT", "UNIT", sn) as uow:
        return _track_out(uow, actor, station_code, (sn or "").strip(), run_no, result, data or [], defect)


def _track_out(uow: UnitOfWork, actor: Actor, station_code: str, sn: str, run_no: str, result: str,
               data: list[dict[str, Any]], defect: dict[str, Any] | None) -> dict[str, Any]:
    if result not in ("PASS", "FAIL"):
        raise DomainError("VALIDATION_ERROR", "result must be PASS or FAIL.", {"fields": {"result": "PASS or FAIL"}})
    scan = _context(uow, actor, station_code, run_no)
    _run_gate(uow, scan)
    unit = _load_unit(uow, sn)
    if unit is None:
        raise DomainError("UNIT_NOT_FOUND", f"Unknown SN {sn}.", {"sn": sn})
    if unit.run_id != scan.run.id:
        raise DomainError("UNIT_RUN_MISMATCH", f"Unit {sn} belongs to another run: select its own run.")
    track = uow.execute(OPEN_TRACK_OF_UNIT, {"unit_id": unit.id}).first()
    if track is None or track.station_id != scan.station.id:
        raise DomainError("TRACK_NOT_FOUND", f"Unit {sn} is not tracked in at {station_code}: track it in first.",
                          {"openAtStation": track is not None})
    step = scan.plan.step(track.step_no)
    scan.unit, scan.step, scan.track_id = unit, step, track.id
    scan.mode, scan.inspection_id = track.mode, track.inspection_id

    forced_by, defects = None, []
    for forcer in TRACK_OUT_FORCERS:
        force = forcer(uow, scan)
        if force is not None:
            forced_by, defects = force.by, list(force.defects)
            break
    effective = "FAIL" if forced_by else result

    # data: known specs of the step, typed values, required specs on PASS, judged against the limits
    values, seen = [], set()
    for item in data:
        if not isinstance(item, dict) or "spec" not in item:
            raise DomainError("VALIDATION_ERROR", "Each data item is {spec, value}.", {"fields": {"data": "{spec, value}"}})
        spec = _spec_for(step, item["spec"])
        if spec.id in seen:
            raise DomainError("VALIDATION_ERROR", f"{spec.name} is given twice.", {"fields": {"data": spec.name}})
        seen.add(spec.id)
        if item.get("value") is None:
            continue
        columns = check_value(spec, item["value"])
        values.append((spec, item["value"], columns, judge(spec, columns)))
    if effective == "PASS":
        missing = [s.name for s in step.specs if s.required and s.id not in {v[0].id for v in values}]
        if missing:
            raise DomainError("REQUIRED_DATA_MISSING", f"Enter {', '.join(missing)} before PASS.", {"specs": missing})
    limit_failures = [v for v in values if v[3] == "FAIL" and (v[0].limit_action or "FAIL") == "FAIL"]
    if limit_failures and effective == "PASS":
        effective, forced_by = "FAIL", "SPEC_LIMIT"
    if effective == "FAIL" and not defects:  # not forced with its own defects (SPI/AOI)
        if defect and defect.get("code"):
            defects = [_checked_defect(defect)]
        elif forced_by == "SPEC_LIMIT":
            names = ", ".join(f"{v[0].name}={v[1]}" for v in limit_failures)
            defects = [{"code": "SPEC_OUT_OF_LIMIT", "description": f"Out of limit: {names}"}]
        else:
            raise DomainError("DEFECT_CODE_REQUIRED", "Pick the defect code for the FAIL.")

    now = _now()
    scan.result = effective
    uow.execute(CLOSE_TRACK, {"track_id": track.id, "out_at": now, "result": effective, "open_unit_id": None})
    if values:
        uow.execute(INSERT_DATA_VALUE, [
            {"track_id": track.id, "spec_id": spec.id, "spec_name": spec.name, "value_number": cols.get("value_number"),
             "value_text": cols.get("value_text"), "value_bool": cols.get("value_bool"),
             "value_json": cols.get("value_json"), "judge": verdict, "alarmed": verdict == "FAIL",
             "source": "MANUAL", "collected_at": now}
            for spec, _raw, cols, verdict in values])
    next_step = None
    if effective == "PASS":
        next_step = scan.plan.next_after(step.step_no)
        status = transition("UNIT", "IN_STATION", "PASS" if next_step else "PASS_LAST")
        current = next_step.step_no if next_step else step.step_no
    else:
        status, current = transition("UNIT", "IN_STATION", "FAIL"), step.step_no
    uow.execute(UPDATE_UNIT, {"unit_id": unit.id, "status": status, "current_step_no": current, "updated_at": now})
    defect_rows = []
    for d in defects:
        defect_id = uow.session.execute(insert(Defect.__table__).values(
            unit_id=unit.id, track_id=track.id, step_no=step.step_no, code=d["code"], location=d.get("location"),
            description=d.get("description"), qty=1, status="RECORDED", source=d.get("source", "MANUAL"),
            created_at=now, updated_at=now)).inserted_primary_key[0]
        defect_rows.append({"id": defect_id, "code": d["code"]})
    for hook in TRACK_OUT_HOOKS:
        hook(uow, scan)
    closeout = None
    if status == "DONE" and scan.mode == "NORMAL":
        from .runs import automatic_closeout
        run = uow.session.get(Run, scan.run.id)
        closeout = automatic_closeout(uow, run, actor)
    _audit(uow, "TRACK_OUT", sn, {"station": station_code, "runNo": run_no, "stepNo": step.step_no,
                                  "result": effective, "forcedBy": forced_by,
                                  "defects": [d["code"] for d in defect_rows]})
    response: dict[str, Any] = {
        "unit": {"sn": sn, "status": status, "currentStepNo": current, "runNo": run_no},
        "track": {"id": track.id, "stepNo": step.step_no, "station": station_code, "outAt": now.isoformat(),
                  "result": effective, "mode": scan.mode},
        "result": effective,
        "nextStep": next_step.to_dict() if next_step else None,
        "dataValues": [{"spec": spec.name, "value": raw, "uom": spec.uom, "lsl": spec.lsl, "usl": spec.usl,
                        "judge": verdict, "alarmed": verdict == "FAIL"} for spec, raw, _cols, verdict in values],
        "defects": defect_rows,
    }
    if forced_by:
        response["forcedBy"] = forced_by
    if closeout is not None:
        response["runCloseout"] = {"completed": closeout.completed,
                                   "code": closeout.error.code if closeout.error else None,
                                   **(closeout.details or {})}
    return response


def _checked_defect(defect: dict[str, Any]) -> dict[str, Any]:
    code = str(defect.get("code") or "").strip()
    if not code:
        raise DomainError("DEFECT_CODE_REQUIRED", "Pick the defect code for the FAIL.")
    known = db.session.execute(select(DefectCode.is_active).where(DefectCode.code == code)).first()
    if known is None or not known[0]:
        raise DomainError("DEFECT_CODE_NOT_FOUND", f"Unknown defect code {code}: pick one from the list.",
                          {"code": code})
    return {"code": code, "location": (defect.get("location") or None), "description": defect.get("description")}


# ---------------------------------------------------------------------------------------------
# Station queue and the data form of a unit's step
# ---------------------------------------------------------------------------------------------

def station_queue(*, actor: Actor, station_code: str, limit: int = 100) -> dict[str, Any]:
    """Units in this station, and units waiting for this station's step (`exec:track_in`)."""
    require_permission(actor, "exec:track_in")
    station = load_station(station_code)
    require_station(actor, station.id, station.line_id, station.code)
    in_station = db.session.execute(
        select(Unit.sn, Run.run_no, Track.step_no, Track.in_at, Track.mode)
        .join(Track, Track.open_unit_id == Unit.id).join(Run, Run.id == Unit.run_id)
        .where(Track.station_id == station.id).order_by(Track.in_at)).all()
    runs = db.session.execute(select(Run.id, Run.run_no, Run.route_version_id, Run.status).where(
        Run.line_id == station.line_id, Run.status.in_(("PREP", "AUTHORIZED", "IN_PROGRESS")))).all()
    waiting = []
    for run_id, run_no, version_id, run_status in runs:
        plan = plan_for(version_id)
        steps = [s.step_no for s in plan.steps if station.valid_for(s, station.line_id)]
        if not steps:
            continue
        rows = db.session.execute(select(Unit.sn, Unit.current_step_no).where(
            Unit.run_id == run_id, Unit.status == "QUEUED", Unit.current_step_no.in_(steps))
            .order_by(Unit.updated_at, Unit.id).limit(limit)).all()
        waiting.extend({"sn": sn, "runNo": run_no, "stepNo": step_no, "runStatus": run_status} for sn, step_no in rows)
    return {"station": {"code": station.code, "lineId": station.line_id, "equipmentStatus": station.equipment_status},
            "inStation": [{"sn": sn, "runNo": run_no, "stepNo": step_no, "inAt": in_at.isoformat(), "mode": mode}
                          for sn, run_no, step_no, in_at, mode in in_station],
            "waiting": waiting[:limit]}


def unit_data_specs(*, actor: Actor, station_code: str, sn: str) -> dict[str, Any]:
    """The specs to collect for a unit's current step (`exec:track_out`)."""
    require_permission(actor, "exec:track_out")
    station = load_station(station_code)
    require_station(actor, station.id, station.line_id, station.code)
    row = db.session.execute(select(Unit.id, Unit.status, Unit.current_step_no, Run.route_version_id, Run.run_no)
                             .join(Run, Run.id == Unit.run_id).where(Unit.sn == sn)).first()
    if row is None:
        raise DomainError("UNIT_NOT_FOUND", f"Unknown SN {sn}.", {"sn": sn})
    step = plan_for(row.route_version_id).step(row.current_step_no)
    if step is None:
        raise DomainError("STEP_MISMATCH", f"Unit {sn} is at an unknown step.")
    open_track = db.session.execute(select(Station.code, Track.step_no).join(Station, Station.id == Track.station_id)
                                    .where(Track.open_unit_id == row.id)).first()
    return {"sn": sn, "runNo": row.run_no, "unitStatus": row.status, "step": step.to_dict(),
            "dataSpecs": [s.to_dict() for s in step.specs],
            "stationValid": station.valid_for(step, station.line_id),
            "openTrack": {"station": open_track[0], "stepNo": open_track[1]} if open_track else None}
