"""SPC (issue 18): `GET /api/v1/spc/{specId}` the chart of a numeric spec over a period with its limits,
capability and the run rules that fired (`data_spec:read`); `PUT /api/v1/spc/{specId}` its chart
configuration and `POST /api/v1/spc/{specId}/baseline` new frozen limits (`data_spec:config`);
`GET /api/v1/spc/alarms` the alarms the run rules raised at TrackOut (`data_spec:read`) and
`POST /api/v1/spc/alarms/{id}/acknowledge` `{reason}` (`quality:disposition`)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from marshmallow import Schema, fields

from ..services.production import trace
from ..services.quality import spc, spc_alarms
from ..web.export import spc_export
from ..web.filters import parse_datetime
from .base import MesBaseApi, load_json, ok, requires


class ChartConfigSchema(Schema):
    chartType = fields.Raw(required=True)  # the service says what is valid
    subgroupSize = fields.Raw(load_default=None, allow_none=True)
    rules = fields.Raw(load_default=list)
    sameSideRun = fields.Raw(load_default=None, allow_none=True)
    onAlarm = fields.Raw(load_default=None, allow_none=True)
    isActive = fields.Boolean(load_default=True)


class AcknowledgeSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True)  # the service says it is required


class BaselineSchema(Schema):
    dateFrom = fields.String(data_key="from", load_default=None, allow_none=True)
    dateTo = fields.String(data_key="to", load_default=None, allow_none=True)


def chart_to_api(chart) -> dict:
    return {**spc.chart_config(chart), "baseline": spc.baseline_to_dict(chart)}


class SpcApi(MesBaseApi):
    resource_name = "spc"
    route_base = "/api/v1/spc"
    openapi_spec_tag = "Quality"

    @expose("/<int:spec_id>", methods=["GET"])
    @requires("data_spec:read")
    def chart(self, spec_id, actor):
        """The chart of a numeric spec: points in collection order (value, dispersion, time, SNs, the rules
        that fired there), the limits (frozen baseline, or trial limits from the points), Cp/Cpk/Pp/Ppk.
        ---
        get:
          parameters:
            - {in: query, name: from, schema: {type: string}, description: "ISO-8601 date or date-time"}
            - {in: query, name: to, schema: {type: string}, description: "ISO-8601, exclusive"}
            - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          responses:
            200: {description: "`{data: {spec, chart, baseline, limits, points, capability, rules}}`, or the points as CSV / XLSX (`trace:export`)"}
            404: {description: SPC_SPEC_NOT_FOUND}
        """
        fmt = request.args.get("format", "json")
        if fmt != "json":
            trace.require_export(actor, fmt)
        data = spc.chart(actor=actor, spec_id=spec_id, date_from=parse_datetime(request.args.get("from"), "from"),
                         date_to=parse_datetime(request.args.get("to"), "to", end_of_day=True))
        return ok(data) if fmt == "json" else spc_export(fmt, data)

    @expose("/<int:spec_id>", methods=["PUT"])
    @requires("data_spec:config")
    def configure(self, spec_id, actor):
        """Chart a spec: `{chartType: IMR|XBAR_R|XBAR_S, subgroupSize?, rules: [1…8], sameSideRun?: 9|8,
        onAlarm?: ALARM|HOLD, isActive?}`; a new chart type or subgroup size drops the baseline.
        ---
        put:
          responses:
            200: {description: "`{data: chart}`"}
            422: {description: VALIDATION_ERROR}
        """
        body = load_json(ChartConfigSchema())
        chart = spc.configure(actor=actor, spec_id=spec_id, chart_type=body["chartType"],
                              subgroup_size=body["subgroupSize"], rules=body["rules"],
                              same_side_run=body["sameSideRun"], on_alarm=body["onAlarm"],
                              is_active=body["isActive"])
        return ok(chart_to_api(chart))

    @expose("/<int:spec_id>/baseline", methods=["POST"])
    @requires("data_spec:config")
    def baseline(self, spec_id, actor):
        """Freeze new control limits from the values collected in `{from, to}` (at least 20 plotted points).
        ---
        post:
          responses:
            200: {description: "`{data: chart}` with its baseline"}
            400: {description: SPC_BASELINE_TOO_SHORT}
            409: {description: SPC_CHART_NOT_CONFIGURED}
        """
        body = load_json(BaselineSchema())
        chart = spc.recompute_baseline(actor=actor, spec_id=spec_id,
                                       date_from=parse_datetime(body["dateFrom"], "from"),
                                       date_to=parse_datetime(body["dateTo"], "to", end_of_day=True))
        return ok(chart_to_api(chart))

    @expose("/alarms", methods=["GET"])
    @requires("data_spec:read")
    def alarms(self, actor):
        """SPC alarms of the caller's lines, OPEN first, newest first.
        ---
        get:
          parameters:
            - {in: query, name: status, schema: {type: string, enum: [OPEN, ACKNOWLEDGED]}}
            - {in: query, name: lineCode, schema: {type: string}}
            - {in: query, name: specId, schema: {type: integer}}
          responses:
            200: {description: "`{data: [alarm]}`: id, status, rule, ruleText, value, specId, specName, sn, runNo,
              lineCode, stepNo, trackId, raisedAt, acknowledgedBy, acknowledgedAt, reason"}
            422: {description: VALIDATION_ERROR}
        """
        return ok(spc_alarms.list_alarms(actor=actor, status=request.args.get("status"),
                                         line_code=request.args.get("lineCode") or None,
                                         spec_id=request.args.get("specId", type=int)))

    @expose("/alarms/<int:alarm_id>/acknowledge", methods=["POST"])
    @requires("quality:disposition")
    def acknowledge(self, alarm_id, actor):
        """Acknowledge an OPEN alarm with `{reason}` (it does not release a held unit).
        ---
        post:
          responses:
            200: {description: "`{data: alarm}`"}
            400: {description: REASON_REQUIRED}
            404: {description: SPC_ALARM_NOT_FOUND}
            409: {description: SPC_ALARM_ALREADY_ACKNOWLEDGED}
        """
        body = load_json(AcknowledgeSchema())
        return ok(spc_alarms.acknowledge(actor=actor, alarm_id=alarm_id, reason=body["reason"]))
