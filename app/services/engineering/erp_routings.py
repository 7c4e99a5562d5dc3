"""ERP routings (spec 02_rules §1 and §11): `POST /integration/routings` upserts a routing by code
through the integration inbox. ERP routings keep their step list read-only in MES (`ROUTE_READ_ONLY`,
services/engineering/routing.py); a routing maintained in MES is never overwritten by ERP."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import select

from ...extensions import db
from ...models import Routing
from ..integration.inbox import InboundResult, receive
from ..platform.actor import Actor
from ..platform.errors import DomainError
from ..platform.messages import M
from ..platform.inputs import Key, Text, Whole
from ..platform.scope import require_permission
from ..platform.uow import UnitOfWork
from . import routing as routing_service


class ErpStepSchema(Schema):
    stepNo = Whole("step_no", required=True)
    operationCode = Key("code", required=True)
    stationGroupCode = Key("code", load_default=None, allow_none=True)
    stationType = fields.String(load_default=None, allow_none=True)
    requiresFai = fields.Boolean(load_default=False)

    class Meta:
        unknown = EXCLUDE


class ErpRoutingSchema(Schema):
    code = Key("code", required=True)
    name = Text(200, single_line=True, required=True, validate=validate.Length(min=1))
    productCode = Key("code", load_default=None, allow_none=True)
    processType = fields.String(required=True, validate=validate.OneOf(("SMT", "DIP")))
    sourceKey = Text(128, single_line=True, load_default=None, allow_none=True)
    versionLabel = Text(32, single_line=True, load_default=None, allow_none=True)
    effectiveFrom = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    effectiveTo = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    steps = fields.List(fields.Nested(ErpStepSchema), required=True, validate=validate.Length(min=1))

    class Meta:
        unknown = EXCLUDE


def import_erp_routing(*, actor: Actor, payload: Any) -> InboundResult:
    """`POST /integration/routings` (`integration:inbound`): upsert an ERP routing by code (source
    ERP, read-only steps). Idempotent: the same content again answers the stored result with
    `duplicate: true`."""
    require_permission(actor, "integration:inbound")

    def handler(uow: UnitOfWork, data: dict) -> dict:
        existing = db.session.execute(uow.lock(select(Routing).where(Routing.code == data["code"]))).scalar_one_or_none()
        if existing is not None and not existing.is_erp:
            raise DomainError("ROUTING_CODE_DUPLICATE", M("Routing {routing} is maintained in MES; ERP cannot overwrite it.",
                                routing=data["code"]), {"field": "code"})
        routing = existing or Routing(code=data["code"], name=data["name"], process_type=data["processType"],
                                      source_system="ERP")
        if existing is None:
            uow.session.add(routing)
        routing.source_key = data.get("sourceKey") or data["code"]
        routing_service.apply_header(routing, routing_service.RoutingInput(
            code=data["code"], name=data["name"], product_code=data.get("productCode"),
            process_type=data["processType"], effective_from=data.get("effectiveFrom"),
            effective_to=data.get("effectiveTo"), version_label=data.get("versionLabel")))
        routing_service.apply_steps(routing, [routing_service.StepInput(
            step_no=s["stepNo"], operation_code=s["operationCode"], station_group_code=s.get("stationGroupCode"),
            station_type=s.get("stationType"), requires_fai=s.get("requiresFai", False)) for s in data["steps"]])
        uow.session.flush()
        uow.diff = {"after": routing_service.routing_to_dict(routing)}
        return routing_service.routing_to_dict(routing)

    return receive(actor=actor, system="ERP", entity_type="ROUTING", action="ROUTING_IMPORT", payload=payload,
                   schema=ErpRoutingSchema(), key=lambda d: d["code"], handler=handler)
