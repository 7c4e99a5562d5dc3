"""Integration menu: Status, Manual Entry and Messages (`integration:view`, `integration:manual_entry`).

Manual Entry is the degraded mode of `02_rules §11`: when TPM or WMS is offline, a leader, quality or
engineer enters the stencil, solder-paste or equipment status by hand. The forms post exactly what the
machine would post to the inbound endpoints, through the same service: the service decides the source
(MANUAL, because a person is signed in) and takes the operator from the login. The event id is
generated here (`MANUAL-…`), so a double click is one entry, not two; the event time defaults to now
and may be set back to when the status really changed (interpreted in the plant's time zone).
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from flask import abort, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..models.master import EQUIPMENT_STATUSES
from ..models.readiness import PASTE_STATUSES, STENCIL_STATUSES
from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.integration import status as integration_status
from ..services.platform.errors import DomainError
from ..services.preparation import consumables
from ..web.export import EXPORT_ROWS, list_export
from .base import call_and_flash, format_datetime, list_sort
from ..web.filters import parse_page
from ..web.i18n import N_
from ..web.times import plant_zone

FORMS = ("stencil", "solder-paste", "equipment")
MESSAGE_STATUSES = ("SUCCESS", "FAILED", "DUPLICATE")


def _event_time(value: str, *, future_ok: bool = False) -> str:
    """The form's local date-time (plant time zone) as an aware ISO time; empty = now. Only an expiry
    may lie in the future."""
    value = (value or "").strip()
    if not value:
        return datetime.now(timezone.utc).isoformat()
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", "The event time is not a date and time.",
                          {"fields": {"eventTime": "date-time"}}) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=plant_zone())
    if not future_ok and local > datetime.now(timezone.utc) + timedelta(minutes=5):
        # a typo in the future would stay "the latest status" and hide every later machine message
        raise DomainError("VALIDATION_ERROR", "The time is in the future: enter when the status really changed.",
                          {"fields": {"eventTime": "not in the future"}})
    return local.isoformat()


def _optional(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def _number(name: str) -> float | None:
    value = _optional(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", f"{name} must be a number.", {"fields": {name: "number"}}) from None


def _payload(kind: str) -> dict:
    """What the machine would send; the event id comes from the form (one per page load)."""
    base = {"eventId": request.form.get("event_id") or f"MANUAL-{uuid.uuid4().hex}",
            "eventTime": _event_time(request.form.get("event_time", ""))}
    note = _optional("note")
    if note:
        base["note"] = note  # kept in the message log with the payload
    if kind == "stencil":
        return {**base, "stencilId": request.form.get("stencil_id", "").strip(),
                "status": request.form.get("status", ""), "tension": _number("tension")}
    if kind == "solder-paste":
        return {**base, "lotNo": request.form.get("lot_no", "").strip(), "status": request.form.get("status", ""),
                "expiresAt": _optional_time("expires_at", future_ok=True), "thawedAt": _optional_time("thawed_at")}
    return {**base, "equipmentCode": request.form.get("equipment_code", "").strip(),
            "status": request.form.get("status", ""), "reason": _optional("reason")}


def _optional_time(name: str, *, future_ok: bool = False) -> str | None:
    return _event_time(request.form[name], future_ok=future_ok) if _optional(name) else None


RECEIVERS = {"stencil": consumables.receive_stencil_status,
             "solder-paste": consumables.receive_solder_paste_status,
             "equipment": consumables.receive_equipment_status}


class IntegrationView(BaseView):
    route_base = "/integration"
    default_view = "status"
    class_permission_name = "IntegrationApi"
    method_permission_name = {"status": "view", "messages": "view", "messages_export": "view", "message": "view",
                              "manual": "manual_entry", "manual_post": "manual_entry"}
    base_permissions = resource_permissions("integration")

    @expose("/")
    @has_access
    def status(self):
        actor = authenticate()
        rows = integration_status.integration_status(actor=actor)
        return self.render_template("mes/integration_status.html", rows=rows,
                                    can_enter=actor.can("integration:manual_entry"),
                                    help_doc="degraded-mode", help_anchor="integration-status")

    @expose("/manual")
    @has_access
    def manual(self):
        actor = authenticate()
        return self.render_template(
            "mes/integration_manual.html", **consumables.manual_entry_choices(),
            stencil_statuses=STENCIL_STATUSES, paste_statuses=PASTE_STATUSES, equipment_statuses=EQUIPMENT_STATUSES,
            event_ids={k: f"MANUAL-{uuid.uuid4().hex}" for k in FORMS}, active=request.args.get("form", "stencil"),
            last=session.pop("mes_manual_last", None), username=actor.username,
            help_doc="degraded-mode", help_anchor="manual-entry-step-by-step")

    @expose("/manual/<kind>", methods=["POST"])
    @has_access
    def manual_post(self, kind):
        if kind not in RECEIVERS:
            abort(404)
        actor = authenticate()

        def enter():
            return RECEIVERS[kind](actor=actor, payload=_payload(kind))

        result = call_and_flash(enter)
        if result is not None:
            data = result.data
            what = data.get("stencilId") or data.get("lotNo") or data.get("equipmentCode")
            session["mes_manual_last"] = {"kind": kind, "what": what, "status": data["status"],
                                          "source": data["source"], "operator": data["operator"],
                                          "duplicate": result.duplicate, "messageId": result.message_id}
        return redirect(url_for("IntegrationView.manual", form=kind))

    @expose("/messages")
    @has_access
    def messages(self):
        actor = authenticate()
        page, size = parse_page(request.args, default_size=50)
        system = request.args.get("system") or None
        status = request.args.get("status") or None
        sort = list_sort(integration_status.MESSAGE_SORTING)
        rows, total = integration_status.list_messages(actor=actor, system=system, status=status, page=page, page_size=size,
                                                       sort=sort["key"], order=sort["order"])
        return self.render_template(
            "mes/integration_messages.html", rows=rows, total=total, page=page, sort=sort,
            pages=max(1, (total + size - 1) // size), args=request.args, systems=integration_status.SYSTEMS,
            statuses=MESSAGE_STATUSES, fmt=format_datetime, help_doc="degraded-mode", help_anchor="messages")

    @expose("/messages/<any(csv, xlsx):fmt>")
    @has_access
    def messages_export(self, fmt):
        """The filtered message log as a file (in the screen's order, up to 100 000 messages; payloads as JSON)."""
        sort = list_sort(integration_status.MESSAGE_SORTING)
        rows, _ = integration_status.list_messages(actor=authenticate(), system=request.args.get("system") or None,
                                                   status=request.args.get("status") or None, page=1,
                                                   page_size=EXPORT_ROWS, sort=sort["key"], order=sort["order"])
        header = [N_("id"), N_("received at"), N_("system"), N_("direction"), N_("entity"), N_("business key"),
                  N_("status"), N_("source"), N_("operator"), N_("error code"), N_("error"), N_("duplicate of"),
                  N_("payload"), N_("result")]
        data = [integration_status.message_to_dict(m) for m in rows]
        return list_export(fmt, "integration-messages", N_("Integration messages"), header, [
            [d["id"], d["receivedAt"], d["system"], d["direction"], d["entityType"], d["businessKey"], d["status"],
             d["source"], d["operator"], d["errorCode"], d["error"], d["duplicateOf"],
             json.dumps(d["payload"], ensure_ascii=False, default=str), json.dumps(d["result"], ensure_ascii=False,
                                                                                   default=str)] for d in data])

    @expose("/messages/<int:message_id>")
    @has_access
    def message(self, message_id):
        message = integration_status.get_message(actor=authenticate(), message_id=message_id)
        if message is None:
            abort(404)
        pretty = {name: json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
                  for name, value in (("payload", message.payload), ("result", message.result))}
        return self.render_template("mes/integration_message.html", m=message, pretty=pretty, fmt=format_datetime,
                                    help_doc="degraded-mode", help_anchor="messages")
