"""Production console: Work Orders, Runs with Run Detail, and Trace (Production menu).

Each action is a form posting to one endpoint that calls one service and flashes its answer (or its
refusal, with the code and what to do); the buttons shown are the ones the services say are allowed.
"""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _

from ..models import Line, Product
from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.engineering import master_data
from ..services.platform import audit
from ..services.platform.errors import DomainError
from ..services.preparation import genealogy, loading, readiness
from ..services.production import runs, trace, work_orders
from ..services.quality import inspections, spc_alarms
from ..services.reporting import worklists
from .base import ListExports, call_and_flash, format_datetime, list_sort
from .base import call_and_flash as _run_service
from ..web.export import EXPORT_ROWS, run_trace_export, runs_export, unit_trace_export, work_orders_export
from ..web.codes import code_label
from ..web.filters import parse_page
from ..web.i18n import N_
from .help import run_detail_help
from .quality import fai_context, oqc_mrb_context


def _int_field(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", f"{name} must be a whole number.", {"fields": {name: "integer"}}) from None


class WorkOrderView(ListExports, BaseView):
    route_base = "/work-orders"
    default_view = "list"
    class_permission_name = "WorkOrder"
    method_permission_name = {"list": "read", "detail": "read", "csv": "read", "xlsx": "read", "receive": "receive",
                              "release": "release", "close": "close"}
    base_permissions = ["can_read", "can_receive", "can_release", "can_close"]

    def _query(self):
        sort = list_sort(work_orders.WORK_ORDER_SORTING)
        return work_orders.WorkOrderQuery(status=request.args.get("status") or None,
                                          product_code=request.args.get("productCode") or None,
                                          line_code=request.args.get("lineCode") or None, q=request.args.get("q") or None,
                                          sort=sort["key"], order=sort["order"])

    @expose("/")
    @has_access
    def list(self):
        actor = authenticate()
        page, size = parse_page(request.args, default_size=50)
        query = self._query()
        rows, total = work_orders.list_work_orders(actor=actor, query=query, page=page, page_size=size)
        return self.render_template(
            "mes/work_order_list.html", rows=[work_orders.work_order_to_dict(w) for w in rows], total=total,
            sort={"key": query.sort, "order": query.order},
            page=page, pages=max(1, (total + size - 1) // size), args=request.args,
            products=master_data.codes(Product, active_only=True), lines=master_data.codes(Line),
            statuses=["RECEIVED", "RELEASED", "IN_PROGRESS", "COMPLETED"], can_receive=actor.can("wo:receive"),
            help_doc="planner", help_anchor="work-orders")

    def _export(self, fmt):
        actor = authenticate()
        rows, _ = work_orders.list_work_orders(actor=actor, query=self._query(), page=1, page_size=EXPORT_ROWS)
        return work_orders_export(fmt, rows)

    @expose("/new", methods=["POST"])
    @has_access
    def receive(self):
        form = request.form
        def call():
            payload: dict[str, Any] = {"woNo": form.get("wo_no", "").strip(), "productCode": form.get("product_code", ""),
                                       "plannedQty": _int_field("planned_qty"), "sourceSystem": "MANUAL"}
            if form.get("due_date"):
                payload["dueDate"] = form["due_date"]
            return work_orders.create_work_order(actor=authenticate(), payload=payload)
        result = _run_service(call)
        if result is None:
            return redirect(url_for("WorkOrderView.list"))
        flash(_("Work order %(wo)s received (status %(status)s).", wo=result.data["woNo"], status=code_label("RECEIVED")),
              "success")
        return redirect(url_for("WorkOrderView.detail", wo_no=result.data["woNo"]))

    @expose("/<wo_no>")
    @has_access
    def detail(self, wo_no):
        actor = authenticate()
        wo = _run_service(lambda: work_orders.read_work_order(actor=actor, wo_no=wo_no))
        if wo is None:
            return redirect(url_for("WorkOrderView.list"))
        data = work_orders.work_order_to_dict(wo, with_runs=True)
        actions = work_orders.available_actions(wo, actor)
        return self.render_template(
            "mes/work_order_detail.html", wo=data, actions=actions,
            lines=work_orders.release_line_options(wo) if "RELEASE" in actions else [],
            quantity=work_orders.quantity_status(wo), help_doc="planner", help_anchor="work-orders")

    @expose("/<wo_no>/release", methods=["POST"])
    @has_access
    def release(self, wo_no):
        _run_service(lambda: work_orders.release(actor=authenticate(), wo_no=wo_no,
                                                 line_code=request.form.get("line_code", "")),
                     success=_("Work order %(wo)s released to %(line)s.", wo=wo_no, line=request.form.get("line_code")))
        return redirect(url_for("WorkOrderView.detail", wo_no=wo_no))

    @expose("/<wo_no>/close", methods=["POST"])
    @has_access
    def close(self, wo_no):
        _run_service(lambda: work_orders.close(actor=authenticate(), wo_no=wo_no,
                                               confirm_short=request.form.get("confirm_short") == "yes",
                                               reason=request.form.get("reason", "")),
                     success=_("Work order %(wo)s completed.", wo=wo_no))
        return redirect(url_for("WorkOrderView.detail", wo_no=wo_no))


# Run Detail shows these service words in the page's language (`_(word)` in run_detail.html): the phase
# names of runs.phases() and the run statuses (the phases' texts and the next action are the services' Messages,
# shown in the page's language by every {{ … }}: app/web/i18n.py)
RUN_DETAIL_WORDS = (N_("Readiness"), N_("Loading"), N_("FAI"), N_("Authorize"), N_("Execution"), N_("Closeout"),
                    N_("PREP"), N_("AUTHORIZED"), N_("IN_PROGRESS"), N_("COMPLETED"), N_("ON_HOLD"),
                    N_("CLOSED_REWORK"), N_("SCRAPPED"), N_("CANCELLED"))
UNITS_SHOWN = 500  # Run Detail lists the first units; the rest through the status filter, Trace or the API


class RunView(ListExports, BaseView):
    route_base = "/runs"
    default_view = "list"
    class_permission_name = "Run"
    method_permission_name = {"list": "read", "detail": "read", "csv": "read", "xlsx": "read", "create": "create",
                              "units": "create", "cancel": "create", "authorize": "authorize",
                              "revoke": "authorize", "close": "close"}
    base_permissions = ["can_read", "can_create", "can_authorize", "can_close"]

    def _runs(self, page: int, size: int, worklist: str | None = None):
        """One page of the list: a home-page worklist's runs (exactly the runs its count counted, newest
        first), else the filtered list in the chosen order."""
        sort = list_sort(runs.RUN_SORTING)
        actor = authenticate()
        if worklist:
            return worklists.worklist_runs(actor=actor, key=worklist, page=page, page_size=size), sort
        return runs.list_runs(actor=actor, status=request.args.get("status") or None,
                              line_code=request.args.get("lineCode") or None,
                              wo_contains=request.args.get("woNo") or None, page=page, page_size=size,
                              sort=sort["key"], order=sort["order"]), sort

    @expose("/")
    @has_access
    def list(self):
        page, size = parse_page(request.args, default_size=50)
        key = request.args.get("worklist") or None
        title = call_and_flash(lambda: worklists.run_list_title(key)) if key else None
        (rows, total), sort = self._runs(page, size, worklist=key if title is not None else None)
        return self.render_template(
            "mes/run_list.html", rows=[{**runs.run_to_dict(r), "counts": runs.unit_counts(r.id)} for r in rows],
            worklist=title, total=total, page=page, pages=max(1, (total + size - 1) // size), args=request.args,
            sort=sort,
            lines=master_data.codes(Line),
            statuses=["PREP", "AUTHORIZED", "IN_PROGRESS", "ON_HOLD", "COMPLETED", "CLOSED_REWORK", "SCRAPPED",
                      "CANCELLED"], help_doc="planner", help_anchor="runs-and-run-detail")

    def _export(self, fmt):
        (rows, _), _ = self._runs(1, EXPORT_ROWS, worklist=request.args.get("worklist") or None)
        return runs_export(fmt, runs.with_unit_tallies(rows))

    @expose("/create", methods=["POST"])
    @has_access
    def create(self):
        wo_no = request.form.get("wo_no", "")
        run = _run_service(lambda: runs.create_run(actor=authenticate(), wo_no=wo_no,
                                                   line_code=request.form.get("line_code", ""),
                                                   plan_qty=_int_field("plan_qty"),
                                                   shift_code=request.form.get("shift_code") or None))
        if run is None:
            return redirect(url_for("WorkOrderView.detail", wo_no=wo_no))
        flash(_("Run %(run)s created (%(status)s).", run=run.run_no, status=code_label("PREP")), "success")
        return redirect(url_for("RunView.detail", run_no=run.run_no))

    @expose("/<run_no>")
    @has_access
    def detail(self, run_no):
        actor = authenticate()
        run = _run_service(lambda: runs.read_run(actor=actor, run_no=run_no))
        if run is None:
            return redirect(url_for("RunView.list"))
        data = runs.run_to_dict(run, detail=True)
        status_filter = request.args.get("unitStatus") or None
        units = runs.list_units(actor=actor, run_no=run_no, status=status_filter, limit=UNITS_SHOWN)
        shown = readiness.latest_check(run.id, "FORMAL") or readiness.latest_check(run.id, "PRECHECK")
        readiness_actions = readiness.actions(run, actor, shown)
        return self.render_template(
            "mes/run_detail.html", run=data, phases=runs.phases(run, data["unitCounts"]),
            actions=runs.available_actions(run, actor, data["unitCounts"]), units=units.units,
            units_total=units.total, unit_filter=status_filter,
            events=audit.entity_events("RUN", run_no, also=inspections.audit_entities(run.id)), fmt=format_datetime, can_trace=actor.can("trace:read"),
            can_export=actor.can("trace:export"),
            check=readiness.check_to_dict(shown) if shown else None,
            can_check=readiness_actions.can_check, waivable=readiness_actions.waivable_item_ids,
            loading=loading.loading_state(actor=actor, run_no=run_no),
            can_load=actor.can("loading:verify"), **fai_context(run, actor), **oqc_mrb_context(run, actor),
            spc_alarms=spc_alarms.open_alarms_of_run(run.id), can_read_spc=actor.can("data_spec:read"),
            **run_detail_help(actor.roles))

    def _back(self, run_no):
        return redirect(url_for("RunView.detail", run_no=run_no))

    @expose("/<run_no>/units", methods=["POST"])
    @has_access
    def units(self, run_no):
        quantity = request.form.get("quantity", "").strip()
        sns = [s.strip() for s in request.form.get("sns", "").replace(",", "\n").splitlines() if s.strip()]
        _run_service(lambda: runs.generate_units(actor=authenticate(), run_no=run_no,
                                                 quantity=_int_field("quantity") if quantity else None,
                                                 sn_prefix=request.form.get("sn_prefix") or None,
                                                 sns=sns or None),
                     success="Units generated.")
        return self._back(run_no)

    @expose("/<run_no>/authorize", methods=["POST"])
    @has_access
    def authorize(self, run_no):
        _run_service(lambda: runs.authorize(actor=authenticate(), run_no=run_no), success=f"Run {run_no} authorized.")
        return self._back(run_no)

    @expose("/<run_no>/revoke", methods=["POST"])
    @has_access
    def revoke(self, run_no):
        _run_service(lambda: runs.revoke(actor=authenticate(), run_no=run_no, reason=request.form.get("reason", "")),
                     success=f"Authorization of {run_no} revoked.")
        return self._back(run_no)

    @expose("/<run_no>/cancel", methods=["POST"])
    @has_access
    def cancel(self, run_no):
        _run_service(lambda: runs.cancel(actor=authenticate(), run_no=run_no, reason=request.form.get("reason", "")),
                     success=f"Run {run_no} cancelled.")
        return self._back(run_no)

    @expose("/<run_no>/close", methods=["POST"])
    @has_access
    def close(self, run_no):
        _run_service(lambda: runs.close(actor=authenticate(), run_no=run_no), success=f"Run {run_no} closed.")
        return self._back(run_no)


class TraceView(BaseView):
    route_base = "/trace"
    default_view = "search"
    class_permission_name = "TraceData"
    method_permission_name = {"search": "read", "unit": "read", "unit_export": "export", "run_export": "export"}
    base_permissions = ["can_read", "can_export"]

    @expose("/")
    @has_access
    def search(self):
        term = (request.args.get("q") or "").strip()
        if term:
            found = trace.lookup(term, actor=authenticate())
            if found is not None and found[0] == "UNIT":
                return redirect(url_for("TraceView.unit", sn=term))
            if found is not None:
                return redirect(url_for("RunView.detail", run_no=term))
            try:  # a reel label or lot number: the lot recall
                material_code, lot_no = genealogy.find_lot(term)
                return redirect(url_for("LotRecallView.lot", material_code=material_code, lot_no=lot_no))
            except DomainError:
                pass
            flash(gettext("No unit, run or lot %(term)s. Check the label (SN), the run number or the reel label.", term=term),
                  "warning")
        return self.render_template("mes/trace_search.html", q=term, help_doc="planner", help_anchor="trace")

    @expose("/units/<sn>")
    @has_access
    def unit(self, sn):
        actor = authenticate()
        data = _run_service(lambda: trace.unit_trace(actor=actor, sn=sn))
        if data is None:
            return redirect(url_for("TraceView.search"))
        return self.render_template("mes/trace_unit.html", t=data, can_export=actor.can("trace:export"),
                                    help_doc="planner", help_anchor="trace")

    @expose("/units/<sn>/<any(csv, xlsx):fmt>")
    @has_access
    def unit_export(self, sn, fmt):
        """A unit's trace as a file (`trace:export`): the same builder as the API's `format=csv|xlsx`."""
        return unit_trace_export(trace.unit_trace(actor=authenticate(), sn=sn), fmt)

    @expose("/runs/<run_no>/<any(csv, xlsx):fmt>")
    @has_access
    def run_export(self, run_no, fmt):
        """A run's trace as a file (`trace:export`), from Run Detail."""
        data = _run_service(lambda: trace.run_trace(actor=authenticate(), run_no=run_no))
        return run_trace_export(data, fmt) if data is not None else redirect(url_for("RunView.detail", run_no=run_no))


class ReadinessView(BaseView):
    """The readiness actions of Run Detail: run a FORMAL check, waive a failed item."""

    route_base = "/readiness"
    class_permission_name = "Readiness"
    method_permission_name = {"check": "check", "waive": "waive"}
    base_permissions = resource_permissions("readiness")  # the whole resource: sync keeps readiness:config

    @expose("/runs/<run_no>/check", methods=["POST"])
    @has_access
    def check(self, run_no):
        kind = request.form.get("kind", "FORMAL")
        result = _run_service(lambda: readiness.run_check(actor=authenticate(), run_no=run_no, kind=kind))
        if result is not None:
            flash(_("%(kind)s readiness check %(status)s.", kind=kind, status=code_label(result.status)),
                  "success" if result.status == "PASSED" else "warning")
        return redirect(url_for("RunView.detail", run_no=run_no) + "#readiness")

    @expose("/items/<int:item_id>/waive", methods=["POST"])
    @has_access
    def waive(self, item_id):
        run_no = request.form.get("run_no", "")
        item = _run_service(lambda: readiness.waive(actor=authenticate(), item_id=item_id,
                                                    reason=request.form.get("reason", ""),
                                                    password=request.form.get("password") or None))
        if item is not None:
            flash(_("%(item)s waived (signed by %(user)s); the check is %(status)s.", item=code_label(item.item_type),
                    user=item.waived_by, status=code_label(item.check.status)), "success")
        return redirect(url_for("RunView.detail", run_no=run_no) + "#readiness")
