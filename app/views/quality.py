"""Quality actions of Run Detail: the FAI card (create, start, record items, decide, sign).

Each action is a form posting to one endpoint that calls one service (services/quality/inspections.py) and
flashes its answer or its refusal; the card shows only what the user's permissions and the FAI's
state allow."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from ..models import Run
from ..security.auth import authenticate
from ..security.permissions import resource_permissions
from ..services.engineering.master_data import active_defect_codes
from ..services.engineering.route_plans import plan_for
from ..services.platform.actor import Actor
from ..services.platform.errors import DomainError
from ..services.production import runs
from ..services.quality import defects, inspections, mrb, oqc
from ..web.export import list_export
from ..web.i18n import N_
from .base import call_and_flash, list_sort


def _whole(text: str, field: str) -> int:
    """A whole number typed in a form (called inside the form's service call, so a bad one is flashed)."""
    try:
        if text.isascii():
            return int(text)
    except ValueError:
        pass
    raise DomainError("VALIDATION_ERROR", _("%(field)s must be a whole number.", field=field), {"fields": {field: "integer"}})


def fai_context(run: Run, actor: Actor) -> dict[str, Any]:
    """What the FAI card of Run Detail shows."""
    plan = plan_for(run.route_version_id)
    latest = inspections.latest_fai(run.id)
    codes = active_defect_codes() if latest is not None and latest.status == "INSPECTING" else []
    return {"fai_required": plan.last_fai_step_no is not None, "fai_step": plan.last_fai_step_no,
            "fai": inspections.inspection_to_dict(latest) if latest else None,
            "fai_count": inspections.fai_count(run.id), "defect_codes": codes,
            "fai_actions": inspections.offered_actions(run, actor, "FAI", latest)}


def oqc_mrb_context(run: Run, actor: Actor) -> dict[str, Any]:
    """What the OQC and MRB cards of Run Detail show."""
    latest = oqc.latest_oqc(run.id)
    codes = active_defect_codes() if latest is not None and latest.status == "INSPECTING" else []
    return {"oqc": inspections.inspection_to_dict(latest) if latest else None, "oqc_codes": codes,
            "oqc_actions": inspections.offered_actions(run, actor, "OQC", latest),
            "can_decide_mrb": mrb.may_decide(run, actor),
            "mrb_decisions": mrb.decisions_for_run(actor=actor, run_no=run.run_no),
            "mrb_suggested_step": mrb.suggested_rework_step(run) if run.status == "ON_HOLD" else None,
            "rework_runs": runs.rework_runs(run), "parent_run": run.parent.run_no if run.parent else None,
            "step_nos": [s.step_no for s in plan_for(run.route_version_id).steps]}


def _record_item(inspection_id: int) -> None:
    """The item form of the FAI and OQC cards → the shared inspection service."""
    form = request.form
    payload = {"unitSn": form.get("unit_sn", ""), "itemName": form.get("item_name", ""),
               "itemSpec": form.get("item_spec") or None, "actualValue": form.get("actual_value") or None,
               "result": form.get("result", ""), "defectCode": form.get("defect_code") or None}
    call_and_flash(lambda: inspections.add_item(actor=authenticate(), inspection_id=inspection_id, payload=payload),
                   success=_("Item recorded for %(sn)s.", sn=payload["unitSn"]))


class _InspectionCardView(BaseView):
    """Start, items and decision of an inspection card (FAI or OQC) through the shared inspection
    service; each card's view adds what is its own."""

    kind = ""  # FAI / OQC
    class_permission_name = "QualityControl"
    base_permissions = resource_permissions("quality")

    def _back(self, run_no: str):
        return redirect(url_for("RunView.detail", run_no=run_no) + "#" + self.kind.lower())

    def _decided(self, inspection) -> None:
        """Flash what the decision did."""
        flash(_("%(number)s: %(status)s.", number=inspection.number, status=_(inspection.status)),
              "success" if inspection.status == "PASS" else "warning")

    @expose("/<int:inspection_id>/start", methods=["POST"])
    @has_access
    def start(self, inspection_id):
        call_and_flash(lambda: inspections.start(actor=authenticate(), inspection_id=inspection_id),
                       success=_("%(kind)s started.", kind=self.kind))
        return self._back(request.form.get("run_no", ""))

    @expose("/<int:inspection_id>/items", methods=["POST"])
    @has_access
    def item(self, inspection_id):
        _record_item(inspection_id)
        return self._back(request.form.get("run_no", ""))

    @expose("/<int:inspection_id>/complete", methods=["POST"])
    @has_access
    def complete(self, inspection_id):
        payload = {"decision": request.form.get("decision", ""), "remark": request.form.get("remark") or None}
        if self.kind == "OQC":  # the OQC decision is an electronic signature
            payload["password"] = request.form.get("password") or None
        done = call_and_flash(lambda: inspections.complete(actor=authenticate(), inspection_id=inspection_id,
                                                           payload=payload))
        if done is not None:
            self._decided(done)
        return self._back(request.form.get("run_no", ""))


class FaiView(_InspectionCardView):
    """The FAI card: create (and start), start, items, decision, sign."""

    route_base = "/fai"
    kind = "FAI"
    method_permission_name = {"create": "fai", "start": "fai", "item": "fai", "complete": "fai", "sign": "fai_sign"}

    @expose("/runs/<run_no>", methods=["POST"])
    @has_access
    def create(self, run_no):
        def call():
            qty = request.form.get("sample_qty", "").strip()
            return inspections.create_fai(actor=authenticate(), run_no=run_no,
                                          sample_qty=_whole(qty, "sampleQty"),
                                          remark=request.form.get("remark") or None)
        created = call_and_flash(call)
        if created is not None:
            call_and_flash(lambda: inspections.start(actor=authenticate(), inspection_id=created.id),
                           success=_("%(number)s created and started: build the trial units.", number=created.number))
        return self._back(run_no)

    @expose("/<int:inspection_id>/sign", methods=["POST"])
    @has_access
    def sign(self, inspection_id):
        signed = call_and_flash(lambda: inspections.sign(actor=authenticate(), inspection_id=inspection_id,
                                                         password=request.form.get("password") or None,
                                                         remark=request.form.get("remark") or None))
        if signed is not None:
            flash(_("%(number)s signed by %(user)s: FAI approved.", number=signed.number, user=signed.signed_by), "success")
        return self._back(request.form.get("run_no", ""))


class OqcView(_InspectionCardView):
    """The OQC card: start, items, decision (which completes or holds the run)."""

    route_base = "/oqc"
    kind = "OQC"
    method_permission_name = {"start": "oqc", "item": "oqc", "complete": "oqc"}

    def _decided(self, inspection) -> None:
        run = inspections.run_of(inspection)
        flash(_("%(number)s: %(status)s (signed by %(user)s); run %(run)s is %(run_status)s.", number=inspection.number,
                status=_(inspection.status), user=inspection.decided_by, run=run.run_no, run_status=_(run.status)),
              "success" if inspection.status == "PASS" else "warning")


class MrbView(BaseView):
    """The MRB card's decision on a held run (RELEASE, SCRAP, REWORK)."""

    route_base = "/mrb"
    class_permission_name = "QualityControl"
    base_permissions = resource_permissions("quality")
    method_permission_name = {"decide": "mrb"}

    @expose("/runs/<run_no>", methods=["POST"])
    @has_access
    def decide(self, run_no):
        form = request.form
        step = form.get("rework_from_step_no", "").strip()
        decision = form.get("decision", "")

        def call():
            request_ = mrb.MrbRequest(
                decision=decision, reason=form.get("reason", ""), rework_type=form.get("rework_type") or None,
                rework_from_step_no=_whole(step, "reworkFromStepNo") if step else None,
                fai_waiver=form.get("fai_waiver") == "y", fai_waiver_reason=form.get("fai_waiver_reason") or None)
            return mrb.decide(actor=authenticate(), run_no=run_no, request=request_,
                              password=form.get("password") or None)
        result = call_and_flash(call)
        if result is not None:
            text = _("MRB %(decision)s: run %(run)s is %(status)s.", decision=_(decision), run=run_no,
                     status=_(result.run.status))
            if result.rework_run is not None:
                text += " " + _("Rework run %(run)s created (%(status)s).", run=result.rework_run.run_no,
                                status=_(result.rework_run.status))
            flash(text, "success")
        return redirect(url_for("RunView.detail", run_no=run_no) + "#mrb")


QUEUE_SORT_LABELS = [("since", N_("Waiting since")), ("sn", "SN"), ("runNo", N_("Run")), ("lineCode", N_("Line")),
                     ("currentStepNo", N_("Step")), ("reworkCount", N_("Reworks")), ("nextAction", N_("Next action"))]
# The quality screens (disposition queue, Unit Trace, the FAI/OQC/MRB cards, the reports) show these service
# words in the page's language (`_(word)` in the templates): statuses, results, sources, next actions and
# their hints (services/quality/defects.py NEXT_ACTIONS), readiness item types and check kinds (Unit Trace),
# the fixed meanings of e-signatures. Codes stay
# codes in the files and the API.
QUALITY_WORDS = (
    N_("QUEUED"), N_("IN_STATION"), N_("OUT_FAILED"), N_("ON_HOLD"), N_("DONE"), N_("SCRAPPED"),
    N_("OPEN"), N_("RECORDED"), N_("DISPOSITIONED"), N_("CLOSED"), N_("RELEASED"), N_("PASS"), N_("FAIL"), N_("NA"),
    N_("PASSED"), N_("FAILED"), N_("WAIVED"), N_("PENDING"), N_("INSPECTING"), N_("CANCELLED"), N_("DONE"),
    N_("MANUAL"), N_("AUTO"), N_("NORMAL"), N_("REWORK"), N_("FAI_TRIAL"), N_("MACHINE"), N_("OPERATOR"),
    N_("REWORK"), N_("SCRAP"), N_("HOLD"), N_("RELEASE"), N_("DISPOSITION"), N_("OQC_MRB"), N_("TRACK_OUT"),
    N_("NONE"), N_("ACCEPTED"), N_("REJECTED"), N_("RELEASED"), N_("CREATED"), N_("IN_PROGRESS"), N_("CLOSED"),
    N_("ROUTE"), N_("EQUIPMENT"), N_("MATERIAL"), N_("STENCIL"), N_("SOLDER_PASTE"), N_("LOADING"), N_("FORMAL"),
    N_("PRECHECK"),
    N_("Decide REWORK, SCRAP or HOLD."), N_("Release the hold when the unit may continue (or keep it held)."),
    N_("The unit finished its route: the run's OQC/MRB decides."),
    N_("The unit continues; its open defect waits for the next decision."),
    N_("The unit is tracked in: its TrackOut is decided at the station."),
    N_("FAI approved"), N_("OQC accepted"), N_("OQC rejected"), N_("MRB: release"), N_("MRB: scrap"), N_("MRB: rework"),
)


class DispositionView(BaseView):
    """Quality → Defects & Disposition: the queue of boards with open defects or a hold, oldest
    first, each with its defects, what to do next and the decision form; the board's trace is one
    click away. Decisions go through services/quality/defects.py (every open defect of a board together)."""

    route_base = "/disposition"
    default_view = "queue"
    class_permission_name = "QualityControl"
    base_permissions = resource_permissions("quality")
    method_permission_name = {"queue": "disposition", "export": "disposition", "decide": "disposition",
                              "release": "disposition", "record": "disposition"}

    @expose("/")
    @has_access
    def queue(self):
        actor = authenticate()
        line = request.args.get("line") or None
        run_no = request.args.get("run") or None
        sort = list_sort(defects.QUEUE_SORTING)
        entries = call_and_flash(lambda: defects.defect_queue(actor=actor, line_code=line, run_no=run_no,
                                                              sort=sort["key"], order=sort["order"])) or []
        action = request.args.get("action") or None  # DISPOSITION / RELEASE: the home page's worklist items
        if action:
            entries = [e for e in entries if e["nextAction"] == action]
        return self.render_template("mes/disposition.html", entries=entries, codes=active_defect_codes(), args=request.args,
                                    sort=sort, sort_columns=QUEUE_SORT_LABELS,
                                    help_doc="quality", help_anchor="defects-and-disposition")

    @expose("/<any(csv, xlsx):fmt>")
    @has_access
    def export(self, fmt):
        """The queue as a file: one row per open or held defect, with its board."""
        actor = authenticate()
        sort = list_sort(defects.QUEUE_SORTING)
        entries = defects.defect_queue(actor=actor, line_code=request.args.get("line") or None,
                                       run_no=request.args.get("run") or None, sort=sort["key"], order=sort["order"])
        header = [N_("sn"), N_("run"), N_("line"), N_("board status"), N_("current step"), N_("rework count"),
                  N_("next action"), N_("waiting since"), N_("defect"), N_("code"), N_("step"), N_("location"),
                  N_("description"), N_("source"), N_("defect status"), N_("recorded at"), N_("station"),
                  N_("recorded by")]
        rows = [[e["sn"], e["runNo"], e["lineCode"], e["unitStatus"], e["currentStepNo"], e["reworkCount"],
                 e["nextAction"], e["since"], d["id"], d["code"], d["stepNo"], d["location"], d["description"],
                 d["source"], d["status"], d["recordedAt"], d["stationCode"], d["recordedBy"]]
                for e in entries for d in e["defects"]]
        return list_export(fmt, "disposition-queue", N_("Disposition queue"), header, rows)

    def _back(self):
        return redirect(url_for("DispositionView.queue", run=request.args.get("run") or None,
                                line=request.args.get("line") or None, action=request.args.get("action") or None,
                                sort=request.args.get("sort") or None, order=request.args.get("order") or None))

    @expose("/defects/<int:defect_id>/decide", methods=["POST"])
    @has_access
    def decide(self, defect_id):
        form = request.form
        step = form.get("to_step_no", "").strip()
        kind = form.get("type", "")
        call_and_flash(lambda: defects.decide(actor=authenticate(), defect_id=defect_id, disposition_type=kind,
                                              reason=form.get("reason"), to_step_no=_whole(step, "toStepNo") if step else None),
                       success=_("%(sn)s: %(decision)s recorded.", sn=form.get("sn", ""), decision=_(kind)))
        return self._back()

    @expose("/defects/<int:defect_id>/release", methods=["POST"])
    @has_access
    def release(self, defect_id):
        call_and_flash(lambda: defects.release(actor=authenticate(), defect_id=defect_id,
                                               reason=request.form.get("reason")),
                       success=_("%(sn)s: hold released.", sn=request.form.get("sn", "")))
        return self._back()

    @expose("/record", methods=["POST"])
    @has_access
    def record(self):
        form = request.form
        call_and_flash(lambda: defects.record_defect(actor=authenticate(), sn=form.get("sn", ""),
                                                     code=form.get("code", ""), location=form.get("location") or None,
                                                     description=form.get("description") or None),
                       success=_("Defect recorded on %(sn)s: decide its disposition below.", sn=form.get("sn", "")))
        return self._back()
