"""Loading Terminal (Production → Loading Terminal): the material handler's screen for the slot table
(scan the slot, then the reel), reel replacement during production, and the line's stencil and
solder paste at changeover. Like the Station Terminal it only renders; the JavaScript
(static/mes/loading.js) calls the REST API, and the loading service decides."""
from __future__ import annotations

from flask import current_app, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.platform.errors import CATALOGUE
from ..services.preparation import consumables, loading
from ..services.reporting import worklists
from ..web.i18n import error_text
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
        runs = loading.terminal_runs(actor)
        waiting = request.args.get("waiting") == "1"  # the material's worklist: runs waiting for loading
        if waiting:
            wanted = worklists.runs_waiting_for_loading(actor)
            runs = [r for r in runs if r["run_no"] in wanted]
        show_locked = request.args.get("locked") == "1"  # the leader's worklist: locked feeder slots
        return self.render_template(
            "mes/loading_choose.html", runs=runs, lines=loading.terminal_lines(actor), waiting=waiting,
            locked_slots=worklists.locked_slots(actor) if show_locked else None,
            can_bind=actor.can("line_consumables:bind"), help_doc="material", help_anchor="loading-terminal")

    @expose("/<run_no>")
    @has_access
    def run(self, run_no):
        actor = authenticate()
        run = call_and_flash(lambda: loading.terminal_run(actor=actor, run_no=run_no))
        if run is None:  # unknown run, or a line outside the user's: flashed
            return redirect(url_for("LoadingTerminalView.choose"))
        return self.render_template(
            "mes/loading.html", run_no=run["run_no"], run_status=run["status"], line_code=run["line_code"],
            can_unlock=actor.can("loading:unlock"), can_bind_paste=actor.can("line_consumables:bind"), time_zone=current_app.config.get("MES_TIMEZONE") or "UTC",
            hints={code: error_text(code)[1] for code in CATALOGUE},  # in the page's language
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
