"""MRB decisions on held runs (spec 02_rules §9; Run and Unit machines of 01_domain_model §7).

A run whose OQC failed is ON_HOLD until the material review board decides:
- RELEASE → the run COMPLETED as built;
- SCRAP → the run SCRAPPED and every unit of it SCRAPPED (the work order may then plan replacements);
- REWORK → the run CLOSED_REWORK and a rework run `{parent}-RW{k}` on the same work order, line and
  route version, planned for exactly the units moved (not counted in the work order quantity): the
  parent's DONE units move to it, QUEUED at `reworkFromStepNo` (SCRAPPED units stay with the parent).
  REUSE_PREP starts it AUTHORIZED on the parent's readiness and loading (genealogy reads the parent's
  reels); FULL_PREP starts it PREP — readiness, loading where it re-enters a placement step, and the
  FAI again unless the MRB waived it (with a reason).

Each decision is its own record (MrbDecision), shown in the unit trace (`trace_mrb`), and closes the
defects recorded on the units it decides (they were waiting for this decision).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import Defect, Inspection, MrbDecision, Run, Unit
from ...models.quality import MRB_DECISIONS, REWORK_TYPES
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform import signatures
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.scope import in_line_scope, require_line, require_permission
from ..platform.states import is_terminal, transition
from ..platform.uow import unit_of_work
from ..production.units import move as move_unit
from ..production.runs import create_rework_run, get_run, read_run, run_created
from .oqc import latest_oqc

MIN_REASON = 4


@dataclass
class MrbRequest:
    decision: str
    reason: str
    rework_type: Optional[str] = None
    rework_from_step_no: Optional[int] = None
    fai_waiver: bool = False
    fai_waiver_reason: Optional[str] = None


@dataclass
class MrbResult:
    run: Run
    decision: Optional[MrbDecision]
    rework_run: Optional[Run]
    idempotent: bool = False


def latest_decision(run_id: int) -> Optional[MrbDecision]:
    return db.session.execute(select(MrbDecision).where(MrbDecision.run_id == run_id)
                              .order_by(MrbDecision.id.desc()).limit(1)).scalar_one_or_none()


def _check(request: MrbRequest, run: Run) -> Inspection:
    """The rules after the run is known to be ON_HOLD, in the order of 02_rules §9."""
    oqc = latest_oqc(run.id)
    if oqc is None or oqc.status != "FAIL":
        message = (M("Run {run}'s latest OQC is {status} ({inspection}): the MRB decides on a failed OQC.",
                     run=run.run_no, status=term(oqc.status), inspection=oqc.number) if oqc else
                   M("Run {run}'s latest OQC is missing: the MRB decides on a failed OQC.", run=run.run_no))
        raise DomainError("NO_FAILED_OQC", message, {"inspectionId": oqc.id if oqc else None,
                                          "status": oqc.status if oqc else None})
    if request.decision == "REWORK":
        if not request.rework_type:
            raise DomainError("REWORK_TYPE_REQUIRED", M("Choose REUSE_PREP (same preparation, starts authorized) or "
                                                        "FULL_PREP (readiness, loading and FAI again)."), {"fields": {"reworkType": "required"}})
        plan = plan_for(run.route_version_id)
        if request.rework_from_step_no is None or plan.step(request.rework_from_step_no) is None:
            raise DomainError("REWORK_STEP_INVALID", M("Step {step} is not a step of the run's route ({steps}).",
                                                       step=request.rework_from_step_no,
                                                       steps=join(s.step_no for s in plan.steps)),
                              {"stepNos": [s.step_no for s in plan.steps],
                               "suggested": suggested_rework_step(run)})
    if request.fai_waiver:
        if request.decision != "REWORK" or request.rework_type != "FULL_PREP":
            raise DomainError("FAI_WAIVER_NOT_ALLOWED", M("An FAI waiver is only for a REWORK with FULL_PREP (a "
                                                          "REUSE_PREP rework run starts authorized anyway)."))
        if not (request.fai_waiver_reason or "").strip():
            raise DomainError("FAI_WAIVER_REASON_REQUIRED", M("Say why the rework run needs no new FAI."),
                              {"fields": {"faiWaiverReason": "required"}})
    return oqc


def may_decide(run: Run, actor: Actor) -> bool:
    """Does the MRB card offer `actor` the decision form: a held run of their lines and `quality:mrb`
    (the decision's own rules answer on submit)."""
    return (run.status == "ON_HOLD" and actor.can("quality:mrb")
            and in_line_scope(actor, run.line_id))


def suggested_rework_step(run: Run) -> Optional[int]:
    """What the console proposes as the re-entry step: the last key-quality step (AOI on SMT)."""
    plan = plan_for(run.route_version_id)
    key = [s.step_no for s in plan.steps if s.is_key_quality]
    return key[-1] if key else plan.steps[-1].step_no


def decide(*, actor: Actor, run_no: str, request: MrbRequest, password: Any = None) -> MrbResult:
    """`POST /runs/{runNo}/mrb-decision` (`quality:mrb`): reason ≥ 4 characters → a terminal run is
    an idempotent success → run ON_HOLD → latest OQC FAIL → REWORK: rework type and a step of the
    snapshot → FAI waiver only for REWORK with FULL_PREP, with a reason. The decision is an electronic
    signature ("MRB: release" …): the signer re-enters their `password`."""
    require_permission(actor, "quality:mrb")
    if request.decision not in MRB_DECISIONS:  # the API's schema says so first (422)
        raise DomainError("VALIDATION_ERROR", M("decision must be one of {values}.", values=join(MRB_DECISIONS)),
                          {"fields": {"decision": list(MRB_DECISIONS)}})
    if request.rework_type is not None and request.rework_type not in REWORK_TYPES:
        raise DomainError("VALIDATION_ERROR", M("reworkType must be one of {values}.", values=join(REWORK_TYPES)),
                          {"fields": {"reworkType": list(REWORK_TYPES)}})
    reason = (request.reason or "").strip()
    require_line(actor, get_run(run_no).line_id)  # scope first: a wrong password on another line's run counts for nothing
    signer = signatures.verify(actor, password, action="MRB_DECISION", entity=("RUN", run_no))
    with unit_of_work(actor, "MRB_DECISION", "RUN", run_no, reason=reason or None,
                      payload={"decision": request.decision}) as uow:
        run = get_run(run_no, uow=uow)
        require_line(actor, run.line_id)
        if len(reason) < MIN_REASON:
            raise DomainError("REASON_TOO_SHORT", M("The reason must have at least {min} characters.", min=MIN_REASON),
                              {"fields": {"reason": f"at least {MIN_REASON} characters"}})
        if is_terminal("RUN", run.status):
            uow.nothing_changed()
            previous = latest_decision(run.id)
            rework = db.session.get(Run, previous.rework_run_id) if previous and previous.rework_run_id else None
            return MrbResult(run, previous, rework, idempotent=True)
        if run.status != "ON_HOLD":
            raise DomainError("RUN_NOT_ON_HOLD", M("Run {run} is {status}: the MRB decides on held runs "
                                                   "(a failed OQC puts the run ON_HOLD).", run=run_no,
                                                   status=term(run.status)), {"status": run.status})
        oqc = _check(request, run)
        units = list(db.session.execute(uow.lock(select(Unit).where(Unit.run_id == run.id).order_by(Unit.id)))
                     .scalars())
        done = [u for u in units if u.status == "DONE"]
        at = now()
        record = MrbDecision(run_id=run.id, inspection_id=oqc.id, decision=request.decision, reason=reason,
                             decided_by=actor.username, decided_at=at)
        rework: Optional[Run] = None
        before = run.status
        if request.decision == "RELEASE":
            run.status = transition("RUN", run.status, "MRB_RELEASE")
        elif request.decision == "SCRAP":
            run.status = transition("RUN", run.status, "MRB_SCRAP")
            for unit in done:
                move_unit(unit, "MRB_SCRAP")
                uow.audit("UNIT_MRB_SCRAP", "UNIT", unit.sn, diff={"before": {"status": "DONE"},
                                                                    "after": {"status": unit.status}},
                          payload={"runNo": run_no})
        else:
            run.status = transition("RUN", run.status, "MRB_REWORK")
            rework = _rework_run(uow, run, request, done, actor)
            record.rework_type = request.rework_type
            record.rework_from_step_no = request.rework_from_step_no
            record.rework_run_id = rework.id
            if request.fai_waiver:
                record.fai_waiver, record.fai_waiver_reason = True, request.fai_waiver_reason.strip()
        run.ended_at = at
        _close_defects(uow, done)
        uow.session.add(record)
        uow.session.flush()
        uow.action = f"MRB_{request.decision}"
        uow.diff = {"before": {"status": before}, "after": {"status": run.status}}
        uow.payload = {"decision": request.decision, "mrbDecisionId": record.id, "oqcId": oqc.id,
                       "units": len(done), "reworkRunNo": rework.run_no if rework else None,
                       "reworkType": record.rework_type, "reworkFromStepNo": record.rework_from_step_no,
                       "faiWaiver": record.fai_waiver}
        signatures.record(uow, signer, meaning=f"MRB: {request.decision.lower()}"
                          + (f" ({record.rework_type}, FAI waived)" if record.fai_waiver else ""),
                          entity=("MRB_DECISION", str(record.id)), run=run, remark=reason)
    if rework is not None:
        run_created(rework, actor)  # as for any new run: the advisory readiness precheck of a PREP run
    return MrbResult(run, record, rework)


def _rework_run(uow, parent: Run, request: MrbRequest, done: list[Unit], actor: Actor) -> Run:
    """The rework run (services/production/runs.py) takes the parent's DONE units, QUEUED at the
    re-entry step."""
    rework = create_rework_run(uow, parent, plan_qty=len(done), rework_type=request.rework_type, actor=actor,
                               fai_waiver_reason=request.fai_waiver_reason.strip() if request.fai_waiver else None)
    for unit in done:
        move_unit(unit, "MRB_REWORK")
        before_step = unit.current_step_no
        unit.run_id, unit.current_step_no = rework.id, request.rework_from_step_no
        uow.audit("UNIT_MRB_REWORK", "UNIT", unit.sn,
                  diff={"before": {"status": "DONE", "runNo": parent.run_no, "stepNo": before_step},
                        "after": {"status": unit.status, "runNo": rework.run_no, "stepNo": unit.current_step_no}})
    uow.audit("RUN_CREATE", "RUN", rework.run_no,
              diff={"after": {"runNo": rework.run_no, "parentRunNo": parent.run_no, "status": rework.status,
                              "planQty": rework.plan_qty, "reworkType": rework.rework_type,
                              "reworkFromStepNo": request.rework_from_step_no, "faiWaived": rework.fai_waived}},
              reason=rework.fai_waiver_reason)
    return rework


def _close_defects(uow, units: list[Unit]) -> None:
    """Defects recorded on the decided DONE units (OQC FAIL items, late SPI/AOI fails) waited for this
    decision: it closes them."""
    if not units:
        return
    for defect in db.session.execute(select(Defect).where(Defect.unit_id.in_([u.id for u in units]),
                                                          Defect.status == "RECORDED")).scalars():
        defect.status = transition("DEFECT", defect.status, "CLOSE")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def decision_to_dict(record: MrbDecision) -> dict[str, Any]:
    numbers = dict(db.session.execute(select(Run.id, Run.run_no).where(
        Run.id.in_([x for x in (record.run_id, record.rework_run_id) if x is not None]))).all())
    return {"id": record.id, "runNo": numbers.get(record.run_id), "inspectionId": record.inspection_id,
            "decision": record.decision, "reason": record.reason, "reworkType": record.rework_type,
            "reworkFromStepNo": record.rework_from_step_no, "faiWaiver": record.fai_waiver,
            "faiWaiverReason": record.fai_waiver_reason, "decidedBy": record.decided_by,
            "decidedAt": record.decided_at.isoformat() if record.decided_at else None,
            "reworkRunNo": numbers.get(record.rework_run_id),
            "signatures": signatures.signatures_of("MRB_DECISION", [str(record.id)]).get(str(record.id), [])}


def decisions_for_run(*, actor: Actor, run_no: str) -> list[dict[str, Any]]:
    run = read_run(actor=actor, run_no=run_no)
    rows = db.session.execute(select(MrbDecision).where(MrbDecision.run_id == run.id)
                              .order_by(MrbDecision.id)).scalars()
    return [decision_to_dict(r) for r in rows]


def _lineage(run_id: int) -> list[int]:
    """The run and its ancestors (a unit moved by REWORK was decided on its parent run)."""
    out, current = [], run_id
    while current is not None and current not in out:
        out.append(current)
        current = db.session.execute(select(Run.parent_run_id).where(Run.id == current)).scalar_one_or_none()
    return out


def trace_run_mrb(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Run trace: the MRB decisions taken on the run."""
    rows = db.session.execute(select(MrbDecision).where(MrbDecision.run_id == context["runId"])
                              .order_by(MrbDecision.decided_at, MrbDecision.id)).scalars()
    trace["mrbDecisions"] = [decision_to_dict(r) for r in rows]


def trace_mrb(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: the MRB decisions of the unit's run and of the runs it was reworked from."""
    rows = db.session.execute(select(MrbDecision).where(MrbDecision.run_id.in_(_lineage(context["runId"])))
                              .order_by(MrbDecision.decided_at, MrbDecision.id)).scalars()
    trace["mrbDecisions"] = [decision_to_dict(r) for r in rows]
