"""Defects, disposition and rework (spec 02_rules §8; state machines UNIT, DEFECT, REWORK_TASK of
01_domain_model §7).

- Defects come from a TrackOut FAIL (services/production/execution.py), from SPI/AOI FAIL results
  (services/quality/inspection_results.py) or by hand here, on a QUEUED unit, which then becomes OUT_FAILED.
- A disposition decides all open (RECORDED) defects of an OUT_FAILED unit together, one Disposition row
  per defect: REWORK sends the unit back to a step at or before its failure step (QUEUED there, rework
  count + 1, one ReworkTask OPEN), SCRAP scraps it (defects CLOSED), HOLD puts it ON_HOLD until a
  release (unit QUEUED at its step, the held defects CLOSED).
- A ReworkTask runs from the failure step (`from_step_no`) back to the re-entry step (`to_step_no`). A
  later PASS at or beyond its from-step closes it (`close_rework_tasks`, a TrackOut hook), or quality
  closes it by hand; either way the defects it reworked are CLOSED. A new REWORK or a SCRAP of the unit
  cancels a task still open.

Only `quality:disposition` decides; everyone who reads runs may list defects.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from flask import current_app
from sqlalchemy import bindparam, func, select

from ...extensions import db
from ...models import AuditEvent, Defect, Disposition, InspectionResult, Line, ReworkTask, Run, Station, Track, Unit
from ...models.quality import DISPOSITION_TYPES
from ..engineering.master_data import active_defect_code
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.scope import line_filter, require_line, require_permission
from ..platform.sorting import Sorting
from ..platform.states import transition
from ..platform.uow import UnitOfWork, unit_of_work
from ..platform.validation import required_reason
from ..production.units import move as move_unit
from .inspection_results import settle_pending_fails

DEFECT_STATUSES = ("RECORDED", "DISPOSITIONED", "CLOSED")
REWORK_TASK_STATUSES = ("OPEN", "DONE", "CANCELLED")


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def rework_limit() -> int:
    """The `MES_REWORK_LIMIT` setting: how many reworks one unit may have (default 3)."""
    return int(current_app.config.get("MES_REWORK_LIMIT", 3))


def _fresh(uow: UnitOfWork, stmt, *, lock: bool = False):
    """Read rows as they are now (after a lock on PostgreSQL, READ COMMITTED), not as the session last saw them."""
    stmt = stmt.execution_options(populate_existing=True)
    return db.session.execute(uow.lock(stmt) if lock else stmt)


def _unit_for_update(uow: UnitOfWork, unit_id: int) -> Unit:
    return _fresh(uow, select(Unit).where(Unit.id == unit_id), lock=True).scalar_one()


def _unit_by_sn(uow: UnitOfWork, sn: str) -> Unit:
    unit = _fresh(uow, select(Unit).where(Unit.sn == sn), lock=True).scalar_one_or_none()
    if unit is None:
        raise DomainError("UNIT_NOT_FOUND", M("No unit with SN {sn}.", sn=sn), {"sn": sn})
    return unit


def _defect_unit(defect_id: int) -> tuple[int, int]:
    """(unit id, line id) of a defect, or DEFECT_NOT_FOUND."""
    row = db.session.execute(select(Defect.unit_id, Run.line_id).join(Unit, Unit.id == Defect.unit_id)
                             .join(Run, Run.id == Unit.run_id).where(Defect.id == defect_id)).first()
    if row is None:
        raise DomainError("DEFECT_NOT_FOUND", M("No defect {id}.", id=defect_id), {"defectId": defect_id})
    return row.unit_id, row.line_id


def _close_reworked_defects(uow: UnitOfWork, unit_id: int) -> list[int]:
    """The defects a rework task dealt with (DISPOSITIONED with REWORK) become CLOSED."""
    defects = db.session.execute(select(Defect).join(Disposition, Disposition.defect_id == Defect.id).where(
        Defect.unit_id == unit_id, Defect.status == "DISPOSITIONED", Disposition.type == "REWORK")).scalars().all()
    for defect in defects:
        defect.status = transition("DEFECT", defect.status, "CLOSE")
    return [d.id for d in defects]


def _end_open_tasks(uow: UnitOfWork, unit: Unit, event: str, actor: Actor, remark: str) -> list[int]:
    """End the unit's open rework tasks (DONE or CANCELLED) and close the defects they reworked."""
    tasks = db.session.execute(select(ReworkTask).where(ReworkTask.unit_id == unit.id,
                                                        ReworkTask.status == "OPEN")).scalars().all()
    for task in tasks:
        task.status = transition("REWORK_TASK", task.status, event)
        task.done_by, task.done_at, task.remark = actor.username, now(), remark
        uow.audit(f"REWORK_TASK_{task.status}", "REWORK_TASK", str(task.id), reason=remark,
                  payload={"sn": unit.sn, "fromStepNo": task.from_step_no, "toStepNo": task.to_step_no})
    if tasks:
        _close_reworked_defects(uow, unit.id)
    return [t.id for t in tasks]


# ---------------------------------------------------------------------------------------------
# Manual defect
# ---------------------------------------------------------------------------------------------

def record_defect(*, actor: Actor, sn: str, code: Any, location: str | None = None,
                  description: str | None = None) -> Defect:
    """`POST /defects` (`quality:disposition`): a defect found by hand on a QUEUED unit, which becomes
    OUT_FAILED (awaiting disposition). An IN_STATION unit is tracked out FAIL instead (`UNIT_IN_STATION`)."""
    require_permission(actor, "quality:disposition")
    sn = (sn or "").strip()
    with unit_of_work(actor, "DEFECT_RECORD", "UNIT", sn) as uow:
        unit = _unit_by_sn(uow, sn)
        require_line(actor, db.session.get(Run, unit.run_id).line_id)
        if unit.status == "IN_STATION":
            raise DomainError("UNIT_IN_STATION", M("Unit {sn} is tracked in: track it out FAIL at the station instead.",
                                                   sn=sn),
                              {"status": unit.status})
        if unit.status != "QUEUED":
            raise DomainError("UNIT_STATE_INVALID", M("Unit {sn} is {status}: a defect is recorded by hand on a "
                                                     "QUEUED unit only.", sn=sn, status=term(unit.status)), {"status": unit.status})
        code = active_defect_code(code)
        at = now()
        defect = Defect(unit_id=unit.id, step_no=unit.current_step_no, code=code, location=(location or "").strip() or None,
                        description=(description or "").strip() or None, qty=1, status="RECORDED", source="MANUAL",
                        created_at=at, updated_at=at)
        uow.session.add(defect)
        before = unit.status
        move_unit(unit, "DEFECT", at)
        settled = settle_pending_fails(uow, unit)  # an SPI/AOI FAIL waiting for this unit's TrackOut
        uow.session.flush()
        uow.diff = {"before": {"status": before}, "after": {"status": unit.status}}
        uow.payload = {"defectId": defect.id, "code": code, "stepNo": defect.step_no,
                       **({"settledInspectionResults": settled} if settled else {})}
    return defect


# ---------------------------------------------------------------------------------------------
# Disposition and hold release
# ---------------------------------------------------------------------------------------------

def failure_step(unit: Unit, defects: list[Defect]) -> int:
    """The step the unit failed at: the earliest step among the defects decided together (so a
    rework re-does every step that found one), else the unit's current step."""
    steps = [d.step_no for d in defects if d.step_no is not None]
    return min(steps) if steps else unit.current_step_no


def decide(*, actor: Actor, defect_id: int, disposition_type: str, reason: str | None,
           to_step_no: int | None = None) -> dict[str, Any]:
    """`POST /defects/{id}/disposition` (`quality:disposition`) `{type REWORK|SCRAP|HOLD, reason, toStepNo?}`:
    the defect RECORDED (`ALREADY_DISPOSITIONED`), its unit OUT_FAILED (`UNIT_STATE_INVALID`), a reason
    (`REASON_REQUIRED`); REWORK: toStepNo a snapshot step ≤ the failure step (`REWORK_STEP_INVALID`) and
    the unit's rework count below the limit (`REWORK_LIMIT_REACHED`). Every open defect of the unit is
    decided together."""
    require_permission(actor, "quality:disposition")
    with unit_of_work(actor, "DEFECT_DISPOSITION", "DEFECT", str(defect_id)) as uow:
        unit_id, line_id = _defect_unit(defect_id)
        require_line(actor, line_id)
        unit = _unit_for_update(uow, unit_id)
        defect = _fresh(uow, select(Defect).where(Defect.id == defect_id)).scalar_one()
        if defect.status != "RECORDED":
            raise DomainError("ALREADY_DISPOSITIONED", M("Defect {id} is {status}: it already has a disposition.",
                                                         id=defect_id, status=term(defect.status)), {"status": defect.status})
        if unit.status != "OUT_FAILED":
            message = (M("Unit {sn} is {status}: only an OUT_FAILED unit gets a disposition (a DONE unit is "
                         "decided by the run's OQC/MRB).", sn=unit.sn, status=term(unit.status))
                       if unit.status == "DONE" else
                       M("Unit {sn} is {status}: only an OUT_FAILED unit gets a disposition.", sn=unit.sn,
                         status=term(unit.status)))
            raise DomainError("UNIT_STATE_INVALID", message, {"status": unit.status})
        if disposition_type not in DISPOSITION_TYPES:
            raise DomainError("VALIDATION_ERROR", M("type must be REWORK, SCRAP or HOLD."),
                              {"fields": {"type": list(DISPOSITION_TYPES)}})
        reason = required_reason(reason, M("the disposition"))
        defects = db.session.execute(select(Defect).where(Defect.unit_id == unit.id, Defect.status == "RECORDED")
                                     .order_by(Defect.id)).scalars().all()
        failed_at = failure_step(unit, defects)
        plan = plan_for(db.session.get(Run, unit.run_id).route_version_id)
        if disposition_type == "REWORK":
            if isinstance(to_step_no, bool) or not isinstance(to_step_no, int) or plan.step(to_step_no) is None \
                    or to_step_no > failed_at:
                allowed = [s.step_no for s in plan.steps if s.step_no <= failed_at]
                raise DomainError("REWORK_STEP_INVALID", M("Rework goes back to a step of the route at or before the "
                                                           "failure step {step}: one of {steps}.", step=failed_at,
                                                           steps=join(allowed)),
                                  {"toStepNo": to_step_no, "failureStepNo": failed_at, "allowedStepNos": allowed})
            limit = rework_limit()
            if unit.rework_count >= limit:
                raise DomainError("REWORK_LIMIT_REACHED", M("Unit {sn} was reworked {count} time(s); the limit is {limit}: "
                                                            "scrap or hold it.", sn=unit.sn, count=unit.rework_count,
                                                            limit=limit),
                                  {"reworkCount": unit.rework_count, "limit": limit})
        else:
            to_step_no = None

        at = now()
        before = {"status": unit.status, "currentStepNo": unit.current_step_no, "reworkCount": unit.rework_count}
        rows = []
        for d in defects:
            row = Disposition(defect_id=d.id, type=disposition_type, reason=reason, to_step_no=to_step_no,
                              decided_by=actor.username, decided_at=at)
            uow.session.add(row)
            rows.append(row)
        task = None
        if disposition_type == "REWORK":
            _end_open_tasks(uow, unit, "CANCEL", actor, f"Superseded by a new rework of defect {defect_id}.")
            for d in defects:
                d.status = transition("DEFECT", d.status, "DISPOSITION")
            move_unit(unit, "REWORK", at)
            unit.current_step_no, unit.rework_count = to_step_no, unit.rework_count + 1
            uow.session.flush()
            primary = next(r for r in rows if r.defect_id == defect_id)
            task = ReworkTask(disposition_id=primary.id, unit_id=unit.id, from_step_no=failed_at, to_step_no=to_step_no,
                              status="OPEN", created_at=at)
            uow.session.add(task)
        elif disposition_type == "SCRAP":
            _end_open_tasks(uow, unit, "CANCEL", actor, f"Unit scrapped (defect {defect_id}).")
            for d in defects:
                d.status = transition("DEFECT", d.status, "CLOSE")
            move_unit(unit, "SCRAP", at)
        else:  # HOLD
            for d in defects:
                d.status = transition("DEFECT", d.status, "DISPOSITION")
            move_unit(unit, "HOLD", at)
        unit.updated_at = at
        uow.session.flush()
        uow.reason = reason
        uow.diff = {"before": before, "after": {"status": unit.status, "currentStepNo": unit.current_step_no,
                                                "reworkCount": unit.rework_count}}
        uow.payload = {"sn": unit.sn, "type": disposition_type, "toStepNo": to_step_no, "failureStepNo": failed_at,
                       "defectIds": [d.id for d in defects], "reworkTaskId": task.id if task else None}
        result = {"defect": defect_to_dict(defect), "defects": [defect_to_dict(d) for d in defects],
                  "unit": unit_to_dict(unit), "reworkTask": rework_task_to_dict(task) if task else None}
    return result


def release(*, actor: Actor, defect_id: int, reason: str | None) -> dict[str, Any]:
    """`POST /defects/{id}/release` (`quality:disposition`) `{reason}`: a held unit (ON_HOLD,
    `UNIT_STATE_INVALID`) goes back QUEUED at its step; its held defects (`DEFECT_NOT_ON_HOLD`) are
    CLOSED. Defects recorded while it was held (a late SPI/AOI FAIL) send it on to OUT_FAILED."""
    require_permission(actor, "quality:disposition")
    with unit_of_work(actor, "DEFECT_RELEASE", "DEFECT", str(defect_id)) as uow:
        unit_id, line_id = _defect_unit(defect_id)
        require_line(actor, line_id)
        unit = _unit_for_update(uow, unit_id)
        if unit.status != "ON_HOLD":
            raise DomainError("UNIT_STATE_INVALID", M("Unit {sn} is {status}: only a unit ON_HOLD is released.",
                                                      sn=unit.sn, status=term(unit.status)),
                              {"status": unit.status})
        held = db.session.execute(select(Defect, Disposition).join(Disposition, Disposition.defect_id == Defect.id).where(
            Defect.unit_id == unit.id, Defect.status == "DISPOSITIONED", Disposition.type == "HOLD",
            Disposition.released_at.is_(None)).order_by(Defect.id)).all()
        if defect_id not in {d.id for d, _ in held}:
            status = db.session.execute(select(Defect.status).where(Defect.id == defect_id)).scalar_one()
            message = (M("Defect {id} ({status}) is not held: release {ids}.", id=defect_id, status=term(status),
                         ids=join(d.id for d, _ in held)) if held else
                       M("Defect {id} ({status}) is not held: release the unit's held defect.", id=defect_id,
                         status=term(status)))
            raise DomainError("DEFECT_NOT_ON_HOLD", message,
                              {"status": status, "heldDefectIds": [d.id for d, _ in held]})
        reason = required_reason(reason, M("releasing the hold"))
        at = now()
        for defect, row in held:
            row.released_by, row.released_at, row.release_reason = actor.username, at, reason
            defect.status = transition("DEFECT", defect.status, "CLOSE")
        move_unit(unit, "RELEASE", at)
        still_open = db.session.execute(select(func.count()).select_from(Defect).where(
            Defect.unit_id == unit.id, Defect.status == "RECORDED")).scalar_one()
        if still_open:
            move_unit(unit, "DEFECT", at)
        unit.updated_at = at
        uow.session.flush()
        uow.reason = reason
        uow.diff = {"before": {"status": "ON_HOLD"}, "after": {"status": unit.status}}
        uow.payload = {"sn": unit.sn, "defectIds": [d.id for d, _ in held], "openDefects": still_open}
        result = {"defect": defect_to_dict(db.session.get(Defect, defect_id)),
                  "defects": [defect_to_dict(d) for d, _ in held], "unit": unit_to_dict(unit)}
    return result


# ---------------------------------------------------------------------------------------------
# Rework tasks
# ---------------------------------------------------------------------------------------------

def complete_rework_task(*, actor: Actor, task_id: int, remark: str | None = None) -> ReworkTask:
    """`POST /rework-tasks/{id}/complete` (`quality:disposition`) `{remark?}`: close an OPEN task by hand
    (`REWORK_TASK_NOT_OPEN` otherwise); the defects it reworked are CLOSED."""
    require_permission(actor, "quality:disposition")
    with unit_of_work(actor, "REWORK_TASK_COMPLETE", "REWORK_TASK", str(task_id)) as uow:
        row = db.session.execute(select(ReworkTask.unit_id, Run.line_id).join(Unit, Unit.id == ReworkTask.unit_id)
                                 .join(Run, Run.id == Unit.run_id).where(ReworkTask.id == task_id)).first()
        if row is None:
            raise DomainError("REWORK_TASK_NOT_FOUND", M("No rework task {id}.", id=task_id), {"taskId": task_id})
        require_line(actor, row.line_id)
        _unit_for_update(uow, row.unit_id)
        task = _fresh(uow, select(ReworkTask).where(ReworkTask.id == task_id)).scalar_one()
        if task.status != "OPEN":
            raise DomainError("REWORK_TASK_NOT_OPEN", M("Rework task {id} is {status}.", id=task_id, status=term(task.status)), {"status": task.status})
        remark = (remark or "").strip() or None
        task.status = transition("REWORK_TASK", task.status, "DONE")
        task.done_by, task.done_at, task.remark = actor.username, now(), remark
        closed = _close_reworked_defects(uow, task.unit_id)
        uow.session.flush()
        uow.reason = remark
        uow.diff = {"before": {"status": "OPEN"}, "after": {"status": "DONE"}}
        uow.payload = {"sn": db.session.get(Unit, task.unit_id).sn, "closedDefectIds": closed}
    return task


_OPEN_TASKS = select(ReworkTask.__table__.c.id, ReworkTask.__table__.c.from_step_no).where(
    ReworkTask.__table__.c.unit_id == bindparam("unit_id"), ReworkTask.__table__.c.status == "OPEN")


def close_rework_tasks(uow: UnitOfWork, scan) -> None:
    """TrackOut hook (02_rules §4 step 5): a PASS at or beyond an open rework task's from-step closes
    the task. One indexed read per PASS of a unit that was ever reworked (ix_rework_task_unit_status): a
    rework task is only created with the unit's rework_count raised (`dispose`)."""
    if scan.result != "PASS" or not scan.unit.rework_count:
        return
    rows = uow.execute(_OPEN_TASKS, {"unit_id": scan.unit.id}).all()
    due = [task_id for task_id, from_step in rows if scan.step.step_no >= from_step]
    if not due:
        return
    at = now()
    for task_id in due:
        task = db.session.get(ReworkTask, task_id)
        task.status = transition("REWORK_TASK", task.status, "DONE")
        task.done_by, task.done_at = scan.actor.username, at
        task.remark = f"Closed by PASS at step {scan.step.step_no} ({scan.station.code})."
        uow.audit("REWORK_TASK_DONE", "REWORK_TASK", str(task_id), reason=task.remark,
                  payload={"sn": scan.unit.sn, "fromStepNo": task.from_step_no, "stepNo": scan.step.step_no})
    _close_reworked_defects(uow, scan.unit.id)
    uow.session.flush()


# ---------------------------------------------------------------------------------------------
# Reading: lists, the defect queue, trace
# ---------------------------------------------------------------------------------------------

def unit_to_dict(unit: Unit) -> dict[str, Any]:
    return {"sn": unit.sn, "status": unit.status, "currentStepNo": unit.current_step_no,
            "reworkCount": unit.rework_count, "runNo": db.session.get(Run, unit.run_id).run_no}


def disposition_to_dict(row: Optional[Disposition]) -> Optional[dict[str, Any]]:
    if row is None:
        return None
    return {"id": row.id, "type": row.type, "reason": row.reason, "toStepNo": row.to_step_no,
            "decidedBy": row.decided_by, "decidedAt": _iso(row.decided_at), "releasedBy": row.released_by,
            "releasedAt": _iso(row.released_at), "releaseReason": row.release_reason}


def rework_task_to_dict(task: Optional[ReworkTask], sn: str | None = None) -> Optional[dict[str, Any]]:
    if task is None:
        return None
    return {"id": task.id, "sn": sn or db.session.get(Unit, task.unit_id).sn, "dispositionId": task.disposition_id,
            "fromStepNo": task.from_step_no, "toStepNo": task.to_step_no, "status": task.status,
            "createdAt": _iso(task.created_at), "doneBy": task.done_by, "doneAt": _iso(task.done_at),
            "remark": task.remark}


def _dispositions(defect_ids: list[int]) -> dict[int, Disposition]:
    if not defect_ids:
        return {}
    rows = db.session.execute(select(Disposition).where(Disposition.defect_id.in_(defect_ids))).scalars()
    return {r.defect_id: r for r in rows}


def _tasks_by_disposition(disposition_ids: list[int]) -> dict[int, ReworkTask]:
    if not disposition_ids:
        return {}
    rows = db.session.execute(select(ReworkTask).where(ReworkTask.disposition_id.in_(disposition_ids))).scalars()
    return {r.disposition_id: r for r in rows}


def defect_to_dict(defect: Defect, *, sn: str | None = None, run_no: str | None = None,
                   disposition_row: Any = False, task: Any = False) -> dict[str, Any]:
    if sn is None or run_no is None:
        sn, run_no = db.session.execute(select(Unit.sn, Run.run_no).join(Run, Run.id == Unit.run_id)
                                        .where(Unit.id == defect.unit_id)).one()
    if disposition_row is False:
        disposition_row = _dispositions([defect.id]).get(defect.id)
    if task is False:
        task = _tasks_by_disposition([disposition_row.id]).get(disposition_row.id) if disposition_row else None
    return {"id": defect.id, "sn": sn, "runNo": run_no, "stepNo": defect.step_no, "code": defect.code,
            "location": defect.location, "description": defect.description, "qty": defect.qty,
            "status": defect.status, "source": defect.source, "trackId": defect.track_id,
            "recordedAt": _iso(defect.created_at), "disposition": disposition_to_dict(disposition_row),
            "reworkTask": rework_task_to_dict(task, sn) if task else None}


def _many_to_dicts(rows) -> list[dict[str, Any]]:
    defects = [r[0] for r in rows]
    dispositions = _dispositions([d.id for d in defects])
    tasks = _tasks_by_disposition([r.id for r in dispositions.values()])
    out = []
    for defect, sn, run_no in rows:
        row = dispositions.get(defect.id)
        out.append(defect_to_dict(defect, sn=sn, run_no=run_no, disposition_row=row,
                                  task=tasks.get(row.id) if row else None))
    return out


def _may_read(actor: Actor) -> None:
    if not (actor.can("quality:disposition") or actor.can("run:read")):
        raise DomainError("FORBIDDEN", M("You do not have the permission quality:disposition or run:read."))


def list_defects(*, actor: Actor, status: str | None = None, run_no: str | None = None, sn: str | None = None,
                 page: int = 1, page_size: int = 50) -> tuple[list[dict[str, Any]], int]:
    """`GET /defects` (`quality:disposition` or `run:read`): defects of the actor's lines, newest first."""
    _may_read(actor)
    stmt = (select(Defect, Unit.sn, Run.run_no).join(Unit, Unit.id == Defect.unit_id).join(Run, Run.id == Unit.run_id)
            .where(line_filter(actor, Run.line_id)))
    if status:
        if status.upper() not in DEFECT_STATUSES:
            raise DomainError("VALIDATION_ERROR", M("Unknown defect status."), {"fields": {"status": list(DEFECT_STATUSES)}})
        stmt = stmt.where(Defect.status == status.upper())
    if run_no:
        stmt = stmt.where(Run.run_no == run_no)
    if sn:
        stmt = stmt.where(Unit.sn == sn)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(Defect.id.desc()).limit(page_size).offset((page - 1) * page_size)).all()
    return _many_to_dicts(rows), total


NEXT_ACTIONS = {
    "OUT_FAILED": ("DISPOSITION", "Decide REWORK, SCRAP or HOLD."),
    "ON_HOLD": ("RELEASE", "Release the hold when the unit may continue (or keep it held)."),
    "DONE": ("OQC_MRB", "The unit finished its route: the run's OQC/MRB decides."),
    "QUEUED": ("NONE", "The unit continues; its open defect waits for the next decision."),
    "IN_STATION": ("TRACK_OUT", "The unit is tracked in: its TrackOut is decided at the station."),
}


QUEUE_SORTING = Sorting({  # the queue's entries (one per board), sorted in memory
    "since": lambda e: e["since"], "sn": lambda e: e["sn"], "runNo": lambda e: e["runNo"],
    "lineCode": lambda e: e["lineCode"], "unitStatus": lambda e: e["unitStatus"],
    "currentStepNo": lambda e: e["currentStepNo"], "reworkCount": lambda e: e["reworkCount"],
    "nextAction": lambda e: e["nextAction"],
})


def defect_queue(*, actor: Actor, line_code: str | None = None, run_no: str | None = None, sort: str | None = None,
                 order: str | None = None) -> list[dict[str, Any]]:
    """The work list of the Defects & Disposition screen (`quality:disposition` or `run:read`): every unit
    of the actor's lines with open defects (RECORDED) or a hold to release, oldest first (or by the column
    `sort` names: QUEUE_SORTING; VALIDATION_ERROR for another), with what to do next, the failure step and
    the steps a rework may go back to; each defect with when, at which station and by whom it was recorded."""
    _may_read(actor)
    resolved = QUEUE_SORTING.resolve(sort, order)
    held = (Defect.status == "DISPOSITIONED") & (Unit.status == "ON_HOLD") & (Disposition.type == "HOLD") \
        & Disposition.released_at.is_(None)
    stmt = (select(Defect, Unit.sn, Run.run_no).join(Unit, Unit.id == Defect.unit_id).join(Run, Run.id == Unit.run_id)
            .outerjoin(Disposition, Disposition.defect_id == Defect.id)
            .where(line_filter(actor, Run.line_id), (Defect.status == "RECORDED") | held))
    if line_code:
        stmt = stmt.join(Line, Line.id == Run.line_id).where(Line.code == line_code)
    if run_no:
        stmt = stmt.where(Run.run_no == run_no)
    rows = db.session.execute(stmt.order_by(Defect.id)).all()
    dicts = _many_to_dicts(rows)
    where_by = _recorded_where_and_by([r[0] for r in rows], {r[0].unit_id: r[1] for r in rows})
    for data in dicts:
        data["stationCode"], data["recordedBy"] = where_by.get(data["id"], (None, None))
    limit = rework_limit()
    units: dict[int, dict[str, Any]] = {}
    for (defect, sn, run_no_), data in zip(rows, dicts, strict=True):
        entry = units.get(defect.unit_id)
        if entry is None:
            unit = db.session.get(Unit, defect.unit_id)
            run = db.session.get(Run, unit.run_id)
            action, hint = NEXT_ACTIONS.get(unit.status, ("NONE", ""))
            entry = units[defect.unit_id] = {
                "sn": sn, "runNo": run_no_, "lineCode": db.session.get(Line, run.line_id).code,
                "unitStatus": unit.status, "currentStepNo": unit.current_step_no, "reworkCount": unit.rework_count,
                "reworkLimit": limit, "nextAction": action, "hint": hint, "since": data["recordedAt"],
                "defects": [], "_unit": unit, "_plan": plan_for(run.route_version_id)}
        entry["defects"].append(data)
    out = []
    for entry in units.values():
        unit, plan = entry.pop("_unit"), entry.pop("_plan")
        open_defects = [d for d in entry["defects"] if d["status"] == "RECORDED"]
        failed_at = min([d["stepNo"] for d in open_defects if d["stepNo"] is not None] or [unit.current_step_no])
        entry["failureStepNo"] = failed_at
        entry["reworkStepNos"] = [s.step_no for s in plan.steps if s.step_no <= failed_at] \
            if entry["nextAction"] == "DISPOSITION" else []
        out.append(entry)
    return QUEUE_SORTING.sort_rows(out, resolved)


def _recorded_where_and_by(defects: list[Defect], sns: dict[int, str]) -> dict[int, tuple[Optional[str], Optional[str]]]:
    """At which station and by whom each defect was recorded: a station FAIL — the station and the
    operator of its track; an SPI/AOI FAIL — the machine's station and the system (or the user who
    entered the result by hand); a defect found by hand — no station, the user of its DEFECT_RECORD
    event. A handful of queries for the whole queue."""
    out: dict[int, tuple[Optional[str], Optional[str]]] = {}
    track_ids = {d.track_id for d in defects if d.track_id is not None}
    tracks = {t.id: (t.code, t.operator) for t in db.session.execute(
        select(Track.id, Station.code, Track.operator).join(Station, Station.id == Track.station_id)
        .where(Track.id.in_(track_ids)))} if track_ids else {}
    auto_units = {d.unit_id for d in defects if d.source == "AUTO"}
    machine: dict[tuple[int, int], tuple[str, str]] = {}
    if auto_units:
        for r in db.session.execute(
                select(InspectionResult.unit_id, InspectionResult.step_no, InspectionResult.type,
                       InspectionResult.operator, Station.code).join(Station, Station.id == InspectionResult.station_id)
                .where(InspectionResult.unit_id.in_(auto_units), InspectionResult.result == "FAIL")
                .order_by(InspectionResult.id)):
            machine[(r.unit_id, r.step_no)] = (r.code, r.operator or r.type)
    by_hand = {d.id for d in defects if d.track_id is None and d.source == "MANUAL"}
    recorders: dict[int, str] = {}
    if by_hand:
        for username, payload in db.session.execute(
                select(AuditEvent.actor_username, AuditEvent.payload).where(
                    AuditEvent.action == "DEFECT_RECORD", AuditEvent.status == "SUCCESS",
                    AuditEvent.entity_type == "UNIT", AuditEvent.entity_key.in_(set(sns.values())))):
            defect_id = (payload or {}).get("defectId")
            if defect_id in by_hand:
                recorders[defect_id] = username
    for d in defects:
        station, by = tracks.get(d.track_id, (None, None))
        if d.source == "AUTO":
            station_m, by_m = machine.get((d.unit_id, d.step_no), (None, None))
            station, by = station or station_m, by_m or by
        elif d.id in recorders:
            by = recorders[d.id]
        out[d.id] = (station, by)
    return out


def list_rework_tasks(*, actor: Actor, status: str | None = None, run_no: str | None = None,
                      sn: str | None = None) -> list[dict[str, Any]]:
    """`GET /rework-tasks` (`quality:disposition` or `run:read`), newest first."""
    _may_read(actor)
    stmt = (select(ReworkTask, Unit.sn).join(Unit, Unit.id == ReworkTask.unit_id).join(Run, Run.id == Unit.run_id)
            .where(line_filter(actor, Run.line_id)))
    if status:
        if status.upper() not in REWORK_TASK_STATUSES:
            raise DomainError("VALIDATION_ERROR", M("Unknown rework task status."),
                              {"fields": {"status": list(REWORK_TASK_STATUSES)}})
        stmt = stmt.where(ReworkTask.status == status.upper())
    if run_no:
        stmt = stmt.where(Run.run_no == run_no)
    if sn:
        stmt = stmt.where(Unit.sn == sn)
    return [rework_task_to_dict(task, unit_sn) for task, unit_sn in
            db.session.execute(stmt.order_by(ReworkTask.id.desc()).limit(500)).all()]


def get_rework_task(task_id: int) -> ReworkTask:
    task = db.session.get(ReworkTask, task_id)
    if task is None:
        raise DomainError("REWORK_TASK_NOT_FOUND", M("No rework task {id}.", id=task_id), {"taskId": task_id})
    return task


def trace_dispositions(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: each defect with its disposition and rework task, and the unit's rework tasks."""
    ids = [d["id"] for d in trace.get("defects", [])]
    dispositions = _dispositions(ids)
    tasks = _tasks_by_disposition([r.id for r in dispositions.values()])
    sn = trace["unit"]["sn"]
    for entry in trace.get("defects", []):
        row = dispositions.get(entry["id"])
        entry["disposition"] = disposition_to_dict(row)
        entry["reworkTask"] = rework_task_to_dict(tasks.get(row.id), sn) if row and row.id in tasks else None
    trace["reworkTasks"] = [rework_task_to_dict(t, sn) for t in db.session.execute(
        select(ReworkTask).where(ReworkTask.unit_id == context["unitId"]).order_by(ReworkTask.id)).scalars()]
