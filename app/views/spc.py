"""SPC Charts (Quality menu, `data_spec:read`; issue 18): the numeric specs with their chart, and the chart
of one spec over a period — control chart and dispersion chart drawn by the vendored Chart.js, the limits,
Cp/Cpk/Pp/Ppk, and a table of the points with the rules that fired, each point linked to its units'
trace, and the alarms the TrackOuts raised marked on their points. Configuring a chart and freezing its
baseline are API calls for now (sop/engineer.md).

SPC Alarms (Quality menu, `data_spec:read`): the alarms of the reader's lines, OPEN first, filtered by
status, line and spec, each linked to its chart and its unit's trace; acknowledging one with a reason
needs `quality:disposition` (the service checks it)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.production import trace
from ..services.quality import spc, spc_alarms
from ..services.quality.spc_math import RUN_RULES
from ..web.export import spc_export
from ..web.filters import parse_datetime
from ..web.i18n import localize
from .base import call_and_flash

def rule_texts() -> dict[str, str]:
    """The run rules as the screens name them: the service's own names (spc_math.RUN_RULES, Messages) in
    the reader's language."""
    return {str(number): localize(rule.text) for number, rule in RUN_RULES.items()}


class SpcView(BaseView):
    route_base = "/spc"
    default_view = "index"
    class_permission_name = "DataSpec"
    method_permission_name = {"index": "read", "chart": "read", "export": "read", "alarms": "read",
                              "acknowledge": "read"}
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
                                    can_export=actor.can("trace:export"), rule_texts=rule_texts(),
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

    @expose("/alarms")
    @has_access
    def alarms(self):
        actor = authenticate()
        status, line_code = request.args.get("status") or "", (request.args.get("lineCode") or "").strip()
        spec_id = request.args.get("specId", type=int)
        rows = call_and_flash(lambda: spc_alarms.list_alarms(actor=actor, status=status or None,
                                                             line_code=line_code or None, spec_id=spec_id)) or []
        specs = [s for s in (call_and_flash(lambda: spc.overview(actor=actor)) or []) if s["chart"]]
        return self.render_template("mes/spc_alarms.html", alarms=rows, specs=specs, status=status,
                                    line_code=line_code, spec_id=spec_id, rule_texts=rule_texts(),
                                    lines=spc_alarms.alarm_lines(actor=actor),
                                    can_acknowledge=actor.can("quality:disposition"),
                                    help_doc="quality", help_anchor="spc-charts-and-alarms")

    @expose("/alarms/<int:alarm_id>/acknowledge", methods=["POST"])
    @has_access
    def acknowledge(self, alarm_id):
        actor = authenticate()
        done = call_and_flash(lambda: spc_alarms.acknowledge(actor=actor, alarm_id=alarm_id,
                                                             reason=request.form.get("reason")))
        if done is not None:
            flash(_("SPC alarm %(id)s on %(sn)s is acknowledged.", id=alarm_id, sn=done["sn"]), "success")
        back = {key: request.form.get(key) for key in ("status", "lineCode", "specId") if request.form.get(key)}
        return redirect(url_for("SpcView.alarms", **back))
