"""Inspections (spec 02_rules §7 FAI, §9 OQC): create, start, items, complete, sign, and the FAI
trial in production.

An FAI proves a run's first articles before it may be authorized: quality creates it on a PREP run
whose FORMAL readiness passed, starts it, the operators build up to `sample_qty` trial units through
the normal TrackIn/TrackOut up to the route's last `requires_fai` step (the run gate admits those
scans as mode FAI_TRIAL, `fai_trial_gate` and `fai_trial_check`), quality records items for the
trial units, decides PASS or FAIL and signs a PASS. Trial units stay production units. A signed FAI
is immutable (every change needs INSPECTING; signing needs PASS, once).

Inspections of both types share start / items / complete; what differs per type lives in
`ITEM_RULES` and `COMPLETERS` (the OQC's in services/quality/oqc.py).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from ...extensions import db
from ...models import Inspection, InspectionItem, InspectionResult, Run, Track, Unit
from ..engineering.master_data import active_defect_code
from ..engineering.route_plans import plan_for
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, join, term
from ..platform.inputs import Key, Text
from ..platform.scope import in_line_scope, require_line, require_permission
from ..platform.states import can_transition, transition
from ..platform.uow import UnitOfWork, fetch_one, unit_of_work
from ..preparation import readiness
from ..production.runs import get_run, read_run
from ..platform import signatures
from . import oqc
from .numbering import next_seq

PERMISSION = {"FAI": "quality:fai", "OQC": "quality:oqc"}
NOT_INSPECTING = {"FAI": "FAI_NOT_INSPECTING", "OQC": "OQC_NOT_INSPECTING"}
OPEN_STATUSES = ("PENDING", "INSPECTING")


def _load(schema: Schema, payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise DomainError("VALIDATION_ERROR", M("The body must be a JSON object."))
    try:
        return schema.load(payload, unknown=RAISE)
    except ValidationError as err:
        raise DomainError("VALIDATION_ERROR", M("Some fields are not valid."), {"fields": err.messages}) from None


def get_inspection(inspection_id: int, *, uow: UnitOfWork | None = None) -> Inspection:
    """The inspection (locked for `uow`), or INSPECTION_NOT_FOUND."""
    return fetch_one(select(Inspection).where(Inspection.id == inspection_id),
                     DomainError("INSPECTION_NOT_FOUND", M("No inspection {id}.", id=inspection_id),
                                 {"inspectionId": inspection_id}), uow=uow)


def run_of(inspection: Inspection) -> Run:
    return db.session.get(Run, inspection.run_id)


def _authorized_for(actor: Actor, inspection: Inspection) -> Run:
    require_permission(actor, PERMISSION[inspection.type])
    run = run_of(inspection)
    require_line(actor, run.line_id)
    return run


def _inspecting(uow: UnitOfWork, inspection_id: int, actor: Actor) -> Inspection:
    """The inspection, locked, that the actor may work on (its type's permission, its run's line) and
    that is INSPECTING (items and a decision need it: FAI_NOT_INSPECTING / OQC_NOT_INSPECTING)."""
    inspection = get_inspection(inspection_id, uow=uow)
    _authorized_for(actor, inspection)
    if inspection.status != "INSPECTING":
        raise DomainError(NOT_INSPECTING[inspection.type],
                          M("{inspection} is {status}: start it first.", inspection=inspection.number,
                            status=term(inspection.status)) if inspection.status == "PENDING" else
                          M("{inspection} is {status}: it is decided and cannot change.", inspection=inspection.number,
                            status=term(inspection.status)),
                          {"status": inspection.status})
    return inspection


def latest_fai(run_id: int) -> Optional[Inspection]:
    return db.session.execute(select(Inspection).where(Inspection.run_id == run_id, Inspection.type == "FAI")
                              .order_by(Inspection.id.desc()).limit(1)).scalar_one_or_none()


# ---------------------------------------------------------------------------------------------
# FAI: create
# ---------------------------------------------------------------------------------------------

def create_fai(*, actor: Actor, run_no: str, sample_qty: Any, remark: str | None = None) -> Inspection:
    """`POST /runs/{runNo}/fai` (`quality:fai`): run PREP → current FORMAL readiness passed → no open
    FAI → the route has an FAI step; 1 ≤ sampleQty ≤ the run's plan quantity."""
    require_permission(actor, "quality:fai")
    run = get_run(run_no)
    require_line(actor, run.line_id)
    if run.status == "PREP":
        readiness.ensure_current_formal(actor, run)  # stored in its own transaction, like authorize
    with unit_of_work(actor, "FAI_CREATE", "RUN", run_no) as uow:
        run = get_run(run_no, uow=uow)
        if run.status != "PREP":
            raise DomainError("INVALID_RUN_STATUS", M("Run {run} is {status}: an FAI is made on a PREP run.",
                                                        run=run_no, status=term(run.status)),
                              {"status": run.status})
        check = readiness.latest_check(run.id, "FORMAL")
        readiness.require_passed(check, M("create the FAI"))
        if db.session.execute(select(Inspection.id).where(Inspection.open_key == Inspection.open_key_for(run.id, "FAI"))).first():
            raise DomainError("FAI_ALREADY_EXISTS", M("Run {run} already has an open FAI: continue it.",
                                                                   run=run_no))
        plan = plan_for(run.route_version_id)
        if plan.last_fai_step_no is None:
            raise DomainError("FAI_NOT_REQUIRED", M("Routing {routing} of run {run} has no FAI step: "
                                                     "authorize the run directly.", routing=plan.routing_code, run=run_no))
        if isinstance(sample_qty, bool) or not isinstance(sample_qty, int) or not 1 <= sample_qty <= run.plan_qty:
            raise DomainError("VALIDATION_ERROR", M("sampleQty must be a whole number from 1 to {max}.",
                                                                max=run.plan_qty),
                              {"fields": {"sampleQty": f"1..{run.plan_qty}"}})
        inspection = Inspection(run_id=run.id, type="FAI", seq=next_seq(uow, "FAI"), status="PENDING", open_key=Inspection.open_key_for(run.id, "FAI"),
                                sample_qty=sample_qty, created_by=actor.username, remark=remark or None)
        uow.session.add(inspection)
        uow.session.flush()
        uow.payload = {"inspectionId": inspection.id, "inspectionNo": inspection.number, "sampleQty": sample_qty,
                       "lastFaiStepNo": plan.last_fai_step_no}
    return inspection


# ---------------------------------------------------------------------------------------------
# Start, items, complete, sign (both types)
# ---------------------------------------------------------------------------------------------

def start(*, actor: Actor, inspection_id: int) -> Inspection:
    """PENDING → INSPECTING (`quality:fai` or `quality:oqc` by the inspection's type)."""
    with unit_of_work(actor, "INSPECTION_START", "INSPECTION", str(inspection_id)) as uow:
        inspection = get_inspection(inspection_id, uow=uow)
        _authorized_for(actor, inspection)
        inspection.status = transition("INSPECTION", inspection.status, "START")
        inspection.inspector, inspection.started_at = actor.username, now()
        uow.action = f"{inspection.type}_START"
        uow.diff = {"before": {"status": "PENDING"}, "after": {"status": "INSPECTING"}}
    return inspection


class ItemSchema(Schema):
    unitSn = Key("sn", required=True)
    itemName = Text(128, single_line=True, required=True, validate=validate.Length(min=1))
    itemSpec = Text(256, single_line=True, load_default=None, allow_none=True)
    actualValue = Text(256, single_line=True, load_default=None, allow_none=True)
    result = fields.String(required=True, validate=validate.OneOf(("PASS", "FAIL", "NA")))
    defectCode = Key("defect_code", load_default=None, allow_none=True)


def _fai_trial_units(inspection: Inspection) -> dict[int, str]:
    """Trial units of this FAI that finished the FAI step (a closed trial track at the last FAI step)."""
    plan = plan_for(run_of(inspection).route_version_id)
    rows = db.session.execute(
        select(Unit.id, Unit.sn).join(Track, Track.unit_id == Unit.id)
        .where(Track.inspection_id == inspection.id, Track.mode == "FAI_TRIAL", Track.step_no == plan.last_fai_step_no,
               Track.out_at.is_not(None), Track.result == "PASS").distinct()).all()
    return dict(rows)


def _fai_item_rule(inspection: Inspection, unit: Unit) -> None:
    if unit.id not in _fai_trial_units(inspection):
        raise DomainError("FAI_TRIAL_REQUIRED", M("Unit {sn} is not a trial unit of this FAI that passed the FAI "
                                                   "step: build it through the FAI step first.", sn=unit.sn), {"sn": unit.sn})


ITEM_RULES: dict[str, Callable[[Inspection, Unit], None]] = {"FAI": _fai_item_rule, "OQC": oqc.item_rule}


def add_item(*, actor: Actor, inspection_id: int, payload: Any) -> InspectionItem:
    """Record an item `{unitSn, itemName, itemSpec?, actualValue?, result, defectCode?}` while the
    inspection is INSPECTING: a unit of the run the type's rule admits (an FAI's trial unit through
    the FAI step, an OQC's sampled unit); a FAIL item needs an active defect code."""
    with unit_of_work(actor, "INSPECTION_ITEM", "INSPECTION", str(inspection_id)) as uow:
        inspection = _inspecting(uow, inspection_id, actor)
        data = _load(ItemSchema(), payload)
        unit = db.session.execute(select(Unit).where(Unit.sn == data["unitSn"].strip())).scalar_one_or_none()
        if unit is None or unit.run_id != inspection.run_id:
            raise DomainError("UNIT_NOT_FOUND", M("No unit {sn} in this run.", sn=data["unitSn"]), {"sn": data["unitSn"]})
        ITEM_RULES[inspection.type](inspection, unit)
        code = (data.get("defectCode") or "").strip() or None
        if data["result"] == "FAIL" and code is None:
            raise DomainError("DEFECT_CODE_REQUIRED", M("A FAIL item needs a defect code."), {"fields": {"defectCode": "required"}})
        if code is not None:
            code = active_defect_code(code, field="defectCode")
        item = InspectionItem(inspection_id=inspection.id, unit_id=unit.id, unit_sn=unit.sn, item_name=data["itemName"],
                              item_spec=data.get("itemSpec"), actual_value=data.get("actualValue"),
                              result=data["result"], defect_code=code, inspected_by=actor.username)
        uow.session.add(item)
        uow.session.flush()
        uow.action = f"{inspection.type}_ITEM"
        uow.payload = {"sn": unit.sn, "itemName": item.item_name, "result": item.result, "defectCode": code}
    return item


def item_results(inspection: Inspection) -> tuple[dict[str, list[str]], set[str]]:
    """The item results per SN, and the SNs with a FAIL item."""
    per_sn: dict[str, list[str]] = {}
    for item in inspection.items:
        per_sn.setdefault(item.unit_sn, []).append(item.result)
    return per_sn, {sn for sn, results in per_sn.items() if "FAIL" in results}


def _complete_fai(uow: UnitOfWork, inspection: Inspection, decision: str, remark: Optional[str],
                  per_sn: dict[str, list[str]], failed: set[str], actor: Actor) -> None:
    """PASS: every trial unit through the FAI step (`FAI_TRIAL_REQUIRED`), an item for each
    (`FAI_ITEMS_MISSING`) and no failure on them (`INSPECTION_FAILURES_EXIST`); FAIL: a FAIL item or a
    remark (`INVALID_FAI_DECISION`)."""
    trial = _fai_trial_units(inspection)
    if decision == "PASS":
        if len(trial) < inspection.sample_qty:
            raise DomainError("FAI_TRIAL_REQUIRED", M("{passed} of {sample} trial unit(s) passed the "
                                                     "FAI step: build the rest first.", passed=len(trial),
                                                     sample=inspection.sample_qty), {"trialUnits": sorted(trial.values()),
                                                                  "sampleQty": inspection.sample_qty})
        missing = sorted(sn for sn in trial.values() if sn not in per_sn)
        if missing:
            raise DomainError("FAI_ITEMS_MISSING", M("No inspection item yet for {sns}.", sns=join(missing)), {"sns": missing})
        spi_aoi = db.session.execute(select(Unit.sn).join(InspectionResult, InspectionResult.unit_id == Unit.id).where(
            InspectionResult.unit_id.in_(list(trial)), InspectionResult.result == "FAIL")).scalars().all()
        trial_fails = db.session.execute(select(Unit.sn).join(Track, Track.unit_id == Unit.id).where(
            Track.inspection_id == inspection.id, Track.result == "FAIL")).scalars().all()
        if failed or spi_aoi or trial_fails:
            raise DomainError("INSPECTION_FAILURES_EXIST", M("Failures exist on trial units: decide FAIL, or resolve them."),
                              {"failItems": sorted(failed), "spiAoiFails": sorted(set(spi_aoi)),
                               "trialTrackFails": sorted(set(trial_fails))})
    elif not failed and not remark:
        raise DomainError("INVALID_FAI_DECISION", M("A FAIL decision needs a FAIL item or a remark saying why."))


# type → (uow, inspection, decision PASS|FAIL, remark, item results per SN, SNs with a FAIL item, actor):
# the type's rules for a decision, and what it does beyond the inspection (an OQC completes or holds its run)
Completer = Callable[[UnitOfWork, Inspection, str, Optional[str], dict[str, list[str]], set[str], Actor], None]
COMPLETERS: dict[str, Completer] = {
    "FAI": _complete_fai, "OQC": oqc.complete_oqc}


class CompleteSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("PASS", "FAIL")))
    remark = Text(load_default=None, allow_none=True)


# What a signed decision means (21 CFR Part 11 §11.50): the OQC decision is an electronic signature.
OQC_MEANING = {"PASS": "OQC accepted", "FAIL": "OQC rejected"}


def complete(*, actor: Actor, inspection_id: int, payload: Any) -> Inspection:
    """Decide PASS or FAIL `{decision, remark?}` by the type's rules (`COMPLETERS`); the inspection
    is decided for good (an OQC also completes or holds its run). An OQC decision is an electronic
    signature: `password` in the payload (services/platform/signatures.py)."""
    password = payload.get("password") if isinstance(payload, dict) else None
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k != "password"}
    signer = None
    target = get_inspection(inspection_id)
    if target.type == "OQC":
        _authorized_for(actor, target)
        signer = signatures.verify(actor, password, action="OQC_COMPLETE", entity=("INSPECTION", str(inspection_id)))
    with unit_of_work(actor, "INSPECTION_COMPLETE", "INSPECTION", str(inspection_id)) as uow:
        inspection = _inspecting(uow, inspection_id, actor)
        data = _load(CompleteSchema(), payload)
        decision, remark = data["decision"], (data.get("remark") or "").strip() or None
        per_sn, failed = item_results(inspection)
        COMPLETERS[inspection.type](uow, inspection, decision, remark, per_sn, failed, actor)
        inspection.passed_qty, inspection.failed_qty = sum(1 for sn in per_sn if sn not in failed), len(failed)
        inspection.status = transition("INSPECTION", inspection.status, decision)
        inspection.open_key = None
        inspection.decided_by, inspection.decided_at = actor.username, now()
        if remark:
            inspection.remark = remark
        uow.action = f"{inspection.type}_COMPLETE"
        uow.entity_key = str(inspection.id)
        uow.diff = {"before": {"status": "INSPECTING"}, "after": {"status": inspection.status}}
        uow.reason = remark
        uow.payload = {"inspectionNo": inspection.number, "runNo": run_of(inspection).run_no}
        if signer is not None:
            signatures.record(uow, signer, meaning=OQC_MEANING[decision], entity=("INSPECTION", str(inspection.id)),
                              run=run_of(inspection), remark=remark)
    return inspection


def sign(*, actor: Actor, inspection_id: int, password: Any = None, remark: str | None = None) -> Inspection:
    """`quality:fai_sign`: only a PASS FAI, once; a signed FAI never changes again. The signature is an
    electronic signature "FAI approved": the signer re-enters their `password`."""
    require_permission(actor, "quality:fai_sign")
    require_line(actor, run_of(get_inspection(inspection_id)).line_id)  # scope before the password is checked
    signer = signatures.verify(actor, password, action="FAI_SIGN", entity=("INSPECTION", str(inspection_id)))
    with unit_of_work(actor, "FAI_SIGN", "INSPECTION", str(inspection_id)) as uow:
        inspection = get_inspection(inspection_id, uow=uow)
        require_line(actor, run_of(inspection).line_id)
        if inspection.type != "FAI" or inspection.status != "PASS":
            raise DomainError("FAI_NOT_PASSED", M("Inspection {id} is {type} {status}: only a PASS FAI is signed.",
                                                id=inspection_id, type=term(inspection.type), status=term(inspection.status)), {"status": inspection.status})
        if inspection.signed_by:
            raise DomainError("FAI_ALREADY_SIGNED", M("{inspection} was signed by {user}.",
                                                          inspection=inspection.number, user=inspection.signed_by))
        inspection.signed_by, inspection.signed_at = actor.username, now()
        uow.reason = (remark or "").strip() or None
        uow.diff = {"before": {"signedBy": None}, "after": {"signedBy": actor.username}}
        run = run_of(inspection)
        uow.payload = {"inspectionNo": inspection.number, "runNo": run.run_no}
        signatures.record(uow, signer, meaning="FAI approved", entity=("INSPECTION", str(inspection.id)), run=run,
                          remark=uow.reason)
    return inspection


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def inspection_to_dict(inspection: Inspection, *, with_items: bool = True) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None
    out = {"id": inspection.id, "number": inspection.number, "type": inspection.type, "status": inspection.status,
           "runNo": run_of(inspection).run_no, "sampleQty": inspection.sample_qty,
           "passedQty": inspection.passed_qty, "failedQty": inspection.failed_qty,
           "createdBy": inspection.created_by, "createdAt": iso(inspection.created_at),
           "inspector": inspection.inspector, "startedAt": iso(inspection.started_at),
           "decidedBy": inspection.decided_by, "decidedAt": iso(inspection.decided_at),
           "signedBy": inspection.signed_by, "signedAt": iso(inspection.signed_at), "remark": inspection.remark,
           "signatures": signatures.signatures_of("INSPECTION", [str(inspection.id)]).get(str(inspection.id), [])}
    if inspection.type == "OQC":
        out["sampledSns"] = inspection.sampled_sns or []
    else:
        out["trialUnits"] = sorted(trial_units(inspection))
        out["trialUnitsDone"] = sorted(_fai_trial_units(inspection).values())
    if with_items:
        out["items"] = [{"id": i.id, "unitSn": i.unit_sn, "itemName": i.item_name, "itemSpec": i.item_spec,
                         "actualValue": i.actual_value, "result": i.result, "defectCode": i.defect_code,
                         "inspectedBy": i.inspected_by, "inspectedAt": iso(i.inspected_at)} for i in inspection.items]
    return out


def offered_actions(run: Run, actor: Actor, kind: str, latest: Optional[Inspection]) -> frozenset[str]:
    """What the FAI or OQC card of Run Detail offers `actor` (`latest`: the run's latest inspection of
    that type): the actions whose state and permission checks the services would pass now — CREATE (a
    new FAI: run PREP, the route has an FAI step, none open), START, ITEM and COMPLETE (by the inspection
    state table), SIGN (a passed FAI not yet signed). Gates with their own evidence (the FAI's readiness
    check, the trial units) still answer on submit, with what to do."""
    if not in_line_scope(actor, run.line_id):
        return frozenset()
    offered: set[str] = set()
    may = actor.can(PERMISSION[kind])
    if kind == "FAI" and may and run.status == "PREP" and plan_for(run.route_version_id).last_fai_step_no is not None \
            and (latest is None or latest.status not in OPEN_STATUSES):
        offered.add("CREATE")
    if latest is not None and may:
        if can_transition("INSPECTION", latest.status, "START"):
            offered.add("START")
        if latest.status == "INSPECTING":
            offered.update(("ITEM", "COMPLETE"))
    if kind == "FAI" and latest is not None and latest.status == "PASS" and not latest.signed_by \
            and actor.can("quality:fai_sign"):
        offered.add("SIGN")
    return frozenset(offered)


def trial_units(inspection: Inspection) -> list[str]:
    """Every unit trialled for this FAI (a trial track at any step)."""
    return list(db.session.execute(select(Unit.sn).join(Track, Track.unit_id == Unit.id)
                                   .where(Track.inspection_id == inspection.id).distinct()).scalars())


def get(*, actor: Actor, inspection_id: int) -> dict[str, Any]:
    require_permission(actor, "run:read")
    inspection = get_inspection(inspection_id)
    require_line(actor, run_of(inspection).line_id)
    return inspection_to_dict(inspection)


def list_for_run(*, actor: Actor, run_no: str, kind: str | None = None) -> list[dict[str, Any]]:
    run = read_run(actor=actor, run_no=run_no)  # out of scope: RUN_NOT_FOUND, like an unknown run
    stmt = select(Inspection).where(Inspection.run_id == run.id)
    if kind:
        stmt = stmt.where(Inspection.type == kind.upper())
    return [inspection_to_dict(i, with_items=False) for i in db.session.execute(stmt.order_by(Inspection.id)).scalars()]


# ---------------------------------------------------------------------------------------------
# Hooks: the FAI trial in execution, the FAI authorize gate, trace and Run Detail
# ---------------------------------------------------------------------------------------------

def fai_trial_gate(uow: UnitOfWork, scan) -> Optional[tuple[str, Optional[int]]]:
    """Run gate for a PREP run (02_rules §4): a scan is an FAI trial while an FAI of the run is
    INSPECTING and its FORMAL readiness is (still) passed."""
    fai = db.session.execute(select(Inspection.id).where(Inspection.open_key == Inspection.open_key_for(scan.run.id, "FAI"),
                                                         Inspection.status == "INSPECTING")).scalar_one_or_none()
    if fai is None:
        return None
    run = db.session.get(Run, scan.run.id)
    check = readiness.latest_check(run.id, "FORMAL")
    if check is None or check.inputs_hash != readiness.evaluate(run).fingerprint:
        raise DomainError("READINESS_CHECK_FAILED", M("Run {run}'s readiness changed since its FORMAL check: run the "
                                                      "readiness check again before the FAI trial.", run=run.run_no))
    readiness.require_passed(check, M("build FAI trial units"))
    return "FAI_TRIAL", fai


def fai_trial_check(uow: UnitOfWork, scan) -> None:
    """TrackIn of an FAI trial: only up to the last FAI step, and at most sample_qty distinct units."""
    if scan.mode != "FAI_TRIAL":
        return
    last = scan.plan.last_fai_step_no
    if last is None or scan.step.step_no > last:
        raise DomainError("FAI_TRIAL_STEP_NOT_ALLOWED", M("Step {step} is after the FAI step {last}: the trial stops "
                                                          "there until the run is authorized.",
                                                          step=scan.step.step_no, last=last), {"lastFaiStepNo": last})
    inspection = db.session.execute(uow.lock(select(Inspection).where(Inspection.id == scan.inspection_id))).scalar_one()
    units = set(db.session.execute(select(Track.unit_id).where(Track.inspection_id == inspection.id)).scalars())
    if scan.unit.id not in units and len(units) >= inspection.sample_qty:
        raise DomainError("FAI_TRIAL_LIMIT_REACHED", M("The FAI trial already has its {sample} unit(s): finish them, "
                                                       "or wait for the authorization.", sample=inspection.sample_qty), {"sampleQty": inspection.sample_qty})


def fai_authorize_gate(uow: UnitOfWork, run: Run, plan, actor: Actor) -> None:
    """Authorize gate (02_rules §3): a route with an FAI step needs the latest FAI PASS and signed,
    unless an MRB decision waived the FAI of this (rework) run."""
    if plan.last_fai_step_no is None or run.fai_waived:
        return
    fai = latest_fai(run.id)
    if fai is None or fai.status != "PASS":
        raise DomainError("FAI_NOT_PASSED", (
            M("Run {run} has no FAI yet: quality runs the FAI (trial units through the FAI step, items, PASS) before "
              "the run is authorized.", run=run.run_no) if fai is None else
            M("The FAI of run {run} is {status}: quality runs the FAI (trial units through the FAI step, items, PASS) "
              "before the run is authorized.", run=run.run_no, status=term(fai.status))),
                          {"inspectionId": fai.id if fai else None})
    if not fai.signed_by:
        raise DomainError("FAI_NOT_SIGNED", M("{fai} of run {run} passed but is not signed: quality signs it first.",
                                              fai=fai.number, run=run.run_no), {"inspectionId": fai.id})


def trace_inspections(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Unit trace: the run's inspections, with this unit's items."""
    rows = db.session.execute(select(Inspection).where(Inspection.run_id == context["runId"])
                              .order_by(Inspection.id)).scalars().all()
    out = []
    for inspection in rows:
        entry = inspection_to_dict(inspection, with_items=True)
        entry["items"] = [i for i in entry["items"] if i["unitSn"] == trace["unit"]["sn"]]
        out.append(entry)
    trace["inspections"] = out


def trace_run_inspections(trace: dict[str, Any], context: dict[str, Any]) -> None:
    """Run trace: the run's FAIs and OQCs with all their items."""
    rows = db.session.execute(select(Inspection).where(Inspection.run_id == context["runId"])
                              .order_by(Inspection.id)).scalars().all()
    trace["inspections"] = [inspection_to_dict(i, with_items=True) for i in rows]


def audit_entities(run_id: int) -> list[tuple[str, str]]:
    """The run's inspections as audit entities: their start, items, decision and signature are events
    of the inspection, shown in the run's audit trail beside the run's own."""
    ids = db.session.execute(select(Inspection.id).where(Inspection.run_id == run_id)).scalars()
    return [("INSPECTION", str(i)) for i in ids]


def fai_count(run_id: int) -> int:
    return db.session.execute(select(func.count()).select_from(Inspection).where(
        Inspection.run_id == run_id, Inspection.type == "FAI")).scalar_one()


def fai_phase(run: Run, counts: dict[str, int]) -> Optional[tuple[str, str, str]]:
    """Run Detail step indicator: the FAI phase (routes with an FAI step only)."""
    plan = plan_for(run.route_version_id)
    if plan.last_fai_step_no is None:
        return None
    if run.fai_waived:
        return ("FAI", "SKIPPED", M("Waived by the MRB: {reason}", reason=run.fai_waiver_reason.strip())
                if (run.fai_waiver_reason or "").strip() else M("Waived by the MRB:"))
    fai = latest_fai(run.id)
    if fai is None:
        if run.status != "PREP":
            return ("FAI", "SKIPPED", M("No FAI was made."))
        return ("FAI", "CURRENT", M("Quality creates the FAI; trial units go up to step {step}.",
                                    step=plan.last_fai_step_no))
    if fai.status == "PENDING":
        return ("FAI", "CURRENT", M("{fai} created: quality starts it.", fai=fai.number))
    if fai.status == "INSPECTING":
        done = len(_fai_trial_units(fai))
        return ("FAI", "CURRENT", M("Trial: {done} of {sample} unit(s) through step {step}; {items} item(s) recorded.",
                                    done=done, sample=fai.sample_qty, step=plan.last_fai_step_no,
                                    items=len(fai.items)))
    if fai.status == "FAIL":
        return ("FAI", "CURRENT" if run.status == "PREP" else "DONE",
                M("{fai} FAILED: a new FAI is needed.", fai=fai.number))
    if not fai.signed_by:
        return ("FAI", "CURRENT", M("{fai} PASSED: quality signs it (with their password).", fai=fai.number))
    return ("FAI", "DONE", M("{fai} PASSED, signed by {user}.", fai=fai.number, user=fai.signed_by))
