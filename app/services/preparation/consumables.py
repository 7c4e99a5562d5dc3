"""Line consumables and degraded-mode integrations (spec 02_rules §11).

- Binding a stencil or a solder-paste lot to a line (`line_consumables:bind`) closes the previous one.
- Stencil, solder-paste and equipment statuses arrive from TPM/WMS (the integration account: source
  AUTO) or are entered by hand when those systems are offline (`integration:manual_entry`: source
  MANUAL, the operator is the signed-in user — a body field naming someone else is ignored).
  Idempotent by event id; status records are append-only and the latest by event time counts, so a
  MANUAL record is never overwritten — a later AUTO record simply becomes the latest.
- The integration status and message log are the integration context's
  (services/integration/status.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from ...extensions import db
from ...models import (
    Equipment, EquipmentStatusEvent, Line, LineSolderPaste, LineStencil, SolderPasteStatus, Station, StencilStatus,
)
from ...models.master import EQUIPMENT_STATUSES
from ...models.readiness import PASTE_STATUSES, STENCIL_STATUSES
from ..integration.inbox import InboundResult, receive, source_of
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.inputs import EventTime, Key, Number, Text, latest_credible_time
from ..platform.scope import in_line_scope, require_line, require_permission, sees_all_lines
from ..platform.uow import UnitOfWork, unit_of_work

# ---------------------------------------------------------------------------------------------
# Bindings
# ---------------------------------------------------------------------------------------------


def _line(line_code: str) -> Line:
    line = db.session.execute(select(Line).where(Line.code == line_code)).scalar_one_or_none()
    if line is None:
        raise DomainError("LINE_NOT_FOUND", M("No line {line}.", line=line_code), {"lineCode": line_code})
    return line


def _bind(actor: Actor, line_code: str, model, attr: str, value: str, action: str):
    require_permission(actor, "line_consumables:bind")
    value = (value or "").strip()
    with unit_of_work(actor, action, "LINE", line_code) as uow:
        line = _line(line_code)
        require_line(actor, line.id, line.code)
        if not value:
            raise DomainError("VALIDATION_ERROR", M("{field} is required.", field=attr), {"fields": {attr: "required"}})
        current = db.session.execute(uow.lock(select(model).where(model.current_line_id == line.id))).scalar_one_or_none()
        if current is not None and getattr(current, attr) == value:
            uow.nothing_changed()
            return current
        at = now()
        if current is not None:
            current.current_line_id, current.unbound_at, current.unbound_by = None, at, actor.username
            db.session.flush()
        binding = model(line_id=line.id, current_line_id=line.id, bound_by=actor.username, bound_at=at,
                        **{attr: value})
        uow.session.add(binding)
        uow.session.flush()
        uow.diff = {"before": {attr: getattr(current, attr) if current else None}, "after": {attr: value}}
    return binding


def bind_stencil(*, actor: Actor, line_code: str, stencil_id: str) -> LineStencil:
    """Bind a stencil to a line (`line_consumables:bind`), closing the previous binding."""
    return _bind(actor, line_code, LineStencil, "stencil_id", stencil_id, "LINE_STENCIL_BIND")


def bind_solder_paste(*, actor: Actor, line_code: str, lot_no: str) -> LineSolderPaste:
    """Bind a solder-paste lot to a line (`line_consumables:bind`), closing the previous binding."""
    return _bind(actor, line_code, LineSolderPaste, "lot_no", lot_no, "LINE_SOLDER_PASTE_BIND")


def binding_to_dict(binding, attr: str) -> dict[str, Any]:
    return {attr_name(attr): getattr(binding, attr), "lineId": binding.line_id, "current": binding.is_current,
            "boundBy": binding.bound_by, "boundAt": binding.bound_at.isoformat(),
            "unboundBy": binding.unbound_by, "unboundAt": binding.unbound_at.isoformat() if binding.unbound_at else None}


def attr_name(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(p.capitalize() for p in rest)


def current_bindings(line_id: int) -> dict[str, Any]:
    stencil = db.session.execute(select(LineStencil).where(LineStencil.current_line_id == line_id)).scalar_one_or_none()
    paste = db.session.execute(select(LineSolderPaste).where(LineSolderPaste.current_line_id == line_id)).scalar_one_or_none()
    return {"stencil": binding_to_dict(stencil, "stencil_id") if stencil else None,
            "solderPaste": binding_to_dict(paste, "lot_no") if paste else None}


# ---------------------------------------------------------------------------------------------
# Inbound statuses (AUTO) and manual entries (MANUAL)
# ---------------------------------------------------------------------------------------------

class _Event(Schema):
    eventId = Key("event_id", required=True)
    eventTime = EventTime(required=True)

    class Meta:
        unknown = EXCLUDE


class StencilStatusSchema(_Event):
    stencilId = Key("stencil_id", required=True)
    status = fields.String(required=True, validate=validate.OneOf(STENCIL_STATUSES))
    tension = Number("tension", load_default=None, allow_none=True)


class SolderPasteStatusSchema(_Event):
    lotNo = Key("lot_no", required=True)
    status = fields.String(required=True, validate=validate.OneOf(PASTE_STATUSES))
    expiresAt = fields.AwareDateTime(load_default=None, allow_none=True)
    thawedAt = fields.AwareDateTime(load_default=None, allow_none=True)


class EquipmentStatusSchema(_Event):
    equipmentCode = Key("equipment_code", required=True)
    status = fields.String(required=True, validate=validate.OneOf(EQUIPMENT_STATUSES))
    reason = Text(load_default=None, allow_none=True)


def _may_enter(actor: Actor) -> None:
    if not (actor.can("integration:inbound") or actor.can("integration:manual_entry")):
        raise DomainError("FORBIDDEN", M("You may not send or enter integration data."))


def _require_scope_of_bound(actor: Actor, model, attr: str, value: str) -> None:
    """A person bound to lines enters data only for consumables bound to one of their lines."""
    if actor.actor_type == "INTEGRATION" or sees_all_lines(actor):
        return
    lines = db.session.execute(select(model.line_id).where(model.current_line_id.is_not(None),
                                                           getattr(model, attr) == value)).scalars().all()
    if not any(in_line_scope(actor, line_id) for line_id in lines):
        raise DomainError("FORBIDDEN", M("{value} is not bound to one of your lines.", value=value))


def _extra(payload: Any, schema: Schema) -> Optional[dict]:
    extras = {k: v for k, v in payload.items() if k not in schema.fields and k != "operator"} \
        if isinstance(payload, dict) else {}
    return extras or None


@dataclass(frozen=True)
class _ConsumableFeed:
    """A status feed of a line consumable: who sends it, what it is keyed by, what it records."""
    system: str
    entity: str                     # STENCIL / SOLDER_PASTE (entity types: <entity>_STATUS)
    key: str                        # the body field naming the consumable
    binding: type                   # its line binding (scope: a person enters data for their lines)
    binding_attr: str
    schema: type[Schema]
    model: type
    fields: dict[str, str]          # body field -> column, beyond the event id, time, status and key

    def answer(self, record) -> dict[str, Any]:
        out = {}
        for body_field, column in self.fields.items():
            value = getattr(record, column)
            out[body_field] = value.isoformat() if isinstance(value, datetime) else value
        return out


_STENCIL = _ConsumableFeed("TPM", "STENCIL", "stencilId", LineStencil, "stencil_id", StencilStatusSchema,
                           StencilStatus, {"tension": "tension"})
_PASTE = _ConsumableFeed("WMS", "SOLDER_PASTE", "lotNo", LineSolderPaste, "lot_no", SolderPasteStatusSchema,
                         SolderPasteStatus, {"expiresAt": "expires_at", "thawedAt": "thawed_at"})


def _receive_consumable_status(actor: Actor, payload: Any, feed: _ConsumableFeed) -> InboundResult:
    _may_enter(actor)
    schema = feed.schema()
    source, operator = source_of(actor)

    def handler(uow: UnitOfWork, data: dict) -> dict:
        key = data[feed.key]
        _require_scope_of_bound(actor, feed.binding, feed.binding_attr, key)
        record = feed.model(event_id=data["eventId"], event_time=data["eventTime"], status=data["status"],
                            extra=_extra(payload, schema), source=source, operator=operator,
                            **{feed.binding_attr: key},
                            **{column: data.get(body_field) for body_field, column in feed.fields.items()})
        uow.session.add(record)
        uow.session.flush()
        uow.entity_type, uow.entity_key = feed.entity, key
        return {"eventId": record.event_id, "eventTime": record.event_time.isoformat(), feed.key: key,
                "status": record.status, **feed.answer(record), "source": source, "operator": operator}

    return receive(actor=actor, system=feed.system, entity_type=f"{feed.entity}_STATUS",
                   action=f"{feed.entity}_STATUS_RECORD", payload=payload, schema=schema,
                   key=lambda d: d[feed.key], handler=handler, event_id=lambda d: d["eventId"])


def receive_stencil_status(*, actor: Actor, payload: Any) -> InboundResult:
    """A stencil status `{eventId, eventTime, stencilId, status, tension?}` from TPM, or by hand."""
    return _receive_consumable_status(actor, payload, _STENCIL)


def receive_solder_paste_status(*, actor: Actor, payload: Any) -> InboundResult:
    """A solder-paste status `{eventId, eventTime, lotNo, status, expiresAt?, thawedAt?}` from WMS, or by hand."""
    return _receive_consumable_status(actor, payload, _PASTE)


def receive_equipment_status(*, actor: Actor, payload: Any) -> InboundResult:
    """An equipment status `{eventId, eventTime, equipmentCode, status, reason?}` from TPM, or by hand:
    the latest by event time becomes the equipment's status (a late old event is kept, not applied)."""
    _may_enter(actor)
    schema = EquipmentStatusSchema()
    source, operator = source_of(actor)

    def handler(uow: UnitOfWork, data: dict) -> dict:
        equipment = db.session.execute(uow.lock(select(Equipment).where(Equipment.code == data["equipmentCode"]))
                                       ).scalar_one_or_none()
        if equipment is None:
            raise DomainError("EQUIPMENT_NOT_FOUND", M("No equipment {equipment}.", equipment=data["equipmentCode"]),
                              {"equipmentCode": data["equipmentCode"]})
        if actor.actor_type != "INTEGRATION" and equipment.station_id is not None:
            line_id = db.session.execute(select(Station.line_id).where(Station.id == equipment.station_id)).scalar_one()
            require_line(actor, line_id)
        event = EquipmentStatusEvent(event_id=data["eventId"], event_time=data["eventTime"], equipment_id=equipment.id,
                                     status=data["status"], reason=data.get("reason"), source=source, operator=operator)
        uow.session.add(event)
        applied = (equipment.status_changed_at is None or data["eventTime"] >= equipment.status_changed_at
                   or equipment.status_changed_at > latest_credible_time())
        if applied:  # the latest by event time counts; a late old event is kept but does not win (a stored
            # change time beyond the event window, from before it was enforced, never wins)
            before = equipment.status
            equipment.status, equipment.source, equipment.status_changed_at = data["status"], source, data["eventTime"]
            uow.diff = {"before": {"status": before}, "after": {"status": data["status"], "source": source}}
        uow.session.flush()
        uow.entity_type, uow.entity_key = "EQUIPMENT", equipment.code
        return {"eventId": event.event_id, "eventTime": event.event_time.isoformat(), "equipmentCode": equipment.code,
                "status": event.status, "reason": event.reason, "source": source, "operator": operator,
                "applied": applied, "currentStatus": equipment.status}

    return receive(actor=actor, system="TPM", entity_type="EQUIPMENT_STATUS", action="EQUIPMENT_STATUS_RECORD",
                   payload=payload, schema=schema, key=lambda d: d["equipmentCode"], handler=handler,
                   event_id=lambda d: d["eventId"])


def manual_entry_choices() -> dict[str, Any]:
    """What the Manual Entry forms offer: the stencils and paste lots bound to a line now, and every
    piece of equipment with its current status."""
    return {
        "stencils": list(db.session.execute(select(LineStencil.stencil_id).where(LineStencil.current_line_id.is_not(None))
                                            .order_by(LineStencil.stencil_id)).scalars()),
        "pastes": list(db.session.execute(select(LineSolderPaste.lot_no).where(LineSolderPaste.current_line_id.is_not(None))
                                          .order_by(LineSolderPaste.lot_no)).scalars()),
        "equipment": db.session.execute(select(Equipment.code, Equipment.name, Equipment.status)
                                        .order_by(Equipment.code)).all(),
    }
