"""Execution — TrackIn / TrackOut with data collection (spec 02_rules §4). The hot path.

Lean by design, in statements as much as in Python (issue 16: a TrackIn + TrackOut pair at a step costs
at most 12 statements, BEGIN included, the last step too (on PostgreSQL the finishing UPDATE locks the run's
row for the closeout's count: FINISH_UNIT_LOCKING_RUN), and 16 when it registers a new SN; tests/api/test_statement_budget.py counts them). One query reads the whole scan (`SCAN`: the security version, the station with its group and
equipment, the run, the unit — locked FOR UPDATE on PostgreSQL —, its open track and the SCAN_FLAGS of
the hooks, e.g. whether an SPI/AOI FAIL waits for this TrackOut); then the writes,
the data values as one multi-row insert, and the audit event. When that query finds no row (an unknown
station, run or SN, or a new SN to register) the scan is read again entity by entity, which gives the
precise refusal. The route snapshot is parsed once per version (services/engineering/route_plans.py),
one transaction per scan. The statements are Core statements built once, at import, with bind
parameters, run on the unit of work's connection: building a statement and passing it through the ORM
session per call costs several times what SQLite needs to execute it.

Concurrency is the database's: SQLite takes the write lock at BEGIN IMMEDIATE, PostgreSQL locks the unit
row (FOR UPDATE OF unit). A PostgreSQL statement that waited for that lock sees the unit as its
holder committed it but the other tables as they were when it started; so a TrackOut also needs the unit
IN_STATION and closes its track only while it is open (`CLOSE_TRACK` counts the row), and the unique
`open_unit_id` of tracks makes a second open track of a unit impossible anyway.

The security version and the actor's session version are columns of `SCAN`: the request's cached actor is
confirmed in the scan's own transaction, before anything is written (services/platform/uow.py, deferred
security check).

A TrackOut, step by step (`_track_out`): the scan's context and run gate → the unit and its open track
here → a forced FAIL (TRACK_OUT_FORCERS: SPI/AOI results) → the data, checked and judged against the
frozen specs → the verdict (result, forced by, defects) → close the track with its data → move the
unit → record the defects → TRACK_OUT_HOOKS (genealogy, rework tasks) → the automatic closeout. The
hook lists are in services/production/extension_points.py; services/wiring.py says what fills them.

The use cases return result objects; the API shapes the HTTP body (api/production.py).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Optional

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import (
    DataValue, Defect, Equipment, Inspection, Line, Material, MaterialLot, Product, Routing, RoutingStep, Run,
    Station, StationGroup, Track, Unit, WorkOrder,
)
from ..engineering.master_data import active_defect_code
from ..engineering.route_plans import SpecPlan, StepPlan, plan_for
from ..platform.actor import Actor
from ..platform.audit import SECURITY_VERSION_COLUMN, SESSION_VERSION_COLUMN, record_failure
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.scope import require_permission, require_station, station_filter
from ..platform.states import transition
from ..platform.uow import UnitOfWork, confirm_deferred_security, unit_of_work
from . import extension_points
from .extension_points import (
    CloseoutOutcome, Force, RunInfo, Scan, StationInfo, UnitInfo,
)
from .runs import automatic_closeout, buildable_runs, lock_run_for_count
from .units import ended_at_after

ACTIVE_RUN = ("AUTHORIZED", "IN_PROGRESS")
# a unit's status that refuses a TrackIn: (code, the sentence for the SN and where it is tracked in)
UNIT_REFUSALS = {
    "IN_STATION": ("UNIT_ALREADY_IN_STATION",
                   lambda sn, where: M("Unit {sn} is already tracked in{where}: track it out first.", sn=sn, where=where)),
    "DONE": ("UNIT_ALREADY_DONE", lambda sn, where: M("Unit {sn} has finished its route.", sn=sn)),
    "OUT_FAILED": ("UNIT_DISPOSITION_REQUIRED",
                   lambda sn, where: M("Unit {sn} failed and waits for a quality decision: hand it to quality.", sn=sn)),
    "ON_HOLD": ("UNIT_ON_HOLD", lambda sn, where: M("Unit {sn} is on hold: hand it to quality.", sn=sn)),
    "SCRAPPED": ("UNIT_SCRAPPED", lambda sn, where: M("Unit {sn} is scrapped: take it off the line.", sn=sn)),
}


# ---------------------------------------------------------------------------------------------
# What a scan answers (the API shapes the body)
# ---------------------------------------------------------------------------------------------

@dataclass
class TrackInResult:
    sn: str
    run_no: str
    unit_status: str
    step: StepPlan
    track_id: int
    station_code: str
    in_at: datetime
    mode: str
    operator: str


@dataclass
class CheckedValue:
    """One collected value: its spec, the value as sent, the typed columns and the judge."""
    spec: SpecPlan
    raw: Any
    columns: dict[str, Any]
    judge: str
    spc_seq: Optional[int] = None  # its place in the spec's SPC series, when its chart is armed (TRACK_OUT_DATA_HOOKS)


@dataclass
class Verdict:
    """What a TrackOut records: the effective result, who forced it (SPI/AOI, SPEC_LIMIT) and its defects."""
    result: str
    forced_by: Optional[str] = None
    defects: list[dict[str, Any]] = field(default_factory=list)
    operator_defect: bool = False  # the defect is the operator's: its code is checked against the master


@dataclass
class TrackOutResult:
    sn: str
    run_no: str
    unit_status: str
    current_step_no: int
    step: StepPlan
    next_step: Optional[StepPlan]
    track_id: int
    station_code: str
    out_at: datetime
    mode: str
    verdict: Verdict
    values: list[CheckedValue]
    defects: list[dict[str, Any]]  # the recorded defects: {id, code}
    closeout: Optional[CloseoutOutcome] = None
    next_waits: Optional[str] = None  # why the unit cannot go on to next_step yet (an FAI trial), what happens next
    alarms: list[dict[str, Any]] = field(default_factory=list)  # raised by TRACK_OUT_DATA_HOOKS (SPC run rules)
    hold_by: Optional[str] = None  # a hook put the unit ON_HOLD instead of moving it on (an SPC alarm)


# ---------------------------------------------------------------------------------------------
# The statements of a scan, built once (see the module docstring). An UPDATE takes its SET columns
# from the parameters it is executed with.
# ---------------------------------------------------------------------------------------------

_station, _group, _equipment = Station.__table__, StationGroup.__table__, Equipment.__table__
_run, _unit, _track = Run.__table__, Unit.__table__, Track.__table__

# the columns of StationInfo, RunInfo, UnitInfo (extension_points.py) and of an open track, in order
STATION_COLUMNS = (_station.c.id, _station.c.code, _station.c.line_id, _station.c.station_type, _station.c.is_active,
                   _group.c.code.label("group_code"), _equipment.c.code.label("equipment_code"),
                   _equipment.c.status.label("equipment_status"))
RUN_COLUMNS = (_run.c.id, _run.c.run_no, _run.c.status, _run.c.line_id, _run.c.route_version_id, _run.c.plan_qty,
               _run.c.work_order_id, _run.c.parent_run_id, _run.c.rework_type)
UNIT_COLUMNS = (_unit.c.id, _unit.c.sn, _unit.c.run_id, _unit.c.status, _unit.c.current_step_no,
                _unit.c.work_order_id, _unit.c.max_out_step_no, _unit.c.rework_count)
TRACK_COLUMNS = (_track.c.id, _track.c.step_no, _track.c.station_id, _track.c.mode, _track.c.inspection_id)


def _with_station_group_and_equipment(stmt):
    return (stmt.outerjoin(_group, _group.c.id == _station.c.group_id)
            .outerjoin(_equipment, (_equipment.c.station_id == _station.c.id) & _equipment.c.is_active.is_(True)))


STATION_BY_CODE = (_with_station_group_and_equipment(select(*STATION_COLUMNS).select_from(_station))
                   .where(_station.c.code == bindparam("code")))
RUN_BY_NO = select(*RUN_COLUMNS).where(_run.c.run_no == bindparam("run_no"))
UNIT_BY_SN = select(*UNIT_COLUMNS).where(_unit.c.sn == bindparam("sn"))
# The whole scan in one query (module docstring): no row when the station, the run or the SN is unknown.
SCAN = (_with_station_group_and_equipment(
    select(SECURITY_VERSION_COLUMN.label("security_version"), SESSION_VERSION_COLUMN.label("session_version"),
           *STATION_COLUMNS, *RUN_COLUMNS, *UNIT_COLUMNS, *TRACK_COLUMNS)
    .select_from(_unit).join(_station, _station.c.code == bindparam("code")))
    .join(_run, _run.c.run_no == bindparam("run_no"))
    .outerjoin(_track, _track.c.open_unit_id == _unit.c.id)
    .where(_unit.c.sn == bindparam("sn")))
_scans: dict[tuple, Any] = {}


def _scan_statement(postgres: bool):
    """SCAN with the SCAN_FLAGS columns (filled at start-up, so built at the first scan), locked FOR
    UPDATE OF unit on PostgreSQL."""
    key = (postgres, tuple(name for name, _ in extension_points.SCAN_FLAGS))
    statement = _scans.get(key)
    if statement is None:
        statement = SCAN.add_columns(*(flag(_unit, _track).label(f"flag_{name}")
                                       for name, flag in extension_points.SCAN_FLAGS))
        statement = _scans[key] = statement.with_for_update(of=_unit) if postgres else statement
    return statement


# SCAN found no row: the station and the run without the unit (an SN to register, or an unknown one)
SCAN_CONTEXT = (_with_station_group_and_equipment(
    select(SECURITY_VERSION_COLUMN.label("security_version"), SESSION_VERSION_COLUMN.label("session_version"),
           *STATION_COLUMNS, *RUN_COLUMNS)
    .select_from(_station).join(_run, _run.c.run_no == bindparam("run_no")))
    .where(_station.c.code == bindparam("code")))
_SLICES = {"station": slice(2, 10), "run": slice(10, 19), "unit": slice(19, 27), "track": slice(27, 32),
           "flags": slice(32, None)}
# Room for a new unit in a run (read once the run's row is locked, lock_run_for_count: registrations of a
# run queue): its units, and its open OQC
REGISTRATION_ROOM = select(
    select(func.count()).select_from(_unit).where(_unit.c.run_id == _run.c.id).scalar_subquery().label("units"),
    select(Inspection.__table__.c.id).where(Inspection.__table__.c.open_key == bindparam("oqc_key"))
    .limit(1).scalar_subquery().label("open_oqc"),
).where(_run.c.id == bindparam("run_id"))
OPEN_TRACK_OF_UNIT = select(_track.c.id, _track.c.step_no, _track.c.station_id, _track.c.mode,
                            _track.c.inspection_id).where(_track.c.open_unit_id == bindparam("unit_id"))
START_RUN = (update(_run).where(_run.c.id == bindparam("run_id"), _run.c.status == "AUTHORIZED")
             .values(status=bindparam("status"), started_at=bindparam("at"), updated_at=bindparam("at")))
INSERT_TRACK = insert(_track)
INSERT_UNIT = insert(_unit)
INSERT_DATA_VALUE = insert(DataValue.__table__)
INSERT_DEFECT = insert(Defect.__table__)
UPDATE_UNIT = update(_unit).where(_unit.c.id == bindparam("unit_id"))
CLOSE_TRACK = update(_track).where(_track.c.id == bindparam("track_id"), _track.c.open_unit_id.is_not(None))
# PostgreSQL: the TrackOut that finishes a unit of an IN_PROGRESS run moves the unit and locks the run's row in
# one statement (the automatic closeout counts the run's units next, in a statement of its own: runs.py,
# lock_run_for_count). The lock is taken a few statements earlier than the closeout would take it, in the
# same order (the unit's row, then the run's).
_FINISHED = (update(_unit).where(_unit.c.id == bindparam("unit_id"))
             .values(status=bindparam("to_status"), current_step_no=bindparam("to_step_no"),
                     updated_at=bindparam("at"), max_out_step_no=bindparam("to_max_out_step_no"),
                     ended_at=bindparam("to_ended_at"))
             .returning(_unit.c.run_id).cte("finished"))
FINISH_UNIT_LOCKING_RUN = (select(_run.c.id).join(_FINISHED, _FINISHED.c.run_id == _run.c.id)
                           .with_for_update(of=_run))


# ---------------------------------------------------------------------------------------------
# The scan's context (one query per entity) and the run gate
# ---------------------------------------------------------------------------------------------

def load_station(code: str) -> StationInfo:
    row = db.session.connection().execute(STATION_BY_CODE, {"code": code}).first()
    if row is None:
        raise DomainError("STATION_NOT_FOUND", M("No station {code}.", code=code), {"stationCode": code})
    return StationInfo(*row)


def _usable_station(actor: Actor, station: StationInfo) -> StationInfo:
    code = station.code
    if not station.is_active:
        raise DomainError("STATION_INACTIVE", M("Station {code} is inactive: use another station.", code=code))
    require_station(actor, station.id, station.line_id, station.code)
    if station.equipment_status in ("DOWN", "MAINTENANCE"):
        raise DomainError("EQUIPMENT_UNAVAILABLE", M("Equipment {equipment} of station {code} is {status}: call "
                                                    "maintenance or use another station of the group.",
                                                    equipment=station.equipment_code, code=code,
                                                    status=term(station.equipment_status)),
                          {"equipmentCode": station.equipment_code, "status": station.equipment_status})
    return station


def _load_run(uow: UnitOfWork, run_no: str) -> RunInfo:
    row = uow.execute(RUN_BY_NO, {"run_no": run_no}).first()
    if row is None:
        raise DomainError("RUN_NOT_FOUND", M("No run {run}.", run=run_no), {"runNo": run_no})
    return RunInfo(*row)


def _load_unit(uow: UnitOfWork, sn: str) -> Optional[UnitInfo]:
    row = uow.execute(uow.lock(UNIT_BY_SN), {"sn": sn}).first()
    return UnitInfo(*row) if row else None


class OpenTrack(NamedTuple):
    id: int
    step_no: int
    station_id: int
    mode: str
    inspection_id: Optional[int]


@dataclass
class _Read:
    """What the scan read: its context, the unit (None: an unknown SN) and the unit's open track."""
    scan: Scan
    unit: Optional[UnitInfo]
    track: Optional[OpenTrack] = None  # the unit's open track, when track_read
    track_read: bool = False


def _read_scan(uow: UnitOfWork, actor: Actor, station_code: str, run_no: str, sn: str) -> _Read:
    """The scan's context and run gate (02_rules §4, checks 1–2), the unit (locked) and its open track:
    one query (SCAN), or entity by entity when it finds no row (the module docstring)."""
    keys = {"code": station_code, "run_no": run_no, "sn": sn, "actor_id": actor.user_id}
    row = uow.execute(_scan_statement(uow.connection.dialect.name == "postgresql"), keys).first()
    if row is None:
        row = uow.execute(SCAN_CONTEXT, keys).first()
        if row is None:  # an unknown station or run: entity by entity, for the precise refusal
            confirm_deferred_security()
            scan = _checked_scan(uow, actor, load_station(station_code), None, run_no)
            return _Read(scan, _load_unit(uow, sn))
        uow.confirm_security(row.security_version, row.session_version)
        station, run = StationInfo(*row[_SLICES["station"]]), RunInfo(*row[_SLICES["run"]])
        return _Read(_checked_scan(uow, actor, station, run, run_no), None)  # a new SN (or a unit registered meanwhile)
    uow.confirm_security(row.security_version, row.session_version)
    station, run = StationInfo(*row[_SLICES["station"]]), RunInfo(*row[_SLICES["run"]])
    track = OpenTrack(*row[_SLICES["track"]])
    scan = _checked_scan(uow, actor, station, run, run_no)
    scan.flags = {name: value for (name, _), value in zip(extension_points.SCAN_FLAGS, row[_SLICES["flags"]])}
    return _Read(scan, UnitInfo(*row[_SLICES["unit"]]), track if track.id is not None else None, track_read=True)


def _checked_scan(uow: UnitOfWork, actor: Actor, station: StationInfo, run: Optional[RunInfo], run_no: str) -> Scan:
    """Station (active, in scope, equipment up), run (`None`: read it now), line and the run gate."""
    _usable_station(actor, station)
    run = run or _load_run(uow, run_no)
    if station.line_id != run.line_id:
        raise DomainError("STATION_LINE_MISMATCH", M("Station {station} is not on the line of run {run}.",
                                                    station=station.code, run=run_no))
    scan = Scan(actor=actor, station=station, run=run, plan=plan_for(run.route_version_id))
    _run_gate(uow, scan)
    return scan


def _run_gate(uow: UnitOfWork, scan: Scan) -> None:
    """AUTHORIZED or IN_PROGRESS: production. PREP: only what a gate admits (an FAI trial)."""
    if scan.run.status in ACTIVE_RUN:
        return
    if scan.run.status == "PREP":
        for gate in extension_points.PREP_RUN_GATES:
            admitted = gate(uow, scan)
            if admitted is not None:
                scan.mode, scan.inspection_id = admitted
                return
    raise DomainError("RUN_NOT_AUTHORIZED", M("Run {run} is {status}: authorize the run, or start an FAI for a trial.",
                                              run=scan.run.run_no, status=term(scan.run.status)), {"status": scan.run.status})


def _require_same_run(unit: UnitInfo, scan: Scan) -> None:
    if unit.run_id != scan.run.id:
        raise DomainError("UNIT_RUN_MISMATCH", M("Unit {sn} belongs to another run: select its own run.", sn=unit.sn))


def _audit(uow: UnitOfWork, action: str, sn: str, payload: dict[str, Any]) -> None:
    uow.entity_type, uow.entity_key, uow.action = "UNIT", sn, action
    uow.payload = payload


# ---------------------------------------------------------------------------------------------
# TrackIn
# ---------------------------------------------------------------------------------------------

def track_in(*, actor: Actor, station_code: str, sn: str, run_no: str) -> TrackInResult:
    """TrackIn (`exec:track_in`): open a track of the unit at its current step at this station.
    An unknown SN is registered at the first step of an active run that has fewer units than planned."""
    require_permission(actor, "exec:track_in")
    try:
        with unit_of_work(actor, "TRACK_IN", "UNIT", sn) as uow:
            return _track_in(uow, actor, station_code, (sn or "").strip(), run_no)
    except IntegrityError:
        # the same unit was tracked in (or registered) by another request at the same moment
        error = DomainError("UNIT_ALREADY_IN_STATION", M("Unit {sn} is already tracked in: track it out first.", sn=sn))
        record_failure(actor, "TRACK_IN", "UNIT", sn, error)
        raise error from None


def _track_in(uow: UnitOfWork, actor: Actor, station_code: str, sn: str, run_no: str) -> TrackInResult:
    if not sn:
        raise DomainError("VALIDATION_ERROR", M("Scan an SN."), {"fields": {"sn": "required"}})
    read = _read_scan(uow, actor, station_code, run_no, sn)
    scan = read.scan
    unit = read.unit or _register(uow, scan, sn)
    _require_same_run(unit, scan)
    if unit.status in UNIT_REFUSALS:
        code, text = UNIT_REFUSALS[unit.status]
        raise DomainError(code, text(sn, _open_track_place(uow, unit.id)), {"status": unit.status})
    step = scan.plan.step(unit.current_step_no)
    if step is None:
        raise DomainError("STEP_MISMATCH", M("Unit {sn} is at step {step}, which the run's route does not have: call "
                                             "the line leader.", sn=sn, step=unit.current_step_no))
    if not scan.station.valid_for(step, scan.run.line_id):
        raise DomainError("STATION_MISMATCH", M("Unit {sn} is at {step}, which is done at {where}, not at {station}: "
                                                "take it there.", sn=sn, step=step.label(), where=step.where(),
                                                station=station_code), {"stepNo": step.step_no, "stationGroupCode": step.station_group_code,
                                                     "allowedStationCodes": sorted(step.allowed_station_codes or [])})
    scan.unit, scan.step = unit, step
    for check in extension_points.TRACK_IN_CHECKS:
        check(uow, scan)
    at = now()
    new_status = transition("UNIT", unit.status, "TRACK_IN")
    track_id = uow.execute(INSERT_TRACK, {
        "unit_id": unit.id, "run_id": scan.run.id, "step_no": step.step_no, "station_id": scan.station.id,
        "operator_id": actor.user_id, "operator": actor.username, "in_at": at, "mode": scan.mode,
        "inspection_id": scan.inspection_id, "source": "MANUAL", "open_unit_id": unit.id}).inserted_primary_key[0]
    uow.execute(UPDATE_UNIT, {"unit_id": unit.id, "status": new_status, "updated_at": at})
    if scan.mode == "NORMAL" and scan.run.status == "AUTHORIZED":
        _start_run(uow, scan, at)
    _audit(uow, "TRACK_IN", sn, {"station": station_code, "runNo": run_no, "stepNo": step.step_no,
                                 "mode": scan.mode})
    return TrackInResult(sn=sn, run_no=run_no, unit_status=new_status, step=step, track_id=track_id,
                         station_code=station_code, in_at=at, mode=scan.mode, operator=actor.username)


def _start_run(uow: UnitOfWork, scan: Scan, at: datetime) -> None:
    """The first non-trial TrackIn moves the run AUTHORIZED → IN_PROGRESS (once, whoever is first)."""
    started = uow.execute(START_RUN, {"run_id": scan.run.id, "status": transition("RUN", "AUTHORIZED", "START"),
                                      "at": at}).rowcount
    if started:
        uow.audit("RUN_START", "RUN", scan.run.run_no, diff={"before": {"status": "AUTHORIZED"},
                                                            "after": {"status": "IN_PROGRESS"}})


def _open_track_place(uow: UnitOfWork, unit_id: int) -> str:
    """" at ST-MOUNT-01 (step 30)" for a unit tracked in somewhere (only read when a scan is refused)."""
    row = uow.execute(select(_station.c.code, _track.c.step_no).join(_station, _station.c.id == _track.c.station_id)
                      .where(_track.c.open_unit_id == unit_id)).first()
    return M(" at {station} (step {step})", station=row.code, step=row.step_no) if row else ""


def _register(uow: UnitOfWork, scan: Scan, sn: str) -> UnitInfo:
    """An unknown SN becomes a unit when the run may build (active or FAI trial), the station is
    valid for the first step, the run is not waiting for its OQC and has fewer units than planned."""
    first = scan.plan.first
    if not scan.station.valid_for(first, scan.run.line_id):
        raise DomainError("UNIT_NOT_FOUND", M("Unknown SN {sn}: a new board starts at {step}, at {where}; scan it "
                                              "there (or check the label).", sn=sn, step=first.label(),
                                              where=first.where()),
                          {"sn": sn})
    lock_run_for_count(uow, scan.run.id)
    room = uow.execute(REGISTRATION_ROOM, {"run_id": scan.run.id,
                                           "oqc_key": Inspection.open_key_for(scan.run.id, "OQC")}).one()
    if room.open_oqc is not None:
        raise DomainError("UNIT_NOT_FOUND", M("Unknown SN {sn}: run {run} is closed out and waits for its OQC; new "
                                              "boards go to another run.", sn=sn, run=scan.run.run_no), {"sn": sn})
    if room.units >= scan.run.plan_qty:
        raise DomainError("UNIT_NOT_FOUND", M("Unknown SN {sn}, and run {run} already has its {qty} units.", sn=sn,
                                              run=scan.run.run_no, qty=scan.run.plan_qty), {"sn": sn})
    at = now()
    unit_id = uow.execute(INSERT_UNIT, {
        "sn": sn, "work_order_id": scan.run.work_order_id, "run_id": scan.run.id, "status": "QUEUED",
        "current_step_no": first.step_no, "rework_count": 0, "created_at": at, "updated_at": at}).inserted_primary_key[0]
    uow.audit("UNIT_REGISTER", "UNIT", sn, payload={"runNo": scan.run.run_no, "station": scan.station.code})
    return UnitInfo(unit_id, sn, scan.run.id, "QUEUED", first.step_no, scan.run.work_order_id)


# ---------------------------------------------------------------------------------------------
# Data values: checking and judging (pure rules)
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
        return DomainError("DATA_VALUE_INVALID", M("{spec} needs {expected} (got {value}).", spec=spec.name,
                                                   expected=expected, value=json.dumps(value)[:40]),
                           {"spec": spec.name, "expected": expected})
    if spec.data_type == "NUMBER":
        number = _number(value)
        if number is None:
            raise invalid(M("a number"))
        return {"value_number": number}
    if spec.data_type == "TEXT":
        if not isinstance(value, str) or not value.strip():
            raise invalid(M("a text"))
        return {"value_text": value.strip()}
    if spec.data_type == "BOOLEAN":
        if not isinstance(value, bool):
            raise invalid(M("true or false"))
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
        raise DomainError("DATA_SPEC_NOT_FOUND", M("{ref} is not a spec of {step}.", ref=repr(ref), step=step.label()),
                          {"spec": ref, "expected": [s.name for s in step.specs]})
    return spec


def checked_values(step: StepPlan, data: list[Any]) -> list[CheckedValue]:
    """The collected data of a TrackOut: known specs of the step, each at most once, typed and judged
    (an item with a null value is skipped)."""
    values, seen = [], set()
    for item in data:
        if not isinstance(item, dict) or "spec" not in item:
            raise DomainError("VALIDATION_ERROR", "Each data item is {spec, value}.", {"fields": {"data": "{spec, value}"}})
        spec = _spec_for(step, item["spec"])
        if spec.id in seen:
            raise DomainError("VALIDATION_ERROR", M("{spec} is given twice.", spec=spec.name), {"fields": {"data": spec.name}})
        seen.add(spec.id)
        if item.get("value") is None:
            continue
        columns = check_value(spec, item["value"])
        values.append(CheckedValue(spec, item["value"], columns, judge(spec, columns)))
    return values


def verdict(step: StepPlan, requested: str, forced: Optional[Force], values: list[CheckedValue],
            defect: dict[str, Any] | None) -> Verdict:
    """The result a TrackOut records (02_rules §4 steps 2–4): a forced FAIL (SPI/AOI) with its own
    defects; else the requested result, where a PASS needs every required spec and becomes a FAIL
    (SPEC_OUT_OF_LIMIT) when a value breaks a limit whose action is FAIL; a FAIL needs the operator's
    defect code (`DEFECT_CODE_REQUIRED`) unless it was forced. The operator's code is not yet checked
    against the master here."""
    if forced is not None:
        outcome = Verdict("FAIL", forced.by, list(forced.defects))
    else:
        outcome = Verdict(requested)
    if outcome.result == "PASS":
        given = {v.spec.id for v in values}
        missing = [s.name for s in step.specs if s.required and s.id not in given]
        if missing:
            raise DomainError("REQUIRED_DATA_MISSING", M("Enter {specs} before PASS.", specs=join(missing)), {"specs": missing})
    limit_failures = [v for v in values if v.judge == "FAIL" and (v.spec.limit_action or "FAIL") == "FAIL"]
    if limit_failures and outcome.result == "PASS":
        outcome.result, outcome.forced_by = "FAIL", "SPEC_LIMIT"
    if outcome.result == "FAIL" and not outcome.defects:
        if defect and defect.get("code"):
            outcome.defects = [{"code": defect["code"], "location": defect.get("location") or None,
                                "description": defect.get("description")}]
            outcome.operator_defect = True
        elif outcome.forced_by == "SPEC_LIMIT":
            names = ", ".join(f"{v.spec.name}={v.raw}" for v in limit_failures)
            outcome.defects = [{"code": "SPEC_OUT_OF_LIMIT", "description": f"Out of limit: {names}"}]
        else:
            raise DomainError("DEFECT_CODE_REQUIRED", M("Pick the defect code for the FAIL."))
    return outcome


# ---------------------------------------------------------------------------------------------
# TrackOut
# ---------------------------------------------------------------------------------------------

def track_out(*, actor: Actor, station_code: str, sn: str, run_no: str, result: str,
              data: list[dict[str, Any]] | None = None, defect: dict[str, Any] | None = None) -> TrackOutResult:
    """TrackOut (`exec:track_out`): close the unit's open track at this station with PASS or FAIL,
    collected data (validated and judged against the frozen specs) and, on FAIL, a defect."""
    require_permission(actor, "exec:track_out")
    with unit_of_work(actor, "TRACK_OUT", "UNIT", sn) as uow:
        return _track_out(uow, actor, station_code, (sn or "").strip(), run_no, result, data or [], defect)


def _track_out(uow: UnitOfWork, actor: Actor, station_code: str, sn: str, run_no: str, result: str,
               data: list[dict[str, Any]], defect: dict[str, Any] | None) -> TrackOutResult:
    if result not in ("PASS", "FAIL"):
        raise DomainError("VALIDATION_ERROR", M("result must be PASS or FAIL."), {"fields": {"result": "PASS or FAIL"}})
    read = _read_scan(uow, actor, station_code, run_no, sn)
    scan = read.scan
    if read.unit is None:
        raise DomainError("UNIT_NOT_FOUND", M("Unknown SN {sn}.", sn=sn), {"sn": sn})
    _require_same_run(read.unit, scan)
    _track_here(uow, scan, read, station_code)
    forced = _forced_fail(uow, scan)
    values = checked_values(scan.step, data)
    _refuse_scanned_sn(values, sn)
    outcome = verdict(scan.step, result, forced, values, defect)
    if outcome.operator_defect:
        outcome.defects[0]["code"] = active_defect_code(outcome.defects[0]["code"])
    scan.result = outcome.result
    for data_hook in extension_points.TRACK_OUT_DATA_HOOKS:
        data_hook(uow, scan, values)
    at = now()
    _close_track(uow, scan, outcome, values, at)
    status, current, next_step = _move_unit(uow, scan, outcome.result, at)
    defect_rows = _record_defects(uow, scan, outcome.defects, at)
    for hook in extension_points.TRACK_OUT_HOOKS:
        hook(uow, scan)
    closeout = _closeout_when_done(uow, scan, status, actor)
    _audit(uow, "TRACK_OUT", sn, {"station": station_code, "runNo": run_no, "stepNo": scan.step.step_no,
                                  "result": outcome.result, "forcedBy": outcome.forced_by,
                                  "defects": [d["code"] for d in defect_rows]})
    return TrackOutResult(sn=sn, run_no=run_no, unit_status=status, current_step_no=current, step=scan.step,
                          next_step=next_step, track_id=scan.track_id, station_code=station_code, out_at=at,
                          mode=scan.mode, verdict=outcome, values=values, defects=defect_rows, closeout=closeout,
                          next_waits=_trial_stop(scan, next_step), alarms=scan.extra.get("alarms", []),
                          hold_by=scan.hold_by if status == "ON_HOLD" else None)


def _trial_stop(scan: Scan, next_step: Optional[StepPlan]) -> Optional[str]:
    """An FAI trial board that passed the last FAI step stops there (fai_trial_check refuses the next
    step while the run is PREP): say so, and what lets it go on."""
    if scan.mode != "FAI_TRIAL" or next_step is None:
        return None
    last = scan.plan.last_fai_step_no
    if last is not None and next_step.step_no <= last:
        return None
    return M("FAI trial board: it stops after {step}. Hand it to quality for the FAI; it goes on at {next} once the "
             "FAI is passed and signed and the run is authorized.", step=scan.step.label(), next=next_step.label())


def _refuse_scanned_sn(values: list[CheckedValue], sn: str) -> None:
    """A text value that is the board's own SN is a scan that landed in a data field, not a value."""
    for value in values:
        if value.spec.data_type == "TEXT" and str(value.raw).strip() == sn:
            raise DomainError("DATA_VALUE_INVALID", M("{spec} got the board's SN {sn}: that was a scan, not the value. "
                                                      "Enter the value, then PASS.", spec=value.spec.name, sn=sn),
                              {"spec": value.spec.name})


def _track_here(uow: UnitOfWork, scan: Scan, read: _Read, station_code: str) -> None:
    """The unit must be IN_STATION with its open track at this station (TRACK_NOT_FOUND); the scan takes
    the track's step and mode."""
    unit = read.unit
    track = read.track if read.track_read else uow.execute(OPEN_TRACK_OF_UNIT, {"unit_id": unit.id}).first()
    if track is None or track.station_id != scan.station.id or unit.status != "IN_STATION":
        raise DomainError("TRACK_NOT_FOUND", M("Unit {sn} is not tracked in at {station}: track it in first.",
                                               sn=unit.sn, station=station_code),
                          {"openAtStation": track is not None})
    scan.unit, scan.step, scan.track_id = unit, scan.plan.step(track.step_no), track.id
    scan.mode, scan.inspection_id = track.mode, track.inspection_id


def _forced_fail(uow: UnitOfWork, scan: Scan) -> Optional[Force]:
    """The first forcer that forces this TrackOut to FAIL (an SPI/AOI FAIL result), if any."""
    for forcer in extension_points.TRACK_OUT_FORCERS:
        force = forcer(uow, scan)
        if force is not None:
            return force
    return None


def _close_track(uow: UnitOfWork, scan: Scan, outcome: Verdict, values: list[CheckedValue], at: datetime) -> None:
    """Close the track with its result and data. `first_out`: the unit has not tracked out of this step
    before — it never got past it (a repeat visit only follows a rework back to an earlier step)."""
    furthest = scan.unit.max_out_step_no
    closed = uow.execute(CLOSE_TRACK, {"track_id": scan.track_id, "out_at": at, "result": outcome.result,
                                       "open_unit_id": None, "first_out": furthest is None or scan.step.step_no > furthest})
    if closed.rowcount != 1:  # closed by another TrackOut while this one waited (module docstring)
        raise DomainError("TRACK_NOT_FOUND", M("Unit {sn} is not tracked in at {station}: track it in first.",
                                               sn=scan.unit.sn, station=scan.station.code), {"openAtStation": False})
    if values:
        uow.execute(INSERT_DATA_VALUE, [
            {"track_id": scan.track_id, "spec_id": v.spec.id, "spec_name": v.spec.name,
             "value_number": v.columns.get("value_number"), "value_text": v.columns.get("value_text"),
             "value_bool": v.columns.get("value_bool"), "value_json": v.columns.get("value_json"),
             "judge": v.judge, "alarmed": v.judge == "FAIL", "source": "MANUAL", "collected_at": at,
             "spc_seq": v.spc_seq}
            for v in values])


def _move_unit(uow: UnitOfWork, scan: Scan, result: str, at: datetime) -> tuple[str, int, Optional[StepPlan]]:
    """PASS → QUEUED at the next step (DONE after the last); FAIL → OUT_FAILED at this step. A PASS that a
    data hook holds (`scan.hold_by`: an SPC alarm whose chart holds) → ON_HOLD at the next step (at this
    step after the last: released, the unit does it again), for quality to release."""
    step, next_step = scan.step, None
    if result == "PASS":
        next_step = scan.plan.next_after(step.step_no)
        event = "HOLD" if scan.hold_by else "PASS" if next_step else "PASS_LAST"
        status = transition("UNIT", "IN_STATION", event)
        current = next_step.step_no if next_step else step.step_no
    else:
        status, current = transition("UNIT", "IN_STATION", "FAIL"), step.step_no
    moved = {"unit_id": scan.unit.id, "status": status, "current_step_no": current, "updated_at": at,
             "max_out_step_no": max(step.step_no, scan.unit.max_out_step_no or step.step_no)}
    if status == "DONE":  # an IN_STATION unit has no ended_at: only a finished one gets it
        moved["ended_at"] = ended_at_after(status, at)
        if _may_close_out(scan, status) and uow.connection.dialect.name == "postgresql":
            uow.execute(FINISH_UNIT_LOCKING_RUN, {
                "unit_id": scan.unit.id, "to_status": status, "to_step_no": current, "at": at,
                "to_max_out_step_no": moved["max_out_step_no"], "to_ended_at": moved["ended_at"]}).one()
            scan.run_locked = True
            return status, current, next_step
    uow.execute(UPDATE_UNIT, moved)
    return status, current, next_step


def _record_defects(uow: UnitOfWork, scan: Scan, defects: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    rows = []
    for d in defects:
        defect_id = uow.execute(INSERT_DEFECT, {
            "unit_id": scan.unit.id, "track_id": scan.track_id, "step_no": scan.step.step_no, "code": d["code"],
            "location": d.get("location"), "description": d.get("description"), "qty": 1, "status": "RECORDED",
            "source": d.get("source", "MANUAL"), "created_at": at, "updated_at": at}).inserted_primary_key[0]
        rows.append({"id": defect_id, "code": d["code"]})
    return rows


def _may_close_out(scan: Scan, status: str) -> bool:
    return status == "DONE" and scan.mode == "NORMAL" and scan.run.status == "IN_PROGRESS"


def _closeout_when_done(uow: UnitOfWork, scan: Scan, status: str, actor: Actor) -> Optional[CloseoutOutcome]:
    """A non-trial TrackOut that finished a unit may finish the run (02_rules §3 automatic closeout)."""
    if not _may_close_out(scan, status):
        return None
    return automatic_closeout(uow, scan.run.id, scan.run.status, scan.run.plan_qty, actor,
                              run_locked=scan.run_locked)


# ---------------------------------------------------------------------------------------------
# The Station Terminal: stations, queue and the data form of a unit's step
# ---------------------------------------------------------------------------------------------

def terminal_stations(actor: Actor) -> list[dict[str, Any]]:
    """Active stations the actor may work at, with their line: by line, then in process order (the first
    step of an active routing done by the station's group; stations no routing uses last), then by code
    (the station picker)."""
    position = (select(func.min(RoutingStep.step_no)).join(Routing, Routing.id == RoutingStep.routing_id)
                .where(RoutingStep.station_group_id == Station.group_id, Routing.is_active.is_(True))
                .correlate(Station).scalar_subquery())
    rows = db.session.execute(
        select(Station.code, Station.name, Line.code.label("line_code"))
        .join(Line, Line.id == Station.line_id)
        .where(Station.is_active.is_(True), station_filter(actor, Station.id, Station.line_id))
        .order_by(Line.code, func.coalesce(position, 1_000_000), Station.code)).all()
    return [{"code": code, "name": name, "line_code": line} for code, name, line in rows]


def terminal_station(*, actor: Actor, station_code: str) -> dict[str, Any]:
    """The station a terminal opens (`exec:track_in`): it exists (STATION_NOT_FOUND), is active
    (STATION_INACTIVE) and is in the actor's stations (FORBIDDEN)."""
    require_permission(actor, "exec:track_in")
    station = load_station(station_code)
    if not station.is_active:
        raise DomainError("STATION_INACTIVE", M("Station {code} is inactive: use another station.", code=station_code))
    require_station(actor, station.id, station.line_id, station.code)
    name, line_code, process_type = db.session.execute(
        select(Station.name, Line.code, Line.process_type).join(Line, Line.id == Station.line_id)
        .where(Station.id == station.id)).one()
    return {"code": station.code, "name": name, "line_code": line_code, "process_type": process_type}


def station_runs(*, actor: Actor, station_code: str) -> list[dict[str, Any]]:
    """The runs of the station's line that new boards may be registered to (`exec:track_in`): the
    terminal's run choice."""
    require_permission(actor, "exec:track_in")
    station = load_station(station_code)
    require_station(actor, station.id, station.line_id, station.code)
    return buildable_runs(station.line_id)


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
        label = scanned_label(sn, actor)
        if label is not None:
            raise DomainError("SCAN_NOT_A_BOARD", label[1], {"sn": sn, "labelKind": label[0]})
        raise DomainError("UNIT_NOT_FOUND", M("Unknown SN {sn}.", sn=sn), {"sn": sn})
    step = plan_for(row.route_version_id).step(row.current_step_no)
    if step is None:
        raise DomainError("STEP_MISMATCH", M("Unit {sn} is at an unknown step.", sn=sn))
    open_track = db.session.execute(select(Station.code, Track.step_no).join(Station, Station.id == Track.station_id)
                                    .where(Track.open_unit_id == row.id)).first()
    return {"sn": sn, "runNo": row.run_no, "unitStatus": row.status, "step": step.to_dict(),
            "dataSpecs": [s.to_dict() for s in step.specs],
            "stationValid": station.valid_for(step, station.line_id),
            "openTrack": {"station": open_track[0], "stepNo": open_track[1]} if open_track else None}


_REEL_SEPARATORS = re.compile(r"[|:@#]")


def scanned_label(text: str, actor: Actor) -> Optional[tuple[str, str]]:
    """What a scan that is not a board's SN is (a station, run, work order, product, material or reel
    label), as (kind, a sentence saying what was scanned and what to do); None when it is none of them.
    Read only for an unknown SN: the terminal asks before it registers a new board."""
    text = (text or "").strip()
    if not text:
        return None
    station = db.session.execute(select(Station.code, Station.name, Line.code, Station.id, Station.line_id)
                                 .join(Line, Line.id == Station.line_id).where(Station.code == text)).first()
    if station is not None:
        what = dict(text=text, station=station[0], name=station[1], line=station[2])
        if not (actor.is_admin or actor.scope.allows_station(station[3], station[4])):
            return "STATION", M("{text} is the label of station {station} ({name}, {line}), not a board, and it is not "
                                "one of your stations: scan the board's SN label, or ask your line leader to assign "
                                "you that station.", **what)
        return "STATION", M("{text} is the label of station {station} ({name}, {line}), not a board: to work there, "
                            "scan it at the Station Terminal (it switches the station); here, scan the board's SN "
                            "label.", **what)
    if db.session.execute(select(Run.id).where(Run.run_no == text)).first():
        return "RUN", M("{text} is a run number, not a board: choose the run for new boards at the top of the "
                        "screen, then scan the board's SN label.", text=text)
    if db.session.execute(select(WorkOrder.id).where(WorkOrder.wo_no == text)).first():
        return "WORK_ORDER", M("{text} is a work order, not a board: scan the board's SN label.", text=text)
    if db.session.execute(select(Product.id).where(Product.code == text)).first():
        return "PRODUCT", M("{text} is a product code, not a board: scan the board's SN label.", text=text)
    parts = [part.strip() for part in _REEL_SEPARATORS.split(text)]
    material = db.session.execute(select(Material.id).where(Material.code == parts[0])).first()
    lot = db.session.execute(select(MaterialLot.id).where(MaterialLot.lot_no == parts[-1])).first()
    if material is not None or (lot is not None and len(parts) <= 2):
        return "MATERIAL", M("{text} is a material or reel label, not a board: reels are scanned at the Loading "
                             "Terminal: here, scan the board's SN label.", text=text)
    return None
