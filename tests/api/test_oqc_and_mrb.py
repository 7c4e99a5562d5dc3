"""OQC and MRB (02_rules §9) with the closeout of §3, over the REST API: sampling rules (API and
console screen), rule matching and sample size, the OQC created at closeout (manual and automatic),
start / items / complete, and the MRB decisions RELEASE / SCRAP / REWORK (REUSE_PREP and FULL_PREP)
with the rework run's units and statuses. Every refusal changes nothing. The demo seed has no OQC
rule: each test creates the rules it needs through the API."""

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    AuditEvent, Defect, Inspection, InspectionItem, MaterialUse, MrbDecision, OqcSamplingRule, Run, Track, Unit,
    WorkOrder,
)
from app.services.production.work_orders import quantity_status
from support import (
    DEMO_PASSWORD, DIP_LINE, SMT_LINE, authorized_run, build_unit, console_login, count, csrf_from, finish_trial_board,
    fresh_consumable_statuses, load_reels, new_work_order, ok_data, pass_fai, pass_step, password_for, prep_run,
)

HUMANS = ["admin", "planner", "engineer", "quality", "leader", "material", "operator", "manager"]


def error_of(response):
    body = response.get_json()
    return response.status_code, body["error"]["code"]


def snapshot():
    return {"runs": [tuple(r) for r in db.session.execute(
                select(Run.run_no, Run.status, Run.plan_qty).order_by(Run.id)).all()],
            "units": [tuple(u) for u in db.session.execute(
                select(Unit.sn, Unit.status, Unit.run_id, Unit.current_step_no).order_by(Unit.id)).all()],
            "inspections": [tuple(i) for i in db.session.execute(
                select(Inspection.id, Inspection.status, Inspection.sampled_sns).order_by(Inspection.id)).all()],
            "items": count(InspectionItem), "rules": count(OqcSamplingRule), "mrb": count(MrbDecision),
            "defects": [tuple(d) for d in db.session.execute(select(Defect.id, Defect.status)).all()],
            "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN")}


def refused(app, call, status, code):
    """Call, expect the error, and prove that nothing changed (the FAIL audit event aside)."""
    with app.app_context():
        before = snapshot()
    response = call()
    assert error_of(response) == (status, code), response.get_json()
    with app.app_context():
        assert snapshot() == before
    return response.get_json()["error"]


def add_rule(api, **fields):
    return ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json=fields))


def run_status(app, run_no):
    with app.app_context():
        return db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one()


def units_of(app, run_no):
    with app.app_context():
        return {sn: (status, step) for sn, status, step in db.session.execute(
            select(Unit.sn, Unit.status, Unit.current_step_no).join(Run, Run.id == Unit.run_id)
            .where(Run.run_no == run_no).order_by(Unit.sn)).all()}


def trial_sn(run_no):
    """The FAI trial board of a run (support.pass_fai): a DONE board of the run like the others, so
    the closeout counts it and the OQC may sample it."""
    return f"{run_no}-FAI1"


def built_run(api, *, product="P-2001", qty=2, build=None):
    """An authorized run with `qty` units of its own (planning qty + 1 with the FAI trial board), the
    trial board finished first (DIP: from step 20), then the first `build` (default all) units built
    through every step; returns the run, its own SNs and the last TrackOut's answer (with all built,
    the one that made the run's last unit terminal: the automatic closeout's)."""
    run_no = authorized_run(api, product=product, qty=qty, units=qty)
    finish_trial_board(api, run_no, product=product)
    sns = [f"{run_no}-{i:04d}" for i in range(1, qty + 1)]
    last = None
    for sn in sns[: qty if build is None else build]:
        last = build_unit(api, run_no, sn, product=product)
    return run_no, sns, last


def start(api, oqc_id, user="quality"):
    return api(user).post(f"/api/v1/inspections/{oqc_id}/start")


def item(api, oqc_id, sn, result="PASS", **extra):
    body = {"unitSn": sn, "itemName": "final visual", "result": result, **extra}
    return api("quality").post(f"/api/v1/inspections/{oqc_id}/items", json=body)


def complete(api, oqc_id, decision, remark=None):
    # the OQC decision is an electronic signature: quality's password
    body = {"decision": decision, "password": DEMO_PASSWORD}
    if remark is not None:
        body["remark"] = remark
    return api("quality").post(f"/api/v1/inspections/{oqc_id}/complete", json=body)


def held_run(api, *, product="P-2001", qty=2):
    """A run whose OQC failed: ON_HOLD, waiting for the MRB (a FAIL item on the first sampled SN)."""
    add_rule(api, productCode=product, samplingType="FIXED", sampleValue=1)
    run_no, sns, last = built_run(api, product=product, qty=qty)
    oqc_id, sampled = last["runCloseout"]["inspectionId"], last["runCloseout"]["sampledSns"]
    ok_data(start(api, oqc_id))
    ok_data(item(api, oqc_id, sampled[0], "FAIL", defectCode="SOLDER_BRIDGE"))
    assert ok_data(complete(api, oqc_id, "FAIL"))["runStatus"] == "ON_HOLD"
    return run_no, sns, oqc_id


def mrb(api, run_no, user="quality", **body):
    body.setdefault("password", password_for(user))  # the MRB decision is an electronic signature
    return api(user).post(f"/api/v1/runs/{run_no}/mrb-decision", json=body)


# -- sampling rules: API ---------------------------------------------------------------------------

def test_sampling_rule_api_create_read_patch(api, app):
    created = ok_data(api("quality").post("/api/v1/oqc-sampling-rules", json={
        "productCode": "P-1001", "lineCode": SMT_LINE, "samplingType": "FIXED", "sampleValue": 2, "priority": 5}))
    assert created["productCode"] == "P-1001" and created["lineCode"] == SMT_LINE and created["routingCode"] is None
    assert (created["samplingType"], created["sampleValue"], created["priority"], created["isActive"]) == \
        ("FIXED", 2, 5, True)
    assert created["name"]  # a readable default name
    rid = created["id"]
    assert ok_data(api("quality").get(f"/api/v1/oqc-sampling-rules/{rid}"))["id"] == rid
    listed = ok_data(api("quality").get("/api/v1/oqc-sampling-rules?productCode=P-1001"))
    assert [r["id"] for r in listed] == [rid]
    changed = ok_data(api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}",
                                           json={"isActive": False, "lineCode": None, "name": "P-1001 final"}))
    assert (changed["isActive"], changed["lineCode"], changed["name"], changed["sampleValue"]) == \
        (False, None, "P-1001 final", 2)
    assert ok_data(api("quality").get("/api/v1/oqc-sampling-rules?active=true")) == []
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action, AuditEvent.entity_key).where(
            AuditEvent.entity_type == "OQC_SAMPLING_RULE").order_by(AuditEvent.id)).all()
        assert [tuple(a) for a in actions] == [("OQC_SAMPLING_RULE_CREATE", str(rid)),
                                               ("OQC_SAMPLING_RULE_UPDATE", str(rid))]
        update_event = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "OQC_SAMPLING_RULE_UPDATE")).scalar_one()
        assert update_event.diff["after"] == {"isActive": False, "lineCode": None, "name": "P-1001 final"}


@pytest.mark.parametrize("body,status,code", [
    ({"sampleValue": 1}, 422, "VALIDATION_ERROR"),                                     # samplingType missing
    ({"samplingType": "FIXED"}, 422, "VALIDATION_ERROR"),                              # sampleValue missing
    ({"samplingType": "RANDOM", "sampleValue": 1}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "FIXED", "sampleValue": -1}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "PERCENTAGE", "sampleValue": 100.5}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "FIXED", "sampleValue": 1.5}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "FIXED", "sampleValue": "1"}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "FIXED", "sampleValue": 1, "priority": 1.5}, 422, "VALIDATION_ERROR"),
    ({"samplingType": "FIXED", "sampleValue": 1, "sampleSize": 3}, 422, "VALIDATION_ERROR"),   # unknown key
    ({"samplingType": "FIXED", "sampleValue": 1, "productCode": "P-NOPE"}, 400, "PRODUCT_NOT_FOUND"),
    ({"samplingType": "FIXED", "sampleValue": 1, "lineCode": "LINE-NOPE"}, 400, "LINE_NOT_FOUND"),
    ({"samplingType": "FIXED", "sampleValue": 1, "routingCode": "RT-NOPE"}, 400, "ROUTE_NOT_FOUND"),
    # a routing of another product than the rule's could never match
    ({"samplingType": "FIXED", "sampleValue": 1, "productCode": "P-2001", "routingCode": "RT-P1001-SMT"},
     422, "VALIDATION_ERROR"),
])
def test_sampling_rule_refusals_change_nothing(api, app, body, status, code):
    refused(app, lambda: api("quality").post("/api/v1/oqc-sampling-rules", json=body), status, code)


def test_sampling_rule_patch_refusals(api, app):
    rid = add_rule(api, samplingType="PERCENTAGE", sampleValue=10)["id"]
    refused(app, lambda: api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}", json={"sampleValue": 101}),
            422, "VALIDATION_ERROR")
    refused(app, lambda: api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}", json={"samplingType": None}),
            422, "VALIDATION_ERROR")
    refused(app, lambda: api("quality").patch("/api/v1/oqc-sampling-rules/9999", json={"priority": 1}),
            404, "SAMPLING_RULE_NOT_FOUND")
    assert error_of(api("quality").get("/api/v1/oqc-sampling-rules/9999")) == (404, "SAMPLING_RULE_NOT_FOUND")
    # FIXED 10 → PERCENTAGE keeps the value in range; FIXED with a fraction is refused
    assert ok_data(api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}", json={"sampleValue": 12.5}))[
        "sampleValue"] == 12.5
    refused(app, lambda: api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}", json={"samplingType": "FIXED"}),
            422, "VALIDATION_ERROR")


def test_rule_matching_scope_priority_and_activity(api, app):
    from app.services.quality.oqc import rule_for
    smt_run = prep_run(api, product="P-1001")
    dip_run = prep_run(api, product="P-2001")
    generic = add_rule(api, samplingType="FIXED", sampleValue=3, priority=100)["id"]
    product = add_rule(api, productCode="P-1001", samplingType="FIXED", sampleValue=2)["id"]
    product_line = add_rule(api, productCode="P-1001", lineCode=SMT_LINE, samplingType="FIXED", sampleValue=1)["id"]
    add_rule(api, productCode="P-1001", lineCode=DIP_LINE, routingCode="RT-P1001-SMT",
             samplingType="FIXED", sampleValue=9)  # more specific, but not this run's line

    def matched(run_no):
        with app.app_context():
            rule = rule_for(db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one())
            return rule.id if rule else None

    assert matched(smt_run) == product_line  # not other_line: the run is not on the DIP line
    assert matched(dip_run) == generic
    ok_data(api("quality").patch(f"/api/v1/oqc-sampling-rules/{product_line}", json={"isActive": False}))
    assert matched(smt_run) == product
    newer = add_rule(api, productCode="P-1001", samplingType="PERCENTAGE", sampleValue=10)["id"]
    assert matched(smt_run) == newer                     # equally specific, same priority: the newest
    ok_data(api("quality").patch(f"/api/v1/oqc-sampling-rules/{product}", json={"priority": 1}))
    assert matched(smt_run) == product                   # a higher priority beats newer
    for rid in (generic, product, newer):
        ok_data(api("quality").patch(f"/api/v1/oqc-sampling-rules/{rid}", json={"isActive": False}))
    assert matched(smt_run) is None and matched(dip_run) is None


# -- closeout with OQC (§3) ----------------------------------------------------------------------

def test_automatic_closeout_creates_the_oqc_with_a_stored_random_sample(api, app):
    rid = add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=2)["id"]
    run_no, sns, last = built_run(api, qty=3)
    closeout = last["runCloseout"]
    assert closeout["completed"] is False and closeout["code"] == "OQC_REQUIRED"
    sampled = closeout["sampledSns"]
    # among the 4 DONE boards: the run's 3 and the FAI trial board
    assert len(sampled) == 2 and set(sampled) <= {*sns, trial_sn(run_no)} and sampled == sorted(sampled)
    assert run_status(app, run_no) == "IN_PROGRESS"
    with app.app_context():
        oqc = db.session.get(Inspection, closeout["inspectionId"])
        assert (oqc.type, oqc.status, oqc.sample_qty, oqc.sampled_sns, oqc.sampling_rule_id, oqc.created_by) == \
            ("OQC", "PENDING", 2, sampled, rid, "operator")
        assert count(AuditEvent, AuditEvent.action == "OQC_CREATE", AuditEvent.entity_key == str(oqc.id)) == 1
    # the manual close answers OQC_REQUIRED with the same open inspection (reused, never a second one)
    error = refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/close"), 409, "OQC_REQUIRED")
    assert error["details"]["inspectionId"] == closeout["inspectionId"]
    assert error["details"]["sampledSns"] == sampled
    # shown by the inspection, the run's inspection list and the unit trace
    shown = ok_data(api("planner").get(f"/api/v1/inspections/{closeout['inspectionId']}"))
    assert (shown["type"], shown["status"], shown["sampledSns"], shown["sampleQty"]) == ("OQC", "PENDING", sampled, 2)
    listed = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/inspections?type=OQC"))
    assert [(i["id"], i["sampledSns"]) for i in listed] == [(closeout["inspectionId"], sampled)]
    trace = ok_data(api("planner").get(f"/api/v1/trace/units/{sampled[0]}"))
    assert [i["sampledSns"] for i in trace["inspections"] if i["type"] == "OQC"] == [sampled]


def test_manual_close_of_a_short_run_samples_done_units_only(api, app):
    add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=5)
    run_no, sns, last = built_run(api, qty=3, build=2)
    assert "runCloseout" not in last  # 3 of 4 units DONE (2 + the FAI trial board): no automatic closeout
    with app.app_context():  # the third unit was scrapped (arranged: disposition is another capability)
        db.session.execute(update(Unit).where(Unit.sn == sns[2]).values(status="SCRAPPED"))
        db.session.commit()
    error = api("planner").post(f"/api/v1/runs/{run_no}/close").get_json()["error"]
    assert error["code"] == "OQC_REQUIRED"
    # FIXED 5 → min(5, 3 DONE units: 2 + the FAI trial board); never a SCRAPPED one
    assert error["details"]["sampledSns"] == [*sns[:2], trial_sn(run_no)]
    assert run_status(app, run_no) == "IN_PROGRESS"


@pytest.mark.parametrize("rule", [None, {"samplingType": "PERCENTAGE", "sampleValue": 0},
                                  {"samplingType": "FIXED", "sampleValue": 3, "isActive": False},
                                  {"samplingType": "FIXED", "sampleValue": 3, "lineCode": SMT_LINE}])
def test_closeout_without_a_matching_rule_or_sample_completes(api, app, rule):
    if rule:
        add_rule(api, **rule)
    run_no, _, last = built_run(api, qty=2)
    assert last["runCloseout"] == {"completed": True, "code": None}
    assert run_status(app, run_no) == "COMPLETED"
    with app.app_context():
        assert count(Inspection, Inspection.type == "OQC") == 0


# -- OQC start, items, complete -------------------------------------------------------------------

def test_oqc_rules_each_refusal_changes_nothing_then_pass_completes_the_run(api, app):
    add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=1)
    run_no, sns, last = built_run(api, qty=2)
    oqc = last["runCloseout"]["inspectionId"]
    sampled = last["runCloseout"]["sampledSns"][0]
    other = next(sn for sn in sns if sn != sampled)
    refused(app, lambda: item(api, oqc, sampled), 400, "OQC_NOT_INSPECTING")
    refused(app, lambda: complete(api, oqc, "PASS"), 400, "OQC_NOT_INSPECTING")
    refused(app, lambda: start(api, oqc, user="planner"), 403, "FORBIDDEN")
    refused(app, lambda: start(api, 99999), 404, "INSPECTION_NOT_FOUND")
    started = ok_data(start(api, oqc))
    assert (started["status"], started["inspector"]) == ("INSPECTING", "quality")
    refused(app, lambda: start(api, oqc), 400, "INSPECTION_STATE_INVALID")
    refused(app, lambda: item(api, oqc, other), 400, "UNIT_NOT_IN_SAMPLE")
    refused(app, lambda: complete(api, oqc, "PASS"), 400, "OQC_ITEMS_MISSING")
    refused(app, lambda: complete(api, oqc, "FAIL"), 400, "INVALID_OQC_DECISION")
    refused(app, lambda: complete(api, oqc, "MAYBE"), 422, "VALIDATION_ERROR")
    ok_data(item(api, oqc, sampled, "PASS"))
    done = ok_data(complete(api, oqc, "PASS"))
    assert (done["status"], done["runStatus"], done["decidedBy"], done["passedQty"]) == ("PASS", "COMPLETED",
                                                                                         "quality", 1)
    with app.app_context():
        run = db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()
        assert run.status == "COMPLETED" and run.ended_at is not None
        assert db.session.get(Inspection, oqc).open_key is None
        assert count(AuditEvent, AuditEvent.action == "RUN_COMPLETE", AuditEvent.entity_key == run_no) == 1
    # decided: nothing changes any more; the close is an idempotent success
    refused(app, lambda: item(api, oqc, sampled), 400, "OQC_NOT_INSPECTING")
    refused(app, lambda: complete(api, oqc, "FAIL", remark="changed my mind"), 400, "OQC_NOT_INSPECTING")
    assert ok_data(api("planner").post(f"/api/v1/runs/{run_no}/close"))["status"] == "COMPLETED"


def test_oqc_pass_needs_every_sampled_sn_and_no_fail_item(api, app):
    add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=2)
    _, _, last = built_run(api, qty=2)
    oqc, sampled = last["runCloseout"]["inspectionId"], last["runCloseout"]["sampledSns"]
    ok_data(start(api, oqc))
    ok_data(item(api, oqc, sampled[0]))
    error = refused(app, lambda: complete(api, oqc, "PASS"), 400, "OQC_ITEMS_MISSING")
    assert error["details"]["missing"] == [sampled[1]]
    ok_data(item(api, oqc, sampled[1], "FAIL", defectCode="SOLDER_BRIDGE"))
    error = refused(app, lambda: complete(api, oqc, "PASS"), 400, "OQC_ITEMS_MISSING")
    assert error["details"] == {"missing": [], "failItems": [sampled[1]]}


def test_oqc_fail_holds_the_run_and_records_defects_on_done_units(api, app):
    run_no, sns, oqc = held_run(api, qty=2)
    assert run_status(app, run_no) == "ON_HOLD"
    with app.app_context():
        inspection = db.session.get(Inspection, oqc)
        sampled = inspection.sampled_sns[0]
        assert (inspection.status, inspection.failed_qty) == ("FAIL", 1)
        unit = db.session.execute(select(Unit).filter_by(sn=sampled)).scalar_one()
        assert unit.status == "DONE"  # the MRB decides, not the unit's own flow
        defect = db.session.execute(select(Defect).where(Defect.unit_id == unit.id)).scalar_one()
        assert (defect.code, defect.status) == ("SOLDER_BRIDGE", "RECORDED") and f"{inspection.number}: " in defect.description
        assert count(AuditEvent, AuditEvent.action == "RUN_HOLD", AuditEvent.entity_key == run_no) == 1
    refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/close"), 400, "RUN_NOT_CLOSABLE")
    assert ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))["nextAction"]["action"] == "MRB"


def test_oqc_fail_with_a_remark_only(api, app):
    add_rule(api, productCode="P-2001", samplingType="PERCENTAGE", sampleValue=50)
    run_no, _, last = built_run(api, qty=2)
    oqc, sampled = last["runCloseout"]["inspectionId"], last["runCloseout"]["sampledSns"]
    assert len(sampled) == 2  # 50 % of 3 DONE boards (2 + the FAI trial board) = 1.5 → 2
    ok_data(start(api, oqc))
    ok_data(item(api, oqc, sampled[0], "PASS"))
    refused(app, lambda: complete(api, oqc, "FAIL", remark="   "), 400, "INVALID_OQC_DECISION")
    decided = ok_data(complete(api, oqc, "FAIL", remark="Label print smeared on the whole lot"))
    assert (decided["status"], decided["runStatus"], decided["remark"]) == \
        ("FAIL", "ON_HOLD", "Label print smeared on the whole lot")


# -- MRB -------------------------------------------------------------------------------------------

def test_mrb_rules_each_refusal_changes_nothing(api, app):
    run_no, sns, _ = held_run(api)
    refused(app, lambda: mrb(api, run_no, decision="RELEASE", reason="ok "), 400, "REASON_TOO_SHORT")
    refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder"), 400, "REWORK_TYPE_REQUIRED")
    refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder", reworkType="REUSE_PREP"),
            400, "REWORK_STEP_INVALID")
    error = refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder", reworkType="REUSE_PREP",
                                     reworkFromStepNo=35), 400, "REWORK_STEP_INVALID")
    assert error["details"]["suggested"] == 40  # the last key-quality step (FUNC_TEST on the DIP route)
    refused(app, lambda: mrb(api, run_no, decision="RELEASE", reason="accept as is", faiWaiver=True,
                             faiWaiverReason="no"), 400, "FAI_WAIVER_NOT_ALLOWED")
    refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder", reworkType="REUSE_PREP",
                             reworkFromStepNo=20, faiWaiver=True, faiWaiverReason="same setup"),
            400, "FAI_WAIVER_NOT_ALLOWED")
    refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder", reworkType="FULL_PREP",
                             reworkFromStepNo=20, faiWaiver=True, faiWaiverReason="  "),
            400, "FAI_WAIVER_REASON_REQUIRED")
    refused(app, lambda: mrb(api, run_no, decision="MAYBE", reason="resolder"), 422, "VALIDATION_ERROR")
    refused(app, lambda: mrb(api, run_no, decision="REWORK", reason="resolder", reworkType="PARTIAL",
                             reworkFromStepNo=20), 422, "VALIDATION_ERROR")
    refused(app, lambda: mrb(api, run_no, decision="RELEASE", reason="accept", extra=1), 422, "VALIDATION_ERROR")
    refused(app, lambda: mrb(api, "NO-SUCH-RUN", decision="RELEASE", reason="accept"), 404, "RUN_NOT_FOUND")
    for user in ("planner", "leader", "operator", "manager", "engineer", "integration"):
        refused(app, lambda user=user: mrb(api, run_no, user=user, decision="RELEASE", reason="accept"), 403, "FORBIDDEN")
    with app.app_context():  # business refusals are audited as FAIL with their code
        codes = set(db.session.execute(select(AuditEvent.error_code).where(
            AuditEvent.action == "MRB_DECISION", AuditEvent.status == "FAIL")).scalars())
        assert {"REASON_TOO_SHORT", "REWORK_TYPE_REQUIRED", "REWORK_STEP_INVALID", "FAI_WAIVER_NOT_ALLOWED",
                "FAI_WAIVER_REASON_REQUIRED"} <= codes


def test_mrb_needs_a_held_run_with_a_failed_oqc(api, app):
    prep = prep_run(api, product="P-2001")
    refused(app, lambda: mrb(api, prep, decision="RELEASE", reason="accept"), 400, "RUN_NOT_ON_HOLD")
    add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=1)
    waiting, _, _ = built_run(api)  # IN_PROGRESS with its OQC PENDING
    refused(app, lambda: mrb(api, waiting, decision="RELEASE", reason="accept"), 400, "RUN_NOT_ON_HOLD")
    with app.app_context():  # a held run whose latest OQC did not fail (arranged)
        db.session.execute(update(Run).where(Run.run_no == waiting).values(status="ON_HOLD"))
        db.session.commit()
    error = refused(app, lambda: mrb(api, waiting, decision="RELEASE", reason="accept"), 400, "NO_FAILED_OQC")
    assert error["details"]["status"] == "PENDING"


def test_mrb_release_completes_and_repeats_idempotently(api, app):
    run_no, sns, oqc = held_run(api)
    answer = ok_data(mrb(api, run_no, decision="RELEASE", reason="Cosmetic only, customer concession 42"))
    assert answer["run"]["status"] == "COMPLETED" and answer["reworkRunNo"] is None
    assert (answer["decision"]["decision"], answer["decision"]["decidedBy"], answer["decision"]["inspectionId"]) == \
        ("RELEASE", "quality", oqc)
    assert set(units_of(app, run_no).values()) == {("DONE", 40)}
    with app.app_context():
        run = db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()
        assert run.ended_at is not None
        assert {d.status for d in db.session.execute(select(Defect)).scalars()} == {"CLOSED"}
        assert count(AuditEvent, AuditEvent.action == "MRB_RELEASE", AuditEvent.entity_key == run_no) == 1
    # a terminal run: an idempotent success that changes nothing (whatever the new body says)
    with app.app_context():
        before = snapshot()
    again = ok_data(mrb(api, run_no, decision="SCRAP", reason="second thoughts"))
    assert again["idempotent"] is True and again["run"]["status"] == "COMPLETED"
    assert again["decision"]["decision"] == "RELEASE"
    with app.app_context():
        assert snapshot() == before
    # the reason rule comes first (02_rules §9 order)
    refused(app, lambda: mrb(api, run_no, decision="RELEASE", reason="ok"), 400, "REASON_TOO_SHORT")
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[0]}"))
    assert [(d["decision"], d["runNo"]) for d in trace["mrbDecisions"]] == [("RELEASE", run_no)]


def test_mrb_scrap_scraps_the_run_and_its_units_and_frees_the_quantity(api, app):
    # 3 boards: 2 of the run's own and the FAI trial board; the run plans the whole work order
    wo_no = new_work_order(api, product="P-2001", qty=3)
    run_no = ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                         json={"lineCode": DIP_LINE, "planQty": 3}))["runNo"]
    refused(app, lambda: api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                             json={"lineCode": DIP_LINE, "planQty": 1}),
            400, "QUANTITY_EXCEEDS_WORK_ORDER")
    add_rule(api, productCode="P-2001", samplingType="FIXED", sampleValue=1)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 2}))
    pass_fai(api, run_no, product="P-2001")
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    finish_trial_board(api, run_no, product="P-2001")
    sns = [f"{run_no}-0001", f"{run_no}-0002"]
    last = None
    for sn in sns:
        last = build_unit(api, run_no, sn, product="P-2001")
    oqc = last["runCloseout"]["inspectionId"]
    ok_data(start(api, oqc))
    ok_data(item(api, oqc, last["runCloseout"]["sampledSns"][0], "FAIL", defectCode="FCT_FAIL"))
    ok_data(complete(api, oqc, "FAIL"))
    answer = ok_data(mrb(api, run_no, decision="SCRAP", reason="Wrong firmware on the whole lot"))
    assert answer["run"]["status"] == "SCRAPPED"
    assert list(units_of(app, run_no)) == [*sns, trial_sn(run_no)]  # the trial board is scrapped too
    assert {status for status, _ in units_of(app, run_no).values()} == {"SCRAPPED"}
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "UNIT_MRB_SCRAP") == 3
        wo = db.session.execute(select(WorkOrder).filter_by(wo_no=wo_no)).scalar_one()
        assert quantity_status(wo).scrapped == 3
    # scrapped units free the work order's quantity for a replacement run
    ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs", json={"lineCode": DIP_LINE, "planQty": 3}))


def test_mrb_rework_reuse_prep_moves_done_units_and_reuses_the_parent_loading(api, app):
    """REUSE_PREP from MOUNTING on SMT: the rework run starts AUTHORIZED, the units re-enter at step 30
    and record the parent's reels again; SCRAPPED units stay with the parent."""
    fresh_consumable_statuses(api)
    wo_no = new_work_order(api, product="P-1001", qty=5)
    # 4 boards: 3 of the run's own and the FAI trial board (DONE after the trial: AOI is the last step)
    run_no = ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                         json={"lineCode": SMT_LINE, "planQty": 4}))["runNo"]
    load_reels(api, run_no)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 3}))
    trial = pass_fai(api, run_no)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    sns = [f"{run_no}-000{i}" for i in (1, 2, 3)]
    for sn in sns[:2]:
        build_unit(api, run_no, sn)
    with app.app_context():  # the third unit was scrapped on the way (arranged)
        db.session.execute(update(Unit).where(Unit.sn == sns[2]).values(status="SCRAPPED"))
        db.session.commit()
    add_rule(api, productCode="P-1001", samplingType="FIXED", sampleValue=1)
    oqc = api("planner").post(f"/api/v1/runs/{run_no}/close").get_json()["error"]["details"]["inspectionId"]
    with app.app_context():
        sampled = db.session.get(Inspection, oqc).sampled_sns[0]
    ok_data(start(api, oqc))
    ok_data(item(api, oqc, sampled, "FAIL", defectCode="TOMBSTONE"))
    ok_data(complete(api, oqc, "FAIL"))
    answer = ok_data(mrb(api, run_no, decision="REWORK", reason="Tombstoning: re-place and re-solder",
                         reworkType="REUSE_PREP", reworkFromStepNo=30))
    rework_no = f"{run_no}-RW1"
    assert answer["reworkRunNo"] == rework_no and answer["run"]["status"] == "CLOSED_REWORK"
    assert (answer["decision"]["reworkType"], answer["decision"]["reworkFromStepNo"]) == ("REUSE_PREP", 30)
    with app.app_context():
        parent = db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()
        rework = db.session.execute(select(Run).filter_by(run_no=rework_no)).scalar_one()
        assert parent.ended_at is not None
        assert (rework.status, rework.plan_qty, rework.parent_run_id, rework.rework_type,
                rework.authorization_type, rework.authorized_by) == \
            ("AUTHORIZED", 3, parent.id, "REUSE_PREP", "MRB_OVERRIDE", "quality")  # the DONE boards
        assert (rework.work_order_id, rework.line_id, rework.route_version_id) == \
            (parent.work_order_id, parent.line_id, parent.route_version_id)
        record = db.session.execute(select(MrbDecision)).scalar_one()
        assert (record.decision, record.rework_run_id, record.inspection_id) == ("REWORK", rework.id, oqc)
        assert count(AuditEvent, AuditEvent.action == "UNIT_MRB_REWORK") == 3
        assert count(AuditEvent, AuditEvent.action == "RUN_CREATE", AuditEvent.entity_key == rework_no) == 1
        # not counted in the work order quantity: 5 planned, 4 in the first run, 1 still available
        wo = db.session.execute(select(WorkOrder).filter_by(wo_no=wo_no)).scalar_one()
        assert quantity_status(wo).in_runs == 4
        before_uses = count(MaterialUse, MaterialUse.unit_id == db.session.execute(
            select(Unit.id).filter_by(sn=sns[0])).scalar_one())
    assert units_of(app, rework_no) == {sns[0]: ("QUEUED", 30), sns[1]: ("QUEUED", 30), trial: ("QUEUED", 30)}
    assert list(units_of(app, run_no)) == [sns[2]] and units_of(app, run_no)[sns[2]][0] == "SCRAPPED"
    assert before_uses == 3  # the three reels of ST-MOUNT-01 at the first build
    # the rework run builds from step 30 on the parent's reels (no loading of its own)
    for step in (30, 40, 50):
        last = pass_step(api, rework_no, sns[0], step)
    with app.app_context():
        unit_id = db.session.execute(select(Unit.id).filter_by(sn=sns[0])).scalar_one()
        assert count(MaterialUse, MaterialUse.unit_id == unit_id) == before_uses * 2
    assert run_status(app, rework_no) == "IN_PROGRESS"
    for step in (30, 40, 50):
        last = pass_step(api, rework_no, trial, step)
    assert run_status(app, rework_no) == "IN_PROGRESS" and "runCloseout" not in last
    for step in (30, 40, 50):
        last = pass_step(api, rework_no, sns[1], step)
    # the rework run's closeout samples again (the rule still matches): OQC PASS completes it
    oqc2 = last["runCloseout"]["inspectionId"]
    ok_data(start(api, oqc2))
    ok_data(item(api, oqc2, last["runCloseout"]["sampledSns"][0]))
    assert ok_data(complete(api, oqc2, "PASS"))["runStatus"] == "COMPLETED"
    ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/runs", json={"lineCode": SMT_LINE, "planQty": 1}))
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[0]}"))
    assert trace["run"]["runNo"] == rework_no and trace["parentRun"] == run_no
    assert [(d["decision"], d["reworkRunNo"]) for d in trace["mrbDecisions"]] == [("REWORK", rework_no)]
    assert sorted({m["lotNo"] for m in trace["materials"]}) == ["LOT-C-001", "LOT-M-001", "LOT-R-001"]
    parent_trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[2]}"))
    assert parent_trace["childRuns"] == [rework_no] and parent_trace["mrbDecisions"][0]["runNo"] == run_no


def test_mrb_rework_full_prep_with_fai_waiver_s4(api, app):
    """S4: REWORK, FULL_PREP, from step 50 (AOI), FAI waived with a reason → the rework run starts PREP,
    passes readiness without a LOADING item, needs no FAI, is authorized, re-runs AOI only and
    completes; the WO quantity check ignores it."""
    add_rule(api, productCode="P-1001", samplingType="FIXED", sampleValue=1)
    run_no, sns, last = built_run(api, product="P-1001", qty=2)
    wo_no = ok_data(api("planner").get(f"/api/v1/runs/{run_no}"))["workOrder"]["woNo"]
    oqc = last["runCloseout"]["inspectionId"]
    ok_data(start(api, oqc))
    ok_data(item(api, oqc, last["runCloseout"]["sampledSns"][0], "FAIL", defectCode="SOLDER_BRIDGE"))
    ok_data(complete(api, oqc, "FAIL"))
    waiver = "Only AOI is repeated; the process is unchanged"
    answer = ok_data(mrb(api, run_no, decision="REWORK", reason="Bridges on U3: hand repair, re-inspect",
                         reworkType="FULL_PREP", reworkFromStepNo=50, faiWaiver=True, faiWaiverReason=waiver))
    rework_no = answer["reworkRunNo"]
    assert rework_no == f"{run_no}-RW1" and answer["run"]["status"] == "CLOSED_REWORK"
    with app.app_context():
        rework = db.session.execute(select(Run).filter_by(run_no=rework_no)).scalar_one()
        assert (rework.status, rework.plan_qty, rework.rework_type, rework.fai_waived, rework.fai_waiver_reason,
                rework.authorization_type, rework.authorized_by) == \
            ("PREP", 3, "FULL_PREP", True, waiver, "NORMAL", None)  # the 2 boards and the FAI trial board
        record = db.session.execute(select(MrbDecision)).scalar_one()
        assert (record.fai_waiver, record.fai_waiver_reason, record.rework_from_step_no) == (True, waiver, 50)
        wo = db.session.execute(select(WorkOrder).filter_by(wo_no=wo_no)).scalar_one()
        assert quantity_status(wo).in_runs == 3  # the parent's 3; the rework run is not counted
    assert set(units_of(app, rework_no).values()) == {("QUEUED", 50)}
    check = ok_data(api("quality").post(f"/api/v1/runs/{rework_no}/readiness/check", json={"kind": "FORMAL"}))
    assert check["status"] == "PASSED"
    assert "LOADING" not in {i["itemType"] for i in check["items"]}  # it re-enters no placement step
    assert ok_data(api("planner").post(f"/api/v1/runs/{rework_no}/authorize"))["status"] == "AUTHORIZED"
    for sn in [trial_sn(run_no), *sns]:
        last = pass_step(api, rework_no, sn, 50)  # AOI only
    with app.app_context():
        rework_id = db.session.execute(select(Run.id).filter_by(run_no=rework_no)).scalar_one()
        assert set(db.session.execute(select(Track.step_no).where(Track.run_id == rework_id)).scalars()) == {50}
    assert last["runCloseout"]["code"] == "OQC_REQUIRED"  # the rework run gets its own OQC
    oqc2 = last["runCloseout"]["inspectionId"]
    ok_data(start(api, oqc2))
    ok_data(item(api, oqc2, last["runCloseout"]["sampledSns"][0]))
    assert ok_data(complete(api, oqc2, "PASS"))["runStatus"] == "COMPLETED"
    assert set(units_of(app, rework_no).values()) == {("DONE", 50)}
    assert ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"] == "COMPLETED"


def test_mrb_rework_full_prep_without_waiver_needs_loading_and_fai_again(api, app):
    run_no, sns, _ = held_run(api, product="P-1001")
    answer = ok_data(mrb(api, run_no, decision="REWORK", reason="Wrong part at U7: replace",
                         reworkType="FULL_PREP", reworkFromStepNo=30))
    rework_no = answer["reworkRunNo"]
    check = ok_data(api("quality").post(f"/api/v1/runs/{rework_no}/readiness/check", json={"kind": "FORMAL"}))
    loading = [i for i in check["items"] if i["itemType"] == "LOADING"]
    assert [(i["status"], i["failCode"]) for i in loading] == [("FAILED", "SLOT_TABLE_NOT_LOADED")]
    load_reels(api, rework_no)
    check = ok_data(api("quality").post(f"/api/v1/runs/{rework_no}/readiness/check", json={"kind": "FORMAL"}))
    assert check["status"] == "PASSED"
    refused(app, lambda: api("planner").post(f"/api/v1/runs/{rework_no}/authorize"), 400, "FAI_NOT_PASSED")
    assert run_status(app, rework_no) == "PREP"
    # a PREP rework run is not built without an FAI trial
    refused(app, lambda: api("operator").post("/api/v1/stations/ST-MOUNT-01/track-in",
                                              json={"sn": sns[0], "runNo": rework_no}), 400, "RUN_NOT_AUTHORIZED")


# -- permissions and the console screen --------------------------------------------------------------

@pytest.mark.parametrize("user", HUMANS + ["integration"])
def test_permission_matrix(api, app, user):
    allowed = user in ("admin", "quality")
    with app.app_context():
        before = snapshot()
    listing = api(user).get("/api/v1/oqc-sampling-rules")
    assert listing.status_code == (200 if allowed else 403), (user, listing.get_json())
    created = api(user).post("/api/v1/oqc-sampling-rules", json={})
    assert error_of(created) == ((422, "VALIDATION_ERROR") if allowed else (403, "FORBIDDEN")), user
    decision = mrb(api, "NO-SUCH-RUN", user=user, decision="RELEASE", reason="accept")
    assert error_of(decision) == ((404, "RUN_NOT_FOUND") if allowed else (403, "FORBIDDEN")), user
    with app.app_context():
        assert snapshot() == before


@pytest.mark.parametrize("user", HUMANS)
def test_console_screen_and_menu_by_permission(client, user):
    console_login(client, user)
    allowed = user in ("admin", "quality")
    assert client.get("/oqc-sampling-rules/list/").status_code == (200 if allowed else 403), user
    assert client.get("/oqc-sampling-rules/add").status_code == (200 if allowed else 403), user
    home = client.get("/").get_data(as_text=True)
    assert ("/oqc-sampling-rules/list/" in home) == allowed, user


def _form_post(client, url, data):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)


def test_console_rules_share_the_service_rules_and_are_audited(client, api, app):
    console_login(client, "quality")
    with app.app_context():
        before = count(OqcSamplingRule)
    page = _form_post(client, "/oqc-sampling-rules/add", {"name": "Too much", "sampling_type": "PERCENTAGE",
                                                           "sample_value": "150", "priority": "0",
                                                           "is_active": "y"}).get_data(as_text=True)
    assert "VALIDATION_ERROR" in page and "at most 100" in page
    page = _form_post(client, "/oqc-sampling-rules/add", {
        "name": "Fraction", "sampling_type": "FIXED", "sample_value": "1.5", "priority": "0"}).get_data(as_text=True)
    assert "whole number" in page
    with app.app_context():
        assert count(OqcSamplingRule) == before
    page = _form_post(client, "/oqc-sampling-rules/add", {"name": "All DIP runs", "sampling_type": "PERCENTAGE",
                                                           "sample_value": "10", "priority": "0",
                                                           "is_active": "y"}).get_data(as_text=True)
    assert "OQC sampling rule All DIP runs saved." in page
    with app.app_context():
        rule = db.session.execute(select(OqcSamplingRule).filter_by(name="All DIP runs")).scalar_one()
        rid = rule.id
        assert (rule.sampling_type, rule.sample_value, rule.is_active, rule.product_id) == \
            ("PERCENTAGE", 10, True, None)
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "OQC_SAMPLING_RULE_CREATE")
                                   ).scalar_one()
        assert (event.actor_username, event.entity_key) == ("quality", str(rid))
    assert "All DIP runs" in client.get("/oqc-sampling-rules/list/").get_data(as_text=True)
    # a rule that sampled an OQC cannot be deleted: deactivate it
    built_run(api, qty=2)
    token = csrf_from(client.get("/oqc-sampling-rules/list/").get_data(as_text=True))
    page = client.post(f"/oqc-sampling-rules/delete/{rid}", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "OQC_SAMPLING_RULE_IN_USE" in page and "Deactivate" in page
    with app.app_context():
        assert db.session.get(OqcSamplingRule, rid) is not None
