"""Data-collection specs (spec 02_rules §1, "DataCollectionSpec"): the field rules, and the use cases
of the REST API. The console's screen writes through Flask-AppBuilder and runs the same rules:
`check_fields` is the DataCollectionSpec rule of master_data.validate_save (registered by
services/wiring.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import func, select

from ...extensions import db
from ...models import DataCollectionSpec, Operation
from ...models.routing import DATA_TYPES, ITEM_TYPES, LIMIT_ACTIONS, METHODS
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M, join
from ..platform.scope import require_permission
from ..platform.uow import unit_of_work
from ..platform.validation import fields_error
from .master_data import validate_save

FIELDS = ("name", "description", "item_type", "data_type", "enum_options", "method", "uom", "lsl", "target",
          "usl", "limit_action", "is_required", "is_active")


def parse_options(value: Any) -> Optional[list[str]]:
    """ENUM options as a clean list (the console sends one text: comma- or line-separated)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for line in value.splitlines() for part in line.split(",")]
    options: list[str] = []
    for option in value:
        text = str(option).strip()
        if text and text not in options:
            options.append(text)
    return options


def check_fields(spec: DataCollectionSpec) -> None:
    """Field rules of a spec: choices, ENUM options, NUMBER limits (lsl ≤ target ≤ usl) and the
    default limit action (FAIL for a NUMBER with limits). Normalises the row in place."""
    errors: dict[str, str] = {}
    for column, allowed in (("item_type", ITEM_TYPES), ("data_type", DATA_TYPES), ("method", METHODS)):
        if getattr(spec, column) not in allowed:
            errors[column] = M("Must be one of {choices}.", choices=join(allowed))
    if spec.limit_action not in (None, "", *LIMIT_ACTIONS):
        errors["limit_action"] = M("Must be one of {choices}.", choices=join(LIMIT_ACTIONS))
    if spec.operation is None and spec.operation_id is None:
        errors["operation"] = M("An operation is required.")
    if spec.data_type == "ENUM":
        spec.enum_options = parse_options(spec.enum_options)
        if not spec.enum_options:
            errors["enum_options"] = M("An ENUM spec needs at least one option.")
    else:
        spec.enum_options = None
    if errors:
        raise fields_error(errors)
    limits = {k: getattr(spec, k) for k in ("lsl", "target", "usl") if getattr(spec, k) is not None}
    if spec.data_type != "NUMBER":
        if limits:
            raise DomainError("DATA_SPEC_LIMITS_INVALID", M("Limits (lsl/target/usl) are for NUMBER specs only."),
                              {"fields": sorted(limits)})
        spec.limit_action = None
        return
    values = [limits.get("lsl"), limits.get("target"), limits.get("usl")]
    present = [v for v in values if v is not None]
    if present != sorted(present):
        raise DomainError("DATA_SPEC_LIMITS_INVALID", M("The limits must satisfy lsl ≤ target ≤ usl."),
                          {"lsl": values[0], "target": values[1], "usl": values[2]})
    if not spec.limit_action:
        spec.limit_action = "FAIL" if ("lsl" in limits or "usl" in limits) else None


def spec_to_dict(spec: DataCollectionSpec) -> dict[str, Any]:
    return {
        "id": spec.id, "operationCode": spec.operation.code, "name": spec.name,
        "description": spec.description, "itemType": spec.item_type, "dataType": spec.data_type,
        "enumOptions": spec.enum_options, "method": spec.method, "uom": spec.uom, "lsl": spec.lsl,
        "target": spec.target, "usl": spec.usl, "limitAction": spec.limit_action,
        "isRequired": spec.is_required, "isActive": spec.is_active,
    }


@dataclass
class SpecQuery:
    operation_code: str | None = None
    name: str | None = None
    data_type: str | None = None
    is_active: bool | None = None


def list_specs(*, actor: Actor, query: SpecQuery, page: int = 1, page_size: int = 100
               ) -> tuple[list[DataCollectionSpec], int]:
    require_permission(actor, "data_spec:read")
    stmt = select(DataCollectionSpec).join(Operation, Operation.id == DataCollectionSpec.operation_id)
    if query.operation_code:
        stmt = stmt.where(Operation.code == query.operation_code)
    if query.name:
        stmt = stmt.where(func.lower(DataCollectionSpec.name).contains(query.name.lower()))
    if query.data_type:
        stmt = stmt.where(DataCollectionSpec.data_type == query.data_type.upper())
    if query.is_active is not None:
        stmt = stmt.where(DataCollectionSpec.is_active == query.is_active)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(Operation.code, DataCollectionSpec.name)
                              .limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return list(rows), total


def specs_of(operation_code: str | None = None) -> list[DataCollectionSpec]:
    """Specs of one operation (every operation without one), by operation and name: the editor's picker."""
    stmt = select(DataCollectionSpec).join(Operation, Operation.id == DataCollectionSpec.operation_id)
    if operation_code is not None:
        stmt = stmt.where(Operation.code == operation_code)
    return list(db.session.execute(stmt.order_by(Operation.code, DataCollectionSpec.name)).scalars())


def spec_labels() -> dict[int, str]:
    """The readable label (description) of every spec that has one, by id: the Station Terminal's field
    labels (the frozen route snapshot carries names only)."""
    rows = db.session.execute(select(DataCollectionSpec.id, DataCollectionSpec.description)
                              .where(DataCollectionSpec.description.is_not(None))).all()
    return {spec_id: text.strip() for spec_id, text in rows if text and text.strip()}


def get_spec(spec_id: int) -> DataCollectionSpec:
    spec = db.session.get(DataCollectionSpec, spec_id)
    if spec is None:
        raise DomainError("DATA_SPEC_NOT_FOUND", M("No data-collection spec with id {id}.", id=spec_id))
    return spec


def operation_by_code(code: str) -> Operation:
    operation = db.session.execute(select(Operation).where(Operation.code == code)).scalar_one_or_none()
    if operation is None:
        raise DomainError("OPERATION_NOT_FOUND", M("No operation {code}.", code=code), {"operationCode": code})
    return operation


def create_spec(*, actor: Actor, operation_code: str, fields: dict[str, Any]) -> DataCollectionSpec:
    """Create a spec (`data_spec:config`): name unique per operation, limits valid."""
    require_permission(actor, "data_spec:config")
    with unit_of_work(actor, "DATA_SPEC_CREATE", "DATA_SPEC", f"{operation_code}/{fields.get('name')}") as uow:
        spec = DataCollectionSpec(operation=operation_by_code(operation_code),
                                  **{k: v for k, v in fields.items() if k in FIELDS})
        for attr, default in (("item_type", "KEY"), ("data_type", "NUMBER"), ("method", "MANUAL"),
                              ("is_required", False), ("is_active", True)):
            if getattr(spec, attr) is None:
                setattr(spec, attr, default)
        validate_save(spec, is_new=True)
        uow.session.add(spec)
        uow.session.flush()
        uow.diff = {"after": spec_to_dict(spec)}
    return spec


def update_spec(*, actor: Actor, spec_id: int, fields: dict[str, Any],
                operation_code: str | None = None) -> DataCollectionSpec:
    """Change a spec (`data_spec:config`); the same rules as on creation."""
    require_permission(actor, "data_spec:config")
    with unit_of_work(actor, "DATA_SPEC_UPDATE", "DATA_SPEC", str(spec_id)) as uow:
        spec = get_spec(spec_id)
        before = spec_to_dict(spec)
        uow.entity_key = f"{spec.operation.code}/{spec.name}"
        if operation_code is not None:
            spec.operation = operation_by_code(operation_code)
        for key, value in fields.items():
            if key in FIELDS:
                setattr(spec, key, value)
        validate_save(spec, is_new=False)
        uow.session.flush()
        after = spec_to_dict(spec)
        uow.diff = {"before": {k: v for k, v in before.items() if after[k] != v},
                    "after": {k: v for k, v in after.items() if before[k] != v}}
    return spec


def set_active(*, actor: Actor, spec_ids: list[int], active: bool) -> int:
    """Enable or disable specs (the console's list actions)."""
    require_permission(actor, "data_spec:config")
    action = "DATA_SPEC_ENABLE" if active else "DATA_SPEC_DISABLE"
    with unit_of_work(actor, action, "DATA_SPEC", ",".join(str(i) for i in spec_ids)) as uow:
        changed = []
        for spec_id in spec_ids:
            spec = get_spec(spec_id)
            if spec.is_active != active:
                spec.is_active = active
                changed.append(f"{spec.operation.code}/{spec.name}")
        if not changed:
            uow.nothing_changed()
        uow.payload = {"specs": changed}
    return len(changed)
