"""OQC (spec 02_rules §9, closeout in §3): sampling rules, rule matching and sample size, the OQC
inspection created at closeout, and its decision.

- **Sampling rules** (`quality:oqc`) are scoped by product, line and routing (each optional: empty
  matches every run); FIXED takes `sample_value` units, PERCENTAGE that share of the DONE units. The
  field rules live in `check_rule_fields`, used by the API below and by the console's CRUD screen
  (through services/master_data.py), so both refuse the same things.
- **Closeout** (`oqc_closeout`, a runs.CLOSEOUT_HOOKS entry): when a rule matches and the sample size
  is above 0, an OQC inspection is created with a random sample of DONE SNs (or the open one is
  reused) and the closeout answers `OQC_REQUIRED` with `inspectionId` and `sampledSns`; the run stays
  IN_PROGRESS. The manual close and the automatic closeout after the last TrackOut both go through it.
- **Complete** (`complete_oqc`, registered as inspections.COMPLETERS["OQC"]): PASS needs an item for
  every sampled SN and no FAIL item; FAIL needs a FAIL item or a remark. PASS → run COMPLETED; FAIL →
  run ON_HOLD (MRB decides, services/mrb.py) and every FAIL item records a defect on its unit, which
  stays DONE (01_domain_model §7).

Start and items are the shared ones of services/inspections.py (items only for sampled units).
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Optional

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Defect, ExecutableRouteVersion, Inspection, Line, OqcSamplingRule, Product, Routing, Run, Unit, WorkOrder,
)
from ..models.quality import SAMPLING_TYPES
from .actor import Actor
from .errors import DomainError
from .inspections import Decision, open_key
from .scope import require_permission
from .states import transition
from .uow import UnitOfWork, unit_of_work

_random = random.SystemRandom()


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Sample size and rule matching (pure rules first)
# ---------------------------------------------------------------------------------------------

def sample_size(sampling_type: str, value: float, done_units: int) -> int:
    """How many of `done_units` DONE units the OQC inspects (02_rules §9): PERCENTAGE → ceil(n·v/100)
    clamped to [1, n], v = 0 meaning no OQC; FIXED → min(v, n). No DONE unit → nothing to inspect."""
    n = max(0, int(done_units))
    if n == 0 or value is None or value <= 0:
        return 0
    if sampling_type == "PERCENTAGE":
        # exact arithmetic: 10 % of 30 is 3, never 3.0000000000000004 → 4
        size = math.ceil(Fraction(n) * Fraction(str(value)) / 100)
        return min(max(size, 1), n)
    if sampling_type == "FIXED":
        return min(int(value), n)
    raise ValueError(f"unknown sampling type {sampling_type!r}")


def _specificity(rule: OqcSamplingRule) -> int:
    return sum(x is not None for x in (rule.product_id, rule.line_id, rule.routing_id))


def pick_rule(rules: list[OqcSamplingRule]) -> Optional[OqcSamplingRule]:
    """Among matching rules: the most specific (most scope fields set), then the highest priority,
    then the newest."""
    if not rules:
        return None
    return max(rules, key=lambda r: (_specificity(r), r.priority or 0, r.created_at or datetime.min.replace(
        tzinfo=timezone.utc), r.id or 0))


def _run_scope(run: Run) -> tuple[int, int, int]:
    """(product id, line id, routing id) of the run."""
    product_id, routing_id = db.session.execute(
        select(WorkOrder.product_id, ExecutableRouteVersion.routing_id).select_from(Run)
        .join(WorkOrder, WorkOrder.id == Run.work_order_id)
        .join(ExecutableRouteVersion, ExecutableRouteVersion.id == Run.route_version_id)
        .where(Run.id == run.id)).one()
    return product_id, run.line_id, routing_id


def match_rule(run: Run) -> Optional[OqcSamplingRule]:
    """The sampling rule of a run: active rules whose non-null scope fields equal the run's product,
    line and routing; the most specific wins, then priority (higher first), then the newest."""
    product_id, line_id, routing_id = _run_scope(run)
    R = OqcSamplingRule
    candidates = db.session.execute(select(R).where(
        R.is_active.is_(True),
        (R.product_id.is_(None)) | (R.product_id == product_id),
        (R.line_id.is_(None)) | (R.line_id == line_id),
        (R.routing_id.is_(None)) | (R.routing_id == routing_id))).scalars().all()
    return pick_rule(list(candidates))


# ---------------------------------------------------------------------------------------------
# Closeout hook: create (or reuse) the OQC
# ---------------------------------------------------------------------------------------------

def _required(inspection: Inspection, run: Run, *, created: bool):
    from .runs import CloseoutOutcome
    sns = list(inspection.sampled_sns or [])
    details = {"inspectionId": inspection.id, "sampledSns": sns, "runNo": run.run_no}
    error = DomainError("OQC_REQUIRED", f"Run {run.run_no} needs its OQC before it completes: quality inspects "
                        f"{', '.join(sns)} (OQC {inspection.id}, {inspection.status}).", details)
    return CloseoutOutcome(False, error, details, changed=created)


def latest_oqc(run_id: int) -> Optional[Inspection]:
    return db.session.execute(select(Inspection).where(Inspection.run_id == run_id, Inspection.type == "OQC")
                              .order_by(Inspection.id.desc()).limit(1)).scalar_one_or_none()


def oqc_closeout(uow: UnitOfWork, run: Run, plan, actor: Actor):
    """CLOSEOUT_HOOKS entry (02_rules §3): an open OQC keeps the run open; else, when a rule matches
    and the sample size is above 0, create the OQC with a random sample of DONE SNs and keep the run
    IN_PROGRESS; otherwise (no rule, size 0, or an OQC already passed) let the run complete."""
    open_oqc = db.session.execute(select(Inspection).where(Inspection.open_key == open_key(run.id, "OQC"))
                                  ).scalar_one_or_none()
    if open_oqc is not None:
        return _required(open_oqc, run, created=False)
    latest = latest_oqc(run.id)
    if latest is not None and latest.status == "PASS":
        return None
    rule = match_rule(run)
    if rule is None:
        return None
    done = list(db.session.execute(select(Unit.sn).where(Unit.run_id == run.id, Unit.status == "DONE")
                                   .order_by(Unit.sn)).scalars())
    size = sample_size(rule.sampling_type, rule.sample_value, len(done))
    if size == 0:
        return None
    sampled = sorted(_random.sample(done, size))
    inspection = Inspection(run_id=run.id, type="OQC", status="PENDING", open_key=open_key(run.id, "OQC"),
                            sample_qty=size, sampled_sns=sampled, sampling_rule_id=rule.id,
                            created_by=actor.username)
    uow.session.add(inspection)
    uow.session.flush()
    uow.audit("OQC_CREATE", "INSPECTION", str(inspection.id),
              payload={"runNo": run.run_no, "ruleId": rule.id, "ruleName": rule.name, "doneUnits": len(done),
                       "sampleQty": size, "sampledSns": sampled})
    return _required(inspection, run, created=True)


# ---------------------------------------------------------------------------------------------
# Complete (registered as inspections.COMPLETERS["OQC"])
# ---------------------------------------------------------------------------------------------

def complete_oqc(uow: UnitOfWork, inspection: Inspection, decision: Decision, actor: Actor) -> None:
    """PASS needs an item for every sampled SN and no FAIL item (`OQC_ITEMS_MISSING`); FAIL needs a
    FAIL item or a remark (`INVALID_OQC_DECISION`). PASS → run COMPLETED; FAIL → run ON_HOLD."""
    per_sn: dict[str, list[str]] = {}
    for item in inspection.items:
        per_sn.setdefault(item.unit_sn, []).append(item.result)
    failed = sorted(sn for sn, results in per_sn.items() if "FAIL" in results)
    sampled = list(inspection.sampled_sns or [])
    if decision.decision == "PASS":
        missing = [sn for sn in sampled if sn not in per_sn]
        if missing or failed:
            reason = (f"no item yet for {', '.join(missing)}" if missing else
                      f"{', '.join(failed)} {'has' if len(failed) == 1 else 'have'} a FAIL item: decide FAIL")
            raise DomainError("OQC_ITEMS_MISSING", f"OQC {inspection.id} cannot pass: {reason}.",
                              {"missing": missing, "failItems": failed})
    elif not failed and not decision.remark:
        raise DomainError("INVALID_OQC_DECISION", "A FAIL decision needs a FAIL item or a remark saying why.")
    inspection.passed_qty = sum(1 for sn in per_sn if sn not in failed)
    inspection.failed_qty = len(failed)
    run = db.session.execute(uow.lock(select(Run).where(Run.id == inspection.run_id))).scalar_one()
    from .runs import TERMINAL_UNIT, unit_counts
    counts = unit_counts(run.id)
    if sum(counts.values()) != sum(counts.get(s, 0) for s in TERMINAL_UNIT):
        raise DomainError("RUN_UNITS_NOT_TERMINAL", f"Run {run.run_no} has units not DONE or SCRAPPED: finish or "
                          "disposition them before the OQC decision.", {"counts": counts})
    before = run.status
    if decision.decision == "PASS":
        run.status = transition("RUN", run.status, "COMPLETE")
        run.ended_at = _now()
        uow.audit("RUN_COMPLETE", "RUN", run.run_no, diff={"before": {"status": before},
                                                           "after": {"status": run.status}},
                  payload={"oqcId": inspection.id})
        return
    run.status = transition("RUN", run.status, "HOLD")
    uow.audit("RUN_HOLD", "RUN", run.run_no, diff={"before": {"status": before}, "after": {"status": run.status}},
              reason=decision.remark, payload={"oqcId": inspection.id, "failItems": failed})
    # an OQC FAIL item records a defect on its unit, which stays DONE: the MRB decides (01 §7)
    units = {u.sn: u for u in db.session.execute(select(Unit).where(Unit.sn.in_(failed))).scalars()} if failed else {}
    for item in inspection.items:
        if item.result != "FAIL" or item.unit_sn not in units:
            continue
        unit = units[item.unit_sn]
        uow.session.add(Defect(unit_id=unit.id, step_no=unit.current_step_no, code=item.defect_code,
                               description=f"OQC {inspection.id}: {item.item_name}"
                               + (f" ({item.actual_value})" if item.actual_value else ""),
                               qty=1, status="RECORDED", source="MANUAL"))


# ---------------------------------------------------------------------------------------------
# Sampling rules: field rules (shared with the console screen) and the API use cases
# ---------------------------------------------------------------------------------------------

def _id_of(item: Any, rel: str) -> Any:
    related = getattr(item, rel, None)
    return related.id if related is not None else getattr(item, f"{rel}_id", None)


def check_rule_fields(rule: OqcSamplingRule) -> None:
    """Field rules of a sampling rule (console and API): sampling type PERCENTAGE or FIXED, sample
    value ≥ 0 (a percentage ≤ 100, a fixed count whole), priority a whole number, and a routing
    scope that belongs to the rule's product."""
    errors: dict[str, str] = {}
    if rule.sampling_type not in SAMPLING_TYPES:
        errors["sampling_type"] = f"Must be one of {', '.join(SAMPLING_TYPES)}."
    value = rule.sample_value
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors["sample_value"] = "A number is required."
    elif value < 0:
        errors["sample_value"] = "The sample value must be 0 or more (0 = no OQC)."
    elif rule.sampling_type == "PERCENTAGE" and value > 100:
        errors["sample_value"] = "A percentage is at most 100."
    elif rule.sampling_type == "FIXED" and float(value) != int(value):
        errors["sample_value"] = "A fixed sample is a whole number of units."
    if rule.priority is None:
        rule.priority = 0
    elif isinstance(rule.priority, bool) or not isinstance(rule.priority, int):
        errors["priority"] = "A whole number (higher wins among equally specific rules)."
    if rule.is_active is None:
        rule.is_active = True
    if rule.routing is not None and rule.routing.product_id is not None:
        product_id = _id_of(rule, "product")
        if product_id is not None and product_id != rule.routing.product_id:
            errors["routing"] = f"Routing {rule.routing.code} belongs to another product."
    if errors:
        raise DomainError("VALIDATION_ERROR", "Some fields are not valid: "
                          + "; ".join(f"{k}: {v}" for k, v in errors.items()), {"fields": errors})


def _by_code(model, code: Optional[str], error: str, label: str):
    if code is None or not str(code).strip():
        return None
    row = db.session.execute(select(model).where(model.code == str(code).strip())).scalar_one_or_none()
    if row is None:
        raise DomainError(error, f"No {label} {code}.", {"field": f"{label}Code", "value": code})
    return row


def _apply(rule: OqcSamplingRule, data: dict[str, Any]) -> None:
    if "productCode" in data:
        rule.product = _by_code(Product, data["productCode"], "PRODUCT_NOT_FOUND", "product")
    if "lineCode" in data:
        rule.line = _by_code(Line, data["lineCode"], "LINE_NOT_FOUND", "line")
    if "routingCode" in data:
        rule.routing = _by_code(Routing, data["routingCode"], "ROUTE_NOT_FOUND", "routing")
    for key, attr in (("samplingType", "sampling_type"), ("sampleValue", "sample_value"), ("priority", "priority"),
                      ("isActive", "is_active")):
        if key in data:
            setattr(rule, attr, data[key])
    if "name" in data:
        rule.name = (data["name"] or "").strip()
    if not rule.name:
        rule.name = default_name(rule)


def default_name(rule: OqcSamplingRule) -> str:
    scope = " / ".join(x.code for x in (rule.product, rule.line, rule.routing) if x is not None) or "every run"
    value = rule.sample_value
    shown = int(value) if isinstance(value, (int, float)) and float(value).is_integer() else value
    return f"{scope}: {rule.sampling_type} {shown}{' %' if rule.sampling_type == 'PERCENTAGE' else ''}"[:128]


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def rule_to_dict(rule: OqcSamplingRule) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None
    return {"id": rule.id, "name": rule.name,
            "productCode": rule.product.code if rule.product else None,
            "lineCode": rule.line.code if rule.line else None,
            "routingCode": rule.routing.code if rule.routing else None,
            "samplingType": rule.sampling_type, "sampleValue": _number(rule.sample_value),
            "priority": rule.priority, "isActive": rule.is_active,
            "createdAt": iso(rule.created_at), "updatedAt": iso(rule.updated_at)}


def get_rule(rule_id: int) -> OqcSamplingRule:
    rule = db.session.get(OqcSamplingRule, rule_id)
    if rule is None:
        raise DomainError("SAMPLING_RULE_NOT_FOUND", f"No OQC sampling rule {rule_id}.", {"ruleId": rule_id})
    return rule


def read_rule(*, actor: Actor, rule_id: int) -> OqcSamplingRule:
    require_permission(actor, "quality:oqc")
    return get_rule(rule_id)


def list_rules(*, actor: Actor, active: Optional[bool] = None, product_code: Optional[str] = None,
               line_code: Optional[str] = None) -> list[OqcSamplingRule]:
    require_permission(actor, "quality:oqc")
    R = OqcSamplingRule
    stmt = select(R)
    if active is not None:
        stmt = stmt.where(R.is_active.is_(active))
    if product_code:
        stmt = stmt.join(Product, Product.id == R.product_id).where(Product.code == product_code)
    if line_code:
        stmt = stmt.join(Line, Line.id == R.line_id).where(Line.code == line_code)
    return list(db.session.execute(stmt.order_by(R.id)).scalars())


def create_rule(*, actor: Actor, fields: dict[str, Any]) -> OqcSamplingRule:
    """`POST /oqc-sampling-rules` (`quality:oqc`): `fields` in the API's camelCase (samplingType and
    sampleValue required; scope by productCode / lineCode / routingCode, each optional)."""
    from .master_data import validate_save
    require_permission(actor, "quality:oqc")
    with unit_of_work(actor, "OQC_SAMPLING_RULE_CREATE", "OQC_SAMPLING_RULE", None) as uow:
        missing = {k: "required" for k in ("samplingType", "sampleValue") if fields.get(k) is None}
        if missing:
            raise DomainError("VALIDATION_ERROR", f"{', '.join(missing)}: required.", {"fields": missing})
        rule = OqcSamplingRule(is_active=True, priority=0)
        with db.session.no_autoflush:
            _apply(rule, fields)
            validate_save(rule, is_new=True)
        uow.session.add(rule)
        uow.session.flush()
        uow.entity_key = str(rule.id)
        uow.diff = {"after": rule_to_dict(rule)}
    return rule


def update_rule(*, actor: Actor, rule_id: int, fields: dict[str, Any]) -> OqcSamplingRule:
    """`PATCH /oqc-sampling-rules/{id}` (`quality:oqc`): only the given fields change; a null scope
    field widens the rule to every product / line / routing. Rules are deactivated, not deleted."""
    from .master_data import validate_save
    require_permission(actor, "quality:oqc")
    with unit_of_work(actor, "OQC_SAMPLING_RULE_UPDATE", "OQC_SAMPLING_RULE", str(rule_id)) as uow:
        rule = get_rule(rule_id)
        for key in ("samplingType", "sampleValue"):
            if key in fields and fields[key] is None:
                raise DomainError("VALIDATION_ERROR", f"{key} cannot be empty.", {"fields": {key: "required"}})
        before = rule_to_dict(rule)
        with db.session.no_autoflush:
            _apply(rule, fields)
            validate_save(rule, is_new=False)
        uow.session.flush()
        after = rule_to_dict(rule)
        changed = [k for k in after if k != "updatedAt" and after[k] != before[k]]
        if not changed:
            uow.nothing_changed()
        uow.diff = {"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}}
    return rule
