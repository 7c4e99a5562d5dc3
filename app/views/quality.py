"""Quality actions of Run Detail: the FAI card (create, start, record items, decide, sign).

Each action is a form posting to one endpoint that calls one service (services/inspections.py) and
flashes its answer or its refusal; the card shows only what the user's permissions and the FAI's
state allow."""
from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select

from ..extensions import db
from ..models import DefectCode, Run
from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services import inspections
from ..services.actor import Actor
from ..services.plans import plan_for
from .base import call_and_flash


def fai_context(run: Run, actor: Actor) -> dict[str, Any]:
    """What the FAI card of Run Detail shows."""
    plan = plan_for(run.route_version_id)
    latest = inspections.latest_fai(run.id)
    codes = []
    if latest is not None and latest.status == "INSPECTING":
        codes = db.session.execute(select(DefectCode.code, DefectCode.name).where(DefectCode.is_active.is_(True))
                                   .order_by(DefectCode.code)).all()
    return {"fai_required": plan.last_fai_step_no is not None, "fai_step": plan.last_fai_step_no,
            "fai": inspections.inspection_to_dict(latest) if latest else None,
            "fai_count": inspections.fai_count(run.id), "defect_codes": codes,
            "can_fai": actor.can("quality:fai"), "can_fai_sign": actor.can("quality:fai_sign")}


class FaiView(BaseView):
    route_base = "/fai"
    class_permission_name = "QualityControl"
    base_permissions = resource_permissions("quality")
    method_permission_name = {"create": "fai", "start": "fai", "item": "fai", "complete": "fai", "sign": "fai_sign"}

    def _back(self, run_no: str):
        return redirect(url_for("RunView.detail", run_no=run_no) + "#fai")

    @expose("/runs/<run_no>", methods=["POST"])
    @has_access
    def create(self, run_no):
        def call():
            qty = request.form.get("sample_qty", "").strip()
            return inspections.create_fai(actor=authenticate(), run_no=run_no,
                                          sample_qty=int(qty) if qty.isdigit() else qty,
                                          remark=request.form.get("remark") or None)
        created = call_and_flash(call)
        if created is not None:
            call_and_flash(lambda: inspections.start(actor=authenticate(), inspection_id=created.id),
                           success=f"FAI {created.id} created and started: build the trial units.")
        return self._back(run_no)

    @expose("/<int:inspection_id>/start", methods=["POST"])
    @has_access
    def start(self, inspection_id):
        call_and_flash(lambda: inspections.start(actor=authenticate(), inspection_id=inspection_id),
                       success=f"FAI {inspection_id} started.")
        return self._back(request.form.get("run_no", ""))

    @expose("/<int:inspection_id>/items", methods=["POST"])
    @has_access
    def item(self, inspection_id):
        form = request.form
        payload = {"unitSn": form.get("unit_sn", ""), "itemName": form.get("item_name", ""),
                   "itemSpec": form.get("item_spec") or None, "actualValue": form.get("actual_value") or None,
                   "result": form.get("result", ""), "defectCode": form.get("defect_code") or None}
        call_and_flash(lambda: inspections.add_item(actor=authenticate(), inspection_id=inspection_id, payload=payload),
                       success=f"Item recorded for {payload['unitSn']}.")
        return self._back(form.get("run_no", ""))

    @expose("/<int:inspection_id>/complete", methods=["POST"])
    @has_access
    def complete(self, inspection_id):
        payload = {"decision": request.form.get("decision", ""), "remark": request.form.get("remark") or None}
        call_and_flash(lambda: inspections.complete(actor=authenticate(), inspection_id=inspection_id, payload=payload),
                       success=f"FAI {inspection_id}: {payload['decision']}.")
        return self._back(request.form.get("run_no", ""))

    @expose("/<int:inspection_id>/sign", methods=["POST"])
    @has_access
    def sign(self, inspection_id):
        call_and_flash(lambda: inspections.sign(actor=authenticate(), inspection_id=inspection_id,
                                                remark=request.form.get("remark") or None),
                       success=f"FAI {inspection_id} signed.")
        return self._back(request.form.get("run_no", ""))
