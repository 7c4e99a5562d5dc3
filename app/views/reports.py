"""Reports → Lot Recall (`trace:read`; export with `trace:export`).

A supplier reports a bad reel: type or scan its label (`MATERIAL|LOT`, or a lot number that names one
lot) and see every board built with it — SN, run, work order, product, step and slot — with counts,
exportable as CSV (the units) or XLSX (units, runs, work orders, products). The same service answers
`GET /api/v1/trace/material-lots/{materialCode}/{lotNo}`; users bound to lines see their lines' units.
"""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..security.auth import authenticate
from ..services.preparation import genealogy
from .base import call_and_flash
from ..web.export import recall_export


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
