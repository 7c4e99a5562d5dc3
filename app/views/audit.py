"""Audit Log screen: filters, paging, CSV export; own events only without audit:read_all."""
from __future__ import annotations

from flask import request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..services.platform import audit as audit_service
from ..services.platform import audit_archive
from ..services.platform.errors import DomainError
from ..web.export import audit_export
from ..web.filters import audit_query, parse_page
from .base import console_message


class AuditLogView(BaseView):
    route_base = "/audit"
    default_view = "list"
    class_permission_name = "AuditLog"
    method_permission_name = {"list": "read", "export": "read"}
    # can_read_all lives on the same resource (audit:read_all): declared here so FAB keeps it
    base_permissions = ["can_read", "can_read_all"]

    @expose("/")
    @has_access
    def list(self):
        actor = authenticate()
        error = None
        try:
            query = audit_query(request.args)
            page, size = parse_page(request.args, default_size=50)
            rows, total = audit_service.list_events(actor=actor, query=query, page=page, page_size=size)
        except DomainError as exc:
            error, rows, total, page, size = console_message(exc), [], 0, 1, 50  # the hint in the user's language
        pages = max(1, (total + size - 1) // size)
        sees_all = actor.can("audit:read_all")
        return self.render_template(
            "mes/audit_list.html", rows=[audit_service.event_to_dict(r) for r in rows], total=total,
            page=page, pages=pages, page_size=size, args=request.args, error=error, sees_all=sees_all,
            archives=audit_archive.list_archives(actor=actor) if sees_all else [],
            help_doc="manager", help_anchor="audit-log")

    @expose("/<any(csv, xlsx):fmt>")
    @has_access
    def export(self, fmt):
        actor = authenticate()
        query = audit_query(request.args)
        return audit_export(fmt, audit_service.iter_events(actor=actor, query=query))
