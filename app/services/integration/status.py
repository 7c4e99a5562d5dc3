"""Integration status and the message log (spec 02_rules §11, Integration → Status / Messages).

Per external system: the last message, the last 24 h counts by status, and DEGRADED when MANUAL
entries were made since the last AUTO message (the plant is running on typed-in data).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ...extensions import db
from ...models import IntegrationMessage
from ..platform.actor import Actor
from ..platform.clock import now
from ..platform.scope import require_permission
from ..platform.sorting import Sorting

SYSTEMS = ("ERP", "TPM", "WMS", "SPI", "AOI")

# ---------------------------------------------------------------------------------------------


def integration_status(*, actor: Actor) -> list[dict[str, Any]]:
    """Per system: last message, last-24 h counts by status, DEGRADED when MANUAL entries were made
    since the last AUTO message (`integration:view`)."""
    require_permission(actor, "integration:view")
    since = now() - timedelta(hours=24)
    out = []
    for system in SYSTEMS:
        last = db.session.execute(select(IntegrationMessage.received_at, IntegrationMessage.status,
                                         IntegrationMessage.source)
                                  .where(IntegrationMessage.system == system)
                                  .order_by(IntegrationMessage.id.desc()).limit(1)).first()
        counts = dict(db.session.execute(select(IntegrationMessage.status, func.count()).where(
            IntegrationMessage.system == system, IntegrationMessage.received_at >= since)
            .group_by(IntegrationMessage.status)).all())
        last_auto = db.session.execute(select(func.max(IntegrationMessage.id)).where(
            IntegrationMessage.system == system, IntegrationMessage.source == "AUTO",
            IntegrationMessage.status == "SUCCESS")).scalar()
        manual_since = db.session.execute(select(func.count()).select_from(IntegrationMessage).where(
            IntegrationMessage.system == system, IntegrationMessage.source == "MANUAL",
            IntegrationMessage.status == "SUCCESS", IntegrationMessage.id > (last_auto or 0))).scalar_one()
        out.append({"system": system, "lastMessageAt": last.received_at.isoformat() if last else None,
                    "lastStatus": last.status if last else None, "lastSource": last.source if last else None,
                    "last24h": {s: counts.get(s, 0) for s in ("SUCCESS", "FAILED", "DUPLICATE")},
                    "degraded": manual_since > 0, "manualSinceLastAuto": manual_since})
    return out


MESSAGE_SORTING = Sorting({
    "id": IntegrationMessage.id, "receivedAt": IntegrationMessage.received_at, "system": IntegrationMessage.system,
    "entityType": IntegrationMessage.entity_type, "businessKey": IntegrationMessage.business_key,
    "status": IntegrationMessage.status, "source": IntegrationMessage.source, "operator": IntegrationMessage.operator,
    "errorCode": IntegrationMessage.error_code,
})


def list_messages(*, actor: Actor, system: str | None = None, status: str | None = None,
                  date_from: datetime | None = None, date_to: datetime | None = None,
                  page: int = 1, page_size: int = 50, sort: str | None = None,
                  order: str | None = None) -> tuple[list[IntegrationMessage], int]:
    """The message log, newest first, or by the column `sort` names (MESSAGE_SORTING; VALIDATION_ERROR
    for another), `order` asc or desc."""
    require_permission(actor, "integration:view")
    resolved = MESSAGE_SORTING.resolve(sort, order)
    stmt = select(IntegrationMessage)
    if system:
        stmt = stmt.where(IntegrationMessage.system == system.upper())
    if status:
        stmt = stmt.where(IntegrationMessage.status == status.upper())
    if date_from:
        stmt = stmt.where(IntegrationMessage.received_at >= date_from)
    if date_to:
        stmt = stmt.where(IntegrationMessage.received_at < date_to)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    order_by = MESSAGE_SORTING.order_by(resolved, default=[IntegrationMessage.id.desc()], tiebreak=IntegrationMessage.id)
    rows = db.session.execute(stmt.order_by(*order_by).limit(page_size)
                              .offset((page - 1) * page_size)).scalars().all()
    return list(rows), total


def message_to_dict(m: IntegrationMessage) -> dict[str, Any]:
    return {"id": m.id, "direction": m.direction, "system": m.system, "entityType": m.entity_type,
            "businessKey": m.business_key, "status": m.status, "source": m.source, "operator": m.operator,
            "receivedAt": m.received_at.isoformat(), "errorCode": m.error_code, "error": m.error,
            "duplicateOf": m.duplicate_of_id, "payload": m.payload, "result": m.result}


def get_message(*, actor: Actor, message_id: int) -> IntegrationMessage | None:
    """One logged message with its payload and result (`integration:view`); None when there is none."""
    require_permission(actor, "integration:view")
    return db.session.get(IntegrationMessage, message_id)
