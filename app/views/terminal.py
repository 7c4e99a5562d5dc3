"""Station Terminal (Production → Station Terminal): the operator's scanner-driven screen.

The page itself only renders: every scan goes to the same REST API as any other client
(`/api/v1/stations/{code}/track-in|track-out|queue`, session cookie + CSRF token), so the rules stay
in the execution service. The JavaScript (static/mes/terminal.js) shows limits and highlights
out-of-limit values as a hint only; the server judges.
"""
from __future__ import annotations

from flask import abort, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import DefectCode, Line, Operation, RoutingStep, Station
from ..security.auth import authenticate
from ..services.scope import station_filter


def inspection_type(station_code: str) -> str | None:
    """SPI or AOI when the station serves an SPI/AOI step of some routing (by its station group):
    its terminal then offers the manual result entry for when the machine's link is down."""
    codes = set(db.session.execute(
        select(Operation.code).join(RoutingStep, RoutingStep.operation_id == Operation.id)
        .join(Station, Station.group_id == RoutingStep.station_group_id)
        .where(Station.code == station_code, Operation.code.in_(("SPI", "AOI")))).scalars())
    return sorted(codes)[0] if codes else None


def stations_in_scope(actor):
    """Active stations the actor may work at, with their line."""
    return db.session.execute(
        select(Station.code, Station.name, Line.code.label("line_code"))
        .join(Line, Line.id == Station.line_id)
        .where(Station.is_active.is_(True), station_filter(actor, Station.id, Station.line_id))
        .order_by(Line.code, Station.code)).all()


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
        return self.render_template("mes/terminal_choose.html", stations=stations_in_scope(actor),
                                    help_doc="operator", help_anchor="station-terminal")

    @expose("/<station_code>")
    @has_access
    def station(self, station_code):
        actor = authenticate()
        stations = stations_in_scope(actor)
        current = next((s for s in stations if s.code == station_code), None)
        if current is None:
            if db.session.execute(select(Station.id).where(Station.code == station_code)).first() is None:
                abort(404)
            abort(403)
        codes = db.session.execute(select(DefectCode.code, DefectCode.name, DefectCode.category)
                                   .where(DefectCode.is_active.is_(True)).order_by(DefectCode.code)).all()
        from ..services.errors import CATALOGUE
        return self.render_template(
            "mes/terminal.html", station=current, stations=stations,
            hints={code: entry.hint for code, entry in CATALOGUE.items()},
            defect_codes=[{"code": c.code, "name": c.name, "category": c.category} for c in codes],
            operator=actor.username, help_doc="operator", help_anchor="station-terminal",
            inspection_type=inspection_type(current.code) if actor.can("quality:inspection_result") else None,
            choose_url=url_for("StationTerminalView.choose"),
            login_url=self.appbuilder.get_url_for_login_with(url_for("StationTerminalView.station",
                                                                     station_code=current.code)))
