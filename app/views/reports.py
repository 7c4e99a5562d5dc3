"""Reports: Dashboard, Production Report, Quality Report, Line Boards and Lot Recall.

Lot Recall (`trace:read`; export with `trace:export`):

A supplier reports a bad reel: type or scan its label (`MATERIAL|LOT`, or a lot number that names one
lot) and see every board built with it — SN, run, work order, product, step and slot — with counts,
exportable as CSV (the units) or XLSX (units, runs, work orders, products). The same service answers
`GET /api/v1/trace/material-lots/{materialCode}/{lotNo}`; users bound to lines see their lines' units.
"""
from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..services.preparation import genealogy
from ..services.production import trace
from ..services.reporting import dashboard, production, quality
from ..services.reporting.period import QUICK_PERIODS, quick_period
from ..services.reporting.runs import report_options
from ..web.export import production_tables, quality_tables, recall_export, report_export
from ..web.filters import report_query
from ..web.i18n import N_
from .base import call_and_flash


class LotRecallView(BaseView):
    route_base = "/lot-recall"
    default_view = "search"
    class_permission_name = "TraceData"
    method_permission_name = {"search": "read", "lot": "read", "export": "export"}
    base_permissions = ["can_read", "can_export"]

    @expose("/")
    @has_access
    def search(self):
        term = (request.args.get("q") or "").strip()
        if term:
            found = call_and_flash(lambda: genealogy.find_lot(term))
            if found is not None:
                return redirect(url_for("LotRecallView.lot", material_code=found[0], lot_no=found[1]))
        return self.render_template("mes/lot_recall.html", q=term, data=None,
                                    help_doc="quality", help_anchor="lot-recall")

    @expose("/<material_code>/<lot_no>")
    @has_access
    def lot(self, material_code, lot_no):
        actor = authenticate()
        data = call_and_flash(lambda: genealogy.lot_recall(actor=actor, material_code=material_code, lot_no=lot_no))
        if data is None:
            return redirect(url_for("LotRecallView.search"))
        return self.render_template("mes/lot_recall.html", q=f"{material_code}|{lot_no}", data=data,
                                    can_export=actor.can("trace:export"),
                                    help_doc="quality", help_anchor="lot-recall")

    @expose("/<material_code>/<lot_no>/<any(csv, xlsx):fmt>")
    @has_access
    def export(self, material_code, lot_no, fmt):
        data = genealogy.lot_recall(actor=authenticate(), material_code=material_code, lot_no=lot_no)
        return recall_export(data, fmt)


# ---------------------------------------------------------------------------------------------
# Reports → Dashboard, Production Report, Quality Report (`reports:read`; exports `trace:export`)
# ---------------------------------------------------------------------------------------------

REPORTS = {  # kind -> (service, export tables, file stem, template)
    "production": (production.production_report, production_tables, "production-report", "mes/report_production.html"),
    "quality": (quality.quality_report, quality_tables, "quality-report", "mes/report_quality.html"),
}
CSV_SECTIONS = {  # the report tables offered as CSV buttons (the XLSX has them all); labels shown translated
    "production": (("output", N_("output")), ("runs", N_("runs")), ("workOrders", N_("work orders")), ("wip", "WIP")),
    "quality": (("fpy", "FPY"), ("pareto", N_("defects")), ("holds", N_("holds")), ("oqc", "OQC")),
}
# shown in the page's language by the report templates (`_(word)`): the quick periods' labels
# (reporting/period.py QUICK_PERIODS) and the bucket sizes
REPORT_WORDS = (N_("Today"), N_("Yesterday"), N_("Last 7 days"), N_("Last 30 days"),
                N_("hour"), N_("shift"), N_("day"), N_("Hour"), N_("Shift"), N_("Day"))


def _filters() -> dict:
    """The report filters of the request: a quick period fills `from`/`to`; the bucket defaults to
    hours for a day, days for longer."""
    args = {k: (request.args.get(k) or "").strip() for k in ("from", "to", "bucket", "lineCode", "productCode")}
    period = request.args.get("period")
    if period or not (args["from"] or args["to"]):
        args.update(quick_period(period or "today"))
    if not args["bucket"]:
        args["bucket"] = "hour" if args["from"] == args["to"] else "day"
    args["period"] = period or ""
    return args


def _options() -> dict:
    return {**report_options(authenticate()), "quick_periods": QUICK_PERIODS}


class ReportsView(BaseView):
    """The production and quality report screens: the API's reports with a filter bar, tables and
    exports (the same service and export builders as `GET /api/v1/reports/…`)."""

    route_base = "/reports"
    default_view = "production"
    class_permission_name = "ReportData"
    method_permission_name = {"production": "read", "quality": "read", "export": "read"}
    base_permissions = ["can_read"]

    def _show(self, kind: str):
        read, _, _, template = REPORTS[kind]
        actor = authenticate()
        filters = _filters()
        data = call_and_flash(lambda: read(actor=actor, **report_query(filters)))
        export_args = {k: v for k, v in filters.items() if v and k != "period"}
        return self.render_template(template, data=data, filters=filters, kind=kind, **_options(),
                                    can_export=actor.can("trace:export"), export_args=export_args,
                                    csv_sections=CSV_SECTIONS[kind], help_doc="manager",
                                    help_anchor=f"{kind}-report")

    @expose("/production")
    @has_access
    def production(self):
        return self._show("production")

    @expose("/quality")
    @has_access
    def quality(self):
        return self._show("quality")

    @expose("/<any(production, quality):kind>/<any(csv, xlsx):fmt>")
    @has_access
    def export(self, kind, fmt):
        read, tables, stem, _ = REPORTS[kind]
        actor = authenticate()
        filters = _filters()

        def build():
            trace.require_export(actor, fmt)
            data = read(actor=actor, **report_query(filters))
            return report_export(f"{stem}-{filters['from']}", tables(data), fmt, request.args.get("section"))

        answer = call_and_flash(build)
        if answer is not None:
            return answer
        return redirect(url_for(f"ReportsView.{kind}", **{k: v for k, v in filters.items() if v}))


class DashboardView(BaseView):
    """Reports → Dashboard, the manager's home page: the reports' key figures as charts for a line and
    a period; each chart links to its report with the same filters."""

    route_base = "/dashboard"
    default_view = "index"
    class_permission_name = "ReportData"
    method_permission_name = {"index": "read"}
    base_permissions = ["can_read"]

    @expose("/")
    @has_access
    def index(self):
        actor = authenticate()
        filters = _filters()
        query = report_query(filters)
        query.pop("product_code")
        data = call_and_flash(lambda: dashboard.dashboard(actor=actor, **query))
        return self.render_template("mes/dashboard.html", data=data, filters=filters, **_options(),
                                    help_doc="manager", help_anchor="dashboard")


class LineBoardView(BaseView):
    """Reports → Line Boards: the boards of the lines, and `/board/<line>`, the full-screen board for
    a TV. The board page itself holds no data and asks no sign-in: its script reads the board from
    `GET /api/v1/boards/<line>` with the API key of a Board account given in the address's fragment
    (`/board/LINE-SMT-A#key=sst_…`, never sent to the server), or with the browser's session."""

    route_base = "/board"
    default_view = "lines"
    class_permission_name = "ReportData"
    method_permission_name = {"lines": "board"}
    base_permissions = ["can_board"]

    @expose("/")
    @has_access
    def lines(self):
        lines = report_options(authenticate())["lines"]
        return self.render_template("mes/board_list.html", lines=lines, help_doc="manager", help_anchor="line-board")

    @expose("/<line_code>")
    def board(self, line_code):
        return self.render_template("mes/line_board.html", line_code=line_code,
                                    refresh_seconds=current_app.config.get("MES_BOARD_REFRESH_SECONDS", 30))
