"""Readiness, loading, line consumables and degraded-mode integrations, lot recall (spec 03_api)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from ..services.integration import status as integration_status
from ..services.platform.errors import DomainError
from ..services.platform.messages import M
from ..services.platform.inputs import Key, Text
from ..services.preparation import consumables, genealogy, loading, msd, paste, readiness
from ..services.production import runs
from ..web.export import recall_export
from ..web.filters import parse_datetime, parse_page, parse_recent_time
from .base import MesBaseApi, load_json, ok, requires
from .integration import _raw_json


class KindSchema(Schema):
    kind = fields.String(load_default="FORMAL", validate=validate.OneOf(("FORMAL", "PRECHECK")))


class ReasonSchema(Schema):
    reason = Text(load_default="")


class WaiveSchema(ReasonSchema):
    password = fields.String(load_default=None, allow_none=True)  # the signer's, for the electronic signature


class ScanSchema(Schema):
    runNo = Key("run_no", required=True)
    slotCode = Key("slot_code", required=True)
    barcode = Text(160, single_line=True, required=True)  # a reel label: printed text, not a key


class ReplaceSchema(ScanSchema):
    reason = Text(load_default="")


class StencilBindSchema(Schema):
    stencilId = Key("stencil_id", required=True)


class PasteBindSchema(Schema):
    lotNo = Key("lot_no", required=True)


class PasteTimeSchema(Schema):
    lotNo = Key("lot_no", required=True)  # the jar's lot, scanned: must be the bound lot
    kind = fields.String(required=True)  # THAW_START, OPENED, ON_STENCIL (the service says)
    at = fields.String(load_default=None, allow_none=True)  # ISO-8601 or plant "HH:MM"; default: now


class MsdEventSchema(Schema):
    kind = fields.String(required=True)  # the service says which kinds exist
    at = fields.String(load_default=None, allow_none=True)  # ISO-8601; default: now
    labelHours = fields.Float(load_default=None, allow_none=True)  # MSL 6: the floor life on the label


class ReadinessApi(MesBaseApi):
    resource_name = "readiness"
    route_base = "/api/v1"
    openapi_spec_tag = "Readiness and loading"

    @expose("/runs/<run_no>/readiness/check", methods=["POST"])
    @requires("readiness:check")
    def check(self, run_no, actor):
        """Run a readiness check `{kind: FORMAL|PRECHECK}` (default FORMAL).
        ---
        post:
          responses:
            200: {description: "`{data: check with items and summary}`"}
        """
        body = load_json(KindSchema())
        return ok(readiness.check_to_dict(readiness.run_check(actor=actor, run_no=run_no, kind=body["kind"])))

    @expose("/runs/<run_no>/readiness", methods=["GET"])
    @requires("run:read")
    def latest(self, run_no, actor):
        """The latest check of the run (`kind` query: FORMAL or PRECHECK).
        ---
        get:
          responses:
            200: {description: "`{data: check}`"}
            404: {description: NO_CHECK_FOUND}
        """
        run = runs.read_run(actor=actor, run_no=run_no)
        check = readiness.latest_check(run.id, (request.args.get("kind") or "").upper() or None)
        if check is None:
            raise DomainError("NO_CHECK_FOUND", M("Run {run} has no readiness check of this kind yet.", run=run_no))
        return ok(readiness.check_to_dict(check))

    @expose("/readiness-items/<int:item_id>/waive", methods=["POST"])
    @requires("readiness:waive")
    def waive(self, item_id, actor):
        """Waive a FAILED item `{reason, password}` (an electronic signature: the signer's password;
        403 SIGNATURE_INVALID when it is wrong, nothing changes).
        ---
        post:
          responses:
            200: {description: "`{data: {item, check}}`"}
        """
        body = load_json(WaiveSchema())
        item = readiness.waive(actor=actor, item_id=item_id, reason=body["reason"], password=body.get("password"))
        check = readiness.check_to_dict(item.check)
        return ok({"item": next(i for i in check["items"] if i["id"] == item.id), "check": check})

    @expose("/runs/<run_no>/loading/load-table", methods=["POST"])
    @requires("loading:verify")
    def load_table(self, run_no, actor):
        """Load the run's slot table.
        ---
        post:
          responses:
            200: {description: "`{data: expectations}`"}
        """
        loading.load_slot_table(actor=actor, run_no=run_no)
        return ok(loading.loading_state(actor=actor, run_no=run_no)["expectations"])

    @expose("/runs/<run_no>/loading", methods=["GET"])
    @requires("run:read")
    def loading_state(self, run_no, actor):
        """Expectations and scans of the run.
        ---
        get:
          responses:
            200: {description: "`{data: {expectations (each loaded reel's msl and msd clock), records,
              msdAlerts (loaded reels close to or past their floor life), summary}}`"}
        """
        return ok(loading.loading_state(actor=actor, run_no=run_no))

    @expose("/loading/verify", methods=["POST"])
    @requires("loading:verify")
    def verify(self, actor):
        """Scan a reel onto a slot `{runNo, slotCode, barcode}`.
        ---
        post:
          responses:
            200: {description: "`{data: record with verifyResult, failReason?, idempotent, msd?}`"}
            409: {description: "SLOT_ALREADY_LOADED, SLOT_LOCKED, MSD_FLOOR_LIFE_EXPIRED (a re-scan of the loaded reel
              whose floor life is spent)"}
        """
        body = load_json(ScanSchema())
        return ok(loading.verify(actor=actor, run_no=body["runNo"], slot_code=body["slotCode"], barcode=body["barcode"]))

    @expose("/material-lots/<material_code>/<lot_no>/msd-events", methods=["POST"])
    @requires("loading:verify")
    def msd_event(self, material_code, lot_no, actor):
        """A moisture-sensitive reel's clock event `{kind: OPENED|DRY_IN|DRY_OUT|BAKED, at?, labelHours?}`
        (J-STD-033: out of the dry pack, into / out of dry storage, baked); answers the reel's clock.
        ---
        post:
          responses:
            201: {description: "`{data: {materialCode, lotNo, kind, at, msl, clock}}`"}
            400: {description: MATERIAL_LOT_NOT_FOUND, MSD_NOT_MOISTURE_SENSITIVE}
        """
        body = load_json(MsdEventSchema())
        return ok(msd.record_event(actor=actor, material_code=material_code, lot_no=lot_no, kind=body["kind"],
                                   at=parse_datetime(body["at"], "at"), label_hours=body["labelHours"]), 201)

    @expose("/material-lots/<material_code>/<lot_no>/msd", methods=["GET"])
    @requires("loading:verify", "trace:read", any_of=True)
    def msd_state(self, material_code, lot_no, actor):
        """A reel's floor-life clock (state, exposure, remaining, expiry) and its events.
        ---
        get:
          responses:
            200: {description: "`{data: {materialCode, lotNo, msl, labelHours, clock, events}}`"}
        """
        return ok(msd.lot_state(actor=actor, material_code=material_code, lot_no=lot_no))

    @expose("/loading/replace", methods=["POST"])
    @requires("loading:verify")
    def replace(self, actor):
        """Replace the reel of a loaded slot `{runNo, slotCode, barcode, reason}`.
        ---
        post:
          responses:
            200: {description: "`{data: record}`"}
        """
        body = load_json(ReplaceSchema())
        return ok(loading.replace(actor=actor, run_no=body["runNo"], slot_code=body["slotCode"],
                                  barcode=body["barcode"], reason=body["reason"]))

    @expose("/lines/<line_code>/feeder-slots/<slot_code>/unlock", methods=["POST"])
    @requires("loading:unlock")
    def unlock(self, line_code, slot_code, actor):
        """Unlock a locked slot `{reason}`.
        ---
        post:
          responses:
            200: {description: "`{data: slot}`"}
        """
        body = load_json(ReasonSchema())
        slot = loading.unlock(actor=actor, line_code=line_code, slot_code=slot_code, reason=body["reason"])
        return ok({"lineCode": line_code, "slotCode": slot.slot_code, "locked": slot.is_locked,
                   "failedAttempts": slot.failed_attempts})

    @expose("/lines/<line_code>/stencil", methods=["POST"])
    @requires("line_consumables:bind")
    def bind_stencil(self, line_code, actor):
        """Bind a stencil `{stencilId}` (the previous binding is closed).
        ---
        post:
          responses:
            200: {description: "`{data: binding}`"}
        """
        body = load_json(StencilBindSchema())
        binding = consumables.bind_stencil(actor=actor, line_code=line_code, stencil_id=body["stencilId"])
        return ok({**consumables.binding_to_dict(binding, "stencil_id"), "lineCode": line_code})

    @expose("/lines/<line_code>/solder-paste", methods=["POST"])
    @requires("line_consumables:bind")
    def bind_paste(self, line_code, actor):
        """Bind a solder paste lot `{lotNo}` (the previous binding is closed).
        ---
        post:
          responses:
            200: {description: "`{data: binding}`"}
        """
        body = load_json(PasteBindSchema())
        binding = consumables.bind_solder_paste(actor=actor, line_code=line_code, lot_no=body["lotNo"])
        return ok({**consumables.binding_to_dict(binding, "lot_no"), "lineCode": line_code})

    @expose("/lines/<line_code>/solder-paste", methods=["GET"])
    @requires("loading:verify", "line_consumables:bind", "run:read", any_of=True)
    def paste_state(self, line_code, actor):
        """The paste bound to the line: its times (thaw start, opened, on stencil), its material's windows and
        the clock (status, time left).
        ---
        get:
          responses:
            200: {description: "`{data: {lineCode, binding: {lotNo, materialCode, windows, thawStartedAt, openedAt, onStencilAt, clock, usable, failCode, failReason} | null}}`"}
        """
        return ok(paste.line_paste(actor=actor, line_code=line_code))

    @expose("/lines/<line_code>/solder-paste/times", methods=["POST"])
    @requires("line_consumables:bind")
    def paste_time(self, line_code, actor):
        """Record a time of the bound paste `{lotNo, kind: THAW_START|OPENED|ON_STENCIL, at?}` (`at`: ISO-8601 or
        a plant clock time HH:MM; default now). Refused outside the windows (PASTE_THAW_INCOMPLETE,
        PASTE_OPEN_EXPIRED); answers the paste's state.
        ---
        post:
          responses:
            201: {description: "`{data: {lineCode, kind, at, lotNo, …state}}`"}
            409: {description: PASTE_LOT_NOT_BOUND, PASTE_THAW_INCOMPLETE, PASTE_OPEN_EXPIRED}
        """
        body = load_json(PasteTimeSchema())
        return ok(paste.record_time(actor=actor, line_code=line_code, lot_no=body["lotNo"], kind=body["kind"],
                                    at=parse_recent_time(body["at"], "at")), 201)

    @expose("/lines/<line_code>/solder-paste/verify", methods=["POST"])
    @requires("loading:verify", "line_consumables:bind", any_of=True)
    def paste_verify(self, line_code, actor):
        """Check a paste jar before use `{lotNo}`: the bound lot, inside its windows (else PASTE_LOT_NOT_BOUND,
        PASTE_THAW_INCOMPLETE, PASTE_OPEN_EXPIRED, PASTE_STENCIL_EXPIRED); answers its state with the time left.
        ---
        post:
          responses:
            200: {description: "`{data: {lineCode, lotNo, …state}}`"}
        """
        body = load_json(PasteBindSchema())
        return ok(paste.verify(actor=actor, line_code=line_code, lot_no=body["lotNo"]))

    @expose("/trace/material-lots/<material_code>/<lot_no>", methods=["GET"])
    @requires("trace:read")
    def lot_recall(self, material_code, lot_no, actor):
        """Lot recall: every SN, run, WO and product that used the lot (`format=csv|xlsx` to export).
        ---
        get:
          responses:
            200: {description: "`{data: {lot, units, runs, workOrders}}`"}
        """
        data = genealogy.lot_recall(actor=actor, material_code=material_code, lot_no=lot_no)
        fmt = (request.args.get("format") or "").lower()
        if fmt in ("csv", "xlsx"):
            if not actor.can("trace:export"):
                raise DomainError("FORBIDDEN", "You may not export trace data.")
            return recall_export(data, fmt)
        return ok(data)


class IntegrationStatusApi(MesBaseApi):
    resource_name = "integration-status"
    route_base = "/api/v1/integration"
    openapi_spec_tag = "Integration"

    @expose("/status", methods=["GET"])
    @requires("integration:view")
    def status(self, actor):
        """Per system: last message, last-24 h counts, DEGRADED flag.
        ---
        get:
          responses:
            200: {description: "`{data: [system status]}`"}
        """
        return ok(integration_status.integration_status(actor=actor))

    @expose("/messages", methods=["GET"])
    @requires("integration:view")
    def messages(self, actor):
        """Logged messages with payloads (filters: system, status, from, to; `sort` a column — id, receivedAt,
        system, entityType, businessKey, status, source, operator, errorCode — and `order` asc|desc, newest
        first by default; paged).
        ---
        get:
          parameters:
          - {in: query, name: sort, schema: {type: string}}
          - {in: query, name: order, schema: {type: string, enum: [asc, desc]}}
          responses:
            200: {description: "`{data: [message], meta}`"}
        """
        page, size = parse_page(request.args)
        rows, total = integration_status.list_messages(
            actor=actor, system=request.args.get("system"), status=request.args.get("status"),
            date_from=parse_datetime(request.args.get("from"), "from"),
            date_to=parse_datetime(request.args.get("to"), "to", end_of_day=True), page=page, page_size=size,
            sort=request.args.get("sort"), order=request.args.get("order"))
        return ok([integration_status.message_to_dict(m) for m in rows], meta={"page": page, "pageSize": size, "total": total})

    @expose("/stencil-status", methods=["POST"])
    @requires("integration:inbound", "integration:manual_entry", any_of=True)
    def stencil_status(self, actor):
        """Stencil status `{eventId, eventTime, stencilId, status, tension?}` (source decided by the server).
        ---
        post:
          responses:
            200: {description: "`{data: record + duplicate}`"}
        """
        return ok(consumables.receive_stencil_status(actor=actor, payload=_raw_json()).data)

    @expose("/solder-paste-status", methods=["POST"])
    @requires("integration:inbound", "integration:manual_entry", any_of=True)
    def paste_status(self, actor):
        """Solder paste status `{eventId, eventTime, lotNo, status, expiresAt?, thawedAt?}`.
        ---
        post:
          responses:
            200: {description: "`{data: record + duplicate}`"}
        """
        return ok(consumables.receive_solder_paste_status(actor=actor, payload=_raw_json()).data)

    @expose("/msd-events", methods=["POST"])
    @requires("integration:inbound")
    def msd_event(self, actor):
        """A moisture-sensitive reel's clock event from WMS `{eventId, eventTime, materialCode, lotNo,
        kind: OPENED|DRY_IN|DRY_OUT|BAKED, labelHours?}` (J-STD-033; the same event id again is a duplicate).
        ---
        post:
          responses:
            200: {description: "`{data: {eventId, materialCode, lotNo, kind, at, msl, clock} + duplicate}`"}
        """
        return ok(msd.receive_event(actor=actor, payload=_raw_json()).data)

    @expose("/solder-paste-events", methods=["POST"])
    @requires("integration:inbound")
    def paste_event(self, actor):
        """A time of the paste bound to a line, from WMS `{eventId, eventTime, lineCode, lotNo,
        kind: THAW_START|OPENED|ON_STENCIL}` (eventTime: when it happened; the same event id again is a duplicate).
        ---
        post:
          responses:
            200: {description: "`{data: {eventId, lineCode, kind, at, lotNo, …state} + duplicate}`"}
        """
        return ok(paste.receive_event(actor=actor, payload=_raw_json()).data)

    @expose("/equipment-status", methods=["POST"])
    @requires("integration:inbound", "integration:manual_entry", any_of=True)
    def equipment_status(self, actor):
        """Equipment status `{eventId, eventTime, equipmentCode, status, reason?}`.
        ---
        post:
          responses:
            200: {description: "`{data: record + duplicate}`"}
        """
        return ok(consumables.receive_equipment_status(actor=actor, payload=_raw_json()).data)

