"""Runs (spec 02_rules §3): create with the line-compatibility guard and the quantity rule, generate
units, authorize / revoke, cancel, closeout and automatic closeout; the rework run an MRB decision
creates; the run read functions every later context uses (`get_run`, `unit_counts`, …).

Preparation and quality take part through the lists of services/production/extension_points.py
(authorize gates, closeout hooks, run-created hooks, preparation phases), filled by services/wiring.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import bindparam, delete, func, select

from ...extensions import db
from ...models import (
    ExecutableRouteVersion, Inspection, Line, Product, Routing, Run, Station, StationGroup, Track, Unit, WorkOrder,
)
from ..engineering.route_plans import RoutePlan, plan_for
from ..engineering.routing import latest_version
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, Message, join, term
from ..platform.scope import in_line_scope, line_filter, require_line, require_permission, require_visible
from ..platform.sorting import Sorting
from ..platform.states import can_transition, is_terminal, transition
from ..platform.uow import UnitOfWork, fetch_one, unit_of_work
from ..platform.validation import required_reason
from . import extension_points
from .extension_points import CloseoutOutcome
from .work_orders import get_work_order, quantity_status, unit_tallies

TERMINAL_UNIT = ("DONE", "SCRAPPED")


def open_units(counts: dict[str, int]) -> int:
    """How many units of a run are not DONE or SCRAPPED (counts: `unit_counts`)."""
    return sum(counts.values()) - sum(counts.get(s, 0) for s in TERMINAL_UNIT)


def all_units_terminal(counts: dict[str, int]) -> bool:
    """The run has units and every one is DONE or SCRAPPED: what a closeout needs."""
    return sum(counts.values()) > 0 and open_units(counts) == 0


def all_planned_finished(run: Run, counts: dict[str, int]) -> bool:
    """Every unit is DONE or SCRAPPED and the run has as many units as planned: closing it now is the
    normal end, not a short run (Run Detail makes Close run its primary button only then)."""
    return all_units_terminal(counts) and sum(counts.values()) >= run.plan_qty


def _version_ready_gate(run: Run, plan: RoutePlan) -> None:
    """The first authorize gate, production's own: the frozen version must be READY."""
    if plan.status != "READY":
        raise DomainError("ROUTE_NOT_READY", M("Run {run} froze version {version}, which is not READY.",
                                                run=run.run_no, version=plan.version_no))


# ---------------------------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------------------------

def run_missing(run_no: str) -> DomainError:
    """RUN_NOT_FOUND: for an unknown run, and for a run read outside the reader's lines alike."""
    return DomainError("RUN_NOT_FOUND", M("No run {run}.", run=run_no), {"runNo": run_no})


def get_run(run_no: str, *, uow: UnitOfWork | None = None) -> Run:
    """The run (locked for `uow`), or RUN_NOT_FOUND."""
    return fetch_one(select(Run).where(Run.run_no == run_no), run_missing(run_no), uow=uow)


def _stations_of_line(line_id: int) -> list[tuple[int, str, str, Optional[str]]]:
    """(id, code, station type, group code) of the line's active stations."""
    return db.session.execute(
        select(Station.id, Station.code, Station.station_type, StationGroup.code)
        .outerjoin(StationGroup, StationGroup.id == Station.group_id)
        .where(Station.line_id == line_id, Station.is_active.is_(True))).all()


def incompatible_steps(plan: RoutePlan, line_id: int) -> list[int]:
    """Steps without any active station of the line that is valid for them (02_rules §3)."""
    stations = _stations_of_line(line_id)
    return [step.step_no for step in plan.steps
            if not any(step.accepts(station_type=t, group_code=g, station_code=c) for _, c, t, g in stations)]


# ---------------------------------------------------------------------------------------------
# Create, units
# ---------------------------------------------------------------------------------------------

def create_run(*, actor: Actor, wo_no: str, line_code: str, plan_qty: int, shift_code: str | None = None) -> Run:
    """Create a run of a released work order (`run:create`), freezing the latest READY version."""
    require_permission(actor, "run:create")
    with unit_of_work(actor, "RUN_CREATE", "RUN", None) as uow:
        uow.entity_key = wo_no  # until the run number exists: a refused creation is found by its WO
        wo = get_work_order(wo_no, uow=uow)
        if wo.status not in ("RELEASED", "IN_PROGRESS"):
            raise DomainError("WORK_ORDER_NOT_RELEASED", M("Work order {wo} is {status}: release it first.",
                                                           wo=wo_no, status=term(wo.status)),
                              {"status": wo.status})
        if wo.line is None or wo.line.code != line_code:
            raise DomainError("WORK_ORDER_DISPATCH_LINE_MISMATCH",
                              M("Work order {wo} was released to {dispatched}, not {line}.", wo=wo_no,
                                dispatched=wo.line.code if wo.line else M("no line"), line=line_code), {"dispatchedLine": wo.line.code if wo.line else None})
        require_line(actor, wo.line_id, line_code)
        version = latest_version(wo.routing, status="READY") if wo.routing else None
        if version is None:
            raise DomainError("ROUTE_NOT_READY", M("Routing {routing} has no READY version.",
                                                   routing=wo.routing.code if wo.routing else "?"))
        plan = plan_for(version.id)
        bad = incompatible_steps(plan, wo.line_id)
        if bad:
            raise DomainError("RUN_LINE_INCOMPATIBLE_WITH_ROUTE",
                              M("Line {line} has no active valid station for step(s) {steps}.", line=line_code,
                                steps=join(bad)),
                              {"steps": bad})
        if plan_qty is None or plan_qty < 1:
            raise DomainError("VALIDATION_ERROR", M("planQty must be at least 1."), {"fields": {"planQty": "≥ 1"}})
        quantity = quantity_status(wo)
        if plan_qty > quantity.remaining:
            raise DomainError("QUANTITY_EXCEEDS_WORK_ORDER",
                              M("Runs would plan {total} of work order {wo} (planned {planned} + {scrapped} "
                                "scrapped).", total=quantity.in_runs + plan_qty, wo=wo_no, planned=wo.planned_qty,
                                scrapped=quantity.scrapped),
                              {"plannedQty": wo.planned_qty, "alreadyPlanned": quantity.in_runs,
                               "scrapped": quantity.scrapped, "available": quantity.remaining})
        count = db.session.execute(select(func.count()).select_from(Run).where(
            Run.work_order_id == wo.id, Run.parent_run_id.is_(None))).scalar_one()
        run = Run(run_no=f"{wo_no}-R{count + 1:02d}", work_order=wo, line_id=wo.line_id,
                  route_version_id=version.id, plan_qty=plan_qty, status="PREP", shift_code=shift_code,
                  authorization_type="NORMAL")
        uow.session.add(run)
        if wo.status == "RELEASED":
            wo.status = transition("WORK_ORDER", wo.status, "START")
            uow.audit("WORK_ORDER_START", "WORK_ORDER", wo_no, diff={"before": {"status": "RELEASED"},
                                                                    "after": {"status": wo.status}})
        uow.session.flush()
        uow.entity_key = run.run_no
        uow.diff = {"after": {"runNo": run.run_no, "line": line_code, "planQty": plan_qty,
                              "routing": plan.routing_code, "versionNo": plan.version_no}}
    run_created(run, actor)
    return run


def run_created(run: Run, actor: Actor) -> None:
    """After a new run is committed (a planner's run or an MRB rework run): the run-created hooks
    (the advisory readiness precheck of a PREP run), each in its own transaction."""
    for hook in extension_points.RUN_CREATED_HOOKS:
        hook(run, actor)


def create_rework_run(uow: UnitOfWork, parent: Run, *, plan_qty: int, rework_type: str, actor: Actor,
                      fai_waiver_reason: Optional[str] = None) -> Run:
    """The rework run `{parent}-RW{k}` of an MRB REWORK decision (02_rules §9): same work order, line
    and route version; planned for the units it takes over (not counted in the work order quantity).
    Born PREP like every run; REUSE_PREP authorizes it at once on the parent's preparation (an MRB
    override: no readiness or FAI gate), FULL_PREP leaves it PREP (FAI again unless waived)."""
    k = db.session.execute(select(func.count()).select_from(Run).where(Run.parent_run_id == parent.id)).scalar_one()
    rework = Run(run_no=f"{parent.run_no}-RW{k + 1}", work_order_id=parent.work_order_id, line_id=parent.line_id,
                 route_version_id=parent.route_version_id, plan_qty=plan_qty, shift_code=parent.shift_code,
                 parent_run_id=parent.id, rework_type=rework_type, status="PREP", authorization_type="NORMAL",
                 fai_waived=fai_waiver_reason is not None, fai_waiver_reason=fai_waiver_reason)
    if rework_type == "REUSE_PREP":
        rework.status = transition("RUN", rework.status, "AUTHORIZE")
        rework.authorization_type = "MRB_OVERRIDE"
        rework.authorized_by, rework.authorized_at = actor.username, now()
    uow.session.add(rework)
    uow.session.flush()
    return rework


def generate_units(*, actor: Actor, run_no: str, quantity: int | None = None, sn_prefix: str | None = None,
                   sns: list[str] | None = None) -> list[Unit]:
    """Create units of a PREP or AUTHORIZED run (`run:create`), QUEUED at the first step."""
    require_permission(actor, "run:create")
    with unit_of_work(actor, "RUN_UNITS_GENERATE", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if run.status not in ("PREP", "AUTHORIZED"):
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}: units are generated while it is PREP "
                                                      "or AUTHORIZED.", run=run_no, status=term(run.status)),
                              {"status": run.status})
        existing = db.session.execute(select(func.count()).select_from(Unit).where(Unit.run_id == run.id)).scalar_one()
        if sns is not None:
            wanted = [s.strip() for s in sns if s and s.strip()]
            if len(set(wanted)) != len(wanted) or not wanted:
                raise DomainError("VALIDATION_ERROR", M("The SN list is empty or repeats an SN."),
                                  {"fields": {"sns": "unique, non-empty"}})
        else:
            if not quantity or quantity < 1:
                raise DomainError("VALIDATION_ERROR", M("quantity must be at least 1."), {"fields": {"quantity": "≥ 1"}})
            prefix = sn_prefix if sn_prefix is not None else f"{run_no}-"
            wanted = [f"{prefix}{existing + i + 1:04d}" for i in range(quantity)]
        if existing + len(wanted) > run.plan_qty:
            raise DomainError("QUANTITY_EXCEEDS_PLAN", M("Run {run} plans {qty} units; it has {existing}.",
                                                         run=run_no, qty=run.plan_qty, existing=existing),
                              {"planQty": run.plan_qty, "existing": existing, "requested": len(wanted)})
        taken = db.session.execute(select(Unit.sn).where(Unit.sn.in_(wanted))).scalars().all()
        if taken:
            raise DomainError("UNIT_SN_DUPLICATE", M("SN(s) already exist: {sns}.", sns=join(sorted(taken)[:10])),
                              {"sns": sorted(taken)})
        first = plan_for(run.route_version_id).first.step_no
        units = [Unit(sn=sn, work_order_id=run.work_order_id, run_id=run.id, status="QUEUED",
                      current_step_no=first, rework_count=0) for sn in wanted]
        uow.session.add_all(units)
        uow.session.flush()
        uow.payload = {"count": len(units), "first": wanted[0], "last": wanted[-1]}
    return units


# ---------------------------------------------------------------------------------------------
# Authorize, revoke, cancel
# ---------------------------------------------------------------------------------------------

def authorize(*, actor: Actor, run_no: str) -> Run:
    """Authorize a PREP run for production (`run:authorize`) after its gates pass."""
    require_permission(actor, "run:authorize")
    if extension_points.PRE_AUTHORIZE_HOOKS:
        # an unknown or out-of-scope run skips the observations: the unit of work below refuses it,
        # so the refused attempt is audited like every other one
        run = db.session.execute(select(Run).where(Run.run_no == run_no)).scalar_one_or_none()
        if run is not None and in_line_scope(actor, run.line_id):
            for hook in extension_points.PRE_AUTHORIZE_HOOKS:
                hook(actor, run)
    with unit_of_work(actor, "RUN_AUTHORIZE", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if run.status == "AUTHORIZED":
            uow.nothing_changed()
            return run
        if run.status != "PREP":
            raise DomainError("RUN_NOT_READY", M("Run {run} is {status}; only a PREP run can be authorized.",
                                                 run=run_no, status=term(run.status)),
                              {"status": run.status})
        plan = plan_for(run.route_version_id)
        _version_ready_gate(run, plan)
        for gate in extension_points.AUTHORIZE_GATES:
            gate(uow, run, plan, actor)
        run.status = transition("RUN", run.status, "AUTHORIZE")
        run.authorized_by, run.authorized_at = actor.username, now()
        uow.diff = {"before": {"status": "PREP"}, "after": {"status": run.status}}
    return run


def revoke(*, actor: Actor, run_no: str, reason: str) -> Run:
    """Take an authorization back (`run:authorize`) with a reason: AUTHORIZED → PREP; a run that
    started production cannot be revoked (`RUN_ALREADY_STARTED`)."""
    require_permission(actor, "run:authorize")
    with unit_of_work(actor, "RUN_REVOKE", "RUN", run_no, reason=reason) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        required_reason(reason, M("revoking the authorization"))
        if run.status == "IN_PROGRESS":
            raise DomainError("RUN_ALREADY_STARTED", M("Run {run} has started production; it cannot be revoked.",
                                                       run=run_no))
        if run.status != "AUTHORIZED":
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}, not AUTHORIZED.", run=run_no,
                                                      status=term(run.status)),
                              {"status": run.status})
        run.status = transition("RUN", run.status, "REVOKE")
        run.authorized_by = run.authorized_at = None
        uow.diff = {"before": {"status": "AUTHORIZED"}, "after": {"status": run.status}}
    return run


def cancel(*, actor: Actor, run_no: str, reason: str) -> Run:
    """Cancel a PREP run that never had a track (`run:create`); its units are deleted."""
    require_permission(actor, "run:create")
    with unit_of_work(actor, "RUN_CANCEL", "RUN", run_no, reason=reason) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        required_reason(reason, M("cancelling the run"))
        has_tracks = db.session.execute(select(Track.id).where(Track.run_id == run.id).limit(1)).first()
        if run.status != "PREP" or has_tracks:
            raise DomainError("RUN_NOT_CANCELLABLE", (
                M("Run {run} is {status} and has tracks: only a PREP run without tracks can be cancelled.",
                  run=run_no, status=term(run.status)) if has_tracks else
                M("Run {run} is {status}: only a PREP run without tracks can be cancelled.",
                  run=run_no, status=term(run.status))), {"status": run.status})
        deleted = db.session.execute(delete(Unit).where(Unit.run_id == run.id)).rowcount
        run.status = transition("RUN", run.status, "CANCEL")
        run.ended_at = now()
        uow.diff = {"before": {"status": "PREP"}, "after": {"status": run.status}}
        uow.payload = {"unitsDeleted": deleted}
    return run


# ---------------------------------------------------------------------------------------------
# Closeout
# ---------------------------------------------------------------------------------------------

def unit_counts(run_id: int) -> dict[str, int]:
    """Units of the run by status."""
    rows = db.session.execute(select(Unit.status, func.count()).where(Unit.run_id == run_id)
                              .group_by(Unit.status)).all()
    return {status: n for status, n in rows}


def _closeout(uow: UnitOfWork, run: Run, actor: Actor) -> CloseoutOutcome:
    """The closeout logic shared by the manual close and the automatic closeout: hooks (OQC) may keep
    the run open; otherwise it completes."""
    plan = plan_for(run.route_version_id)
    for hook in extension_points.CLOSEOUT_HOOKS:
        outcome = hook(uow, run, plan, actor)
        if outcome is not None and not outcome.completed:
            return outcome
    complete_run(uow, run)
    return CloseoutOutcome(True)


def complete_run(uow: UnitOfWork, run: Run, *, payload: dict | None = None) -> None:
    """IN_PROGRESS → COMPLETED (closeout, or a passed OQC), audited in the caller's transaction."""
    before = run.status
    run.status = transition("RUN", run.status, "COMPLETE")
    run.ended_at = now()
    uow.audit("RUN_COMPLETE", "RUN", run.run_no, diff={"before": {"status": before}, "after": {"status": run.status}},
              payload=payload)


def hold_run(uow: UnitOfWork, run: Run, *, reason: str | None, payload: dict | None = None) -> None:
    """IN_PROGRESS → ON_HOLD (a failed OQC: the MRB decides), audited in the caller's transaction."""
    before = run.status
    run.status = transition("RUN", run.status, "HOLD")
    uow.audit("RUN_HOLD", "RUN", run.run_no, diff={"before": {"status": before}, "after": {"status": run.status}},
              reason=reason, payload=payload)


def close(*, actor: Actor, run_no: str) -> Run:
    """Close a run (`run:close`): every unit DONE or SCRAPPED; a short run (fewer units than planned)
    is allowed. Idempotent for terminal runs."""
    require_permission(actor, "run:close")
    with unit_of_work(actor, "RUN_CLOSE", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if is_terminal("RUN", run.status):
            uow.nothing_changed()
            return run
        counts = unit_counts(run.id)
        unfinished = open_units(counts)
        if run.status == "AUTHORIZED" and all_units_terminal(counts):
            run.status = transition("RUN", run.status, "START")  # all units finished in the FAI trial
            run.started_at = run.started_at or now()
            uow.audit("RUN_START", "RUN", run.run_no, diff={"before": {"status": "AUTHORIZED"},
                                                           "after": {"status": "IN_PROGRESS"}})
        if run.status != "IN_PROGRESS":
            raise DomainError("RUN_NOT_CLOSABLE", M("Run {run} is {status}: it cannot be closed.", run=run_no,
                                                    status=term(run.status)),
                              {"status": run.status})
        if not counts:
            raise DomainError("RUN_HAS_NO_UNITS", M("Run {run} has no units.", run=run_no))
        if unfinished:
            raise DomainError("RUN_UNITS_NOT_TERMINAL", M("Run {run} has {count} unit(s) not DONE or SCRAPPED.",
                                                          run=run_no, count=unfinished),
                              {"counts": counts})
        outcome = _closeout(uow, run, actor)
        uow.payload = {"counts": counts}
        if not outcome.completed and outcome.error is not None:
            if not outcome.changed:
                raise outcome.error  # a repeated close: refused, changes nothing
            uow.raise_after_commit(outcome.error)
    return run


_unit = Unit.__table__
# A run's units and how many are not terminal (read once the run's row is locked: lock_run_for_count)
UNITS_LEFT = select(
    select(func.count()).select_from(_unit).where(_unit.c.run_id == Run.__table__.c.id).scalar_subquery().label("units"),
    select(func.count()).select_from(_unit).where(_unit.c.run_id == Run.__table__.c.id,
                                                  _unit.c.status.not_in(TERMINAL_UNIT)).scalar_subquery().label("open"),
).where(Run.__table__.c.id == bindparam("run_id"))


RUN_ROW = select(Run.__table__.c.id).where(Run.__table__.c.id == bindparam("run_id"))


def lock_run_for_count(uow: UnitOfWork, run_id: int) -> None:
    """Lock the run's row before counting its units (PostgreSQL; SQLite's write lock is held already).
    The count must be a statement of its own: a PostgreSQL statement that waited for the lock reads the
    snapshot it started with, and would miss the units the lock's holder has just finished or added."""
    if uow.connection.dialect.name == "postgresql":
        uow.execute(uow.lock(RUN_ROW), {"run_id": run_id})


def automatic_closeout(uow: UnitOfWork, run_id: int, status: str, plan_qty: int,
                       actor: Actor, *, run_locked: bool = False) -> Optional[CloseoutOutcome]:
    """After a non-trial TrackOut made a unit terminal (the scan read the run's `status` and
    `plan_qty`): when every unit is terminal and the run has at least plan_qty units, close it out
    like a manual close would. `run_locked`: the caller holds the run's row lock already."""
    if status != "IN_PROGRESS":
        return None
    if not run_locked:
        lock_run_for_count(uow, run_id)  # concurrent last TrackOuts: one closes
    left = uow.execute(UNITS_LEFT, {"run_id": run_id}).one()
    if left.units < plan_qty or left.units == 0 or left.open:
        return None
    return _closeout(uow, db.session.get(Run, run_id), actor)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def read_run(*, actor: Actor, run_no: str) -> Run:
    """A run the actor may see (`run:read`); a run on a line outside their scope is RUN_NOT_FOUND like
    an unknown one (platform/scope.py)."""
    require_permission(actor, "run:read")
    run = get_run(run_no)
    require_visible(actor, run.line_id, run_missing(run_no))
    return run


@dataclass
class UnitPage:
    units: list[Unit]
    total: int


def list_units(*, actor: Actor, run_no: str, status: str | None = None, step_no: int | None = None,
               limit: int | None = None) -> UnitPage:
    """Units of a run the actor may see, in creation order (filters: status, current step); with
    `limit`, the first ones and the total (Run Detail shows the first 500)."""
    run = read_run(actor=actor, run_no=run_no)
    stmt = select(Unit).where(Unit.run_id == run.id)
    if status:
        stmt = stmt.where(Unit.status == status.upper())
    if step_no is not None:
        stmt = stmt.where(Unit.current_step_no == step_no)
    units = list(db.session.execute(stmt.order_by(Unit.id).limit(limit)).scalars())
    total = len(units)
    if limit is not None and total >= limit:
        total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    return UnitPage(units, total)


def rework_runs(run: Run) -> list[tuple[str, str]]:
    """(run number, status) of the rework runs an MRB decision made from this run."""
    return [tuple(row) for row in db.session.execute(
        select(Run.run_no, Run.status).where(Run.parent_run_id == run.id).order_by(Run.id)).all()]


def _run_column(column, *joins):
    """A column of the run's work order, product, line or routing, as a sort column."""
    return select(column).select_from(joins[0]).where(*joins[1:]).correlate(Run).scalar_subquery()


RUN_SORTING = Sorting({
    "runNo": Run.run_no, "status": Run.status,
    "woNo": _run_column(WorkOrder.wo_no, WorkOrder, WorkOrder.id == Run.work_order_id),
    "productCode": _run_column(Product.code, WorkOrder, WorkOrder.id == Run.work_order_id,
                               Product.id == WorkOrder.product_id),
    "lineCode": _run_column(Line.code, Line, Line.id == Run.line_id), "planQty": Run.plan_qty,
    "routingCode": _run_column(Routing.code, ExecutableRouteVersion, ExecutableRouteVersion.id == Run.route_version_id,
                               Routing.id == ExecutableRouteVersion.routing_id),
    "startedAt": Run.started_at, "endedAt": Run.ended_at,
})


def list_runs(*, actor: Actor, status: str | None = None, line_code: str | None = None, wo_no: str | None = None,
              wo_contains: str | None = None, page: int = 1, page_size: int = 50, sort: str | None = None,
              order: str | None = None) -> tuple[list[Run], int]:
    """Runs in the actor's lines. `wo_no` matches the work order exactly (API); `wo_contains` matches
    any part of it, case-insensitively (the console filter, like the work-order list's). Newest first, or
    by the column `sort` names (RUN_SORTING; VALIDATION_ERROR for another), `order` asc or desc."""
    require_permission(actor, "run:read")
    resolved = RUN_SORTING.resolve(sort, order)
    stmt = select(Run).where(line_filter(actor, Run.line_id))
    if status:
        stmt = stmt.where(Run.status == status.upper())
    if line_code:
        stmt = stmt.join(Line, Line.id == Run.line_id).where(Line.code == line_code)
    if wo_no or wo_contains:
        stmt = stmt.join(WorkOrder, WorkOrder.id == Run.work_order_id)
    if wo_no:
        stmt = stmt.where(WorkOrder.wo_no == wo_no)
    if wo_contains:
        stmt = stmt.where(func.lower(WorkOrder.wo_no).contains(wo_contains.strip().lower(), autoescape=True))
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    order_by = RUN_SORTING.order_by(resolved, default=[Run.id.desc()], tiebreak=Run.id)
    rows = db.session.execute(stmt.order_by(*order_by).limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return list(rows), total


def run_counts() -> dict[str, int]:
    """Runs by status (the monitoring's figures)."""
    return dict(db.session.execute(select(Run.status, func.count()).group_by(Run.status)).all())


def hold_counts() -> dict[str, int]:
    """What waits on hold: units ON_HOLD (a disposition HOLD: quality decides) and runs ON_HOLD (a failed
    OQC: the MRB decides). Units are counted through the open runs (their index), not the whole table."""
    open_runs = select(Run.id).where(Run.status.in_(("PREP", "AUTHORIZED", "IN_PROGRESS", "ON_HOLD")))
    units = db.session.execute(select(func.count()).select_from(Unit).where(
        Unit.run_id.in_(open_runs), Unit.status == "ON_HOLD")).scalar_one()
    runs = db.session.execute(select(func.count()).select_from(Run).where(Run.status == "ON_HOLD")).scalar_one()
    return {"unit": units, "run": runs}


def _in_fai_trial(run_ids: list[int]) -> set[int]:
    """Which of these PREP runs build FAI trial units now: their FAI is INSPECTING (02_rules §4)."""
    if not run_ids:
        return set()
    keys = [Inspection.open_key_for(run_id, "FAI") for run_id in run_ids]
    return set(db.session.execute(select(Inspection.run_id).where(Inspection.open_key.in_(keys),
                                                                  Inspection.status == "INSPECTING")).scalars())


def buildable_runs(line_id: int) -> list[dict[str, Any]]:
    """The runs of a line that new boards may be registered to (the Station Terminal's run choice):
    AUTHORIZED and IN_PROGRESS runs, and PREP runs in their FAI trial, by run number."""
    rows = db.session.execute(
        select(Run.id, Run.run_no, Run.status, Product.code).join(WorkOrder, WorkOrder.id == Run.work_order_id)
        .join(Product, Product.id == WorkOrder.product_id)
        .where(Run.line_id == line_id, Run.status.in_(("PREP", "AUTHORIZED", "IN_PROGRESS")))).all()
    trials = _in_fai_trial([r.id for r in rows if r.status == "PREP"])
    # sorted here, not by the database: the same order on every database collation
    return sorted(({"runNo": r.run_no, "status": r.status, "productCode": r.code, "faiTrial": r.id in trials}
                   for r in rows if r.status != "PREP" or r.id in trials), key=lambda r: r["runNo"])


def next_action(run: Run, counts: dict[str, int]) -> dict[str, str]:
    """What should happen next to the run, for planners and the run detail screen."""
    if run.status == "PREP":  # the first unfinished preparation phase (readiness, loading, FAI), then authorize
        for phase in extension_points.PREPARATION_PHASES:
            result = phase(run, counts)
            if result is not None and result[1] == "CURRENT":
                return {"action": result[0].upper(), "text": M("{phase}: {text}", phase=Message(result[0]),
                                                               text=result[2])}
        return {"action": "AUTHORIZE", "text": M("The run is prepared: authorize the run.")}
    return production_action(run.status, counts, run.plan_qty, lambda: db.session.execute(select(Inspection.id).where(
        Inspection.open_key == Inspection.open_key_for(run.id, "OQC"))).first() is not None)


def production_action(status: str, counts: dict[str, int], plan_qty: int,
                      oqc_open: Callable[[], bool]) -> dict[str, str]:
    """The next action of a run past its preparation, from its status, unit counts and plan — next_action's
    rule, also used by the home page's worklists over many runs at once. `oqc_open()` (whether the run's OQC
    is open) is asked only of an IN_PROGRESS run whose units are all finished."""
    unfinished = open_units(counts)
    total = sum(counts.values())
    if status in ("AUTHORIZED", "IN_PROGRESS") and all_units_terminal(counts) and total < plan_qty:
        return {"action": "BUILD", "text": M("{done} of {planned} planned unit(s) finished: operators build the other "
                                             "{missing} (track in at the first step). Close the run only to end it "
                                             "short.", done=total - unfinished, planned=plan_qty,
                                             missing=plan_qty - total)}
    if status == "AUTHORIZED":
        if all_units_terminal(counts):  # every planned unit was built in the FAI trial
            return {"action": "CLOSE", "text": M("Every unit is finished: close the run.")}
        return {"action": "BUILD", "text": M("Operators track units in at the first step.")}
    if status == "IN_PROGRESS":
        if all_units_terminal(counts):
            if oqc_open():
                return {"action": "OQC", "text": M("Every unit is finished: quality inspects the OQC sample.")}
            return {"action": "CLOSE", "text": M("Every unit is finished: close the run.")}
        failed = counts.get("OUT_FAILED", 0) + counts.get("ON_HOLD", 0)
        if failed:
            return {"action": "DISPOSITION", "text": M("{failed} unit(s) wait for a quality decision; {working} in "
                                                       "production.", failed=failed, working=unfinished - failed)}
        return {"action": "BUILD", "text": M("{count} unit(s) in production.", count=unfinished)}
    if status == "ON_HOLD":
        return {"action": "MRB", "text": M("The run is on hold: MRB decides.")}
    return {"action": "NONE", "text": M("The run is {status}.", status=term(status))}


def run_to_dict(run: Run, *, detail: bool = False) -> dict[str, Any]:
    plan = plan_for(run.route_version_id)
    data: dict[str, Any] = {
        "runNo": run.run_no, "status": run.status, "planQty": run.plan_qty, "shiftCode": run.shift_code,
        "workOrder": {"woNo": run.work_order.wo_no, "productCode": run.work_order.product.code,
                      "plannedQty": run.work_order.planned_qty, "status": run.work_order.status},
        "line": {"code": run.line.code, "name": run.line.name},
        "routeVersion": {"routingCode": plan.routing_code, "versionNo": plan.version_no},
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "endedAt": run.ended_at.isoformat() if run.ended_at else None,
        "authorizedBy": run.authorized_by,
        "authorizedAt": run.authorized_at.isoformat() if run.authorized_at else None,
        "parentRunNo": run.parent.run_no if run.parent else None, "reworkType": run.rework_type,
        "faiTrial": run.status == "PREP" and bool(_in_fai_trial([run.id])),
    }
    if detail:
        counts = unit_counts(run.id)
        at_step = dict(((step, status), n) for step, status, n in db.session.execute(
            select(Unit.current_step_no, Unit.status, func.count()).where(Unit.run_id == run.id)
            .group_by(Unit.current_step_no, Unit.status)).all())
        # boards, not tracks: a board through a step twice (repaired, reworked) is one board there
        results = dict(((step, result), n) for step, result, n in db.session.execute(
            select(Track.step_no, Track.result, func.count(func.distinct(Track.unit_id))).where(Track.run_id == run.id)
            .group_by(Track.step_no, Track.result)).all())
        data["steps"] = [{**s.to_dict(), "operation": s.operation_code, "counts": {
            "queued": at_step.get((s.step_no, "QUEUED"), 0), "inStation": at_step.get((s.step_no, "IN_STATION"), 0),
            "passed": results.get((s.step_no, "PASS"), 0), "failed": results.get((s.step_no, "FAIL"), 0)}}
            for s in plan.steps]
        data["unitCounts"] = counts
        data["nextAction"] = next_action(run, counts)
    return data


def with_unit_tallies(rows: list[Run]) -> list[dict[str, Any]]:
    """`run_to_dict` of each run with its good / scrap / in-work units (the Runs export)."""
    counts = unit_tallies(Unit.run_id, [r.id for r in rows])
    return [{**run_to_dict(r), **counts[r.id]} for r in rows]


# ---------------------------------------------------------------------------------------------
# What a user may do next (screens show only these actions; the services still check everything)
# ---------------------------------------------------------------------------------------------

def available_actions(run: Run, actor: Actor, counts: dict[str, int] | None = None) -> list[str]:
    """The run actions the state machine allows now and the actor's permissions grant. CLOSE only
    when the close would be accepted as far as the units go: the run IN_PROGRESS (or AUTHORIZED, all
    built in the FAI trial) and every unit DONE or SCRAPPED (02_rules §3 closeout)."""
    if counts is None:
        counts = unit_counts(run.id)
    actions = []
    if run.status in ("PREP", "AUTHORIZED") and actor.can("run:create"):
        actions.append("GENERATE_UNITS")
    if can_transition("RUN", run.status, "AUTHORIZE") and actor.can("run:authorize"):
        actions.append("AUTHORIZE")
    if can_transition("RUN", run.status, "REVOKE") and actor.can("run:authorize"):
        actions.append("REVOKE")
    if can_transition("RUN", run.status, "CANCEL") and actor.can("run:create"):
        actions.append("CANCEL")
    if run.status in ("IN_PROGRESS", "AUTHORIZED") and all_units_terminal(counts) and actor.can("run:close"):
        actions.append("CLOSE")
    return [a for a in actions if in_line_scope(actor, run.line_id)]


# Phases of a run for the step indicator: the preparation phases of later contexts (readiness,
# loading, FAI; extension_points.PREPARATION_PHASES), then production's own. Each returns
# (name, state, text) with state DONE / CURRENT / TODO / SKIPPED, or None when it does not apply.


def _authorize_phase(run: Run, counts: dict[str, int]) -> tuple[str, str, str]:
    if run.status == "PREP":
        return ("Authorize", "CURRENT", M("Authorize the run for production."))
    if run.status == "CANCELLED":
        return ("Authorize", "SKIPPED", M("Cancelled."))
    return ("Authorize", "DONE", M("Authorized by {user}.", user=run.authorized_by or "—"))


def _execution_phase(run: Run, counts: dict[str, int]) -> tuple[str, str, str]:
    total = sum(counts.values())
    done = sum(counts.get(s, 0) for s in TERMINAL_UNIT)
    if run.status in ("PREP", "CANCELLED"):
        return ("Execution", "TODO" if run.status == "PREP" else "SKIPPED",
                M("{count} unit(s) generated.", count=total))
    if run.status in ("AUTHORIZED", "IN_PROGRESS") and (done < total or total < run.plan_qty):
        return ("Execution", "CURRENT", M("{done} of {planned} unit(s) finished.", done=done, planned=run.plan_qty))
    return ("Execution", "DONE", M("{count} unit(s) finished.", count=done))


def _closeout_phase(run: Run, counts: dict[str, int]) -> tuple[str, str, str]:
    if is_terminal("RUN", run.status):
        return ("Closeout", "DONE" if run.status != "CANCELLED" else "SKIPPED", M("Run {status}.", status=term(run.status)))
    if run.status == "IN_PROGRESS" and all_planned_finished(run, counts):
        return ("Closeout", "CURRENT", M("Every unit is finished: close the run."))
    return ("Closeout", "TODO", M("When all {planned} planned unit(s) are DONE or SCRAPPED.", planned=run.plan_qty))


_PRODUCTION_PHASES = (_authorize_phase, _execution_phase, _closeout_phase)


def phases(run: Run, counts: dict[str, int]) -> list[dict[str, str]]:
    """The run's phases, in order, for Run Detail's step indicator."""
    out = []
    for phase in (*extension_points.PREPARATION_PHASES, *_PRODUCTION_PHASES):
        result = phase(run, counts)
        if result is not None:
            out.append({"name": result[0], "state": result[1], "text": result[2]})
    return out
