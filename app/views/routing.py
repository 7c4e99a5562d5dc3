"""Routing Editor (Engineering → Routings): header, ordered steps, execution config with a data-spec
picker, compile, version history with snapshots and a diff. Every change goes through the routing
service (services/engineering/routing.py); this view only reads forms and renders results."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _

from ..models import Product
from ..models.master import PROCESS_TYPES, STATION_TYPES
from ..security.auth import authenticate
from ..services.engineering import data_specs, master_data
from ..services.engineering import routing as routing_service
from ..services.platform.errors import DomainError
from ..web.codes import code_label
from ..web.export import list_export
from ..web.i18n import N_
from ..web.times import local_to_utc
from .base import ListExports, call_and_flash, flash_domain_error, list_sort


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise DomainError("VALIDATION_ERROR", f"{value!r} is not a whole number.",
                          {"fields": {"stepNo": "whole number"}}) from None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return local_to_utc(value)  # a plant date: its local midnight, in UTC
    except ValueError:
        raise DomainError("VALIDATION_ERROR", f"{value!r} is not a date (YYYY-MM-DD).") from None


def _tri(value: str | None) -> bool | None:
    """A select with (inherit) / yes / no."""
    return {"yes": True, "no": False}.get(value or "")


class RoutingEditorView(ListExports, BaseView):
    route_base = "/routings"
    default_view = "index"
    class_permission_name = "Route"
    method_permission_name = {
        "index": "read", "csv": "read", "xlsx": "read", "editor": "read", "version": "read", "diff": "read",
        "create": "configure", "header": "configure", "add_step": "configure", "update_step": "configure",
        "delete_step": "configure", "config": "configure", "compile": "compile",
    }
    base_permissions = ["can_read", "can_configure", "can_compile"]

    # -- pages ------------------------------------------------------------------------------------
    @expose("/")
    @has_access
    def index(self):
        actor = authenticate()
        sort = list_sort(routing_service.ROUTING_SORTING)
        rows = routing_service.list_routings(actor=actor, q=request.args.get("q"), sort=sort["key"], order=sort["order"])
        return self.render_template(
            "mes/routing_list.html", routings=[routing_service.routing_to_dict(r, with_versions=True) for r in rows],
            sort=sort, args=request.args,
            products=master_data.records(Product, active_only=True), process_types=PROCESS_TYPES,
            can_configure=actor.can("route:configure"),
            q=request.args.get("q", ""), help_doc="engineer", help_anchor="routings-and-compiling")

    def _export(self, fmt):
        """The routing list as a file: one row per step, with the routing and its latest version."""
        sort = list_sort(routing_service.ROUTING_SORTING)
        rows = routing_service.list_routings(actor=authenticate(), q=request.args.get("q"), sort=sort["key"],
                                             order=sort["order"])
        header = [N_("routing"), N_("name"), N_("product"), N_("process"), N_("source"), N_("active"),
                  N_("latest version"), N_("version status"), N_("step"), N_("operation"), N_("station group"),
                  N_("station type"), "FAI"]
        out = []
        for data in (routing_service.routing_to_dict(r, with_versions=True) for r in rows):
            latest = data["latestVersion"] or {}
            head = [data["code"], data["name"], data["productCode"], data["processType"], data["sourceSystem"],
                    data["isActive"], latest.get("versionNo"), latest.get("status")]
            for step in data["steps"] or [None]:
                out.append(head + ([step["stepNo"], step["operationCode"], step["stationGroupCode"],
                                    step["stationType"], step["requiresFai"]] if step else [None] * 5))
        return list_export(fmt, "routings", N_("Routings"), header, out)

    @expose("/<routing_code>")
    @has_access
    def editor(self, routing_code):
        actor = authenticate()
        try:
            routing = routing_service.get_routing(routing_code)
        except DomainError as error:
            flash_domain_error(error)
            return redirect(url_for("RoutingEditorView.index"))
        effective = routing_service.effective_steps(routing)
        latest = routing_service.latest_version(routing)
        step_errors: dict[int, list[dict]] = {}
        if latest is not None and latest.status == "INVALID":
            for err in latest.errors or []:
                step_errors.setdefault(err["stepNo"], []).append(err)
        data = routing_service.routing_to_dict(routing)
        target = self._config_target(routing, request.args.get("configure"))
        picker = self._picker(routing, target, effective) if target else None
        route_ops = sorted({s.operation.code for s in routing.steps})
        return self.render_template(
            "mes/routing_editor.html", routing=data, effective=effective, latest=latest,
            step_errors=step_errors, versions=[routing_service.version_to_dict(v) for v in reversed(routing.versions)],
            picker=picker, target=target, **routing_service.editor_choices(), route_ops=route_ops,
            station_types=STATION_TYPES, process_types=PROCESS_TYPES,
            can_configure=actor.can("route:configure"), can_compile=actor.can("route:compile"),
            help_doc="engineer", help_anchor="routings-and-compiling")

    def _config_target(self, routing, raw: str | None) -> dict | None:
        """`route`, `op:<CODE>` or `step:<no>` — the scope whose config the picker edits."""
        if not raw:
            return None
        kind, _sep, value = raw.partition(":")
        if kind == "route":
            return {"scope": "ROUTE", "label": _("the whole routing"), "key": "route"}
        if kind == "op" and value in {s.operation.code for s in routing.steps}:
            return {"scope": "OPERATION", "operationCode": value, "label": _("operation %(operation)s", operation=value), "key": raw}
        if kind == "step":
            step = next((s for s in routing.steps if str(s.step_no) == value), None)
            if step is not None:
                return {"scope": "STEP", "stepNo": step.step_no, "operationCode": step.operation.code,
                        "label": _("step %(no)s (%(operation)s)", no=step.step_no, operation=step.operation.code), "key": raw}
        return None

    def _picker(self, routing, target: dict, effective) -> dict:
        """The config form of one scope: its own overrides, and the data-spec picker (specs of the
        scope's operation; all operations on request or at route scope)."""
        scope_key = {"ROUTE": "ROUTE"}.get(target["scope"])
        cfg = None
        for candidate in routing.configs:
            if target["scope"] == "ROUTE" and candidate.scope == "ROUTE":
                cfg = candidate
            elif target["scope"] == "OPERATION" and candidate.scope == "OPERATION" \
                    and candidate.operation.code == target.get("operationCode"):
                cfg = candidate
            elif target["scope"] == "STEP" and candidate.scope == "STEP" \
                    and candidate.step.step_no == target.get("stepNo"):
                cfg = candidate
        all_ops = request.args.get("all_ops") == "1" or target["scope"] == "ROUTE"
        specs = data_specs.specs_of(None if all_ops else target["operationCode"])
        own = [s.id for s in cfg.data_specs] if cfg else []
        inherited: list[int] = []
        inherited_from = None
        if target["scope"] == "STEP" and not own:
            eff = next(e for e in effective if e.step.step_no == target["stepNo"])
            inherited, inherited_from = [s.id for s in eff.specs], eff.specs_from
        return {"config": routing_service.config_to_dict(cfg) if cfg else None, "specs": specs,
                "selected": own or inherited, "inheritedFrom": inherited_from if not own and inherited else None,
                "allOps": all_ops, "scopeKey": scope_key}

    @expose("/<routing_code>/versions/<int:version_no>")
    @has_access
    def version(self, routing_code, version_no):
        actor = authenticate()
        try:
            version = routing_service.get_version(actor=actor, routing_code=routing_code, version_no=version_no)
        except DomainError as error:
            flash_domain_error(error)
            return redirect(url_for("RoutingEditorView.editor", routing_code=routing_code))
        return self.render_template("mes/routing_version.html", routing_code=routing_code,
                                    version=routing_service.version_to_dict(version, with_snapshot=True),
                                    help_doc="engineer", help_anchor="routings-and-compiling")

    @expose("/<routing_code>/diff")
    @has_access
    def diff(self, routing_code):
        actor = authenticate()
        try:
            a = routing_service.get_version(actor=actor, routing_code=routing_code,
                                            version_no=_int(request.args.get("a")) or 0)
            b = routing_service.get_version(actor=actor, routing_code=routing_code,
                                            version_no=_int(request.args.get("b")) or 0)
        except DomainError as error:
            flash_domain_error(error)
            return redirect(url_for("RoutingEditorView.editor", routing_code=routing_code))
        changes = routing_service.diff_snapshots(a.snapshot, b.snapshot)
        return self.render_template("mes/routing_diff.html", routing_code=routing_code, a=a.version_no,
                                    b=b.version_no, changes=changes, help_doc="engineer",
                                    help_anchor="routings-and-compiling")

    # -- changes (each one service call) -----------------------------------------------------------
    def _back(self, code: str, **args):
        return redirect(url_for("RoutingEditorView.editor", routing_code=code, **args))

    @expose("/new", methods=["POST"])
    @has_access
    def create(self):
        form = request.form
        created = call_and_flash(lambda: routing_service.create_routing(actor=authenticate(), data=routing_service.RoutingInput(
            code=form.get("code", "").strip(), name=form.get("name", "").strip(),
            product_code=form.get("product_code") or None, process_type=form.get("process_type"))),
            success=_("Routing %(routing)s created: add its steps.", routing=form.get("code")))
        if created is None:
            return redirect(url_for("RoutingEditorView.index"))
        return self._back(created.code)

    @expose("/<routing_code>/header", methods=["POST"])
    @has_access
    def header(self, routing_code):
        form = request.form

        def call():
            return routing_service.update_routing(actor=authenticate(), data=routing_service.RoutingInput(
                code=routing_code, name=form.get("name", "").strip(), product_code=form.get("product_code") or None,
                process_type=form.get("process_type") or None, version_label=form.get("version_label") or None,
                effective_from=_date(form.get("effective_from")), effective_to=_date(form.get("effective_to")),
                is_active=form.get("is_active") == "y"))
        call_and_flash(call, success=_("Routing saved."))
        return self._back(routing_code)

    def _step_input(self):
        form = request.form
        return routing_service.StepInput(
            step_no=_int(form.get("step_no")), operation_code=form.get("operation_code", ""),
            station_group_code=form.get("station_group_code") or None, station_type=form.get("station_type") or None,
            requires_fai=form.get("requires_fai") == "y")

    @expose("/<routing_code>/steps", methods=["POST"])
    @has_access
    def add_step(self, routing_code):
        def call():
            step = self._step_input()
            routing = routing_service.get_routing(routing_code)
            # the number of an existing step changes that step in place (its step config is kept)
            existing = step.step_no if step.step_no in {s.step_no for s in routing.steps} else None
            return routing_service.save_step(actor=authenticate(), routing_code=routing_code, step=step,
                                             original_step_no=existing)
        call_and_flash(call, success=_("Step saved."))
        return self._back(routing_code)

    @expose("/<routing_code>/steps/<int:step_no>", methods=["POST"])
    @has_access
    def update_step(self, routing_code, step_no):
        call_and_flash(lambda: routing_service.save_step(actor=authenticate(), routing_code=routing_code,
                                                    step=self._step_input(), original_step_no=step_no),
                  success=_("Step saved."))
        return self._back(routing_code)

    @expose("/<routing_code>/steps/<int:step_no>/delete", methods=["POST"])
    @has_access
    def delete_step(self, routing_code, step_no):
        call_and_flash(lambda: routing_service.remove_step(actor=authenticate(), routing_code=routing_code,
                                                      step_no=step_no), success=_("Step %(no)s removed.", no=step_no))
        return self._back(routing_code)

    @expose("/<routing_code>/config", methods=["POST"])
    @has_access
    def config(self, routing_code):
        form = request.form
        scope = form.get("scope", "")

        def call():
            allowed = [c for c in form.getlist("allowed_station_codes") if c]
            return routing_service.save_config(actor=authenticate(), routing_code=routing_code,
                                               config=routing_service.ConfigInput(
                scope=scope, step_no=_int(form.get("step_no")), operation_code=form.get("operation_code") or None,
                station_type=form.get("station_type") or None,
                station_group_code=form.get("station_group_code") or None,
                allowed_station_codes=allowed or None, requires_fai=_tri(form.get("requires_fai")),
                data_specs=[int(x) for x in form.getlist("data_specs") if x.isdigit()]))
        call_and_flash(call, success=_("Execution config saved. Compile to freeze it into a new version."))
        return self._back(routing_code, configure=form.get("configure_key") or None)

    @expose("/<routing_code>/compile", methods=["POST"])
    @has_access
    def compile(self, routing_code):
        result = call_and_flash(lambda: routing_service.compile_routing(actor=authenticate(), routing_code=routing_code))
        if result is not None:
            v = result.version
            if not result.created:
                flash(_("Nothing changed since version %(no)s (%(status)s): no new version.", no=v.version_no, status=code_label(v.status)), "info")
            elif v.status == "READY":
                flash(_("Compiled: version %(no)s is READY.", no=v.version_no), "success")
            else:
                flash(_("Compiled: version %(no)s is INVALID — %(count)s error(s), shown at the steps below.",
                    no=v.version_no, count=len(v.errors)), "danger")
        return self._back(routing_code)
