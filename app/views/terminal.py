"""Station Terminal (Production → Station Terminal): the operator's scanner-driven screen.

The page itself only renders: every scan goes to the same REST API as any other client
(`/api/v1/stations/{code}/track-in|track-out|queue`, session cookie + CSRF token), so the rules stay
in the execution service. The JavaScript (static/mes/terminal.js) shows limits and highlights
out-of-limit values as a hint only; the server judges.
"""
from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..services.engineering.data_specs import spec_labels
from ..services.engineering.master_data import active_defect_codes
from ..services.platform.errors import CATALOGUE
from ..services.production import execution
from ..services.quality.inspection_results import manual_entry_type
from ..web.i18n import error_text
from .base import call_and_flash


class StationTerminalView(BaseView):
    route_base = "/terminal"
    default_view = "choose"
    class_permission_name = "Exec"
    method_permission_name = {"choose": "track_in", "station": "track_in"}
    base_permissions = ["can_track_in", "can_track_out"]

    @expose("/")
    @has_access
    def choose(self):
        actor = authenticate()
        return self.render_template("mes/terminal_choose.html", stations=execution.terminal_stations(actor),
                                    help_doc="operator", help_anchor="station-terminal")

    @expose("/<station_code>")
    @has_access
    def station(self, station_code):
        actor = authenticate()
        current = call_and_flash(lambda: execution.terminal_station(actor=actor, station_code=station_code))
        if current is None:  # unknown, inactive or not one of the operator's stations: flashed
            return redirect(url_for("StationTerminalView.choose"))
        return self.render_template(
            "mes/terminal.html", station=current, stations=execution.terminal_stations(actor),
            hints={code: error_text(code)[1] for code in CATALOGUE},  # in the page's language
            defect_codes=active_defect_codes(current["process_type"]), spec_labels=spec_labels(),
            operator=actor.username, help_doc="operator", help_anchor="station-terminal",
            inspection_type=manual_entry_type(actor, current["code"]),
            choose_url=url_for("StationTerminalView.choose"),
            login_url=self.appbuilder.get_url_for_login_with(url_for("StationTerminalView.station",
                                                                     station_code=current["code"])))
