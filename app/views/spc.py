"""SPC Charts (Quality menu, `data_spec:read`; issue 18): the numeric specs with their chart, and the chart
of one spec over a period — control chart and dispersion chart drawn by the vendored Chart.js, the limits,
Cp/Cpk/Pp/Ppk, and a table of the points with the rules that fired, each point linked to its units'
trace. Configuring a chart and freezing its baseline are API calls for now (sop/engineer.md)."""
from __future__ import annotations

from flask import request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.production import trace
from ..services.quality import spc
from ..web.export import spc_export
from ..web.filters import parse_datetime
from .base import call_and_flash


class SpcView(BaseView):
    route_base = "/spc"
    default_view = "index"
    class_permission_name = "DataSpec"
    method_permission_name = {"index": "read", "chart": "read", "export": "read"}
    base_permissions = resource_permissions("data_spec")

    @expose("/")
    @has_access
    def index(self):
        specs = call_and_flash(lambda: spc.overview(actor=authenticate())) or []
        return self.render_template("mes/spc_list.html", specs=specs, help_doc="engineer",
                                    help_anchor="spc-charts-of-collected-data")

    @expose("/<int:spec_id>")
    @has_access
    def chart(self, spec_id):
        actor = authenticate()
        date_from, date_to = request.args.get("from") or "", request.args.get("to") or ""
        data = call_and_flash(lambda: spc.chart(actor=actor, spec_id=spec_id,
                                                date_from=parse_datetime(date_from, "from"),
                                                date_to=parse_datetime(date_to, "to", end_of_day=True)))
        return self.render_template("mes/spc_chart.html", data=data, spec_id=spec_id, date_from=date_from,
                                    can_export=actor.can("trace:export"),
                                    date_to=date_to, help_doc="engineer", help_anchor="spc-charts-of-collected-data")

    @expose("/<int:spec_id>/<any(csv, xlsx):fmt>")
    @has_access
    def export(self, spec_id, fmt):
        actor = authenticate()
        trace.require_export(actor, fmt)
        data = spc.chart(actor=actor, spec_id=spec_id,
                         date_from=parse_datetime(request.args.get("from") or "", "from"),
                         date_to=parse_datetime(request.args.get("to") or "", "to", end_of_day=True))
        return spc_export(fmt, data)
