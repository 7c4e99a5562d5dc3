"""Routings, execution config and compiling to executable versions (spec 02_rules §1).

- Execution config precedence per field: step config > operation config > route config > the step's
  own defaults; a null field never overrides. For data specs the narrowest scope that binds any spec
  defines the whole set of the step (it replaces, not merges with, the inherited set).
- Compile merges and validates every step, collecting all errors `{stepNo, code, message}`; no errors
  → a new READY version, else INVALID (compile answers either way). An identical snapshot with the same
  validity as the latest version returns that version and writes nothing. Versions are immutable.
- ERP-sourced routings keep their step list read-only in MES (`ROUTE_READ_ONLY`); their execution
  config can still be set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

from sqlalchemy import func, select

from ...extensions import db
from ...models import (
    DataCollectionSpec, ExecutableRouteVersion, Operation, Product, RouteExecutionConfig, Routing, RoutingStep,
    Station, StationGroup,
)
from ...models.master import PROCESS_TYPES, STATION_TYPES
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M, join
from ..platform.scope import require_permission
from ..platform.sorting import Sorting
from ..platform.uow import fetch_one, unit_of_work
from .data_specs import operation_by_code

OVERRIDE_FIELDS = ("station_type", "station_group_id", "allowed_station_codes", "requires_fai")


# ---------------------------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------------------------

def get_routing(code: str, *, lock_uow=None) -> Routing:
    """The routing (locked for `lock_uow`), or ROUTE_NOT_FOUND."""
    return fetch_one(select(Routing).where(Routing.code == code),
                     DomainError("ROUTE_NOT_FOUND", M("No routing {code}.", code=code), {"routingCode": code}), uow=lock_uow)


def _station_group(code: str | None) -> Optional[StationGroup]:
    if not code:
        return None
    group = db.session.execute(select(StationGroup).where(StationGroup.code == code)).scalar_one_or_none()
    if group is None:
        raise DomainError("STATION_GROUP_NOT_FOUND", M("No station group {code}.", code=code), {"stationGroupCode": code})
    return group


def _product(code: str | None) -> Optional[Product]:
    if not code:
        return None
    product = db.session.execute(select(Product).where(Product.code == code)).scalar_one_or_none()
    if product is None:
        raise DomainError("PRODUCT_NOT_FOUND", M("No product {code}.", code=code), {"productCode": code})
    return product


def _check_choice(value: Any, allowed: Iterable[str], field_name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value not in allowed:
        raise DomainError("VALIDATION_ERROR", M("{field} must be one of {choices}.", field=field_name, choices=join(allowed)),
                          {"fields": {field_name: f"one of {', '.join(allowed)}"}})


# ---------------------------------------------------------------------------------------------
# Effective (merged) configuration of each step
# ---------------------------------------------------------------------------------------------

@dataclass
class EffectiveStep:
    step: RoutingStep
    station_type: Optional[str]
    station_group: Optional[StationGroup]
    allowed_station_codes: Optional[list[str]]
    requires_fai: bool
    specs: list[DataCollectionSpec]
    specs_from: str  # STEP / OPERATION / ROUTE / NONE
    sources: dict[str, str] = field(default_factory=dict)  # field -> STEP / OPERATION / ROUTE / DEFAULT


def _configs_by_scope(routing: Routing) -> tuple[Optional[RouteExecutionConfig], dict[int, RouteExecutionConfig],
                                                 dict[int, RouteExecutionConfig]]:
    route_cfg = None
    by_operation: dict[int, RouteExecutionConfig] = {}
    by_step: dict[int, RouteExecutionConfig] = {}
    for cfg in routing.configs:
        if cfg.scope == "ROUTE":
            route_cfg = cfg
        elif cfg.scope == "OPERATION":
            by_operation[cfg.operation_id] = cfg
        else:
            by_step[cfg.step_id] = cfg
    return route_cfg, by_operation, by_step


def effective_steps(routing: Routing) -> list[EffectiveStep]:
    """Every step with its configuration merged by precedence (the editor shows this; compile
    validates and freezes it)."""
    route_cfg, by_operation, by_step = _configs_by_scope(routing)
    result = []
    for step in sorted(routing.steps, key=lambda s: s.step_no):
        chain = [("STEP", by_step.get(step.id)), ("OPERATION", by_operation.get(step.operation_id)),
                 ("ROUTE", route_cfg)]
        defaults = {"station_type": step.station_type, "station_group_id": step.station_group_id,
                    "allowed_station_codes": None, "requires_fai": step.requires_fai}
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in OVERRIDE_FIELDS:
            for scope, cfg in chain:
                if cfg is not None and getattr(cfg, name) is not None:
                    values[name], sources[name] = getattr(cfg, name), scope
                    break
            else:
                values[name], sources[name] = defaults[name], "DEFAULT"
        specs, specs_from = [], "NONE"
        for scope, cfg in chain:
            if cfg is not None and cfg.data_specs:
                specs, specs_from = list(cfg.data_specs), scope
                break
        group = db.session.get(StationGroup, values["station_group_id"]) if values["station_group_id"] else None
        result.append(EffectiveStep(step=step, station_type=values["station_type"], station_group=group,
                                    allowed_station_codes=values["allowed_station_codes"] or None,
                                    requires_fai=bool(values["requires_fai"]), specs=specs,
                                    specs_from=specs_from, sources=sources))
    return result


# ---------------------------------------------------------------------------------------------
# Compile
# ---------------------------------------------------------------------------------------------

def spec_snapshot(spec: DataCollectionSpec) -> dict[str, Any]:
    return {"id": spec.id, "name": spec.name, "operationCode": spec.operation.code,
            "itemType": spec.item_type, "dataType": spec.data_type, "enumOptions": spec.enum_options,
            "method": spec.method, "uom": spec.uom, "lsl": spec.lsl, "target": spec.target, "usl": spec.usl,
            "limitAction": spec.limit_action, "required": spec.is_required}


def build_snapshot(routing: Routing) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The frozen snapshot of a routing and its config, and the compile errors."""
    errors: list[dict[str, Any]] = []
    steps = effective_steps(routing)
    last_no = max((s.step.step_no for s in steps), default=None)
    snap_steps = []
    for eff in steps:
        step = eff.step
        operation = step.operation

        def err(code: str, message: str, step_no: int = step.step_no) -> None:
            errors.append({"stepNo": step_no, "code": code, "message": message})

        if not eff.station_type:
            err("STATION_TYPE_MISSING", M("Step {no} has no station type.", no=step.step_no))
        if eff.station_group is None and not eff.allowed_station_codes:
            err("STATION_CONSTRAINT_MISSING", M("Step {no} has neither a station group nor allowed stations.",
                                                  no=step.step_no))
        for spec in eff.specs:
            if not spec.is_active:
                err("DATA_SPEC_INACTIVE", M("Spec {spec} bound to step {no} is inactive.", spec=spec.name, no=step.step_no))
            if spec.operation_id != step.operation_id:
                err("DATA_SPEC_OPERATION_MISMATCH",
                    M("Spec {spec} belongs to operation {operation}, step {no} is {step_operation}.",
                      spec=spec.name, operation=spec.operation.code, no=step.step_no, step_operation=operation.code))
        snap_steps.append({
            "stepNo": step.step_no,
            "operationCode": operation.code,
            "operationName": operation.name,
            "consumesMaterial": operation.consumes_material,
            "isKeyQuality": operation.is_key_quality,
            "stationType": eff.station_type,
            "stationGroupCode": eff.station_group.code if eff.station_group else None,
            "allowedStationCodes": sorted(eff.allowed_station_codes) if eff.allowed_station_codes else None,
            "requiresFai": eff.requires_fai,
            "isLast": step.step_no == last_no,
            "dataSpecs": [spec_snapshot(s) for s in sorted(eff.specs, key=lambda s: s.name)],
        })
    snapshot = {
        "routing": {"code": routing.code, "name": routing.name, "sourceSystem": routing.source_system,
                    "processType": routing.process_type,
                    "productCode": routing.product.code if routing.product else None},
        "steps": snap_steps,
    }
    return snapshot, errors


def latest_version(routing: Routing, *, status: str | None = None) -> Optional[ExecutableRouteVersion]:
    stmt = select(ExecutableRouteVersion).where(ExecutableRouteVersion.routing_id == routing.id)
    if status:
        stmt = stmt.where(ExecutableRouteVersion.status == status)
    return db.session.execute(stmt.order_by(ExecutableRouteVersion.version_no.desc()).limit(1)).scalar_one_or_none()


@dataclass
class CompileResult:
    version: ExecutableRouteVersion
    created: bool


def compile_routing(*, actor: Actor, routing_code: str) -> CompileResult:
    """Compile a routing into an executable version (`route:compile`)."""
    require_permission(actor, "route:compile")
    with unit_of_work(actor, "ROUTE_COMPILE", "ROUTING", routing_code) as uow:
        routing = get_routing(routing_code, lock_uow=uow)
        if not routing.steps:
            raise DomainError("ROUTING_EMPTY", M("Routing {routing} has no steps.", routing=routing_code))
        snapshot, errors = build_snapshot(routing)
        status = "INVALID" if errors else "READY"
        latest = latest_version(routing)
        if latest is not None and latest.snapshot == snapshot and latest.status == status:
            uow.nothing_changed()
            return CompileResult(latest, False)
        version = ExecutableRouteVersion(
            routing_id=routing.id, version_no=(latest.version_no + 1) if latest else 1, status=status,
            snapshot=snapshot, errors=errors, compiled_at=now(),
            compiled_by=actor.username)
        uow.session.add(version)
        uow.session.flush()
        uow.payload = {"versionNo": version.version_no, "status": status, "errors": errors}
        return CompileResult(version, True)


def version_to_dict(version: ExecutableRouteVersion, *, with_snapshot: bool = False) -> dict[str, Any]:
    data = {"routingCode": version.routing.code, "versionNo": version.version_no, "status": version.status,
            "errors": version.errors or [], "compiledAt": version.compiled_at.isoformat(),
            "compiledBy": version.compiled_by}
    if with_snapshot:
        data["snapshot"] = version.snapshot
    return data


def list_versions(*, actor: Actor, routing_code: str) -> list[ExecutableRouteVersion]:
    require_permission(actor, "route:read")
    routing = get_routing(routing_code)
    return list(reversed(routing.versions))


def get_version(*, actor: Actor, routing_code: str, version_no: int) -> ExecutableRouteVersion:
    require_permission(actor, "route:read")
    routing = get_routing(routing_code)
    version = db.session.execute(select(ExecutableRouteVersion).where(
        ExecutableRouteVersion.routing_id == routing.id, ExecutableRouteVersion.version_no == version_no)
    ).scalar_one_or_none()
    if version is None:
        raise DomainError("ROUTE_VERSION_NOT_FOUND", M("Routing {routing} has no version {version}.", routing=routing_code,
                                                               version=version_no))
    return version


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two snapshots, step by step (for the version history)."""
    changes: list[dict[str, Any]] = []
    for key in sorted(set(old.get("routing", {})) | set(new.get("routing", {}))):
        a, b = old.get("routing", {}).get(key), new.get("routing", {}).get(key)
        if a != b:
            changes.append({"stepNo": None, "field": f"routing.{key}", "old": a, "new": b})
    old_steps = {s["stepNo"]: s for s in old.get("steps", [])}
    new_steps = {s["stepNo"]: s for s in new.get("steps", [])}
    for no in sorted(set(old_steps) | set(new_steps)):
        a, b = old_steps.get(no), new_steps.get(no)
        if a is None or b is None:
            changes.append({"stepNo": no, "field": "step", "old": a and a["operationCode"],
                            "new": b and b["operationCode"]})
            continue
        for key in sorted(set(a) | set(b)):
            if key == "dataSpecs":
                specs_a = {s["name"]: s for s in a.get(key) or []}
                specs_b = {s["name"]: s for s in b.get(key) or []}
                for name in sorted(set(specs_a) | set(specs_b)):
                    if specs_a.get(name) != specs_b.get(name):
                        changes.append({"stepNo": no, "field": f"dataSpecs.{name}", "old": specs_a.get(name),
                                        "new": specs_b.get(name)})
            elif a.get(key) != b.get(key):
                changes.append({"stepNo": no, "field": key, "old": a.get(key), "new": b.get(key)})
    return changes


# ---------------------------------------------------------------------------------------------
# Editing (console editor and REST API)
# ---------------------------------------------------------------------------------------------

@dataclass
class StepInput:
    step_no: int
    operation_code: str
    station_group_code: str | None = None
    station_type: str | None = None
    requires_fai: bool = False


@dataclass
class ConfigInput:
    scope: str  # ROUTE / OPERATION / STEP
    step_no: int | None = None
    operation_code: str | None = None
    station_type: str | None = None
    station_group_code: str | None = None
    allowed_station_codes: list[str] | None = None
    requires_fai: bool | None = None
    data_specs: list[Any] = field(default_factory=list)  # spec ids or names


def _validate_steps(steps: list[StepInput]) -> None:
    numbers = [s.step_no for s in steps]
    if any(n is None or n <= 0 for n in numbers):
        raise DomainError("VALIDATION_ERROR", M("Step numbers must be positive whole numbers (10, 20, 30…)."),
                          {"fields": {"stepNo": "positive integer"}})
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise DomainError("ROUTING_STEP_DUPLICATE", M("Step number(s) {numbers} appear more than once.", numbers=str(duplicates)),
                          {"stepNos": duplicates})
    for s in steps:
        _check_choice(s.station_type, STATION_TYPES, "stationType", optional=True)


def apply_steps(routing: Routing, steps: list[StepInput]) -> None:
    """Make the routing's steps equal to `steps`, keeping rows (and their step configs) whose number
    stays; configs of removed steps go with them."""
    _validate_steps(steps)
    existing = {s.step_no: s for s in routing.steps}
    wanted = {s.step_no for s in steps}
    for no, step in list(existing.items()):
        if no not in wanted:
            _delete_step(routing, step)
    for item in steps:
        operation = operation_by_code(item.operation_code)
        group = _station_group(item.station_group_code)
        step = existing.get(item.step_no)
        if step is None:
            step = RoutingStep(step_no=item.step_no)
            routing.steps.append(step)
        step.operation = operation
        step.station_group = group
        step.station_type = item.station_type or None  # none given: the config must give it (compile checks)
        step.requires_fai = bool(item.requires_fai)


def _delete_step(routing: Routing, step: RoutingStep) -> None:
    for cfg in list(routing.configs):
        if cfg.scope == "STEP" and cfg.step_id == step.id:
            routing.configs.remove(cfg)
    routing.steps.remove(step)


def _steps_signature(routing: Routing) -> list[tuple]:
    return [(s.step_no, s.operation.code, s.station_group.code if s.station_group else None, s.station_type,
             bool(s.requires_fai)) for s in sorted(routing.steps, key=lambda s: s.step_no)]


def _resolve_specs(refs: list[Any], operation: Optional[Operation]) -> list[DataCollectionSpec]:
    """Specs by id or by name (a name is looked up in the scope's operation first, then everywhere;
    an ambiguous name must be given as an id)."""
    specs: list[DataCollectionSpec] = []
    for ref in refs or []:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            spec = db.session.get(DataCollectionSpec, int(ref))
            found = [spec] if spec else []
        else:
            stmt = select(DataCollectionSpec).where(DataCollectionSpec.name == str(ref))
            found = db.session.execute(stmt).scalars().all()
            if len(found) > 1 and operation is not None:
                found = [s for s in found if s.operation_id == operation.id] or found
        if not found:
            raise DomainError("DATA_SPEC_NOT_FOUND", M("No data-collection spec {spec}.", spec=ref), {"spec": ref})
        if len(found) > 1:
            raise DomainError("VALIDATION_ERROR", M("Spec name {spec} exists for several operations; use its id.", spec=ref),
                              {"fields": {"dataSpecs": f"ambiguous: {ref}"}})
        if found[0] not in specs:
            specs.append(found[0])
    return specs


def _apply_config(routing: Routing, item: ConfigInput) -> RouteExecutionConfig:
    _check_choice(item.scope, ("ROUTE", "OPERATION", "STEP"), "scope")
    _check_choice(item.station_type, STATION_TYPES, "stationType", optional=True)
    step = operation = None
    if item.scope == "STEP":
        step = next((s for s in routing.steps if s.step_no == item.step_no), None)
        if step is None:
            raise DomainError("ROUTING_STEP_NOT_FOUND", M("Routing {routing} has no step {no}.", routing=routing.code, no=item.step_no),
                              {"stepNo": item.step_no})
        db.session.flush()  # a new step needs its id for the scope key
        key = RouteExecutionConfig.key_for("STEP", step_id=step.id)
    elif item.scope == "OPERATION":
        operation = operation_by_code(item.operation_code or "")
        key = RouteExecutionConfig.key_for("OPERATION", operation_id=operation.id)
    else:
        key = "ROUTE"
    codes = item.allowed_station_codes
    if codes is not None:
        codes = sorted({c.strip() for c in codes if c and c.strip()}) or None
        if codes:
            known = set(db.session.execute(select(Station.code).where(Station.code.in_(codes))).scalars())
            unknown = sorted(set(codes) - known)
            if unknown:
                raise DomainError("STATION_NOT_FOUND", M("Unknown station(s): {stations}.", stations=join(unknown)),
                                  {"allowedStationCodes": unknown})
    cfg = next((c for c in routing.configs if c.scope_key == key), None)
    if cfg is None:
        cfg = RouteExecutionConfig(scope=item.scope, scope_key=key, step=step, operation=operation)
        routing.configs.append(cfg)
    cfg.station_type = item.station_type or None
    cfg.station_group = _station_group(item.station_group_code)
    cfg.allowed_station_codes = codes
    cfg.requires_fai = item.requires_fai
    scope_operation = step.operation if step is not None else operation
    cfg.data_specs = _resolve_specs(item.data_specs, scope_operation)
    return cfg


def _config_is_empty(cfg: RouteExecutionConfig) -> bool:
    return all(getattr(cfg, f) is None for f in ("station_type", "station_group_id", "allowed_station_codes",
                                                  "requires_fai")) and not cfg.data_specs


@dataclass
class RoutingInput:
    code: str
    name: str | None = None
    product_code: str | None = None
    process_type: str | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    version_label: str | None = None
    is_active: bool | None = None
    steps: list[StepInput] | None = None
    execution_config: list[ConfigInput] | None = None


def apply_header(routing: Routing, data: RoutingInput) -> None:
    if data.name is not None:
        routing.name = data.name.strip()
    if data.product_code is not None:
        routing.product = _product(data.product_code)
    if data.process_type is not None:
        _check_choice(data.process_type, PROCESS_TYPES, "processType")
        routing.process_type = data.process_type
    for attr in ("effective_from", "effective_to", "version_label", "is_active"):
        value = getattr(data, attr)
        if value is not None:
            setattr(routing, attr, value)
    if not routing.name:
        raise DomainError("VALIDATION_ERROR", M("A routing needs a name."), {"fields": {"name": "required"}})
    if routing.effective_from and routing.effective_to and routing.effective_to <= routing.effective_from:
        raise DomainError("VALIDATION_ERROR", M("effectiveTo must be after effectiveFrom."),
                          {"fields": {"effectiveTo": "after effectiveFrom"}})
    if routing.product is not None and routing.product.process_type != routing.process_type:
        raise DomainError("VALIDATION_ERROR", M("Product {product} is {product_process}, the routing {process}.", product=routing.product.code,
                            product_process=routing.product.process_type, process=routing.process_type), {"fields": {"processType": "product's process type"}})


def create_routing(*, actor: Actor, data: RoutingInput) -> Routing:
    """Create an MES routing (`route:configure`), optionally with steps and config."""
    require_permission(actor, "route:configure")
    with unit_of_work(actor, "ROUTING_CREATE", "ROUTING", data.code) as uow:
        code = (data.code or "").strip()
        if not code:
            raise DomainError("VALIDATION_ERROR", M("A routing needs a code."), {"fields": {"code": "required"}})
        if db.session.execute(select(Routing.id).where(Routing.code == code)).first():
            raise DomainError("ROUTING_CODE_DUPLICATE", M("Routing {routing} already exists.", routing=code), {"field": "code"})
        _check_choice(data.process_type, PROCESS_TYPES, "processType")
        routing = Routing(code=code, name="", process_type=data.process_type, source_system="MES")
        uow.session.add(routing)
        apply_header(routing, data)
        if data.steps is not None:
            apply_steps(routing, data.steps)
        for item in data.execution_config or []:
            _apply_config(routing, item)
        uow.session.flush()
        uow.diff = {"after": routing_to_dict(routing)}
    return routing


def update_routing(*, actor: Actor, data: RoutingInput) -> Routing:
    """Change a routing's header, steps (replaced when given; never for ERP routings) and execution
    config (the given scopes are replaced; with `execution_config` given, scopes not listed are
    removed)."""
    require_permission(actor, "route:configure")
    with unit_of_work(actor, "ROUTING_UPDATE", "ROUTING", data.code) as uow:
        routing = get_routing(data.code, lock_uow=uow)
        before = routing_to_dict(routing)
        if routing.is_erp:
            for attr in ("product_code", "process_type"):
                if getattr(data, attr) is not None and getattr(data, attr) != (
                        routing.product.code if attr == "product_code" and routing.product else
                        getattr(routing, attr)):
                    raise DomainError("ROUTE_READ_ONLY", M("The product and process of an ERP routing come from ERP."))
        apply_header(routing, data)
        if data.steps is not None:
            if routing.is_erp:
                wanted = [(s.step_no, s.operation_code, s.station_group_code, s.station_type or None,
                           bool(s.requires_fai)) for s in sorted(data.steps, key=lambda s: s.step_no)]
                if wanted != _steps_signature(routing):
                    raise DomainError("ROUTE_READ_ONLY", M("Routing {routing} comes from ERP: its steps cannot be changed in MES.",
                                        routing=routing.code))
            else:
                apply_steps(routing, data.steps)
        if data.execution_config is not None:
            keep = set()
            for item in data.execution_config:
                keep.add(_apply_config(routing, item).scope_key)
            for cfg in list(routing.configs):
                if cfg.scope_key not in keep:
                    routing.configs.remove(cfg)
        uow.session.flush()
        after = routing_to_dict(routing)
        uow.diff = {"before": {k: v for k, v in before.items() if after.get(k) != v},
                    "after": {k: v for k, v in after.items() if before.get(k) != v}}
        if not uow.diff["after"] and not uow.diff["before"]:
            uow.nothing_changed()
    return routing


def save_step(*, actor: Actor, routing_code: str, step: StepInput, original_step_no: int | None = None) -> Routing:
    """Add a step, or change one (`route:configure`; not on ERP routings)."""
    require_permission(actor, "route:configure")
    action = "ROUTING_STEP_ADD" if original_step_no is None else "ROUTING_STEP_UPDATE"
    with unit_of_work(actor, action, "ROUTING", routing_code) as uow:
        routing = get_routing(routing_code, lock_uow=uow)
        if routing.is_erp:
            raise DomainError("ROUTE_READ_ONLY", M("Routing {routing} comes from ERP: its steps cannot be changed in MES.",
                                routing=routing_code))
        items = [_step_input(s) for s in routing.steps if s.step_no != original_step_no]
        if original_step_no is not None and original_step_no not in {s.step_no for s in routing.steps}:
            raise DomainError("ROUTING_STEP_NOT_FOUND", M("Routing {routing} has no step {no}.", routing=routing_code,
                                                                  no=original_step_no))
        if step.step_no in {i.step_no for i in items}:
            raise DomainError("ROUTING_STEP_DUPLICATE", M("Routing {routing} already has step {no}.", routing=routing_code,
                                                                 no=step.step_no))
        if original_step_no is not None and original_step_no != step.step_no:
            existing = next(s for s in routing.steps if s.step_no == original_step_no)
            existing.step_no = step.step_no  # renumber in place: the step keeps its config
        apply_steps(routing, items + [step])
        uow.payload = {"step": step.__dict__, "originalStepNo": original_step_no}
    return routing


def remove_step(*, actor: Actor, routing_code: str, step_no: int) -> Routing:
    """Remove a step and its step config (`route:configure`; not on ERP routings)."""
    require_permission(actor, "route:configure")
    with unit_of_work(actor, "ROUTING_STEP_REMOVE", "ROUTING", routing_code) as uow:
        routing = get_routing(routing_code, lock_uow=uow)
        if routing.is_erp:
            raise DomainError("ROUTE_READ_ONLY", M("Routing {routing} comes from ERP: its steps cannot be changed in MES.",
                                routing=routing_code))
        step = next((s for s in routing.steps if s.step_no == step_no), None)
        if step is None:
            raise DomainError("ROUTING_STEP_NOT_FOUND", M("Routing {routing} has no step {no}.", routing=routing_code, no=step_no))
        _delete_step(routing, step)
        uow.payload = {"stepNo": step_no}
    return routing


def save_config(*, actor: Actor, routing_code: str, config: ConfigInput) -> RouteExecutionConfig | None:
    """Set the execution config of one scope (`route:configure`, allowed on ERP routings too). A config
    left with no override and no spec is removed."""
    require_permission(actor, "route:configure")
    with unit_of_work(actor, "ROUTE_CONFIG_SET", "ROUTING", routing_code) as uow:
        routing = get_routing(routing_code, lock_uow=uow)
        cfg = _apply_config(routing, config)
        uow.payload = {"scope": config.scope, "stepNo": config.step_no, "operationCode": config.operation_code,
                       "stationType": config.station_type, "stationGroupCode": config.station_group_code,
                       "allowedStationCodes": config.allowed_station_codes, "requiresFai": config.requires_fai,
                       "dataSpecs": [s.name for s in cfg.data_specs]}
        if _config_is_empty(cfg):
            routing.configs.remove(cfg)
            return None
        return cfg


def _step_input(step: RoutingStep) -> StepInput:
    return StepInput(step_no=step.step_no, operation_code=step.operation.code,
                     station_group_code=step.station_group.code if step.station_group else None,
                     station_type=step.station_type, requires_fai=step.requires_fai)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def config_to_dict(cfg: RouteExecutionConfig) -> dict[str, Any]:
    return {"scope": cfg.scope, "stepNo": cfg.step.step_no if cfg.step else None,
            "operationCode": cfg.operation.code if cfg.operation else None,
            "stationType": cfg.station_type,
            "stationGroupCode": cfg.station_group.code if cfg.station_group else None,
            "allowedStationCodes": cfg.allowed_station_codes, "requiresFai": cfg.requires_fai,
            "dataSpecs": [s.name for s in cfg.data_specs]}


def routing_to_dict(routing: Routing, *, with_versions: bool = False) -> dict[str, Any]:
    order = {"ROUTE": 0, "OPERATION": 1, "STEP": 2}
    data = {
        "code": routing.code, "name": routing.name, "processType": routing.process_type,
        "productCode": routing.product.code if routing.product else None,
        "sourceSystem": routing.source_system, "sourceKey": routing.source_key,
        "versionLabel": routing.version_label,
        "effectiveFrom": routing.effective_from.isoformat() if routing.effective_from else None,
        "effectiveTo": routing.effective_to.isoformat() if routing.effective_to else None,
        "isActive": routing.is_active, "readOnlySteps": routing.is_erp,
        "steps": [{"stepNo": s.step_no, "operationCode": s.operation.code,
                   "stationGroupCode": s.station_group.code if s.station_group else None,
                   "stationType": s.station_type, "requiresFai": s.requires_fai}
                  for s in sorted(routing.steps, key=lambda s: s.step_no)],
        "executionConfig": [config_to_dict(c) for c in sorted(
            routing.configs, key=lambda c: (order[c.scope], c.step.step_no if c.step else 0,
                                            c.operation.code if c.operation else ""))],
    }
    if with_versions:
        latest = latest_version(routing)
        data["latestVersion"] = version_to_dict(latest) if latest else None
    return data


ROUTING_SORTING = Sorting({
    "code": Routing.code, "name": Routing.name,
    "productCode": select(Product.code).where(Product.id == Routing.product_id).correlate(Routing).scalar_subquery(),
    "processType": Routing.process_type, "sourceSystem": Routing.source_system, "isActive": Routing.is_active,
})


def list_routings(*, actor: Actor, product_code: str | None = None, q: str | None = None, sort: str | None = None,
                  order: str | None = None) -> list[Routing]:
    """Routings by code, or by the column `sort` names (ROUTING_SORTING; VALIDATION_ERROR for another)."""
    require_permission(actor, "route:read")
    resolved = ROUTING_SORTING.resolve(sort, order)
    stmt = select(Routing).order_by(*ROUTING_SORTING.order_by(resolved, default=[Routing.code], tiebreak=Routing.code))
    if product_code:
        stmt = stmt.join(Product, Product.id == Routing.product_id).where(Product.code == product_code)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(Routing.code).like(like) | func.lower(Routing.name).like(like))
    return list(db.session.execute(stmt).scalars())


def editor_choices() -> dict[str, list]:
    """What the Routing Editor offers to pick: active operations and stations, every station group
    and product."""
    return {
        "operations": list(db.session.execute(select(Operation).where(Operation.is_active.is_(True))
                                              .order_by(Operation.code)).scalars()),
        "groups": list(db.session.execute(select(StationGroup).order_by(StationGroup.code)).scalars()),
        "stations": list(db.session.execute(select(Station).where(Station.is_active.is_(True))
                                            .order_by(Station.code)).scalars()),
        "products": list(db.session.execute(select(Product).order_by(Product.code)).scalars()),
    }


def resolve_routing(product: Product, *, explicit: Routing | None = None,
                    at: datetime | None = None) -> Optional[Routing]:
    """The routing a work order of `product` uses: the explicit one, else the active routing of the
    product that is effective at `at` — MES before ERP, then the latest effective_from."""
    if explicit is not None:
        return explicit
    at = at or now()
    candidates = db.session.execute(select(Routing).where(Routing.product_id == product.id,
                                                          Routing.is_active.is_(True))).scalars().all()
    effective = [r for r in candidates
                 if (r.effective_from is None or r.effective_from <= at)
                 and (r.effective_to is None or at < r.effective_to)]
    if not effective:
        return None
    effective.sort(key=lambda r: (r.source_system != "MES",
                                  -r.effective_from.timestamp() if r.effective_from else float("inf"), r.code))
    return effective[0]
