"""GET /api/v1/audit-events — own events only without audit:read_all."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose

from ..services.platform import audit as audit_service
from ..web.export import audit_export
from ..web.filters import audit_query, export_format, parse_page
from .base import MesBaseApi, ok, requires


class AuditEventApi(MesBaseApi):
    resource_name = "audit-events"
    route_base = "/api/v1/audit-events"
    openapi_spec_tag = "Audit"

    @expose("", methods=["GET"])
    @requires("audit:read")
    def list_events(self, actor):
        """Audit events, newest first.
        ---
        get:
          summary: List audit events (own events unless the caller has audit:read_all)
          parameters:
          - {in: query, name: entityType, schema: {type: string}}
          - {in: query, name: entityKey, schema: {type: string}}
          - {in: query, name: action, schema: {type: string}}
          - {in: query, name: actor, schema: {type: string}}
          - {in: query, name: status, schema: {type: string, enum: [SUCCESS, FAIL]}}
          - {in: query, name: from, schema: {type: string, format: date-time}}
          - {in: query, name: to, schema: {type: string, format: date-time}}
          - {in: query, name: page, schema: {type: integer}}
          - {in: query, name: pageSize, schema: {type: integer}}
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          responses:
            200: {description: "`{data: [event], meta: {page, pageSize, total}}`, or with `format=csv|xlsx` every
              matching event as the Audit Log's file"}
            401: {description: UNAUTHORIZED}
            403: {description: FORBIDDEN}
        """
        query = audit_query(request.args)
        fmt = export_format(request.args)
        if fmt:
            return audit_export(fmt, audit_service.iter_events(actor=actor, query=query))
        page, size = parse_page(request.args)
        rows, total = audit_service.list_events(actor=actor, query=query, page=page, page_size=size)
        return ok([audit_service.event_to_dict(r) for r in rows],
                  meta={"page": page, "pageSize": size, "total": total})
