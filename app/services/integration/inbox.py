"""Inbound integration messages (spec 02_rules §11): every message is logged; a repeat of a message
(same dedupe key) returns the stored result with `duplicate: true` and never repeats side effects;
missing or invalid required keys → VALIDATION_ERROR 422, logged as a FAILED message, nothing else
written; unknown extra keys are kept in the logged payload and otherwise ignored. The server decides
the source: an API-key (integration) call is AUTO, a person's call is MANUAL with their username.

The inbox knows no business context: each context brings its schema, business key and handler
(`receive(…, handler=…)`), e.g. work orders in production, ERP routings in engineering, SPI/AOI
results in quality."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from marshmallow import EXCLUDE, Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import IntegrationMessage
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.inputs import field_details
from ..platform.uow import UnitOfWork, unit_of_work


def source_of(actor: Actor) -> tuple[str, Optional[str]]:
    """(source, operator): the integration account is AUTO; a person is MANUAL, as themselves."""
    if actor.actor_type in ("INTEGRATION", "SYSTEM"):  # SYSTEM: the seed and scripts act as the machine
        return "AUTO", None
    return "MANUAL", actor.username


def content_hash(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass
class InboundResult:
    data: dict[str, Any]
    duplicate: bool
    message_id: int


def _log(actor: Actor, system: str, entity_type: str, business_key: Optional[str], payload: Any, *,
         status: str, dedupe_key: Optional[str] = None, content: Optional[str] = None,
         result: Optional[dict] = None, error: Optional[DomainError] = None,
         duplicate_of: Optional[int] = None) -> IntegrationMessage:
    source, operator = source_of(actor)
    message = IntegrationMessage(
        direction="IN", system=system, entity_type=entity_type, business_key=business_key,
        dedupe_key=dedupe_key, content_hash=content, status=status, source=source, operator=operator,
        payload=payload if isinstance(payload, dict) else {"raw": payload}, result=result,
        error=error.message if error else None, error_code=error.code if error else None,
        duplicate_of_id=duplicate_of)
    db.session.add(message)
    return message


def _log_alone(*args, **kwargs) -> IntegrationMessage:
    """A FAILED or DUPLICATE message is its own short transaction."""
    db.session.rollback()
    message = _log(*args, **kwargs)
    db.session.commit()
    return message


def receive(*, actor: Actor, system: str, entity_type: str, action: str, payload: Any, schema: Schema,
            key: Callable[[dict], str], handler: Callable[[UnitOfWork, dict], dict],
            event_id: Callable[[dict], str] | None = None) -> InboundResult:
    """Validate, deduplicate, apply and log one inbound message.

    `key(data)` is the business key. With `event_id(data)`, a message whose event id was already
    applied is a duplicate; without it, a message whose content equals the latest successful message
    of the same business key is. `handler(uow, data)` applies the message and returns the result that
    is stored with it (and answered again for duplicates). The duplicate check runs inside the write
    transaction, so two copies arriving together apply once.
    """
    if not isinstance(payload, dict):
        error = DomainError("VALIDATION_ERROR", M("The body must be a JSON object."))
        _log_alone(actor, system, entity_type, None, payload, status="FAILED", error=error)
        raise error
    try:
        data = schema.load(payload, unknown=EXCLUDE)  # extras stay in the logged payload
    except ValidationError as exc:
        error = DomainError("VALIDATION_ERROR", M("Missing or invalid fields."), field_details(exc.messages))
        guess = payload.get("eventId") or payload.get("code") or payload.get("woNo")
        _log_alone(actor, system, entity_type, str(guess)[:128] if guess else None, payload, status="FAILED",
                   error=error)
        raise error from None
    business_key = key(data)
    dedupe_key = f"{entity_type}:{event_id(data)}" if event_id else None
    content = None if event_id else content_hash(data)
    original: Optional[IntegrationMessage] = None
    try:
        with unit_of_work(actor, action, entity_type, business_key, payload={"system": system}) as uow:
            original = _original(system, entity_type, business_key, dedupe_key, content)
            if original is not None:
                uow.nothing_changed()
            else:
                result = handler(uow, data)
                message = _log(actor, system, entity_type, business_key, payload, status="SUCCESS",
                               dedupe_key=dedupe_key, content=content, result=result)
                uow.session.flush()
                message_id = message.id
    except DomainError as error:
        _log_alone(actor, system, entity_type, business_key, payload, status="FAILED", error=error)
        raise
    except IntegrityError:
        # the same message arrived twice at the same moment (PostgreSQL): the other one won
        db.session.rollback()
        original = _original(system, entity_type, business_key, dedupe_key, content)
        if original is None:
            raise
    if original is not None:
        result = dict(original.result or {})
        duplicate = _log_alone(actor, system, entity_type, business_key, payload, status="DUPLICATE",
                               result=result, duplicate_of=original.id)
        return InboundResult({**result, "duplicate": True}, True, duplicate.id)
    return InboundResult({**result, "duplicate": False}, False, message_id)


def _original(system: str, entity_type: str, business_key: str, dedupe_key: Optional[str],
              content: Optional[str]) -> Optional[IntegrationMessage]:
    if dedupe_key is not None:
        return db.session.execute(select(IntegrationMessage).where(
            IntegrationMessage.system == system, IntegrationMessage.dedupe_key == dedupe_key)).scalar_one_or_none()
    latest = db.session.execute(select(IntegrationMessage).where(
        IntegrationMessage.system == system, IntegrationMessage.entity_type == entity_type,
        IntegrationMessage.business_key == business_key, IntegrationMessage.status == "SUCCESS")
        .order_by(IntegrationMessage.id.desc()).limit(1)).scalar_one_or_none()
    return latest if latest is not None and latest.content_hash == content else None
