"""Reports (spec 06 "Reports"): `GET /api/v1/reports/production` and `GET /api/v1/reports/quality`
(`reports:read`); `format=csv|xlsx` (`trace:export`, the export permission) as a file — the XLSX has
every table of the report, the CSV the one `section` names. `GET /api/v1/reports/dashboard` (the
dashboard's figures) and `GET /api/v1/boards/{lineCode}` (a line board: `reports:board`)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose

from ..services.production import trace
from ..services.reporting import dashboard as dashboards
from ..services.reporting import production, quality
from ..web.export import production_tables, quality_tables, report_export
from ..web.filters import report_query
from .base import MesBaseApi, ok, requires


REPORT_QUERY = """parameters:
          - {in: query, name: from, schema: {type: string}, description: "ISO-8601 date or date-time (a date, or a time without offset, is plant time); default: today 00:00"}
          - {in: query, name: to, schema: {type: string}, description: "ISO-8601, exclusive (a date: to the end of that day); default: now"}
          - {in: query, name: bucket, schema: {type: string, enum: [hour, shift, day]}}
          - {in: query, name: lineCode, schema: {type: string}}
          - {in: query, name: productCode, schema: {type: string}}
          - {in: query, name: format, schema: {type: string, enum: [json, csv, xlsx]}}
          - {in: query, name: section, schema: {type: string}, description: "the table of a CSV export"}"""


def report_parameters(f):
    """The reports' query parameters in the OpenAPI part of the docstring (`{report_query}`)."""
    f.__doc__ = f.__doc__.replace("{report_query}", REPORT_QUERY)
    return f


def _answer(actor, read, tables, stem):
    fmt = request.args.get("format", "json")
    if fmt != "json":
        trace.require_export(actor, fmt)
    data = read(actor=actor, **report_query(request.args))
    if fmt == "json":
        return ok(data)
    return report_export(f"{stem}-{data['period']['from'][:10]}", tables(data), fmt, request.args.get("section"))


class ReportApi(MesBaseApi):
    resource_name = "reports"
    route_base = "/api/v1/reports"
    openapi_spec_tag = "Reports"

    @expose("/production", methods=["GET"])
    @requires("reports:read")
    @report_parameters
    def production(self, actor):
        """Production report: output and scrap per line, product and bucket against the lines' plan;
        plan against actual per run and work order; WIP by line and step. Sections of a CSV: output,
        buckets, runs, workOrders, wip, period.
        ---
        get:
          {report_query}
          responses:
            200: {description: "`{data: report}`, or the CSV / XLSX file"}
            400: {description: REPORT_PERIOD_INVALID, LINE_NOT_FOUND, PRODUCT_NOT_FOUND}
        """
        return _answer(actor, production.production_report, production_tables, "production-report")

    @expose("/quality", methods=["GET"])
    @requires("reports:read")
    @report_parameters
    def quality(self, actor):
        """Quality report: first-pass yield per line and step, rolled throughput yield, defect Pareto,
        scrap and rework, open holds, OQC results and MRB decisions. Sections of a CSV: fpy, rty, trend,
        pareto, paretoSteps, paretoLines, scrapRework, holds, runHolds, oqc, mrb, period.
        ---
        get:
          {report_query}
          responses:
            200: {description: "`{data: report}`, or the CSV / XLSX file"}
            400: {description: REPORT_PERIOD_INVALID, LINE_NOT_FOUND, PRODUCT_NOT_FOUND}
        """
        return _answer(actor, quality.quality_report, quality_tables, "quality-report")

    @expose("/dashboard", methods=["GET"])
    @requires("reports:read")
    def dashboard(self, actor):
        """The dashboard's figures for a line (or every line) and a period: key figures, output per
        bucket against plan, WIP by step, the first-pass-yield trend, the defect Pareto, open holds.
        ---
        get:
          parameters:
          - {in: query, name: from, schema: {type: string}}
          - {in: query, name: to, schema: {type: string}}
          - {in: query, name: bucket, schema: {type: string, enum: [hour, shift, day]}}
          - {in: query, name: lineCode, schema: {type: string}}
          responses:
            200: {description: "`{data: dashboard}`"}
            400: {description: REPORT_PERIOD_INVALID, LINE_NOT_FOUND}
        """
        query = report_query(request.args)
        query.pop("product_code")
        return ok(dashboards.dashboard(actor=actor, **query))


class BoardApi(MesBaseApi):
    resource_name = "boards"
    route_base = "/api/v1/boards"
    openapi_spec_tag = "Reports"

    @expose("/<line_code>", methods=["GET"])
    @requires("reports:board", "reports:read", any_of=True)
    def board(self, line_code, actor):
        """A line board: the runs in progress, output against plan this shift (per hour), boards per
        station this shift and in the stations now, the last FAILs, open holds, and the loaded
        moisture-sensitive reels close to or past their floor life (msdReels), the newest 20 open SPC alarms of
        the line (spcAlarms) and how many are open (spcAlarmCount).
        ---
        get:
          parameters:
          - {in: path, name: line_code, required: true, schema: {type: string}}
          responses:
            200: {description: "`{data: board}`"}
            404: {description: LINE_NOT_FOUND}
        """
        return ok(dashboards.line_board(actor=actor, line_code=line_code))
