"""Loading Terminal (Production → Loading Terminal): the material handler's screen for the slot table
(scan the slot, then the reel), reel replacement during production, and the line's stencil and
solder paste at changeover. Like the Station Terminal it only renders; the JavaScript
(static/mes/loading.js) calls the REST API, and the loading service decides."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import FeederSlot, Line, Run, WorkOrder
from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services import consumables
from ..services.errors import CATALOGUE
from ..services.scope import line_filter
from .base import call_and_flash


class LoadingTerminalView(BaseView):
    route_base = "/loading"
    default_view = "choose"
    class_permission_name = "Loading"
    method_permission_name = {"choose": "verify", "run": "verify"}
    base_permissions = resource_permissions("loading")

    @expose("/")
    @has_access
    def choose(self):
        actor = authenticate()
        lines_with_slots = select(FeederSlot.line_id).distinct()
        runs = db.session.execute(
            select(Run.run_no, Run.status, Line.code, WorkOrder.wo_no)
            .join(Line, Line.id == Run.line_id).join(WorkOrder, WorkOrder.id == Run.work_order_id)
            .where(Run.status.in_(("PREP", "AUTHORIZED", "IN_PROGRESS")), Run.line_id.in_(lines_with_slots),
                   line_filter(actor, Run.line_id))
            .order_by(Line.code, Run.id.desc())).all()
        lines = db.session.execute(select(Line).where(Line.id.in_(lines_with_slots), line_filter(actor, Line.id))
                                   .order_by(Line.code)).scalars().all()
        return self.render_template(
            "mes/loading_choose.html", runs=runs,
            lines=[{"code": ln.code, "name": ln.name, **consumables.current_bindings(ln.id)} for ln in lines],
            can_bind=actor.can("line_consumables:bind"), help_doc="material", help_anchor="loading-terminal")

    @expose("/<run_no>")
    @has_access
    def run(self, run_no):
        actor = authenticate()
        run = db.session.execute(select(Run).where(Run.run_no == run_no)).scalar_one_or_none()
        if run is None:
            abort(404)
        if not (actor.is_admin or actor.scope.allows_line(run.line_id)):
            abort(403)
        return self.render_template(
            "mes/loading.html", run_no=run.run_no, run_status=run.status, line_code=run.line.code,
            can_unlock=actor.can("loading:unlock"),
            hints={code: entry.hint for code, entry in CATALOGUE.items()},
            help_doc="material", help_anchor="loading-terminal")


class LineConsumablesView(BaseView):
    """Stencil and solder paste binding at changeover (the forms live on the Loading Terminal page)."""

    route_base = "/line-consumables"
    class_permission_name = "LineConsumables"
    method_permission_name = {"stencil": "bind", "paste": "bind"}
    base_permissions = ["can_bind"]

    @expose("/<line_code>/stencil", methods=["POST"])
    @has_access
    def stencil(self, line_code):
        value = request.form.get("stencil_id", "")
        call_and_flash(lambda: consumables.bind_stencil(actor=authenticate(), line_code=line_code, stencil_id=value),
                       success=f"Stencil {value} bound to {line_code}.")
        return redirect(url_for("LoadingTerminalView.choose"))

    @expose("/<line_code>/solder-paste", methods=["POST"])
    @has_access
    def paste(self, line_code):
        value = request.form.get("lot_no", "")
        call_and_flash(lambda: consumables.bind_solder_paste(actor=authenticate(), line_code=line_code, lot_no=value),
                       success=f"Solder paste {value} bound to {line_code}.")
        return redirect(url_for("LoadingTerminalView.choose"))
