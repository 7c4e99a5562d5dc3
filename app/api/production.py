"""Work orders, runs, units, execution (track-in/out, station queue) and unit trace (spec 03_api)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields, validate

from ..services.platform.errors import DomainError
from .. import metrics
from ..services.platform.inputs import Key, Text, Whole
from ..services.production import execution, runs, trace, work_orders
from ..web.export import EXPORT_ROWS, run_trace_export, runs_export, unit_trace_export, work_orders_export
from ..web.filters import export_format, parse_page
from .base import MesBaseApi, load_json, ok, requires


class LineSchema(Schema):
    lineCode = Key("code", required=True)


class CreateRunSchema(Schema):
    lineCode = Key("code", required=True)
    planQty = Whole("quantity", required=True, strict=True)
    shiftCode = Key("shift_code", load_default=None, allow_none=True)


class UnitsSchema(Schema):
    quantity = Whole("quantity", strict=True, validate=validate.Range(min=1, max=10000))
    snPrefix = Key("sn_prefix", allow_none=True)
    sns = fields.List(Key("sn"), validate=validate.Length(min=1, max=10000))


class ReasonSchema(Schema):
    reason = Text(load_default="")


class CloseWorkOrderSchema(Schema):
    confirmShort = fields.Boolean(load_default=False)  # close with fewer good units than planned
    reason = Text(load_default="")


class TrackInSchema(Schema):
    sn = Key("sn", required=True)
    runNo = Key("run_no", required=True)


class DataItemSchema(Schema):
    spec = fields.Raw(required=True)
    value = fields.Raw(required=True, allow_none=True)


class DefectSchema(Schema):
    code = Key("defect_code", required=True)
    location = Text(128, single_line=True, load_default=None, allow_none=True)
    description = Text(load_default=None, allow_none=True)


class TrackOutSchema(Schema):
    sn = Key("sn", required=True)
    runNo = Key("run_no", required=True)
    result = fields.String(required=True, validate=validate.OneOf(("PASS", "FAIL")))
    data = fields.List(fields.Nested(DataItemSchema), load_default=list)
    defect = fields.Nested(DefectSchema, load_default=None, allow_none=True)


def _page_meta(page: int, size: int, total: int) -> dict:
    return {"page": page, "pageSize": size, "total": total}


def track_in_body(r: execution.TrackInResult) -> dict:
    """The TrackIn answer (03_api): the unit, the open track and the step with its data specs."""
    return {
        "unit": {"sn": r.sn, "status": r.unit_status, "currentStepNo": r.step.step_no, "runNo": r.run_no},
        "track": {"id": r.track_id, "stepNo": r.step.step_no, "station": r.station_code, "inAt": r.in_at.isoformat(),
                  "mode": r.mode, "operator": r.operator},
        "step": {**r.step.to_dict(), "dataSpecs": [s.to_dict() for s in r.step.specs]},
    }


def track_out_body(r: execution.TrackOutResult) -> dict:
    """The TrackOut answer (03_api): unit, closed track, result (and who forced it), the next step, the
    judged data values, the defects recorded and, when the unit finished the run, the closeout."""
    body = {
        "unit": {"sn": r.sn, "status": r.unit_status, "currentStepNo": r.current_step_no, "runNo": r.run_no},
        "track": {"id": r.track_id, "stepNo": r.step.step_no, "station": r.station_code, "outAt": r.out_at.isoformat(),
                  "result": r.verdict.result, "mode": r.mode},
        "result": r.verdict.result,
        "nextStep": r.next_step.to_dict() if r.next_step else None,
        "dataValues": [{"spec": v.spec.name, "value": v.raw, "uom": v.spec.uom, "lsl": v.spec.lsl, "usl": v.spec.usl,
                        "judge": v.judge, "alarmed": v.judge == "FAIL"} for v in r.values],
        "defects": r.defects,
    }
    if r.verdict.forced_by:
        body["forcedBy"] = r.verdict.forced_by
    if r.next_waits:
        body["nextStepWaits"] = r.next_waits
    if r.alarms:  # SPC run rules that this TrackOut's values fired
        body["spcAlarms"] = r.alarms
    if r.hold_by:
        body["heldBy"] = r.hold_by
    if r.closeout is not None:
        body["runCloseout"] = {"completed": r.closeout.completed,
                               "code": r.closeout.error.code if r.closeout.error else None,
                               **(r.closeout.details or {})}
    return body


class WorkOrderApi(MesBaseApi):
    resource_name = "work-orders"
    route_base = "/api/v1/work-orders"
    openapi_spec_tag = "Work orders"

    @expose("", methods=["GET"])
    @requires("wo:read")
    def list_work_orders(self, actor):
        """Work orders (filters: status, productCode, lineCode, q; `sort` a column — woNo, status, productCode,
        plannedQty, routingCode, lineCode, sourceSystem, dueDate, releasedAt, closedAt — and `order` asc|desc,
        newest first by default; paged; `format=csv|xlsx`: every match as a file).
        ---
        get:
          parameters:
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          - {in: query, name: sort, schema: {type: string}}
          - {in: query, name: order, schema: {type: string, enum: [asc, desc]}}
          responses:
            200: {description: "`{data: [work order], meta}`, or the Work Orders list's CSV / XLSX file"}
        """
        query = work_orders.WorkOrderQuery(status=request.args.get("status"), product_code=request.args.get("productCode"),
                                           line_code=request.args.get("lineCode"), q=request.args.get("q"),
                                           sort=request.args.get("sort"), order=request.args.get("order"))
        fmt = export_format(request.args)
        if fmt:
            return work_orders_export(fmt, work_orders.list_work_orders(actor=actor, query=query, page=1,
                                                                        page_size=EXPORT_ROWS)[0])
        page, size = parse_page(request.args)
        rows, total = work_orders.list_work_orders(actor=actor, query=query, page=page, page_size=size)
        return ok([work_orders.work_order_to_dict(w) for w in rows], meta=_page_meta(page, size, total))

    @expose("/<wo_no>", methods=["GET"])
    @requires("wo:read")
    def get(self, wo_no, actor):
        """A work order with its runs.
        ---
        get:
          responses:
            200: {description: "`{data: work order}`"}
            404: {description: WORK_ORDER_NOT_FOUND}
        """
        return ok(work_orders.work_order_to_dict(work_orders.read_work_order(actor=actor, wo_no=wo_no), with_runs=True))

    @expose("/<wo_no>/release", methods=["POST"])
    @requires("wo:release")
    def release(self, wo_no, actor):
        """Release to a line `{lineCode}`.
        ---
        post:
          responses:
            200: {description: "`{data: work order}`"}
        """
        body = load_json(LineSchema())
        wo = work_orders.release(actor=actor, wo_no=wo_no, line_code=body["lineCode"])
        return ok(work_orders.work_order_to_dict(wo, with_runs=True))

    @expose("/<wo_no>/runs", methods=["POST"])
    @requires("run:create")
    def create_run(self, wo_no, actor):
        """Create a run `{lineCode, planQty, shiftCode?}`.
        ---
        post:
          responses:
            201: {description: "`{data: run}`"}
        """
        body = load_json(CreateRunSchema())
        run = runs.create_run(actor=actor, wo_no=wo_no, line_code=body["lineCode"], plan_qty=body["planQty"],
                              shift_code=body["shiftCode"])
        return ok(runs.run_to_dict(run, detail=True), 201)

    @expose("/<wo_no>/close", methods=["POST"])
    @requires("wo:close")
    def close(self, wo_no, actor):
        """Close the work order (every run terminal). With fewer good units than planned, send
        `{confirmShort: true, reason}` (else WORK_ORDER_SHORT with the numbers).
        ---
        post:
          responses:
            200: {description: "`{data: work order}`"}
            409: {description: "WORK_ORDER_RUNS_NOT_TERMINAL, WORK_ORDER_SHORT (details: plannedQty, good, scrap)"}
        """
        body = load_json(CloseWorkOrderSchema())
        return ok(work_orders.work_order_to_dict(work_orders.close(
            actor=actor, wo_no=wo_no, confirm_short=body["confirmShort"], reason=body["reason"]), with_runs=True))


class RunApi(MesBaseApi):
    resource_name = "runs"
    route_base = "/api/v1/runs"
    openapi_spec_tag = "Runs"

    @expose("", methods=["GET"])
    @requires("run:read")
    def list_runs(self, actor):
        """Runs (filters: status, lineCode, woNo; `sort` a column — runNo, status, woNo, productCode, lineCode,
        planQty, routingCode, startedAt, endedAt — and `order` asc|desc, newest first by default; paged;
        `format=csv|xlsx`: every match as a file).
        ---
        get:
          parameters:
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          - {in: query, name: sort, schema: {type: string}}
          - {in: query, name: order, schema: {type: string, enum: [asc, desc]}}
          responses:
            200: {description: "`{data: [run], meta}`, or the Runs list's CSV / XLSX file"}
        """
        fmt = export_format(request.args)
        if fmt:
            rows, _ = runs.list_runs(actor=actor, status=request.args.get("status"),
                                     line_code=request.args.get("lineCode"), wo_no=request.args.get("woNo"),
                                     page=1, page_size=EXPORT_ROWS, sort=request.args.get("sort"),
                                     order=request.args.get("order"))
            return runs_export(fmt, runs.with_unit_tallies(rows))
        page, size = parse_page(request.args)
        rows, total = runs.list_runs(actor=actor, status=request.args.get("status"),
                                     line_code=request.args.get("lineCode"), wo_no=request.args.get("woNo"),
                                     page=page, page_size=size, sort=request.args.get("sort"),
                                     order=request.args.get("order"))
        return ok([runs.run_to_dict(r) for r in rows], meta=_page_meta(page, size, total))

    @expose("/<run_no>", methods=["GET"])
    @requires("run:read")
    def get(self, run_no, actor):
        """Run with work order, line, version, per-step counts, unit counts and the next action.
        ---
        get:
          responses:
            200: {description: "`{data: run}`"}
            404: {description: RUN_NOT_FOUND}
        """
        return ok(runs.run_to_dict(runs.read_run(actor=actor, run_no=run_no), detail=True))

    @expose("/<run_no>/units", methods=["POST"])
    @requires("run:create")
    def generate_units(self, run_no, actor):
        """Generate units `{quantity, snPrefix?}` or `{sns: [...]}`.
        ---
        post:
          responses:
            201: {description: "`{data: [unit]}`"}
        """
        body = load_json(UnitsSchema())
        if ("sns" in body) == ("quantity" in body):
            raise DomainError("VALIDATION_ERROR", "Give either quantity (and snPrefix) or sns.",
                              {"fields": {"quantity": "or sns"}})
        created = runs.generate_units(actor=actor, run_no=run_no, quantity=body.get("quantity"),
                                      sn_prefix=body.get("snPrefix"), sns=body.get("sns"))
        return ok([{"sn": u.sn, "status": u.status, "currentStepNo": u.current_step_no} for u in created], 201)

    @expose("/<run_no>/units", methods=["GET"])
    @requires("run:read")
    def list_units(self, run_no, actor):
        """Units of the run (filters: status, stepNo).
        ---
        get:
          responses:
            200: {description: "`{data: [unit]}`"}
        """
        step = request.args.get("stepNo", "")
        page = runs.list_units(actor=actor, run_no=run_no, status=request.args.get("status") or None,
                               step_no=int(step) if step.isascii() and step.isdigit() else None)
        return ok([{"sn": u.sn, "status": u.status, "currentStepNo": u.current_step_no,
                    "reworkCount": u.rework_count} for u in page.units])

    @expose("/<run_no>/authorize", methods=["POST"])
    @requires("run:authorize")
    def authorize(self, run_no, actor):
        """Authorize a PREP run (gates: readiness, FAI).
        ---
        post:
          responses:
            200: {description: "`{data: run}`"}
        """
        return ok(runs.run_to_dict(runs.authorize(actor=actor, run_no=run_no), detail=True))

    @expose("/<run_no>/revoke", methods=["POST"])
    @requires("run:authorize")
    def revoke(self, run_no, actor):
        """Revoke an authorization `{reason}`.
        ---
        post:
          responses:
            200: {description: "`{data: run}`"}
        """
        body = load_json(ReasonSchema())
        return ok(runs.run_to_dict(runs.revoke(actor=actor, run_no=run_no, reason=body["reason"]), detail=True))

    @expose("/<run_no>/cancel", methods=["POST"])
    @requires("run:create")
    def cancel(self, run_no, actor):
        """Cancel a PREP run without tracks `{reason}`.
        ---
        post:
          responses:
            200: {description: "`{data: run}`"}
        """
        body = load_json(ReasonSchema())
        return ok(runs.run_to_dict(runs.cancel(actor=actor, run_no=run_no, reason=body["reason"]), detail=True))

    @expose("/<run_no>/close", methods=["POST"])
    @requires("run:close")
    def close(self, run_no, actor):
        """Close the run (every unit DONE or SCRAPPED); may answer 409 OQC_REQUIRED.
        ---
        post:
          responses:
            200: {description: "`{data: run}`"}
            409: {description: OQC_REQUIRED with details.inspectionId and details.sampledSns}
        """
        return ok(runs.run_to_dict(runs.close(actor=actor, run_no=run_no), detail=True))


class StationExecutionApi(MesBaseApi):
    resource_name = "station-execution"
    route_base = "/api/v1/stations"
    openapi_spec_tag = "Execution"

    @expose("/<station_code>/track-in", methods=["POST"])
    @requires("exec:track_in", deferred_security=True)
    def track_in(self, station_code, actor):
        """TrackIn `{sn, runNo}`.
        ---
        post:
          responses:
            200: {description: "`{data: {unit, track, step}}`"}
        """
        body = load_json(TrackInSchema())
        result = execution.track_in(actor=actor, station_code=station_code, sn=body["sn"], run_no=body["runNo"])
        metrics.TRACKS.labels("in", "IN").inc()
        return ok(track_in_body(result))

    @expose("/<station_code>/track-out", methods=["POST"])
    @requires("exec:track_out", deferred_security=True)
    def track_out(self, station_code, actor):
        """TrackOut `{sn, runNo, result, data:[{spec, value}], defect?:{code, location?, description?}}`.
        ---
        post:
          responses:
            200: {description: "`{data: {unit, track, result, nextStep?, nextStepWaits?, dataValues, defects, forcedBy?}}`"}
        """
        body = load_json(TrackOutSchema())
        result = execution.track_out(actor=actor, station_code=station_code, sn=body["sn"], run_no=body["runNo"],
                                     result=body["result"], data=body["data"], defect=body["defect"])
        metrics.TRACKS.labels("out", result.verdict.result).inc()
        return ok(track_out_body(result))

    @expose("/<station_code>/queue", methods=["GET"])
    @requires("exec:track_in")
    def queue(self, station_code, actor):
        """Units in this station and units waiting for its step.
        ---
        get:
          responses:
            200: {description: "`{data: {inStation, waiting}}`"}
        """
        return ok(execution.station_queue(actor=actor, station_code=station_code))

    @expose("/<station_code>/runs", methods=["GET"])
    @requires("exec:track_in")
    def runs(self, station_code, actor):
        """Runs of the station's line that new boards may be registered to: AUTHORIZED, IN_PROGRESS and PREP
        runs in their FAI trial (`faiTrial`), by run number.
        ---
        get:
          responses:
            200: {description: "`{data: [{runNo, status, productCode, faiTrial}]}`"}
        """
        return ok(execution.station_runs(actor=actor, station_code=station_code))

    @expose("/<station_code>/units/<sn>/data-specs", methods=["GET"])
    @requires("exec:track_out")
    def data_specs(self, station_code, sn, actor):
        """Specs to collect for the unit's current step.
        ---
        get:
          responses:
            200: {description: "`{data: {step, dataSpecs}}`"}
        """
        return ok(execution.unit_data_specs(actor=actor, station_code=station_code, sn=sn))


def _trace_answer(actor, read, export):
    """A trace as JSON, or with `format=csv|xlsx` as a file (`trace:export`, checked before reading)."""
    fmt = request.args.get("format", "json")
    if fmt != "json":
        trace.require_export(actor, fmt)
    data = read()
    return ok(data) if fmt == "json" else export(data, fmt)


class TraceApi(MesBaseApi):
    resource_name = "trace"
    route_base = "/api/v1/trace"
    openapi_spec_tag = "Trace"

    @expose("/units/<sn>", methods=["GET"])
    @requires("trace:read")
    def unit(self, sn, actor):
        """Unit trace: unit, WO, run, product, route version and steps, tracks with data values, defects;
        `format=csv|xlsx` (`trace:export`) as a file.
        ---
        get:
          parameters:
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          responses:
            200: {description: "`{data: trace}`, or the CSV / XLSX file"}
            404: {description: UNIT_NOT_FOUND}
        """
        return _trace_answer(actor, lambda: trace.unit_trace(actor=actor, sn=sn), unit_trace_export)

    @expose("/runs/<run_no>", methods=["GET"])
    @requires("trace:read")
    def run(self, run_no, actor):
        """Run trace: the run, its units (status, step, tracks, last result, defects), readiness checks,
        loading records, inspections and MRB decisions; `format=csv|xlsx` (`trace:export`) as a file.
        ---
        get:
          parameters:
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          responses:
            200: {description: "`{data: trace}`, or the CSV / XLSX file"}
            404: {description: RUN_NOT_FOUND}
        """
        return _trace_answer(actor, lambda: trace.run_trace(actor=actor, run_no=run_no), run_trace_export)
