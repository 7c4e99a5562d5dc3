"""Inbound integration endpoints (spec 03_api, 02_rules §11)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose

from ..services.engineering import erp_routings
from ..services.platform.errors import DomainError
from ..services.production import work_orders
from ..security.permissions import resource_permissions
from .base import MesBaseApi, ok, requires


def _raw_json():
    payload = request.get_json(silent=True)
    if payload is None:
        raise DomainError("VALIDATION_ERROR", "The body is not valid JSON.", {"reason": "malformed JSON"})
    return payload


class IntegrationApi(MesBaseApi):
    # shares the FAB resource `IntegrationApi` with the console's Integration screens: declare all of its
    # permissions, or sync-roles would try to drop the ones this class does not use
    base_permissions = resource_permissions("integration")
    resource_name = "integration"
    route_base = "/api/v1/integration"
    openapi_spec_tag = "Integration"

    @expose("/routings", methods=["POST"])
    @requires("integration:inbound")
    def routings(self, actor):
        """ERP routing import: upsert by code (source ERP, steps read-only in MES); idempotent.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: routing + duplicate}`"}
            422: {description: VALIDATION_ERROR (logged as a FAILED message)}
        """
        result = erp_routings.import_erp_routing(actor=actor, payload=_raw_json())
        return ok(result.data)

    @expose("/work-orders", methods=["POST"])
    @requires("wo:receive")
    def work_orders(self, actor):
        """Receive a work order `{woNo, productCode, plannedQty, routingCode?, dueDate?, sourceSystem?}`:
        upsert by woNo; the same content again answers `duplicate: true`.
        ---
        post:
          requestBody: {content: {application/json: {schema: {type: object}}}}
          responses:
            200: {description: "`{data: work order + duplicate}`"}
            422: {description: VALIDATION_ERROR (logged as a FAILED message)}
        """
        result = work_orders.receive_work_order(actor=actor, payload=_raw_json())
        return ok(result.data)
