"""Line readiness (spec 02_rules §5): the pre-production gate of a run.

- Two kinds: PRECHECK (advisory; on run creation and on demand) and FORMAL (`readiness:check`, the
  gate). Both evaluate the same items: ROUTE, EQUIPMENT, MATERIAL, STENCIL, SOLDER_PASTE, LOADING,
  as enabled on the line. Every FAILED item carries a fail code, a reason and its evidence, including
  the source (AUTO/MANUAL) and the operator of the data it used.
- A check is an observation: it is saved in its own transaction, even when the operation that
  triggered it then fails (authorize refused by the gate).
- A FORMAL check is current until one of its inputs changes: the check stores a fingerprint of
  everything it read (and of the item outcomes, so a paste expiring counts as a change); authorize,
  FAI creation and the FAI trial use the current FORMAL check and run a new one when there is none.
- Waive (`readiness:waive`) with a reason; ROUTE cannot be waived; the check becomes PASSED when no
  FAILED item remains. A waiver carries over to later checks of the same run while the same item
  (type + key) still fails with the same code.
- Both act on a run in PREP only (the gate is for authorizing it; `INVALID_RUN_STATUS`), and only an
  item of the run's latest FORMAL check is waived (`READINESS_ITEM_NOT_CURRENT`: a PRECHECK is
  advisory, an older check is history). `actions` tells the console what to offer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, select

from ...extensions import db
from ...models import (
    BomItem, Equipment, EquipmentStatusEvent, FeederSlot, Line, LineSolderPaste, LineStencil, LoadingRecord,
    Material, MaterialLot, MrbDecision, Product, ReadinessCheck, ReadinessItem, Run, RunSlotExpectation, SolderPasteStatus,
    Station, StationGroup, StencilStatus, Unit, WorkOrder,
)
from ..engineering.route_plans import RoutePlan, plan_for
from ..platform import signatures
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, Message, join, join_messages, term
from ..platform.inputs import latest_credible_time
from ..platform.scope import in_line_scope, require_line, require_permission
from ..platform.states import transition
from ..platform.uow import unit_of_work
from ..platform.validation import required_reason
from ..production.runs import get_run, incompatible_steps
from . import msd, paste

WAIVABLE = {"EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE", "LOADING"}
# A FAILED item's reason is stored in English (fail_reason) and, for the reader's language, as its template
# and parameters in the item's evidence under this key (services/platform/messages.py); the API and the
# screens give the reason back as a Message and never show the key itself.
REASON_KEY = "_reason"


def _reason(item: ReadinessItem) -> Optional[str]:
    return Message.from_json((item.evidence or {}).get(REASON_KEY), item.fail_reason)


def _evidence(item: ReadinessItem) -> Any:
    evidence = item.evidence
    return {k: v for k, v in evidence.items() if k != REASON_KEY} if isinstance(evidence, dict) else evidence


@dataclass
class ItemResult:
    item_type: str
    item_key: str
    passed: bool
    fail_code: Optional[str] = None
    fail_reason: Optional[str] = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    items: list[ItemResult]
    inputs: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        outcome = [(i.item_type, i.item_key, i.passed, i.fail_code) for i in self.items]
        blob = json.dumps({"inputs": self.inputs, "outcome": outcome}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The items
# ---------------------------------------------------------------------------------------------

def _latest_stencil_status(stencil_id: str) -> Optional[StencilStatus]:
    """The latest status by event time (01_domain_model §4). An event dated beyond the event window
    (stored before the window was enforced, services/platform/inputs.py) never counts: a 9999-12-31
    READY would otherwise outrank every later real status."""
    return db.session.execute(select(StencilStatus).where(StencilStatus.stencil_id == stencil_id,
                                                          StencilStatus.event_time <= latest_credible_time())
                              .order_by(StencilStatus.event_time.desc(), StencilStatus.id.desc()).limit(1)).scalar_one_or_none()


def _latest_paste_status(lot_no: str) -> Optional[SolderPasteStatus]:
    """As `_latest_stencil_status`."""
    return db.session.execute(select(SolderPasteStatus).where(SolderPasteStatus.lot_no == lot_no,
                                                              SolderPasteStatus.event_time <= latest_credible_time())
                              .order_by(SolderPasteStatus.event_time.desc(), SolderPasteStatus.id.desc())
                              .limit(1)).scalar_one_or_none()


def _status_evidence(record) -> dict[str, Any]:
    if record is None:
        return {"status": None}
    return {"status": record.status, "eventId": record.event_id, "eventTime": record.event_time.isoformat(),
            "source": record.source, "operator": record.operator}


def _route_item(run: Run, plan: RoutePlan, inputs: dict) -> ItemResult:
    bad = incompatible_steps(plan, run.line_id)
    evidence = {"routingCode": plan.routing_code, "versionNo": plan.version_no, "versionStatus": plan.status,
                "incompatibleSteps": bad, "source": "AUTO"}
    inputs["route"] = evidence
    key = f"{plan.routing_code} v{plan.version_no}"
    if plan.status != "READY":
        return ItemResult("ROUTE", key, False, "ROUTE_NOT_READY", M("Version {version} is {status}.",
                                                                    version=plan.version_no, status=term(plan.status)),
                          evidence)
    if bad:
        return ItemResult("ROUTE", key, False, "RUN_LINE_INCOMPATIBLE_WITH_ROUTE",
                          M("No valid active station on the line for step(s) {steps}.", steps=join(bad)), evidence)
    return ItemResult("ROUTE", key, True, evidence=evidence)


def _equipment_item(run: Run, plan: RoutePlan, line: Line, inputs: dict) -> ItemResult:
    rows = db.session.execute(
        select(Station.id, Station.code, Station.station_type, Station.is_active, StationGroup.code,
               Equipment.id, Equipment.code, Equipment.status, Equipment.source, Equipment.status_changed_at)
        .outerjoin(StationGroup, StationGroup.id == Station.group_id)
        .outerjoin(Equipment, (Equipment.station_id == Station.id) & Equipment.is_active.is_(True))
        .where(Station.line_id == line.id)).all()
    operators = {}
    equipment_ids = [r[5] for r in rows if r[5] is not None]
    if equipment_ids:
        latest = db.session.execute(
            select(EquipmentStatusEvent.equipment_id, EquipmentStatusEvent.operator, EquipmentStatusEvent.source)
            .where(EquipmentStatusEvent.equipment_id.in_(equipment_ids))
            .order_by(EquipmentStatusEvent.event_time, EquipmentStatusEvent.id)).all()
        for equipment_id, operator, _source in latest:
            operators[equipment_id] = operator
    steps, missing, warnings = [], [], []
    for step in plan.steps:
        valid = [r for r in rows if r[3] and step.accepts(station_type=r[2], group_code=r[4], station_code=r[1])]
        stations = [{"station": r[1], "equipment": r[6], "status": r[7] or "NORMAL", "source": r[8] or "AUTO",
                     "operator": operators.get(r[5]),
                     "since": r[9].isoformat() if r[9] else None} for r in valid]
        usable = [s for s in stations if s["status"] == "NORMAL"]
        warnings += [f"{s['station']} {s['equipment']} {s['status']}" for s in stations if s["status"] != "NORMAL"]
        if not usable:
            missing.append(step.step_no)
        steps.append({"stepNo": step.step_no, "stations": stations})
    inputs["equipment"] = steps
    evidence = {"steps": steps, "warnings": warnings,
                "source": "MANUAL" if any(s["source"] == "MANUAL" for st in steps for s in st["stations"]) else "AUTO"}
    if missing:
        return ItemResult("EQUIPMENT", line.code, False, "EQUIPMENT_UNAVAILABLE",
                          M("No station with NORMAL equipment for step(s) {steps} ({warnings}).", steps=join(missing),
                            warnings=join(warnings, "; ")) if warnings else
                          M("No station with NORMAL equipment for step(s) {steps}.", steps=join(missing)), evidence)
    return ItemResult("EQUIPMENT", line.code, True, evidence=evidence)


def _material_item(product: Product, inputs: dict) -> ItemResult:
    bom = db.session.execute(select(Material.code, Material.is_active, BomItem.qty_per)
                             .join(BomItem, BomItem.material_id == Material.id)
                             .where(BomItem.product_id == product.id).order_by(Material.code)).all()
    lines = [{"material": code, "active": active, "qtyPer": qty} for code, active, qty in bom]
    inputs["material"] = lines
    evidence = {"bom": lines, "source": "AUTO"}
    if not lines:
        return ItemResult("MATERIAL", product.code, False, "MATERIAL_BOM_MISSING",
                          M("Product {product} has no BOM.", product=product.code), evidence)
    inactive = [ln["material"] for ln in lines if not ln["active"]]
    if inactive:
        return ItemResult("MATERIAL", product.code, False, "MATERIAL_INACTIVE",
                          M("Inactive BOM material(s): {materials}.", materials=join(inactive)), evidence)
    return ItemResult("MATERIAL", product.code, True, evidence=evidence)


def _stencil_item(line: Line, inputs: dict) -> ItemResult:
    binding = db.session.execute(select(LineStencil).where(LineStencil.current_line_id == line.id)).scalar_one_or_none()
    if binding is None:
        inputs["stencil"] = None
        return ItemResult("STENCIL", line.code, False, "STENCIL_NOT_BOUND", M("No stencil is bound to {line}.", line=line.code),
                          {"binding": None, "source": None})
    latest = _latest_stencil_status(binding.stencil_id)
    evidence = {"stencilId": binding.stencil_id, "boundBy": binding.bound_by, "boundAt": binding.bound_at.isoformat(),
                **_status_evidence(latest)}
    inputs["stencil"] = {"binding": binding.id, "status": latest.id if latest else None}
    if latest is None or latest.status != "READY":
        return ItemResult("STENCIL", binding.stencil_id, False, "STENCIL_NOT_READY",
                          M("Stencil {stencil} is {status} ({source}, by {operator}).", stencil=binding.stencil_id,
                            status=term(latest.status), source=latest.source, operator=latest.operator)
                          if latest and latest.operator else
                          M("Stencil {stencil} is {status}.", stencil=binding.stencil_id, status=term(latest.status))
                          if latest else M("Stencil {stencil} is without a status.", stencil=binding.stencil_id),
                          evidence)
    return ItemResult("STENCIL", binding.stencil_id, True, evidence=evidence)


def _paste_item(line: Line, inputs: dict, at: datetime) -> ItemResult:
    binding = db.session.execute(select(LineSolderPaste).where(LineSolderPaste.current_line_id == line.id)).scalar_one_or_none()
    if binding is None:
        inputs["paste"] = None
        return ItemResult("SOLDER_PASTE", line.code, False, "SOLDER_PASTE_NOT_BOUND",
                          M("No solder paste lot is bound to {line}.", line=line.code), {"binding": None, "source": None})
    latest = _latest_paste_status(binding.lot_no)
    evidence = {"lotNo": binding.lot_no, "boundBy": binding.bound_by, "boundAt": binding.bound_at.isoformat(),
                **_status_evidence(latest),
                "expiresAt": latest.expires_at.isoformat() if latest and latest.expires_at else None}
    inputs["paste"] = {"binding": binding.id, "status": latest.id if latest else None}
    if latest is None or latest.status != "COMPLIANT":
        return ItemResult("SOLDER_PASTE", binding.lot_no, False, "SOLDER_PASTE_NOT_COMPLIANT",
                          M("Solder paste {lot} is {status}.", lot=binding.lot_no, status=term(latest.status)) if latest
                          else M("Solder paste {lot} is without a status.", lot=binding.lot_no), evidence)
    if latest.expires_at is not None and latest.expires_at <= at:
        return ItemResult("SOLDER_PASTE", binding.lot_no, False, "SOLDER_PASTE_EXPIRED",
                          M("Solder paste {lot} expired at {at}.", lot=binding.lot_no, at=latest.expires_at.isoformat()),
                          evidence)
    outside, timers = paste.readiness_failure(binding, at)  # the jar's thaw, open and stencil windows
    evidence["timers"] = timers
    inputs["paste"]["times"] = [timers["thawStartedAt"], timers["openedAt"], timers["onStencilAt"]]
    if outside:
        return ItemResult("SOLDER_PASTE", binding.lot_no, False, outside[0], outside[1], evidence)
    return ItemResult("SOLDER_PASTE", binding.lot_no, True, evidence=evidence)


def loading_applies(run: Run, plan: RoutePlan) -> bool:
    """A line with feeder slots needs loading — except a rework run that re-enters no
    material-consuming step (its units skip placement)."""
    has_slots = db.session.execute(select(FeederSlot.id).where(FeederSlot.line_id == run.line_id).limit(1)).first()
    if not has_slots:
        return False
    if run.parent_run_id is not None:
        # the re-entry step the MRB decided: the units' own steps move on as the rework run builds
        # (and would change the readiness fingerprint, staling the FORMAL check mid-FAI)
        reentry = db.session.execute(select(MrbDecision.rework_from_step_no).where(
            MrbDecision.rework_run_id == run.id)).scalar()
        if reentry is None:
            first = db.session.execute(select(func.min(Unit.current_step_no)).where(Unit.run_id == run.id)).scalar()
            reentry = first if first is not None else plan.first.step_no
        return any(s.consumes_material for s in plan.steps if s.step_no >= reentry)
    return True


def _loading_item(run: Run, line: Line, inputs: dict) -> ItemResult:
    rows = db.session.execute(
        select(FeederSlot.slot_code, RunSlotExpectation.status, RunSlotExpectation.loaded_by)
        .join(RunSlotExpectation, RunSlotExpectation.slot_id == FeederSlot.id)
        .where(RunSlotExpectation.run_id == run.id).order_by(FeederSlot.slot_code)).all()
    loaded = db.session.execute(select(func.count(), func.max(LoadingRecord.id)).where(
        LoadingRecord.run_id == run.id)).one()
    slots = [{"slot": code, "status": status, "loadedBy": by} for code, status, by in rows]
    inputs["loading"] = {"slots": slots, "records": list(loaded)}
    evidence = {"slots": slots, "source": "AUTO"}
    if not rows:
        return ItemResult("LOADING", run.run_no, False, "SLOT_TABLE_NOT_LOADED",
                          M("The run's slot table is not loaded yet."), evidence)
    pending = [s["slot"] for s in slots if s["status"] != "LOADED"]
    if pending:
        return ItemResult("LOADING", run.run_no, False, "LOADING_INCOMPLETE",
                          M("Slot(s) not loaded: {slots}.", slots=join(pending)), evidence)
    spent = msd.spent_reels(db.session.execute(
        select(Material, MaterialLot).join(MaterialLot, MaterialLot.material_id == Material.id)
        .join(RunSlotExpectation, RunSlotExpectation.loaded_lot_id == MaterialLot.id)
        .where(RunSlotExpectation.run_id == run.id, RunSlotExpectation.status == "LOADED")).all())
    if spent:  # a moisture-sensitive reel ran out of floor life on the line
        evidence["msdExpired"] = spent
        return ItemResult("LOADING", run.run_no, False, "MSD_FLOOR_LIFE_EXPIRED",
                          M("Floor life spent: {reels} — replace the reel(s).", reels=join(s["reel"] for s in spent)),
                          evidence)
    return ItemResult("LOADING", run.run_no, True, evidence=evidence)


def evaluate(run: Run) -> Evaluation:
    """Evaluate the line's enabled items for a run (reads only)."""
    at = now()
    plan = plan_for(run.route_version_id)
    line = db.session.get(Line, run.line_id)
    product = db.session.execute(select(Product).join(WorkOrder, WorkOrder.product_id == Product.id)
                                 .where(WorkOrder.id == run.work_order_id)).scalar_one()
    enabled = list(line.readiness_checks_enabled or [])
    inputs: dict[str, Any] = {"enabled": enabled}
    items: list[ItemResult] = []
    if "ROUTE" in enabled:
        items.append(_route_item(run, plan, inputs))
    if "EQUIPMENT" in enabled:
        items.append(_equipment_item(run, plan, line, inputs))
    if "MATERIAL" in enabled:
        items.append(_material_item(product, inputs))
    if "STENCIL" in enabled:
        items.append(_stencil_item(line, inputs))
    if "SOLDER_PASTE" in enabled:
        items.append(_paste_item(line, inputs, at))
    if "LOADING" in enabled and loading_applies(run, plan):
        items.append(_loading_item(run, line, inputs))
    return Evaluation(items, inputs)


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

def _previous_waivers(run_id: int) -> dict[tuple[str, str, str], ReadinessItem]:
    """Waivers still in force: a waiver carries over only *while* its item keeps failing the same
    way — a later check that saw the item pass (or fail with another code) ends it."""
    rows = db.session.execute(
        select(ReadinessItem).join(ReadinessCheck, ReadinessCheck.id == ReadinessItem.check_id)
        .where(ReadinessCheck.run_id == run_id)
        .order_by(ReadinessCheck.id, ReadinessItem.id)).scalars().all()
    active: dict[tuple[str, str], ReadinessItem] = {}
    for item in rows:
        key = (item.item_type, item.item_key)
        if item.status == "WAIVED":
            active[key] = item
        elif key in active and (item.status == "PASSED" or item.fail_code != active[key].fail_code):
            del active[key]
    return {(i.item_type, i.item_key, i.fail_code): i for i in active.values()}


def _store(uow, run: Run, kind: str, evaluation: Evaluation, actor: Actor) -> ReadinessCheck:
    waivers = _previous_waivers(run.id)
    check = ReadinessCheck(run_id=run.id, kind=kind, status="PENDING", checked_at=now(),
                           checked_by=actor.username, inputs_hash=evaluation.fingerprint)
    for result in evaluation.items:
        evidence = result.evidence
        if isinstance(result.fail_reason, Message):
            evidence = {**(evidence or {}), REASON_KEY: result.fail_reason.as_json()}
        item = ReadinessItem(item_type=result.item_type, item_key=result.item_key,
                             status="PASSED" if result.passed else "FAILED", fail_code=result.fail_code,
                             fail_reason=result.fail_reason and str(result.fail_reason), evidence=evidence)
        carried = waivers.get((result.item_type, result.item_key, result.fail_code)) if not result.passed else None
        if carried is not None:
            item.status = transition("READINESS_ITEM", item.status, "WAIVE")
            item.waived_by, item.waived_at, item.waive_reason = carried.waived_by, carried.waived_at, carried.waive_reason
        check.items.append(item)
    check.status = check_status(check)
    uow.session.add(check)
    uow.session.flush()
    uow.entity_key = run.run_no
    uow.payload = {"kind": kind, "status": check.status,
                   "failed": [f"{i.item_type}:{i.fail_code}" for i in check.items if i.status == "FAILED"],
                   "waived": [i.item_type for i in check.items if i.status == "WAIVED"]}
    return check


def check_status(check: ReadinessCheck) -> str:
    """PASSED iff no item is FAILED (a WAIVED item counts as passed)."""
    return "FAILED" if any(i.status == "FAILED" for i in check.items) else "PASSED"


def _require_prep(run: Run, action: str) -> None:
    if run.status != "PREP":
        raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}: readiness is {action} while the run is PREP "
                                                  "(before it is authorized).", run=run.run_no,
                                                  status=term(run.status), action=action), {"status": run.status})


def run_check(*, actor: Actor, run_no: str, kind: str = "FORMAL", automatic: bool = False) -> ReadinessCheck:
    """Run and store a readiness check of a PREP run (`readiness:check` unless triggered by the system)
    in its own transaction."""
    if kind not in ("FORMAL", "PRECHECK"):
        raise DomainError("VALIDATION_ERROR", M("kind must be FORMAL or PRECHECK."), {"fields": {"kind": "FORMAL|PRECHECK"}})
    if not automatic:
        require_permission(actor, "readiness:check")
    with unit_of_work(actor, f"READINESS_{kind}", "RUN", run_no) as uow:
        run = get_run(run_no)
        if not automatic:
            require_line(actor, run.line_id)
        _require_prep(run, M("checked"))
        return _store(uow, run, kind, evaluate(run), actor)


def latest_check(run_id: int, kind: str | None = None) -> Optional[ReadinessCheck]:
    stmt = select(ReadinessCheck).where(ReadinessCheck.run_id == run_id)
    if kind:
        stmt = stmt.where(ReadinessCheck.kind == kind)
    return db.session.execute(stmt.order_by(ReadinessCheck.id.desc()).limit(1)).scalar_one_or_none()


def current_formal_check(*, actor: Actor, run_no: str) -> ReadinessCheck:
    """The current FORMAL check of a run: the latest one if its inputs have not changed since, else a
    new one (stored in its own transaction)."""
    run = get_run(run_no)
    latest = latest_check(run.id, "FORMAL")
    if latest is not None and latest.inputs_hash == evaluate(run).fingerprint:
        return latest
    return run_check(actor=actor, run_no=run_no, kind="FORMAL", automatic=True)


def failed_items(check: ReadinessCheck) -> list[dict[str, Any]]:
    return [{"id": i.id, "itemType": i.item_type, "itemKey": i.item_key, "failCode": i.fail_code,
             "reason": _reason(i)} for i in check.items if i.status == "FAILED"]


def require_passed(check: ReadinessCheck, action: str) -> None:
    if check.status != "PASSED":
        items = failed_items(check)
        listed = "; ".join(f"{i['itemType']} {i['failCode']}" for i in items)
        raise DomainError("READINESS_CHECK_FAILED", M("Readiness check failed ({items}): fix the items or have quality "
                                                      "waive them before you {action}.", items=listed,
                                                      action=action), {"checkId": check.id, "items": items})


def _waive_refusal(run: Run, check: ReadinessCheck, item: ReadinessItem,
                   latest: Optional[ReadinessCheck]) -> Optional[DomainError]:
    """Why this item cannot be waived now (None: it can): the codes of 02_rules §5 in its order, then the
    run still PREP and the item on its latest FORMAL check (`latest`)."""
    if item.status != "FAILED":
        return DomainError("ITEM_NOT_FAILED", M("The item is {status}; only a FAILED item can be waived.",
                                                status=term(item.status)))
    if item.item_type not in WAIVABLE:
        return DomainError("ITEM_NOT_WAIVABLE", M("{item} cannot be waived: fix the cause.", item=item.item_type))
    if run.status != "PREP":
        return DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}: readiness items are waived while the run is "
                                                   "PREP (before it is authorized).", run=run.run_no,
                                                   status=term(run.status)), {"status": run.status})
    if check.kind != "FORMAL" or latest is None or latest.id != check.id:
        return DomainError("READINESS_ITEM_NOT_CURRENT",
                           M("The item belongs to a PRECHECK of run {run}: waive it on the run's latest FORMAL check.",
                             run=run.run_no) if check.kind != "FORMAL" else
                           M("The item belongs to an older FORMAL check of run {run}: waive it on the run's latest "
                             "FORMAL check.", run=run.run_no),
                           {"checkId": check.id, "latestFormalCheckId": latest.id if latest else None})
    return None


def waive(*, actor: Actor, item_id: int, reason: str, password: Any = None) -> ReadinessItem:
    """Waive a FAILED item of the run's latest FORMAL check with a reason (`readiness:waive`), on a PREP run.
    A waiver is an electronic signature ("Waiver of STENCIL …"): the signer re-enters their `password`."""
    require_permission(actor, "readiness:waive")
    scoped = db.session.get(ReadinessItem, item_id)
    if scoped is not None:  # scope before the password is checked (an unknown item is refused below)
        require_line(actor, db.session.get(Run, scoped.check.run_id).line_id)
    signer = signatures.verify(actor, password, action="READINESS_WAIVE", entity=("READINESS_ITEM", str(item_id)))
    with unit_of_work(actor, "READINESS_WAIVE", "READINESS_ITEM", str(item_id), reason=reason) as uow:
        item = db.session.execute(uow.lock(select(ReadinessItem).where(ReadinessItem.id == item_id))).scalar_one_or_none()
        if item is None:
            raise DomainError("READINESS_ITEM_NOT_FOUND", M("No readiness item {id}.", id=item_id))
        check = item.check
        run = db.session.get(Run, check.run_id)
        require_line(actor, run.line_id)
        reason = required_reason(reason, M("waiving the item"))
        refusal = _waive_refusal(run, check, item, latest_check(run.id, "FORMAL"))
        if refusal is not None:
            raise refusal
        item.status = transition("READINESS_ITEM", item.status, "WAIVE")
        at = now()
        item.waived_by, item.waived_at, item.waive_reason = actor.username, at, reason
        before = check.status
        check.status = check_status(check)
        uow.entity_type, uow.entity_key = "RUN", run.run_no
        uow.diff = {"before": {"item": f"{item.item_type} FAILED", "check": before},
                    "after": {"item": f"{item.item_type} WAIVED", "check": check.status}}
        signatures.record(uow, signer, meaning=f"Waiver of {item.item_type} {item.item_key}".strip(),
                          entity=("READINESS_ITEM", str(item.id)), run=run, remark=reason, at=at)
    return item


@dataclass(frozen=True)
class ReadinessActions:
    """What the console offers on a run's readiness card: exactly what the services would accept."""
    can_check: bool
    waivable_item_ids: frozenset[int]


def actions(run: Run, actor: Actor, check: Optional[ReadinessCheck]) -> ReadinessActions:
    """The readiness actions `actor` may take on `run` now (`check`: the check shown, FORMAL or PRECHECK)."""
    in_scope = in_line_scope(actor, run.line_id)
    can_check = in_scope and actor.can("readiness:check") and run.status == "PREP"
    waivable: frozenset[int] = frozenset()
    if in_scope and actor.can("readiness:waive") and check is not None and check.kind == "FORMAL":
        latest = latest_check(run.id, "FORMAL")
        waivable = frozenset(i.id for i in check.items if _waive_refusal(run, check, i, latest) is None)
    return ReadinessActions(can_check, waivable)


def _waiver_signatures(run_id: int) -> dict[str, list[dict[str, Any]]]:
    """The signatures of a run's waivers by the waiver's time: a waiver carried over to a later check
    keeps the time, so it finds the signature given on the item first waived."""
    out: dict[str, list[dict[str, Any]]] = {}
    for signature in signatures.signatures_of_run(run_id, "READINESS_ITEM"):
        out.setdefault(signature["signedAt"], []).append(signature)
    return out


def check_to_dict(check: ReadinessCheck) -> dict[str, Any]:
    signed = _waiver_signatures(check.run_id) if any(i.status == "WAIVED" for i in check.items) else {}
    items = [{"id": i.id, "itemType": i.item_type, "itemKey": i.item_key, "status": i.status,
              "failCode": i.fail_code, "failReason": _reason(i), "evidence": _evidence(i),
              "waivedBy": i.waived_by, "waivedAt": i.waived_at.isoformat() if i.waived_at else None,
              "waiveReason": i.waive_reason,
              "signatures": signed.get(i.waived_at.isoformat(), []) if i.waived_at else []} for i in check.items]
    summary = {s: sum(1 for i in check.items if i.status == s) for s in ("PASSED", "FAILED", "WAIVED")}
    return {"id": check.id, "kind": check.kind, "status": check.status, "checkedAt": check.checked_at.isoformat(),
            "checkedBy": check.checked_by, "items": items, "summary": summary}


# ---------------------------------------------------------------------------------------------
# Hooks into runs (PRECHECK at creation, the authorize gate) and unit trace
# ---------------------------------------------------------------------------------------------

def precheck_on_run_created(run: Run, actor: Actor) -> None:
    """Advisory PRECHECK right after a PREP run is created (its own transaction); a rework run born
    AUTHORIZED (REUSE_PREP) runs on its parent's preparation and gets none."""
    if run.status == "PREP":
        run_check(actor=actor, run_no=run.run_no, kind="PRECHECK", automatic=True)


def ensure_current_formal(actor: Actor, run: Run) -> None:
    """Before authorizing a PREP run: make sure a current FORMAL check exists (own transaction)."""
    if run.status == "PREP":
        current_formal_check(actor=actor, run_no=run.run_no)


def readiness_gate(uow, run: Run, plan: RoutePlan, actor: Actor) -> None:
    """Authorize gate: the current FORMAL check must have no FAILED item."""
    check = latest_check(run.id, "FORMAL")
    if check is None:
        raise DomainError("READINESS_CHECK_FAILED", M("No FORMAL readiness check: run one first."))
    require_passed(check, M("authorize the run"))


def _checked_run(run_id: int) -> tuple[int, str]:
    """The run whose readiness checks a trace shows: the run itself, else (a rework run authorized by the
    MRB without a check of its own) the nearest ancestor run with a check; the run itself when none has one."""
    current, first = run_id, None
    for _ in range(20):  # rework of rework: a short chain; the bound only guards against a cycle
        run_no, parent_id = db.session.execute(select(Run.run_no, Run.parent_run_id).where(Run.id == current)).one()
        first = first or (current, run_no)
        if db.session.execute(select(ReadinessCheck.id).where(ReadinessCheck.run_id == current).limit(1)).first():
            return current, run_no
        if parent_id is None:
            break
        current = parent_id
    return first


def trace_readiness(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: the readiness outcome of the unit's run — the latest FORMAL check (else PRECHECK),
    waived items with who and why, and which items used MANUAL (degraded-mode) data. A unit reworked in
    a rework run without a check of its own shows the check of the run it was first built in (`runNo`)."""
    run_id, run_no = _checked_run(context["runId"])
    check = latest_check(run_id, "FORMAL") or latest_check(run_id, "PRECHECK")
    if check is None:
        trace["readiness"] = None
        return
    signed = _waiver_signatures(check.run_id)
    def manual(evidence: dict | None) -> bool:
        if not evidence:
            return False
        if evidence.get("source") == "MANUAL":
            return True
        return any(s.get("source") == "MANUAL" for st in evidence.get("steps", []) for s in st.get("stations", []))
    trace["readiness"] = {
        "checkId": check.id, "kind": check.kind, "status": check.status, "checkedAt": check.checked_at.isoformat(),
        "checkedBy": check.checked_by, "runNo": run_no, "inherited": run_id != context["runId"],
        "items": [{"itemType": i.item_type, "itemKey": i.item_key, "status": i.status, "failCode": i.fail_code,
                   "failReason": _reason(i), "manual": manual(i.evidence),
                   "operator": (i.evidence or {}).get("operator"),
                   "waivedBy": i.waived_by, "waiveReason": i.waive_reason,
                   "waivedAt": i.waived_at.isoformat() if i.waived_at else None,
                   "signatures": signed.get(i.waived_at.isoformat(), []) if i.waived_at else []} for i in check.items],
    }


def trace_run_readiness(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Run trace: every readiness check of the run, oldest first, with its items (waivers, evidence); a
    rework run without a check of its own shows its parent run's (`readinessRunNo` names the run checked)."""
    run_id, run_no = _checked_run(context["runId"])
    checks = db.session.execute(select(ReadinessCheck).where(ReadinessCheck.run_id == run_id)
                                .order_by(ReadinessCheck.id)).scalars()
    trace["readinessChecks"] = [check_to_dict(c) for c in checks]
    trace["readinessRunNo"] = run_no


# Who clears a failed readiness item (Run Detail names the blocker and who acts, not only "run the check")
WHO_FIXES = {
    "ROUTE": M("engineering compiles a READY routing version for the line"),
    "EQUIPMENT": M("the line leader gets the equipment running (TPM offline: Integration → Manual Entry)"),
    "MATERIAL": M("engineering completes the product's BOM and activates its materials"),
    "STENCIL": M("the line leader binds a READY stencil to the line (TPM offline: Manual Entry)"),
    "SOLDER_PASTE": M("the line leader binds compliant, unexpired solder paste to the line (WMS offline: Manual Entry) "
                      "and the Loading Terminal records its thaw, open and stencil times"),
    "LOADING": M("material loads the slot table and scans the reels at the Loading Terminal"),
}
RUN_CHECK = M("the line leader or quality runs the FORMAL check (Run FORMAL check on this page)")
WHO_CHECKS = M("the line leader or quality, on this page; authorizing the run also runs it")


def _blockers(run: Run, items) -> tuple[list[str], list[str]]:
    """The failed items of a check as (still blocking, since cleared): a failed LOADING item of an
    older check is cleared once every slot is loaded."""
    open_items, cleared = [], []
    for item in items:
        if item.status != "FAILED":
            continue
        done = item.item_type == "LOADING" and (loading_phase(run, {}) or ("", "DONE"))[1] == "DONE"
        (cleared if done else open_items).append(item.item_type)
    return open_items, cleared


def _who(blocking: list[str]) -> str:
    """"LOADING: material loads …; STENCIL: the line leader binds …" (one Message per item, joined)."""
    return join_messages(M("{item}: {who}", item=term(t), who=WHO_FIXES.get(t) or M("fix the cause, or quality waives the item"))
                         for t in blocking)


def readiness_phase(run: Run, counts: dict[str, int]) -> Optional[tuple[str, str, str]]:
    """Run Detail step indicator (and the planner's next action): the readiness phase. A failed check
    names what blocks and who clears it, then who runs the FORMAL check (the planner cannot: the
    authorization runs one itself)."""
    check = latest_check(run.id, "FORMAL")
    precheck = latest_check(run.id, "PRECHECK")
    if run.status not in ("PREP",):
        if check is None:
            return ("Readiness", "SKIPPED", M("No FORMAL check (authorized without one)."))
        waived = sum(1 for i in check.items if i.status == "WAIVED")
        if waived:
            return ("Readiness", "DONE", M("FORMAL check {status}, {waived} waived.", status=term(check.status),
                                           waived=waived))
        return ("Readiness", "DONE", M("FORMAL check {status}.", status=term(check.status)))
    shown = check or precheck
    if shown is None:
        return ("Readiness", "CURRENT", M("No readiness check yet: {who}.", who=RUN_CHECK))
    if shown.status == "PASSED":
        if check is not None:
            return ("Readiness", "DONE", M("FORMAL check PASSED."))
        return ("Readiness", "CURRENT", M("Precheck passed. Run the FORMAL check ({who}).", who=WHO_CHECKS))
    blocking, cleared = _blockers(run, shown.items)
    failed = join_messages((term(t) for t in blocking + cleared), ", ")
    if blocking:
        text = (M("FORMAL check failed: {items}. {who}. Then {check}.", items=failed, who=_who(blocking), check=RUN_CHECK)
                if check is not None else
                M("Precheck failed: {items}. {who}. Then {check}.", items=failed, who=_who(blocking), check=RUN_CHECK))
        return ("Readiness", "CURRENT", text)
    return ("Readiness", "CURRENT", M("FORMAL check failed: {items}, since cleared. Run the FORMAL check ({who}).",
                                      items=failed, who=WHO_CHECKS) if check is not None else
            M("Precheck failed: {items}, since cleared. Run the FORMAL check ({who}).", items=failed, who=WHO_CHECKS))


def loading_phase(run: Run, counts: dict[str, int]) -> Optional[tuple[str, str, str]]:
    """Run Detail step indicator: the loading phase (only where the line has feeder slots)."""
    plan = plan_for(run.route_version_id)
    if not loading_applies(run, plan):
        return None
    rows = db.session.execute(select(RunSlotExpectation.status, func.count()).where(RunSlotExpectation.run_id == run.id)
                              .group_by(RunSlotExpectation.status)).all()
    states = dict(rows)
    total = sum(states.values())
    if total == 0:
        return ("Loading", "CURRENT" if run.status == "PREP" else "SKIPPED", M("Load the slot table and scan the reels."))
    loaded = states.get("LOADED", 0)
    if loaded == total:
        return ("Loading", "DONE", M("All {total} slots loaded.", total=total))
    if states.get("MISMATCH"):
        return ("Loading", "CURRENT", M("{loaded} of {total} slots loaded, {mismatch} mismatch.", loaded=loaded,
                                        total=total, mismatch=states["MISMATCH"]))
    return ("Loading", "CURRENT", M("{loaded} of {total} slots loaded.", loaded=loaded, total=total))
