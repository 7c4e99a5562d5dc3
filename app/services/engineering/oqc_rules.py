"""OQC sampling rules (spec 02_rules §9): which runs get an OQC and how many units it samples.

- Rules are scoped by product, line and routing (each optional: empty matches every run); FIXED takes
  `sample_value` units, PERCENTAGE that share of the DONE units; the most specific matching rule wins,
  then the priority, then the newest (`match_rule`, `pick_rule`, `sample_size`).
- The field rules live in `check_rule_fields`, used by the API's use cases below and, through
  master_data.validate_save (registered by services/wiring.py), by the console's CRUD screen, so both
  refuse the same things.

The OQC inspection itself, created at closeout with a sample drawn by these rules, is quality's
(services/quality/oqc.py).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Optional

from sqlalchemy import select

from ...extensions import db
from ...models import Line, OqcSamplingRule, Product, Routing
from ...models.quality import SAMPLING_TYPES
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M, join
from ..platform.scope import require_permission
from ..platform.uow import unit_of_work
from ..platform.validation import fields_error
from .master_data import id_of, validate_save

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


def match_rule(*, product_id: int, line_id: int, routing_id: int) -> Optional[OqcSamplingRule]:
    """The sampling rule of a run of this product, line and routing: active rules whose non-null scope
    fields equal them; the most specific wins, then priority (higher first), then the newest."""
    R = OqcSamplingRule
    candidates = db.session.execute(select(R).where(
        R.is_active.is_(True),
        (R.product_id.is_(None)) | (R.product_id == product_id),
        (R.line_id.is_(None)) | (R.line_id == line_id),
        (R.routing_id.is_(None)) | (R.routing_id == routing_id))).scalars().all()
    return pick_rule(list(candidates))


# ---------------------------------------------------------------------------------------------
# Sampling rules: field rules (shared with the console screen) and the API use cases
# ---------------------------------------------------------------------------------------------

def check_rule_fields(rule: OqcSamplingRule) -> None:
    """Field rules of a sampling rule (console and API): sampling type PERCENTAGE or FIXED, sample
    value ≥ 0 (a percentage ≤ 100, a fixed count whole), priority a whole number, and a routing
    scope that belongs to the rule's product."""
    errors: dict[str, str] = {}
    if rule.sampling_type not in SAMPLING_TYPES:
        errors["sampling_type"] = M("Must be one of {choices}.", choices=join(SAMPLING_TYPES))
    value = rule.sample_value
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors["sample_value"] = M("A number is required.")
    elif value < 0:
        errors["sample_value"] = M("The sample value must be 0 or more (0 = no OQC).")
    elif rule.sampling_type == "PERCENTAGE" and value > 100:
        errors["sample_value"] = M("A percentage is at most 100.")
    elif rule.sampling_type == "FIXED" and float(value) != int(value):
        errors["sample_value"] = M("A fixed sample is a whole number of units.")
    if rule.priority is None:
        rule.priority = 0
    elif isinstance(rule.priority, bool) or not isinstance(rule.priority, int):
        errors["priority"] = M("A whole number (higher wins among equally specific rules).")
    if rule.is_active is None:
        rule.is_active = True
    if rule.routing is not None and rule.routing.product_id is not None:
        product_id = id_of(rule, "product")
        if product_id is not None and product_id != rule.routing.product_id:
            errors["routing"] = M("Routing {routing} belongs to another product.", routing=rule.routing.code)
    if errors:
        raise fields_error(errors)


def _by_code(model, code: Optional[str], error: str, label: str):
    if code is None or not str(code).strip():
        return None
    row = db.session.execute(select(model).where(model.code == str(code).strip())).scalar_one_or_none()
    if row is None:
        text = {"product": M("No product {code}.", code=code), "line": M("No line {code}.", code=code),
                "routing": M("No routing {code}.", code=code)}[label]
        raise DomainError(error, text, {"field": f"{label}Code", "value": code})
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
        raise DomainError("SAMPLING_RULE_NOT_FOUND", M("No OQC sampling rule {id}.", id=rule_id), {"ruleId": rule_id})
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
    require_permission(actor, "quality:oqc")
    with unit_of_work(actor, "OQC_SAMPLING_RULE_CREATE", "OQC_SAMPLING_RULE", None) as uow:
        missing = {k: "required" for k in ("samplingType", "sampleValue") if fields.get(k) is None}
        if missing:
            raise DomainError("VALIDATION_ERROR", M("{fields}: required.", fields=join(missing)), {"fields": missing})
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
    require_permission(actor, "quality:oqc")
    with unit_of_work(actor, "OQC_SAMPLING_RULE_UPDATE", "OQC_SAMPLING_RULE", str(rule_id)) as uow:
        rule = get_rule(rule_id)
        for key in ("samplingType", "sampleValue"):
            if key in fields and fields[key] is None:
                raise DomainError("VALIDATION_ERROR", M("{field} cannot be empty.", field=key), {"fields": {key: "required"}})
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
