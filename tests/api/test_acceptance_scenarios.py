"""The end-to-end scenarios S1–S9 of 04_acceptance §2, one test each, over real HTTP (the Flask test
client) as the roles each scenario names: every step of the script in its order, every status, error
code and end state it names. The shared fixture helpers that skip steps (`ready_run`,
`authorized_run`) are deliberately not used: the point is that the product follows the script.

The test template database is the demo data without its OQC sampling rules (tests/conftest.py), so
each scenario first creates the demo's rules through the API exactly as seed/demo.yaml lists them.
Every scenario uses its own work order numbers (`WO-S1-…`), never the seed's WO-DEMO-*; every SMT
scenario starts with fresh AUTO stencil/paste statuses (04 §2). Each refused call is checked to
change nothing but (for business refusals) its one FAIL audit event."""
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditEvent, DataValue, Defect, Inspection, InspectionItem, LoadingRecord, MaterialUse, MrbDecision,
    ReadinessCheck, ReadinessItem, Run, Track, Unit,
)
from support import (
    DIP_DATA, DIP_LINE, DIP_STATIONS, SMT_DATA, SMT_LINE, SMT_STATIONS, count, fresh_consumable_statuses, ok_data,
)

DEMO_OQC_RULES = [  # seed/demo.yaml `oqc_rules`
    {"productCode": "P-1001", "samplingType": "FIXED", "sampleValue": 1},
    {"productCode": "P-2001", "samplingType": "PERCENTAGE", "sampleValue": 10},
]
SMT_ITEMS = ["ROUTE", "EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE", "LOADING"]
REELS_AT_MOUNTING = [("MAT-R10K", "LOT-R-001", "1-01", 30), ("MAT-C100N", "LOT-C-001", "1-02", 30),
                     ("MAT-MCU", "LOT-M-001", "2-01", 30)]


# -- database state and refusals --------------------------------------------------------------------

def state():
    """What a refused call must leave as it was (inside an app context)."""
    def rows(stmt):
        return [tuple(r) for r in db.session.execute(stmt).all()]
    return {
        "runs": rows(select(Run.run_no, Run.status, Run.authorized_by).order_by(Run.id)),
        "units": rows(select(Unit.sn, Unit.status, Unit.current_step_no, Unit.run_id).order_by(Unit.id)),
        "tracks": count(Track), "open": count(Track, Track.out_at.is_(None)), "values": count(DataValue),
        "defects": rows(select(Defect.id, Defect.status).order_by(Defect.id)),
        "inspections": rows(select(Inspection.id, Inspection.status, Inspection.signed_by).order_by(Inspection.id)),
        "items": count(InspectionItem), "checks": count(ReadinessCheck),
        "readiness": rows(select(ReadinessItem.id, ReadinessItem.status).order_by(ReadinessItem.id)),
        "loading": rows(select(LoadingRecord.id, LoadingRecord.status).order_by(LoadingRecord.id)),
        "mrb": count(MrbDecision),
        # logins of the demo users (a token is fetched on first use) are not business changes
        "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN"),
    }


def refused(app, call, status, code, *, fail_audited=None):
    """Call, expect the error; nothing changes but, for a business refusal, one FAIL audit event with the
    code (401/403/422 rejections are logged, not audited: 02_rules §12)."""
    if fail_audited is None:
        fail_audited = status not in (401, 403, 422)
    with app.app_context():
        before = state()
        fails = count(AuditEvent, AuditEvent.status == "FAIL", AuditEvent.error_code == code)
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        assert state() == before
        assert count(AuditEvent, AuditEvent.status == "FAIL", AuditEvent.error_code == code) == \
            fails + (1 if fail_audited else 0)
    return body["error"]


# -- the steps, as the roles do them ------------------------------------------------------------

def unique(prefix: str) -> str:
    """Unique business numbers, as the acceptance runner uses (re-runnable on one server)."""
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


def demo_oqc_rules(api) -> None:
    for rule in DEMO_OQC_RULES:
        created = api("quality").post("/api/v1/oqc-sampling-rules", json=rule)
        assert created.status_code == 201, created.get_json()
        data = created.get_json()["data"]
        assert (data["productCode"], data["samplingType"], data["sampleValue"], data["isActive"]) == (
            rule["productCode"], rule["samplingType"], rule["sampleValue"], True)


def receive_and_release(api, wo_no, product, qty, line) -> None:
    """The planner receives the work order and releases it to the line."""
    received = ok_data(api("planner").post("/api/v1/integration/work-orders",
                                           json={"woNo": wo_no, "productCode": product, "plannedQty": qty}))
    assert (received["woNo"], received["status"], received["plannedQty"], received["duplicate"]) == (
        wo_no, "RECEIVED", qty, False)
    released = ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/release", json={"lineCode": line}))
    assert (released["status"], released["line"]["code"]) == ("RELEASED", line)


def create_run(api, wo_no, line, plan_qty) -> str:
    response = api("planner").post(f"/api/v1/work-orders/{wo_no}/runs", json={"lineCode": line, "planQty": plan_qty})
    assert response.status_code == 201, response.get_json()
    run = response.get_json()["data"]
    assert (run["status"], run["planQty"], run["line"]["code"], run["workOrder"]["status"]) == (
        "PREP", plan_qty, line, "IN_PROGRESS")
    return run["runNo"]


def generate_units(api, run_no, quantity, first_step=10) -> list[str]:
    response = api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": quantity})
    assert response.status_code == 201, response.get_json()
    units = response.get_json()["data"]
    assert [(u["status"], u["currentStepNo"]) for u in units] == [("QUEUED", first_step)] * quantity
    return [u["sn"] for u in units]


def smt_prep_run(api, scenario, plan_qty, *, wo_qty=None) -> tuple[str, str, list[str]]:
    """Fresh AUTO statuses, then the planner's steps of S1: receive, release, run, units (PREP)."""
    fresh_consumable_statuses(api)
    wo_no = unique(f"WO-{scenario}")
    receive_and_release(api, wo_no, "P-1001", wo_qty or plan_qty, SMT_LINE)
    run_no = create_run(api, wo_no, SMT_LINE, plan_qty)
    return wo_no, run_no, generate_units(api, run_no, plan_qty)


def scan(api, run_no, slot, barcode, user="material"):
    return api(user).post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": slot, "barcode": barcode})


def load_table(api, run_no) -> list[dict]:
    table = ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    assert [(e["slotCode"], e["expectedMaterialCode"], e["alternates"], e["status"]) for e in table] == [
        ("1-01", "MAT-R10K", ["MAT-R10K-ALT"], "PENDING"), ("1-02", "MAT-C100N", [], "PENDING"),
        ("2-01", "MAT-MCU", [], "PENDING")]
    return table


def load_right_reels(api, run_no, slots=("1-01", "1-02", "2-01")) -> None:
    reels = {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"}
    for slot in slots:
        record = ok_data(scan(api, run_no, slot, reels[slot]))
        assert (record["verifyResult"], record["status"]) == ("PASS", "LOADED"), record


def formal_check(api, run_no, user="quality") -> dict:
    check = ok_data(api(user).post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "FORMAL"}))
    assert check["kind"] == "FORMAL"
    return check


def failed_items(check) -> list[tuple[str, str]]:
    return [(i["itemType"], i["failCode"]) for i in check["items"] if i["status"] == "FAILED"]


def authorize(api, run_no, user="planner"):
    return api(user).post(f"/api/v1/runs/{run_no}/authorize")


def track_in(api, station, sn, run_no, user="operator"):
    return api(user).post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no})


def track_out(api, station, sn, run_no, result="PASS", data=None, defect=None, user="operator"):
    body = {"sn": sn, "runNo": run_no, "result": result, "data": [] if data is None else data}
    if defect is not None:
        body["defect"] = defect
    return api(user).post(f"/api/v1/stations/{station}/track-out", json=body)


def stations(product):
    return SMT_STATIONS if product == "P-1001" else DIP_STATIONS


def step_data(product, step):
    return (SMT_DATA if product == "P-1001" else DIP_DATA)[step]


def pass_at(api, run_no, sn, step, *, product="P-1001", user="operator", data=None) -> dict:
    """TrackIn and TrackOut PASS at the step's station with the step's (valid) data."""
    station = stations(product)[step]
    track = ok_data(track_in(api, station, sn, run_no, user))["track"]
    out = ok_data(track_out(api, station, sn, run_no, "PASS", step_data(product, step) if data is None else data,
                            user=user))
    assert (out["result"], out["track"]["id"]) == ("PASS", track["id"]), out
    return out


def build(api, run_no, sn, steps, *, product="P-1001", user="operator") -> dict:
    last = None
    for step in steps:
        last = pass_at(api, run_no, sn, step, product=product, user=user)
    return last


def fai_with_trial(api, app, run_no, trial_sn, *, product="P-1001", operator="operator") -> int:
    """Quality creates the FAI (sample 1) and starts it; the operator trial-builds the unit through the
    FAI step with its data; quality records an item PASS, completes PASS and signs."""
    created = api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1})
    assert created.status_code == 201, created.get_json()
    fai = created.get_json()["data"]
    assert (fai["type"], fai["status"], fai["sampleQty"], fai["createdBy"]) == ("FAI", "PENDING", 1, "quality")
    assert ok_data(api("quality").post(f"/api/v1/inspections/{fai['id']}/start"))["status"] == "INSPECTING"
    fai_step = 50 if product == "P-1001" else 10
    build(api, run_no, trial_sn, [s for s in sorted(stations(product)) if s <= fai_step], product=product,
          user=operator)
    with app.app_context():  # trial tracks: mode FAI_TRIAL, the run stays PREP
        modes = db.session.execute(select(Track.mode, Track.inspection_id, Track.result).join(
            Unit, Unit.id == Track.unit_id).where(Unit.sn == trial_sn)).all()
        assert {tuple(m) for m in modes} == {("FAI_TRIAL", fai["id"], "PASS")}
        assert len(modes) == len([s for s in stations(product) if s <= fai_step])
        assert db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one() == "PREP"
    item = api("quality").post(f"/api/v1/inspections/{fai['id']}/items", json={
        "unitSn": trial_sn, "itemName": "first article", "result": "PASS"})
    assert item.status_code == 201, item.get_json()
    done = ok_data(api("quality").post(f"/api/v1/inspections/{fai['id']}/complete", json={"decision": "PASS"}))
    assert (done["status"], done["decidedBy"]) == ("PASS", "quality")
    signed = ok_data(api("quality").post(f"/api/v1/inspections/{fai['id']}/sign", json={}))
    assert (signed["status"], signed["signedBy"]) == ("PASS", "quality")
    return fai["id"]


def authorized(api, run_no) -> None:
    run = ok_data(authorize(api, run_no))
    assert (run["status"], run["authorizedBy"]) == ("AUTHORIZED", "planner")


def run_of(api, run_no, user="planner") -> dict:
    return ok_data(api(user).get(f"/api/v1/runs/{run_no}"))


def oqc(api, inspection_id, sampled, decision, *, fail_code=None) -> dict:
    """Quality runs the OQC: start, one item per sampled SN (the first one FAIL when `fail_code`),
    complete with the decision."""
    assert ok_data(api("quality").post(f"/api/v1/inspections/{inspection_id}/start"))["status"] == "INSPECTING"
    for index, sn in enumerate(sampled):
        body = {"unitSn": sn, "itemName": "final visual", "result": "PASS"}
        if fail_code and index == 0:
            body.update(result="FAIL", defectCode=fail_code)
        response = api("quality").post(f"/api/v1/inspections/{inspection_id}/items", json=body)
        assert response.status_code == 201, response.get_json()
    return ok_data(api("quality").post(f"/api/v1/inspections/{inspection_id}/complete", json={"decision": decision}))


def units_of(app, run_no) -> dict[str, tuple[str, int]]:
    with app.app_context():
        return {sn: (status, step) for sn, status, step in db.session.execute(
            select(Unit.sn, Unit.status, Unit.current_step_no).join(Run, Run.id == Unit.run_id)
            .where(Run.run_no == run_no).order_by(Unit.sn)).all()}


def materials(trace) -> list[tuple]:
    return [(m["materialCode"], m["lotNo"], m["slotCode"], m["stepNo"]) for m in trace["materials"]]


def recall_sns(api, material, lot, user="quality") -> list[str]:
    data = ok_data(api(user).get(f"/api/v1/trace/material-lots/{material}/{lot}"))
    assert data["counts"]["units"] == len({u["sn"] for u in data["units"]})
    return [u["sn"] for u in data["units"]]


def integration_system(api, system, user="leader") -> dict:
    return next(s for s in ok_data(api(user).get("/api/v1/integration/status")) if s["system"] == system)


def built_smt_run_waiting_for_oqc(api, app, scenario, *, wo_qty=2) -> tuple[str, str, list[str], dict]:
    """S1's path up to the closeout (S2–S4 start where S1's OQC starts): 2 boards, unit 1 the FAI trial
    board, unit 2 built after the authorization; the last TrackOut answers OQC_REQUIRED."""
    wo_no, run_no, sns = smt_prep_run(api, scenario, 2, wo_qty=wo_qty)
    load_table(api, run_no)
    load_right_reels(api, run_no)
    assert formal_check(api, run_no)["status"] == "PASSED"
    fai_with_trial(api, app, run_no, sns[0])
    authorized(api, run_no)
    closeout = build(api, run_no, sns[1], [10, 20, 30, 40, 50])["runCloseout"]
    assert (closeout["completed"], closeout["code"], len(closeout["sampledSns"])) == (False, "OQC_REQUIRED", 1)
    assert set(closeout["sampledSns"]) <= set(sns)
    assert run_of(api, run_no)["status"] == "IN_PROGRESS"
    return wo_no, run_no, sns, closeout


def failed_oqc(api, app, run_no, closeout, code="SOLDER_BRIDGE") -> None:
    decided = oqc(api, closeout["inspectionId"], closeout["sampledSns"], "FAIL", fail_code=code)
    assert (decided["status"], decided["runStatus"], decided["failedQty"]) == ("FAIL", "ON_HOLD", 1)
    assert run_of(api, run_no)["status"] == "ON_HOLD"
    with app.app_context():  # the OQC failure is recorded on the (still DONE) sampled board
        defect = db.session.execute(select(Defect.code, Defect.status, Unit.status).join(Unit, Unit.id == Defect.unit_id)
                                    .where(Unit.sn == closeout["sampledSns"][0])).one()
        assert tuple(defect) == (code, "RECORDED", "DONE")


def mrb(api, run_no, **body):
    return api("quality").post(f"/api/v1/runs/{run_no}/mrb-decision", json=body)


# -- S1 ------------------------------------------------------------------------------------------------

def test_s1_smt_happy_path(api, app):
    demo_oqc_rules(api)
    fresh_consumable_statuses(api)
    compiled = ok_data(api("engineer").post("/api/v1/routings/RT-P1001-SMT/compile"))
    assert (compiled["routingCode"], compiled["status"], compiled["errors"]) == ("RT-P1001-SMT", "READY", [])

    wo_no = unique("WO-S1")
    receive_and_release(api, wo_no, "P-1001", 2, SMT_LINE)
    run_no = create_run(api, wo_no, SMT_LINE, 2)
    assert run_of(api, run_no)["routeVersion"] == {"routingCode": "RT-P1001-SMT", "versionNo": compiled["versionNo"]}
    sn1, sn2 = generate_units(api, run_no, 2)

    # quality's FORMAL check: FAILED on LOADING only; the planner's authorize is refused by it
    check = formal_check(api, run_no)
    assert check["status"] == "FAILED" and [i["itemType"] for i in check["items"]] == SMT_ITEMS
    assert failed_items(check) == [("LOADING", "SLOT_TABLE_NOT_LOADED")]
    assert check["summary"] == {"PASSED": 5, "FAILED": 1, "WAIVED": 0}
    error = refused(app, lambda: authorize(api, run_no), 400, "READINESS_CHECK_FAILED")
    assert (error["details"]["checkId"], [(i["itemType"], i["failCode"]) for i in error["details"]["items"]]) == (
        check["id"], [("LOADING", "SLOT_TABLE_NOT_LOADED")])

    # the material user loads the slot table and scans: wrong reel FAIL, right reel PASS, idempotent, replace needed
    load_table(api, run_no)
    wrong = ok_data(scan(api, run_no, "1-01", "MAT-C100N|LOT-C-001"))
    assert (wrong["verifyResult"], wrong["failReason"], wrong["status"]) == ("FAIL", "MATERIAL_MISMATCH", None)
    good = ok_data(scan(api, run_no, "1-01", "MAT-R10K|LOT-R-001"))
    assert (good["verifyResult"], good["status"], good["idempotent"], good["loadedBy"]) == (
        "PASS", "LOADED", False, "material")
    with app.app_context():
        before = state()
    again = ok_data(scan(api, run_no, "1-01", "MAT-R10K|LOT-R-001"))
    assert (again["verifyResult"], again["idempotent"], again["id"]) == ("PASS", True, good["id"])
    with app.app_context():
        assert state() == before  # no new record, no audit event
    refused(app, lambda: scan(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 409, "SLOT_ALREADY_LOADED")
    load_right_reels(api, run_no, slots=("1-02", "2-01"))
    assert {e["status"] for e in ok_data(api("planner").get(f"/api/v1/runs/{run_no}/loading"))["expectations"]} == \
        {"LOADED"}

    check = formal_check(api, run_no)
    assert check["status"] == "PASSED" and check["summary"] == {"PASSED": 6, "FAILED": 0, "WAIVED": 0}
    refused(app, lambda: authorize(api, run_no), 400, "FAI_NOT_PASSED")

    # the FAI: sample 1, unit 1 trial-built through steps 10–50 with its data, item PASS, PASS, signed
    fai_id = fai_with_trial(api, app, run_no, sn1)
    authorized(api, run_no)

    # unit 2 through all five steps: the last TrackOut runs the closeout, which needs the OQC
    outs = [pass_at(api, run_no, sn2, step) for step in (10, 20, 30, 40, 50)]
    assert [o["nextStep"]["stepNo"] if o.get("nextStep") else None for o in outs] == [20, 30, 40, 50, None]
    assert outs[-1]["unit"]["status"] == "DONE"
    closeout = outs[-1]["runCloseout"]
    assert (closeout["completed"], closeout["code"]) == (False, "OQC_REQUIRED")
    assert len(closeout["sampledSns"]) == 1 and closeout["sampledSns"][0] in (sn1, sn2)  # FIXED 1
    assert run_of(api, run_no)["status"] == "IN_PROGRESS"
    # the manual close reuses the open OQC (no second one) and answers OQC_REQUIRED with the sampled SN
    error = refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/close"), 409, "OQC_REQUIRED")
    assert (error["details"]["inspectionId"], error["details"]["sampledSns"]) == (
        closeout["inspectionId"], closeout["sampledSns"])

    # quality's OQC: item PASS, complete PASS → the run is COMPLETED; the planner closes the WO
    decided = oqc(api, closeout["inspectionId"], closeout["sampledSns"], "PASS")
    assert (decided["type"], decided["status"], decided["runStatus"]) == ("OQC", "PASS", "COMPLETED")
    run = run_of(api, run_no)
    assert run["status"] == "COMPLETED" and run["endedAt"] and run["unitCounts"]["DONE"] == 2
    closed = ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))
    assert (closed["status"], closed["runs"]) == ("COMPLETED", [
        {"runNo": run_no, "status": "COMPLETED", "planQty": 2, "line": SMT_LINE, "parentRunNo": None}])

    # unit trace: 5 PASS tracks, data values with judges, FAI PASS, OQC PASS, the three lots at MOUNTING
    for sn, mode in ((sn2, "NORMAL"), (sn1, "FAI_TRIAL")):
        trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
        assert (trace["unit"]["status"], trace["run"]["runNo"], trace["workOrder"]["woNo"]) == ("DONE", run_no, wo_no)
        tracks = trace["tracks"]
        assert [(t["stepNo"], t["station"], t["result"], t["mode"], t["operator"]) for t in tracks] == [
            (step, SMT_STATIONS[step], "PASS", mode, "operator") for step in (10, 20, 30, 40, 50)]
        values = [(t["stepNo"], v["spec"], v["value"], v["judge"]) for t in tracks for v in t["dataValues"]]
        assert values == [(10, "squeegee_pressure_kg", 6.0, "PASS"), (20, "paste_height_um", 150, "PASS"),
                          (40, "peak_temp_c", 250, "PASS")]
        peak = tracks[3]["dataValues"][0]
        assert (peak["lsl"], peak["usl"], peak["uom"]) == (235, 265, "°C")
        inspections = {i["type"]: i for i in trace["inspections"]}
        assert (inspections["FAI"]["id"], inspections["FAI"]["status"], inspections["FAI"]["signedBy"]) == (
            fai_id, "PASS", "quality")
        assert (inspections["OQC"]["status"], inspections["OQC"]["sampledSns"]) == ("PASS", closeout["sampledSns"])
        assert materials(trace) == REELS_AT_MOUNTING
    assert [i["unitSn"] for i in trace["inspections"][0]["items"]] == [sn1]  # unit 1's FAI item

    # lot recall of the reel on 1-01: both boards
    assert recall_sns(api, "MAT-R10K", "LOT-R-001") == [sn1, sn2]
    assert recall_sns(api, "MAT-R10K", "LOT-R-002") == []


# -- S2, S3, S4: OQC fail → MRB ---------------------------------------------------------------------

def test_s2_oqc_fail_then_mrb_release_completes_the_run(api, app):
    demo_oqc_rules(api)
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(api, app, "S2")
    failed_oqc(api, app, run_no, closeout)
    refused(app, lambda: api("planner").post(f"/api/v1/work-orders/{wo_no}/close"), 409,
            "WORK_ORDER_RUNS_NOT_TERMINAL")  # a held run is not terminal
    answer = ok_data(mrb(api, run_no, decision="RELEASE", reason="Cosmetic bridge on a test pad: accept"))
    assert (answer["run"]["status"], answer["reworkRunNo"], answer["decision"]["decision"]) == (
        "COMPLETED", None, "RELEASE")
    assert run_of(api, run_no)["status"] == "COMPLETED"
    assert units_of(app, run_no) == {sn: ("DONE", 50) for sn in sns}
    assert ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"] == "COMPLETED"
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{closeout['sampledSns'][0]}"))
    assert [(d["decision"], d["runNo"], d["decidedBy"]) for d in trace["mrbDecisions"]] == [
        ("RELEASE", run_no, "quality")]
    assert [i["status"] for i in trace["inspections"] if i["type"] == "OQC"] == ["FAIL"]


def test_s3_oqc_fail_then_mrb_scrap_scraps_the_run_and_its_units(api, app):
    demo_oqc_rules(api)
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(api, app, "S3")
    failed_oqc(api, app, run_no, closeout, code="WRONG_PART")
    answer = ok_data(mrb(api, run_no, decision="SCRAP", reason="Wrong MCU revision on the whole run"))
    assert (answer["run"]["status"], answer["reworkRunNo"]) == ("SCRAPPED", None)
    assert run_of(api, run_no)["status"] == "SCRAPPED"
    assert units_of(app, run_no) == {sn: ("SCRAPPED", 50) for sn in sns}
    for sn in sns:
        assert ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))["unit"]["status"] == "SCRAPPED"
    assert ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"] == "COMPLETED"


def test_s4_oqc_fail_then_mrb_rework_full_prep_with_fai_waiver(api, app):
    demo_oqc_rules(api)
    # the work order plans one board more than the run: room to show the quantity check ignores the rework run
    wo_no, run_no, sns, closeout = built_smt_run_waiting_for_oqc(api, app, "S4", wo_qty=3)
    failed_oqc(api, app, run_no, closeout)
    waiver = "Only AOI is repeated; placement and reflow unchanged"
    answer = ok_data(mrb(api, run_no, decision="REWORK", reason="Bridges on U3: hand repair, re-inspect",
                         reworkType="FULL_PREP", reworkFromStepNo=50, faiWaiver=True, faiWaiverReason=waiver))
    rework_no = answer["reworkRunNo"]
    assert rework_no == f"{run_no}-RW1" and answer["run"]["status"] == "CLOSED_REWORK"
    assert (answer["decision"]["reworkType"], answer["decision"]["reworkFromStepNo"]) == ("FULL_PREP", 50)

    # the rework run starts PREP with the DONE boards QUEUED at AOI
    rework = run_of(api, rework_no)
    assert (rework["status"], rework["planQty"], rework["parentRunNo"], rework["reworkType"]) == (
        "PREP", 2, run_no, "FULL_PREP")
    assert units_of(app, rework_no) == {sn: ("QUEUED", 50) for sn in sns}
    assert units_of(app, run_no) == {}
    # readiness passes without a LOADING item (it re-enters no placement step)
    check = formal_check(api, rework_no)
    assert check["status"] == "PASSED" and [i["itemType"] for i in check["items"]] == SMT_ITEMS[:-1]
    # no FAI needed: authorized straight away
    authorized(api, rework_no)
    with app.app_context():
        rework_id = db.session.execute(select(Run.id).filter_by(run_no=rework_no)).scalar_one()
        assert count(Inspection, Inspection.run_id == rework_id, Inspection.type == "FAI") == 0
    # its units re-run AOI only, and it completes (its own OQC by the demo rule)
    last = None
    for sn in sns:
        last = pass_at(api, rework_no, sn, 50)
    with app.app_context():
        steps = set(db.session.execute(select(Track.step_no).where(Track.run_id == rework_id)).scalars())
        assert steps == {50}
    closeout2 = last["runCloseout"]
    assert closeout2["code"] == "OQC_REQUIRED"
    assert oqc(api, closeout2["inspectionId"], closeout2["sampledSns"], "PASS")["runStatus"] == "COMPLETED"
    assert run_of(api, rework_no)["status"] == "COMPLETED"
    assert units_of(app, rework_no) == {sn: ("DONE", 50) for sn in sns}
    # the WO quantity check ignores the rework run: 3 planned, 2 in the parent run → one board left
    refused(app, lambda: api("planner").post(f"/api/v1/work-orders/{wo_no}/runs",
                                             json={"lineCode": SMT_LINE, "planQty": 2}),
            400, "QUANTITY_EXCEEDS_WORK_ORDER")
    create_run(api, wo_no, SMT_LINE, 1)
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[1]}"))
    assert (trace["run"]["runNo"], trace["parentRun"]) == (rework_no, run_no)
    assert [(d["decision"], d["reworkRunNo"], d["faiWaiver"], d["faiWaiverReason"]) for d in trace["mrbDecisions"]] \
        == [("REWORK", rework_no, True, waiver)]


# -- S5 --------------------------------------------------------------------------------------------------

def test_s5_degraded_mode_and_waiver(api, app):
    demo_oqc_rules(api)
    _, run_no, (sn1, sn2) = smt_prep_run(api, "S5", 2)
    load_table(api, run_no)
    load_right_reels(api, run_no)  # its loading complete: only STENCIL will fail
    assert integration_system(api, "TPM")["degraded"] is False

    # the leader enters the stencil status by hand: MANUAL, operator leader, whatever the body says
    recorded = ok_data(api("leader").post("/api/v1/integration/stencil-status", json={
        "eventId": unique("S5-STN"), "eventTime": datetime.now(UTC).isoformat(),
        "stencilId": "STN-1001-A", "status": "MAINTENANCE", "operator": "integration", "source": "AUTO"}))
    assert (recorded["status"], recorded["source"], recorded["operator"]) == ("MAINTENANCE", "MANUAL", "leader")
    tpm = integration_system(api, "TPM")
    assert tpm["degraded"] is True and tpm["manualSinceLastAuto"] == 1

    check = formal_check(api, run_no)
    assert check["status"] == "FAILED" and failed_items(check) == [("STENCIL", "STENCIL_NOT_READY")]
    stencil = next(i for i in check["items"] if i["itemType"] == "STENCIL")
    assert (stencil["evidence"]["source"], stencil["evidence"]["operator"]) == ("MANUAL", "leader")

    # quality waives it: an empty reason is refused
    waive = lambda reason: api("quality").post(f"/api/v1/readiness-items/{stencil['id']}/waive",
                                               json={"reason": reason})
    refused(app, lambda: waive(""), 400, "REASON_REQUIRED")
    reason = "Stencil tension measured by hand: 38 N/cm², OK"
    waived = ok_data(waive(reason))
    assert (waived["item"]["status"], waived["item"]["waivedBy"], waived["item"]["waiveReason"]) == (
        "WAIVED", "quality", reason)
    assert waived["check"]["status"] == "PASSED" and waived["check"]["summary"] == {
        "PASSED": 5, "FAILED": 0, "WAIVED": 1}
    assert ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))["status"] == "PASSED"

    # that run is built (its FAI on the waived check, the authorization, unit 2)
    fai_with_trial(api, app, run_no, sn1)
    authorized(api, run_no)
    closeout = build(api, run_no, sn2, [10, 20, 30, 40, 50])["runCloseout"]
    assert oqc(api, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"] == "COMPLETED"
    with app.app_context():  # the authorization used the waived check: no other FORMAL check was made
        run_id = db.session.execute(select(Run.id).filter_by(run_no=run_no)).scalar_one()
        assert count(ReadinessCheck, ReadinessCheck.run_id == run_id, ReadinessCheck.kind == "FORMAL") == 1

    # the units' trace shows the waiver (who, why) and the MANUAL source
    for sn in (sn1, sn2):
        trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
        readiness = trace["readiness"]
        assert (readiness["checkId"], readiness["status"]) == (check["id"], "PASSED")
        traced = next(i for i in readiness["items"] if i["itemType"] == "STENCIL")
        assert (traced["status"], traced["waivedBy"], traced["waiveReason"], traced["manual"], traced["operator"]) == (
            "WAIVED", "quality", reason, True, "leader")

    # TPM is back: the integration account posts READY (AUTO) and the DEGRADED flag clears
    back = ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": unique("S5-STN"), "eventTime": datetime.now(UTC).isoformat(),
        "stencilId": "STN-1001-A", "status": "READY"}))
    assert (back["status"], back["source"], back["operator"]) == ("READY", "AUTO", None)
    tpm = integration_system(api, "TPM")
    assert (tpm["degraded"], tpm["lastSource"], tpm["manualSinceLastAuto"]) == (False, "AUTO", 0)


# -- S6 --------------------------------------------------------------------------------------------------

def test_s6_slot_lock_and_reel_change(api, app):
    demo_oqc_rules(api)
    _, run_no, sns = smt_prep_run(api, "S6", 4)
    load_table(api, run_no)

    # three wrong scans on 2-01: the third locks it; the next scan answers SLOT_LOCKED
    wrong = [ok_data(scan(api, run_no, "2-01", "MAT-R10K|LOT-R-001")) for _ in range(3)]
    assert [(r["verifyResult"], r["failReason"], r["failedAttempts"], r["locked"]) for r in wrong] == [
        ("FAIL", "MATERIAL_MISMATCH", 1, False), ("FAIL", "MATERIAL_MISMATCH", 2, False),
        ("FAIL", "MATERIAL_MISMATCH", 3, True)]
    refused(app, lambda: scan(api, run_no, "2-01", "MAT-MCU|LOT-M-001"), 409, "SLOT_LOCKED")
    # the leader unlocks with a reason
    unlock = lambda reason: api("leader").post(
        f"/api/v1/lines/{SMT_LINE}/feeder-slots/2-01/unlock", json={"reason": reason})
    refused(app, lambda: unlock(""), 400, "REASON_REQUIRED")
    assert ok_data(unlock("Wrong reel taken back to stores")) == {
        "lineCode": SMT_LINE, "slotCode": "2-01", "locked": False, "failedAttempts": 0}
    # the rejected lot fails; the good reel passes
    rejected = ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-BAD"))
    assert (rejected["verifyResult"], rejected["failReason"], rejected["status"]) == (
        "FAIL", "MATERIAL_LOT_REJECTED", None)
    load_right_reels(api, run_no, slots=("2-01", "1-01", "1-02"))
    assert formal_check(api, run_no)["status"] == "PASSED"
    fai_with_trial(api, app, run_no, sns[0])  # unit 1 is placed with LOT-R-001 in its trial
    authorized(api, run_no)

    # production: unit 2 tracked out at MOUNTING, then the material user changes the 1-01 reel
    build(api, run_no, sns[1], [10, 20, 30])
    assert run_of(api, run_no)["status"] == "IN_PROGRESS"
    change = ok_data(api("material").post("/api/v1/loading/replace", json={
        "runNo": run_no, "slotCode": "1-01", "barcode": "MAT-R10K-ALT|LOT-RA-001", "reason": "reel empty"}))
    assert (change["verifyResult"], change["status"], change["replaceReason"]) == ("WARNING", "LOADED", "reel empty")
    build(api, run_no, sns[1], [40, 50])
    build(api, run_no, sns[2], [10, 20, 30, 40, 50])
    closeout = build(api, run_no, sns[3], [10, 20, 30, 40, 50])["runCloseout"]
    assert oqc(api, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"] == "COMPLETED"

    after = [("MAT-R10K-ALT", "LOT-RA-001", "1-01", 30)] + REELS_AT_MOUNTING[1:]
    for sn, expected in zip(sns, (REELS_AT_MOUNTING, REELS_AT_MOUNTING, after, after), strict=True):
        assert materials(ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))) == expected, sn
    # each lot's recall is exact
    assert recall_sns(api, "MAT-R10K", "LOT-R-001") == sns[:2]
    assert recall_sns(api, "MAT-R10K-ALT", "LOT-RA-001") == sns[2:]
    assert recall_sns(api, "MAT-C100N", "LOT-C-001") == sns
    assert recall_sns(api, "MAT-MCU", "LOT-M-001") == sns
    assert recall_sns(api, "MAT-MCU", "LOT-M-BAD") == []  # scanned, refused, never used
    with app.app_context():
        assert count(MaterialUse) == 12 and count(MaterialUse, MaterialUse.step_no != 30) == 0


# -- S7 --------------------------------------------------------------------------------------------------

def test_s7_defect_loop(api, app):
    demo_oqc_rules(api)
    # unit 1 is the FAI trial board; units 2–6 go through the loop
    _, run_no, (trial, reworked, held, scrapped, too_hot, aoi_failed) = smt_prep_run(api, "S7", 6)
    load_table(api, run_no)
    load_right_reels(api, run_no)
    assert formal_check(api, run_no)["status"] == "PASSED"
    fai_with_trial(api, app, run_no, trial)
    authorized(api, run_no)
    aoi = SMT_STATIONS[50]

    def fail_at_aoi(sn, code="SOLDER_BRIDGE"):
        build(api, run_no, sn, [10, 20, 30, 40])
        ok_data(track_in(api, aoi, sn, run_no))
        out = ok_data(track_out(api, aoi, sn, run_no, "FAIL", defect={"code": code, "location": "U3"}))
        assert (out["result"], out["unit"]["status"], [d["code"] for d in out["defects"]]) == (
            "FAIL", "OUT_FAILED", [code])
        return out["defects"][0]["id"]

    def dispose(defect_id, kind, reason, to_step=None):
        body = {"type": kind, "reason": reason, **({"toStepNo": to_step} if to_step else {})}
        return ok_data(api("quality").post(f"/api/v1/defects/{defect_id}/disposition", json=body))

    # TrackOut FAIL at AOI with SOLDER_BRIDGE → REWORK to step 50 → re-runs AOI → DONE
    defect = fail_at_aoi(reworked)
    decided = dispose(defect, "REWORK", "Hand repair of the bridge, re-inspect", to_step=50)
    assert decided["unit"] == {"sn": reworked, "status": "QUEUED", "currentStepNo": 50, "reworkCount": 1,
                               "runNo": run_no}
    assert (decided["reworkTask"]["status"], decided["reworkTask"]["toStepNo"]) == ("OPEN", 50)
    assert pass_at(api, run_no, reworked, 50)["unit"]["status"] == "DONE"
    # another unit FAIL → HOLD → release → continues
    defect = fail_at_aoi(held, code="INSUFFICIENT_SOLDER")
    assert dispose(defect, "HOLD", "Check the paste lot first")["unit"]["status"] == "ON_HOLD"
    refused(app, lambda: track_in(api, aoi, held, run_no), 400, "UNIT_ON_HOLD")
    released = ok_data(api("quality").post(f"/api/v1/defects/{defect}/release",
                                           json={"reason": "Paste lot checked: fine"}))
    assert (released["unit"]["status"], released["unit"]["currentStepNo"], released["defect"]["status"]) == (
        "QUEUED", 50, "CLOSED")
    assert pass_at(api, run_no, held, 50)["unit"]["status"] == "DONE"
    # a third → SCRAP
    defect = fail_at_aoi(scrapped, code="TOMBSTONE")
    decided = dispose(defect, "SCRAP", "Pad lifted, beyond repair")
    assert (decided["unit"]["status"], decided["defect"]["status"]) == ("SCRAPPED", "CLOSED")
    refused(app, lambda: track_in(api, aoi, scrapped, run_no), 400, "UNIT_SCRAPPED")

    # a reflow peak_temp_c of 280 forces FAIL with SPEC_OUT_OF_LIMIT
    build(api, run_no, too_hot, [10, 20, 30])
    ok_data(track_in(api, SMT_STATIONS[40], too_hot, run_no))
    out = ok_data(track_out(api, SMT_STATIONS[40], too_hot, run_no, "PASS",
                            [{"spec": "peak_temp_c", "value": 280}]))
    assert (out["result"], out["forcedBy"], out["unit"]["status"]) == ("FAIL", "SPEC_LIMIT", "OUT_FAILED")
    assert [d["code"] for d in out["defects"]] == ["SPEC_OUT_OF_LIMIT"]
    assert [(v["spec"], v["value"], v["judge"]) for v in out["dataValues"]] == [("peak_temp_c", 280, "FAIL")]

    # an AOI FAIL result posted by the integration account for a unit at AOI forces its TrackOut to FAIL
    build(api, run_no, aoi_failed, [10, 20, 30, 40])
    ok_data(track_in(api, aoi, aoi_failed, run_no))
    result = ok_data(api("integration").post("/api/v1/integration/inspection-results", json={
        "eventId": unique("S7-AOI"), "eventTime": datetime.now(UTC).isoformat(), "type": "AOI",
        "sn": aoi_failed, "stationCode": aoi, "result": "FAIL",
        "defects": [{"code": "MISSING_PART", "location": "C12"}, {"code": "POLARITY", "location": "D1"}]}))
    assert (result["source"], result["stepNo"], result["effect"]) == ("AUTO", 50, "FORCES_TRACK_OUT")
    out = ok_data(track_out(api, aoi, aoi_failed, run_no, "PASS"))
    assert (out["result"], out["forcedBy"], out["unit"]["status"]) == ("FAIL", "AOI", "OUT_FAILED")
    assert [d["code"] for d in out["defects"]] == ["MISSING_PART", "POLARITY"]

    # the end state of the loop
    assert units_of(app, run_no) == {trial: ("DONE", 50), reworked: ("DONE", 50), held: ("DONE", 50),
                                     scrapped: ("SCRAPPED", 50), too_hot: ("OUT_FAILED", 40),
                                     aoi_failed: ("OUT_FAILED", 50)}
    with app.app_context():
        defects = {tuple(d) for d in db.session.execute(select(
            Unit.sn, Defect.code, Defect.step_no, Defect.status, Defect.source).join(Unit, Unit.id == Defect.unit_id))}
    assert defects == {(reworked, "SOLDER_BRIDGE", 50, "CLOSED", "MANUAL"),
                       (held, "INSUFFICIENT_SOLDER", 50, "CLOSED", "MANUAL"),
                       (scrapped, "TOMBSTONE", 50, "CLOSED", "MANUAL"),
                       # forced by the operator's own (typed) value: AUTO is for SPI/AOI defects
                       (too_hot, "SPEC_OUT_OF_LIMIT", 40, "RECORDED", "MANUAL"),
                       (aoi_failed, "MISSING_PART", 50, "RECORDED", "AUTO"),
                       (aoi_failed, "POLARITY", 50, "RECORDED", "AUTO")}
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{reworked}"))
    assert [(t["stepNo"], t["result"]) for t in trace["tracks"]] == [
        (10, "PASS"), (20, "PASS"), (30, "PASS"), (40, "PASS"), (50, "FAIL"), (50, "PASS")]
    assert [(d["code"], d["disposition"]["type"], d["reworkTask"]["status"]) for d in trace["defects"]] == [
        ("SOLDER_BRIDGE", "REWORK", "DONE")]
    assert run_of(api, run_no)["status"] == "IN_PROGRESS"  # two boards still wait for their disposition


# -- S8 --------------------------------------------------------------------------------------------------

def test_s8_dip_happy_path(api, app):
    demo_oqc_rules(api)
    wo_no = unique("WO-S8")
    receive_and_release(api, wo_no, "P-2001", 12, DIP_LINE)
    run_no = create_run(api, wo_no, DIP_LINE, 12)
    assert run_of(api, run_no)["routeVersion"]["routingCode"] == "RT-P2001-DIP"
    sns = generate_units(api, run_no, 12)

    # no loading, no stencil/paste items
    check = formal_check(api, run_no)
    assert check["status"] == "PASSED" and [i["itemType"] for i in check["items"]] == [
        "ROUTE", "EQUIPMENT", "MATERIAL"]
    refused(app, lambda: authorize(api, run_no), 400, "FAI_NOT_PASSED")

    # FAI on step 10 with a trial at ST-DIP-INS-01 by operator2 (one trial track, at step 10 only)
    fai_with_trial(api, app, run_no, sns[0], product="P-2001", operator="operator2")
    authorized(api, run_no)

    # operator2 builds every board; FUNC_TEST data is required
    build(api, run_no, sns[0], [20, 30], product="P-2001", user="operator2")
    test_station = DIP_STATIONS[40]
    ok_data(track_in(api, test_station, sns[0], run_no, "operator2"))
    error = refused(app, lambda: track_out(api, test_station, sns[0], run_no, "PASS", user="operator2"),
                    400, "REQUIRED_DATA_MISSING")
    assert sorted(error["details"]["specs"]) == ["firmware_version", "output_voltage_v"]
    out = ok_data(track_out(api, test_station, sns[0], run_no, "PASS", DIP_DATA[40], user="operator2"))
    assert [(v["spec"], v["value"], v["judge"]) for v in out["dataValues"]] == [
        ("output_voltage_v", 5.0, "PASS"), ("firmware_version", "1.4.2", "NA")]
    last = None
    for sn in sns[1:]:
        last = build(api, run_no, sn, [10, 20, 30, 40], product="P-2001", user="operator2")

    # OQC 10 %: 10 % of 12 DONE boards = 1.2 → 2 sampled
    closeout = last["runCloseout"]
    assert (closeout["code"], len(closeout["sampledSns"])) == ("OQC_REQUIRED", 2)
    assert set(closeout["sampledSns"]) <= set(sns)
    assert oqc(api, closeout["inspectionId"], closeout["sampledSns"], "PASS")["runStatus"] == "COMPLETED"
    assert units_of(app, run_no) == {sn: ("DONE", 40) for sn in sns}
    assert ok_data(api("planner").post(f"/api/v1/work-orders/{wo_no}/close"))["status"] == "COMPLETED"

    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sns[0]}"))
    assert [(t["stepNo"], t["station"], t["result"], t["mode"], t["operator"]) for t in trace["tracks"]] == [
        (10, "ST-DIP-INS-01", "PASS", "FAI_TRIAL", "operator2"), (20, "ST-DIP-WAVE-01", "PASS", "NORMAL", "operator2"),
        (30, "ST-DIP-POST-01", "PASS", "NORMAL", "operator2"), (40, "ST-DIP-TEST-01", "PASS", "NORMAL", "operator2")]
    assert {i["type"]: i["status"] for i in trace["inspections"]} == {"FAI": "PASS", "OQC": "PASS"}
    assert trace["materials"] == []  # no slot table on the DIP line


# -- S9 --------------------------------------------------------------------------------------------------

def test_s9_gates_and_bad_input_change_nothing(api, app):
    demo_oqc_rules(api)
    _, run_no, (sn1, sn2, sn3) = smt_prep_run(api, "S9", 3)
    load_table(api, run_no)
    load_right_reels(api, run_no)
    assert formal_check(api, run_no)["status"] == "PASSED"
    printer = SMT_STATIONS[10]

    # TrackIn on a PREP run without an FAI
    error = refused(app, lambda: track_in(api, printer, sn2, run_no), 400, "RUN_NOT_AUTHORIZED")
    assert "FAI" in error["message"]
    fai_with_trial(api, app, run_no, sn1)
    # an operator authorizing a run
    refused(app, lambda: authorize(api, run_no, user="operator"), 403, "FORBIDDEN")
    authorized(api, run_no)

    # a unit at the wrong station (its step is 10, PRINTING)
    error = refused(app, lambda: track_in(api, SMT_STATIONS[20], sn2, run_no), 400, "STATION_MISMATCH")
    assert "SMT-A-PRINT" in error["message"]
    # operator2 tracking at ST-PRINT-01 (outside their stations)
    refused(app, lambda: track_in(api, printer, sn2, run_no, user="operator2"), 403, "FORBIDDEN")
    ok_data(track_in(api, printer, sn2, run_no))
    refused(app, lambda: track_out(api, printer, sn2, run_no, "PASS", user="operator2"), 403, "FORBIDDEN")
    # PASS without the required data; a text in a NUMBER spec
    error = refused(app, lambda: track_out(api, printer, sn2, run_no, "PASS"), 400, "REQUIRED_DATA_MISSING")
    assert error["details"] == {"specs": ["squeegee_pressure_kg"]}
    error = refused(app, lambda: track_out(api, printer, sn2, run_no, "PASS",
                                           [{"spec": "squeegee_pressure_kg", "value": "six"}]),
                    400, "DATA_VALUE_INVALID")
    assert error["details"] == {"spec": "squeegee_pressure_kg", "expected": "a number"}
    # malformed JSON
    refused(app, lambda: api("operator").post(f"/api/v1/stations/{printer}/track-out", data='{"sn": "' + sn2,
                                              content_type="application/json"), 422, "VALIDATION_ERROR")
    refused(app, lambda: api("operator").post(f"/api/v1/stations/{printer}/track-in", data="{not json",
                                              content_type="application/json"), 422, "VALIDATION_ERROR")
    # an unknown run in the path
    refused(app, lambda: authorize(api, "WO-NOPE-R01"), 404, "RUN_NOT_FOUND")
    missing = api("planner").get("/api/v1/runs/WO-NOPE-R01")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "RUN_NOT_FOUND")

    # the refusals left the unit where it was: the same open track finishes with valid data
    out = ok_data(track_out(api, printer, sn2, run_no, "PASS", SMT_DATA[10]))
    assert (out["result"], out["unit"]["status"], out["unit"]["currentStepNo"]) == ("PASS", "QUEUED", 20)
    assert units_of(app, run_no) == {sn1: ("DONE", 50), sn2: ("QUEUED", 20), sn3: ("QUEUED", 10)}
