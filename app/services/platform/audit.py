"""The audit trail (spec 02_rules §12): writing events, the CRUD session hook, and reading events.

- Services write through `unit_of_work` (services/platform/uow.py), in the same transaction as the change.
- Flask-AppBuilder's CRUD screens and model APIs write through `SQLAInterface`, which commits on its
  own; the `before_flush` hook below audits every master-data and security change made outside a
  unit of work, so nothing escapes the trail.
- Failed business attempts are audited in their own short transaction (`record_failure`).
"""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from flask_appbuilder.security.sqla.models import (
    ApiKey, Group, PermissionView, Role, User,
)
from sqlalchemy import and_, bindparam, event, func, insert, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from ...extensions import db
from ...models import (
    AuditEvent, BomItem, DefectCode, Equipment, FeederSlot, Line, Material, MaterialLot, MesUser, Operation,
    OqcSamplingRule, Product, RoleScope, SecurityVersion, SlotMaterialMapping, Station, StationGroup,
)
from .actor import Actor
from .clock import now
from .context import ambient_actor, client_ip_var, request_id_var
from .errors import DomainError

# Rejections that are logged, not audited (02_rules §12): scanners repeat them.
NOT_AUDITED_STATUSES = (401, 403, 422)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def event_values(actor: Actor, action: str, entity_type: str | None, entity_key: str | None, *,
                 status: str = "SUCCESS", error_code: str | None = None, diff: dict | None = None,
                 reason: str | None = None, payload: dict | None = None,
                 at: dt.datetime | None = None) -> dict[str, Any]:
    """Column values of one audit event; the request id and client address come from the context."""
    return {
        "at": at or now(),
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "actor_roles": actor.roles_label or None,
        "actor_type": actor.actor_type,
        "action": action,
        "entity_type": entity_type,
        "entity_key": None if entity_key is None else str(entity_key)[:256],
        "status": status,
        "error_code": error_code,
        "diff": _jsonable(diff) if diff else None,
        "reason": reason,
        "payload": _jsonable(payload) if payload else None,
        "request_id": request_id_var.get(),
        "ip": client_ip_var.get(),
    }


INSERT_EVENT = insert(AuditEvent.__table__)  # built once: every scan of the hot path writes an event


def write_event(session: Session, actor: Actor, action: str, entity_type: str | None,
                entity_key: str | None, **kwargs: Any) -> None:
    """Insert one event in the session's current transaction (a Core insert on the session's
    connection: cheap on hot paths)."""
    session.connection().execute(INSERT_EVENT, event_values(actor, action, entity_type, entity_key, **kwargs))


def record_failure(actor: Actor, action: str, entity_type: str | None, entity_key: str | None,
                   error: DomainError, payload: dict | None = None) -> None:
    """Audit a refused business attempt in its own short transaction (the attempt itself rolled
    back). Authentication, permission and schema rejections are logged only."""
    if error.status in NOT_AUDITED_STATUSES:
        return
    session = db.session
    session.rollback()
    write_event(session, actor, action, entity_type, entity_key, status="FAIL",
                error_code=error.code, payload={"message": error.message, "details": error.details,
                                                **(payload or {})})
    session.commit()


def record_standalone(actor: Actor, action: str, entity_type: str | None = None,
                      entity_key: str | None = None, **kwargs: Any) -> None:
    """Audit an event that is its own transaction (logins, failed logins)."""
    session = db.session
    write_event(session, actor, action, entity_type, entity_key, **kwargs)
    session.commit()


# ---------------------------------------------------------------------------------------------
# CRUD hook: master data and security changes made by Flask-AppBuilder's screens and model APIs.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditedEntity:
    entity_type: str
    ignored: frozenset[str] = frozenset()
    secret: frozenset[str] = frozenset()


_USER_IGNORED = frozenset({"last_login", "login_count", "fail_login_count", "last_failed_login_at",
                           "changed_on", "created_on", "created_by_fk", "changed_by_fk",
                           "created_by", "changed_by", "session_version"})

AUDITED: dict[type, AuditedEntity] = {
    Product: AuditedEntity("PRODUCT"),
    Material: AuditedEntity("MATERIAL"),
    BomItem: AuditedEntity("BOM_ITEM"),
    MaterialLot: AuditedEntity("MATERIAL_LOT"),
    Line: AuditedEntity("LINE"),
    StationGroup: AuditedEntity("STATION_GROUP"),
    Station: AuditedEntity("STATION"),
    Operation: AuditedEntity("OPERATION"),
    Equipment: AuditedEntity("EQUIPMENT"),
    DefectCode: AuditedEntity("DEFECT_CODE"),
    # the slot's loading state (current lot, lock) changes only through the audited loading service
    FeederSlot: AuditedEntity("FEEDER_SLOT", ignored=frozenset({"current_lot", "current_lot_id", "is_locked",
                                                                "failed_attempts", "locked_at", "locked_reason"})),
    SlotMaterialMapping: AuditedEntity("SLOT_MAPPING"),
    OqcSamplingRule: AuditedEntity("OQC_SAMPLING_RULE"),
    User: AuditedEntity("USER", ignored=_USER_IGNORED, secret=frozenset({"password"})),
    Role: AuditedEntity("ROLE"),
    Group: AuditedEntity("GROUP"),
    RoleScope: AuditedEntity("ROLE_SCOPE"),
    ApiKey: AuditedEntity("API_KEY", ignored=frozenset({"last_used_on"}),
                          secret=frozenset({"key_hash", "lookup_hash"})),
}

# Changes to these invalidate every per-process permission cache (security version bump).
# PermissionView rows themselves are catalogue data created by sync-roles; granting them to a role
# is audited as a change of the role.
SECURITY_CLASSES = (User, Role, Group, RoleScope, PermissionView, ApiKey)
_SKIP_TIMESTAMP_COLS = frozenset({"created_at", "updated_at"})


def _audited(obj: Any) -> Optional[AuditedEntity]:
    for cls in type(obj).__mro__:
        spec = AUDITED.get(cls)
        if spec is not None:
            return spec
    return None


def entity_key(obj: Any) -> str:
    if isinstance(obj, BomItem):
        product = obj.product.code if obj.product else obj.product_id
        material = obj.material.code if obj.material else obj.material_id
        return f"{product}/{material}"
    if isinstance(obj, MaterialLot):
        material = obj.material.code if obj.material else obj.material_id
        return f"{material}|{obj.lot_no}"
    if isinstance(obj, SlotMaterialMapping):
        scope = "/".join(x.code for x in (obj.product, obj.routing) if x is not None) or "any product"
        return f"{obj.slot}: {obj.material.code if obj.material else obj.material_id} ({scope})"
    if isinstance(obj, OqcSamplingRule):
        return str(obj.id)  # rules are known by their id (the API's), names need not be unique
    if isinstance(obj, User):
        return obj.username
    if isinstance(obj, (Role, Group)):
        return obj.name
    if isinstance(obj, RoleScope):
        return str(obj.role_id)
    if isinstance(obj, ApiKey):
        return f"{obj.name} ({obj.key_prefix}…)"
    if isinstance(obj, PermissionView):
        return str(obj)
    return str(getattr(obj, "code", None) or obj)


def _label(value: Any) -> Any:
    """A related object as its business key, a scalar as itself."""
    if value is None or isinstance(value, (str, int, float, bool, dt.date, decimal.Decimal, list, dict)):
        return value
    return entity_key(value) if _audited(value) else str(value)


def _snapshot(obj: Any, spec: AuditedEntity) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in spec.ignored or key in _SKIP_TIMESTAMP_COLS or key == "id":
            continue
        out[key] = "***" if key in spec.secret else getattr(obj, key)
    return out


def _changes(obj: Any, spec: AuditedEntity) -> tuple[dict, dict]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.attrs:
        key = attr.key
        if key in spec.ignored or key in _SKIP_TIMESTAMP_COLS:
            continue
        hist = get_history(obj, key)
        if not hist.has_changes():
            continue
        if hasattr(attr, "direction"):  # relationship (collections: roles, lines, stations, ...)
            if attr.uselist:
                current = [str(_label(v)) for v in (getattr(obj, key) or [])]
                added = [str(_label(v)) for v in hist.added]
                removed = [str(_label(v)) for v in hist.deleted]
                before[key] = sorted([v for v in current if v not in added] + removed)
                after[key] = sorted(current)
            else:
                before[key] = _label(hist.deleted[0]) if hist.deleted else None
                after[key] = _label(hist.added[0]) if hist.added else None
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else getattr(obj, key)
        if old == new:
            continue
        if key in spec.secret:
            before[key], after[key] = "***", "*** (changed)"
        else:
            before[key], after[key] = old, new
    # foreign-key columns duplicate their relationship; keep the readable side when both changed
    for key in list(after):
        if key.endswith("_id") and key[:-3] in after:
            before.pop(key, None)
            after.pop(key, None)
    return before, after


def _collect(session: Session) -> tuple[list[dict], list[tuple[Any, AuditedEntity]], bool]:
    """Before a flush: events for updated and deleted audited rows (their history is only visible
    now), the new audited rows (their event is written after the flush, when defaults and ids are
    set), and whether any security row changed (which bumps the security version — inside a unit of
    work too). Changes made inside a unit of work are audited by the use case itself."""
    events: list[dict] = []
    created: list[tuple[Any, AuditedEntity]] = []
    touches_security = False
    silent = session.info.get("uow") is not None or session.info.get("crud_audit_off", False)

    for obj in list(session.new):
        spec = _audited(obj)
        touches_security = touches_security or isinstance(obj, SECURITY_CLASSES)
        if spec is not None and not silent:
            created.append((obj, spec))
    for obj in list(session.dirty):
        spec = _audited(obj)
        security = isinstance(obj, SECURITY_CLASSES)
        if (spec is None and not security) or not session.is_modified(obj, include_collections=True):
            continue
        before, after = _changes(obj, spec or AuditedEntity("-"))
        if not before and not after:
            continue
        touches_security = touches_security or security
        if spec is not None and not silent:
            events.append(_crud_event(session, "UPDATE", obj, spec, {"before": before, "after": after}))
    for obj in list(session.deleted):
        spec = _audited(obj)
        touches_security = touches_security or isinstance(obj, SECURITY_CLASSES)
        if spec is not None and not silent:
            events.append(_crud_event(session, "DELETE", obj, spec, {"before": _snapshot(obj, spec)}))
    return events, created, touches_security


def _crud_event(session: Session, kind: str, obj: Any, spec: AuditedEntity, diff: dict) -> dict:
    actor = session.info.get("uow_actor") or ambient_actor()
    return event_values(actor, f"{spec.entity_type}_{kind}", spec.entity_type, entity_key(obj), diff=diff)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    events, created, touches_security = _collect(session)
    if events:
        session.info.setdefault("pending_audit", []).extend(events)
    if created:
        session.info.setdefault("pending_created", []).extend(created)
    if touches_security:
        session.info["bump_security"] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    events = session.info.pop("pending_audit", None) or []
    for obj, spec in session.info.pop("pending_created", None) or []:
        events.append(_crud_event(session, "CREATE", obj, spec, {"after": _snapshot(obj, spec)}))
    if events:
        session.connection().execute(insert(AuditEvent.__table__), events)
    if session.info.pop("bump_security", False):
        bump_security_version(session.connection())


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    for key in ("pending_audit", "pending_created", "bump_security"):
        session.info.pop(key, None)


SECURITY_VERSION = select(SecurityVersion.__table__.c.version).where(SecurityVersion.__table__.c.id == 1)
# What a deferred security check compares (uow.py): the shared security version, and the session version
# of the user `actor_id` (a console session is valid while it equals the one the session started with);
# as columns of a hot-path query, or read on their own.
SECURITY_VERSION_COLUMN = SECURITY_VERSION.scalar_subquery()
SESSION_VERSION_COLUMN = (select(MesUser.__table__.c.session_version)
                          .where(MesUser.__table__.c.id == bindparam("actor_id")).scalar_subquery())
SECURITY_CHECK = select(SECURITY_VERSION_COLUMN, SESSION_VERSION_COLUMN)


def security_version(conn) -> int:
    """The shared security version (0 before the first security change), read on `conn`."""
    return int(conn.execute(SECURITY_VERSION).scalar() or 0)


def bump_security_version(conn) -> None:
    """Invalidate every process's permission cache (same transaction as the change)."""
    table = SecurityVersion.__table__
    result = conn.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1))
    if result.rowcount == 0:
        conn.execute(insert(table).values(id=1, version=2))


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

@dataclass
class AuditQuery:
    entity_type: str | None = None
    entity_key: str | None = None
    action: str | None = None
    actor: str | None = None
    status: str | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None


def _filtered(actor: Actor, query: AuditQuery):
    stmt = select(AuditEvent)
    conditions = []
    if not actor.can("audit:read_all"):
        # own events only (02_rules §12)
        conditions.append(AuditEvent.actor_id == actor.user_id)
    if query.entity_type:
        conditions.append(AuditEvent.entity_type == query.entity_type.upper())
    if query.entity_key:
        conditions.append(AuditEvent.entity_key == query.entity_key)
    if query.action:
        conditions.append(AuditEvent.action == query.action.upper())
    if query.actor:
        conditions.append(func.lower(AuditEvent.actor_username) == query.actor.lower())
    if query.status:
        conditions.append(AuditEvent.status == query.status.upper())
    if query.date_from:
        conditions.append(AuditEvent.at >= query.date_from)
    if query.date_to:
        conditions.append(AuditEvent.at < query.date_to)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return stmt


def list_events(*, actor: Actor, query: AuditQuery, page: int = 1, page_size: int = 50
                ) -> tuple[list[AuditEvent], int]:
    """Audit events visible to the actor (`audit:read` own events, `audit:read_all` every event),
    newest first."""
    if not (actor.can("audit:read") or actor.can("audit:read_all")):
        raise DomainError("FORBIDDEN", "You may not read the audit log.")
    stmt = _filtered(actor, query)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).scalars().all()
    return list(rows), total


def iter_events(*, actor: Actor, query: AuditQuery, limit: int = 100_000) -> Iterable[AuditEvent]:
    """All matching events (for exports), newest first, streamed in batches."""
    if not (actor.can("audit:read") or actor.can("audit:read_all")):
        raise DomainError("FORBIDDEN", "You may not read the audit log.")
    stmt = _filtered(actor, query).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    yield from db.session.execute(stmt.execution_options(yield_per=1000)).scalars()


def entity_events(entity_type: str, entity_key: str, *, limit: int = 100,
                  also: Iterable[tuple[str, str]] = ()) -> list[AuditEvent]:
    """The latest events of one entity, newest first (a run's history on Run Detail, for those who
    may read the run) — with those of the entities `also` names (type, key), e.g. the run's FAIs and
    OQCs, whose items, decisions and signatures are events of the inspection."""
    keys: dict[str, list[str]] = {entity_type: [entity_key]}
    for other_type, other_key in also:
        keys.setdefault(other_type, []).append(str(other_key))
    condition = or_(*(and_(AuditEvent.entity_type == kind, AuditEvent.entity_key.in_(values))
                      for kind, values in keys.items()))
    return list(db.session.execute(select(AuditEvent).where(condition)
                                   .order_by(AuditEvent.id.desc()).limit(limit)).scalars())


def event_to_dict(event_row: AuditEvent) -> dict[str, Any]:
    return {
        "id": event_row.id,
        "at": event_row.at.isoformat() if event_row.at else None,
        "actor": event_row.actor_username,
        "actorId": event_row.actor_id,
        "actorRoles": event_row.actor_roles.split(",") if event_row.actor_roles else [],
        "actorType": event_row.actor_type,
        "action": event_row.action,
        "entityType": event_row.entity_type,
        "entityKey": event_row.entity_key,
        "status": event_row.status,
        "errorCode": event_row.error_code,
        "diff": event_row.diff,
        "reason": event_row.reason,
        "payload": event_row.payload,
        "requestId": event_row.request_id,
        "ip": event_row.ip,
    }
