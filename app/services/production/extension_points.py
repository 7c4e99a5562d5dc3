"""Where later contexts plug into production — without production importing them.

Preparation (readiness, loading, genealogy) and quality (FAI, OQC, SPI/AOI, rework, MRB) sit above
production: they may import it, it never imports them. When a run or a scan must ask them something,
production calls the functions in the lists below. services/wiring.py fills every list once, at
start-up; its table is the one place that says which functions run, in which order.

A run (services/production/runs.py):
- `RUN_CREATED_HOOKS(run, actor)`: after a run is created and committed (the advisory readiness
  PRECHECK); each in its own transaction.
- `PRE_AUTHORIZE_HOOKS(actor, run)`: observations stored before the gates read them, each in its own
  transaction (the FORMAL readiness check is kept even when the authorization is then refused).
- `AUTHORIZE_GATES(uow, run, plan, actor)`: raise to refuse an authorization (readiness, FAI).
- `CLOSEOUT_HOOKS(uow, run, plan, actor) -> CloseoutOutcome | None`: may keep the run open (OQC).
- `PREPARATION_PHASES(run, counts) -> (name, state, text) | None`: the Run Detail phases before
  Authorize (readiness, loading, FAI); None when the phase does not apply to the run.

A scan (services/production/execution.py), in the order a TrackIn / TrackOut meets them:
- `PREP_RUN_GATES(uow, scan) -> (mode, inspection id) | None`: admit a scan on a PREP run (FAI trial).
- `TRACK_IN_CHECKS(uow, scan)`: raise to refuse a TrackIn once the unit and its step are known.
- `SCAN_FLAGS`: (name, flag) pairs; `flag(unit, track)` is a SQL truth value over the unit and its open
  track (the tables) that the scan's one query reads into `scan.flags[name]`, so that a forcer or hook
  with nothing to do skips its own query (`scan.flags` is None when the scan was read entity by entity:
  then every hook reads).
- `TRACK_OUT_FORCERS(uow, scan) -> Force | None`: force a TrackOut to FAIL with its own defects.
- `TRACK_OUT_DATA_HOOKS(uow, scan, values)`: once the result is known, before the track is closed with its
  data values: may number a value in its SPC series (`value.spc_seq`), raise alarms (`scan.extra["alarms"]`)
  and hold a PASS unit (`scan.hold_by`) — SPC run rules.
- `TRACK_OUT_HOOKS(uow, scan)`: after the track is closed and the unit moved.

The unit and run traces (services/production/trace.py):
- `UNIT_TRACE_SECTIONS(trace, context)`: add sections to a unit's trace (context: unitId, runId, plan).
- `RUN_TRACE_SECTIONS(trace, context)`: add sections to a run's trace (context: runId, plan).

The hot path pays one loop per list; a hook reads what it needs with its own indexed query.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ...models import Run
from ..engineering.route_plans import RoutePlan, StepPlan
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.uow import UnitOfWork

# ---------------------------------------------------------------------------------------------
# What a scan hook sees
# ---------------------------------------------------------------------------------------------


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
    parent_run_id: Optional[int] = None
    rework_type: Optional[str] = None  # with parent_run_id: a rework run (REUSE_PREP builds with its parent's reels)


@dataclass
class UnitInfo:
    id: int
    sn: str
    run_id: int
    status: str
    current_step_no: Optional[int]
    work_order_id: int
    max_out_step_no: Optional[int] = None  # the highest step it has tracked out of
    rework_count: int = 0  # times it was sent back by a REWORK disposition (0: it has no rework task)


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
    flags: Optional[dict[str, Any]] = None  # SCAN_FLAGS as the scan's query read them (raw SQL values)
    run_locked: bool = False  # this transaction holds the run's row lock (PostgreSQL)
    hold_by: Optional[str] = None  # a TRACK_OUT_DATA_HOOK holds the unit after a PASS (e.g. "SPC_ALARM")
    extra: dict[str, Any] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        """A SCAN_FLAGS value; True when the scan did not read it (the hook must look itself)."""
        return True if self.flags is None else bool(self.flags.get(name, True))


@dataclass
class Force:
    """A forced FAIL (e.g. an AOI result) with its own defects."""
    by: str
    defects: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# What a run hook answers
# ---------------------------------------------------------------------------------------------


@dataclass
class CloseoutOutcome:
    """What a closeout did: `completed`, or kept open by a hook (`error` explains, e.g. OQC_REQUIRED);
    `changed` is False when the hook only pointed at what is already there (the open OQC)."""
    completed: bool
    error: Optional[DomainError] = None
    details: dict[str, Any] = field(default_factory=dict)
    changed: bool = True


ScanFlag = Callable[[Any, Any], Any]  # (unit table, track table) -> SQL truth value
PrepGate = Callable[[UnitOfWork, Scan], Optional[tuple[str, Optional[int]]]]
ScanCheck = Callable[[UnitOfWork, Scan], None]
Forcer = Callable[[UnitOfWork, Scan], Optional[Force]]
DataHook = Callable[[UnitOfWork, Scan, list], None]
AuthorizeGate = Callable[[UnitOfWork, Run, RoutePlan, Actor], None]
CloseoutHook = Callable[[UnitOfWork, Run, RoutePlan, Actor], Optional[CloseoutOutcome]]
RunHook = Callable[[Run, Actor], None]
PreAuthorizeHook = Callable[[Actor, Run], None]
RunPhase = Callable[[Run, dict[str, int]], Optional[tuple[str, str, str]]]
TraceSection = Callable[[dict[str, Any], dict[str, Any]], None]

# ---------------------------------------------------------------------------------------------
# The lists (filled by services/wiring.py)
# ---------------------------------------------------------------------------------------------

RUN_CREATED_HOOKS: list[RunHook] = []
PRE_AUTHORIZE_HOOKS: list[PreAuthorizeHook] = []
AUTHORIZE_GATES: list[AuthorizeGate] = []
CLOSEOUT_HOOKS: list[CloseoutHook] = []
PREPARATION_PHASES: list[RunPhase] = []

PREP_RUN_GATES: list[PrepGate] = []
TRACK_IN_CHECKS: list[ScanCheck] = []
SCAN_FLAGS: list[tuple[str, ScanFlag]] = []
TRACK_OUT_FORCERS: list[Forcer] = []
TRACK_OUT_DATA_HOOKS: list[DataHook] = []
TRACK_OUT_HOOKS: list[ScanCheck] = []

UNIT_TRACE_SECTIONS: list[TraceSection] = []
RUN_TRACE_SECTIONS: list[TraceSection] = []
