"""FAI (02_rules §7) and the FAI trial in production (§4 run gate) over the REST API: every rule and
error code, each refusal changing nothing; the FAI authorize gate (§3)."""
from sqlalchemy import select

from app.extensions import db
from app.services.platform.clock import now
from app.models import Inspection, InspectionItem, Run, Track, Unit
from support import (
    DEMO_PASSWORD, SMT_STATIONS, authorized_run, count, ok_data, pass_step, prep_run, ready_run,
)

SIGN = {"password": DEMO_PASSWORD}  # signing an FAI is an electronic signature: quality's password


def error_of(response):
    return response.status_code, response.get_json()["error"]["code"]


def create_fai(api, run_no, qty=1, user="quality"):
    return api(user).post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": qty})


def started_fai(api, run_no, qty=1) -> int:
    fai = ok_data(create_fai(api, run_no, qty))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai['id']}/start"))
    return fai["id"]


def trial_build(api, run_no, sn, until=50):
    for step in sorted(SMT_STATIONS):
        pass_step(api, run_no, sn, step)
        if step >= until:
            break


def item(api, fai_id, sn, result="PASS", **extra):
    return api("quality").post(f"/api/v1/inspections/{fai_id}/items",
                               json={"unitSn": sn, "itemName": "visual", "result": result, **extra})


def test_create_fai_rules_change_nothing(api, app):
    unready = prep_run(api)  # no reels loaded: the FORMAL readiness fails on LOADING
    before = count(Inspection)
    assert error_of(create_fai(api, unready)) == (400, "READINESS_CHECK_FAILED")
    run_no = ready_run(api, qty=2)
    for qty in (0, 3, "1", True):
        assert error_of(create_fai(api, run_no, qty)) == (422, "VALIDATION_ERROR"), qty
    assert error_of(create_fai(api, run_no, user="planner")) == (403, "FORBIDDEN")
    assert error_of(create_fai(api, "NO-SUCH-RUN")) == (404, "RUN_NOT_FOUND")
    assert count(Inspection) == before
    first = ok_data(create_fai(api, run_no, 2))
    assert (first["type"], first["status"], first["sampleQty"], first["createdBy"]) == ("FAI", "PENDING", 2, "quality")
    assert error_of(create_fai(api, run_no)) == (409, "FAI_ALREADY_EXISTS")
    active = authorized_run(api)  # it passed its own FAI on the way: one more inspection
    assert count(Inspection) == before + 2
    assert error_of(create_fai(api, active)) == (400, "INVALID_RUN_STATUS")
    assert count(Inspection) == before + 2


def test_a_route_without_fai_step_needs_no_fai(api):
    erp = {"code": "RT-NOFAI", "name": "No FAI", "productCode": "P-2001", "processType": "DIP",
           "steps": [{"stepNo": 10, "operationCode": "DIP_INSERT", "stationGroupCode": "DIP-A-INS",
                      "stationType": "MANUAL"}]}
    ok_data(api("integration").post("/api/v1/integration/routings", json=erp))
    ok_data(api("engineer").post("/api/v1/routings/RT-NOFAI/compile"))
    ok_data(api("planner").post("/api/v1/integration/work-orders", json={
        "woNo": "WO-NOFAI", "productCode": "P-2001", "plannedQty": 1, "routingCode": "RT-NOFAI"}))
    ok_data(api("planner").post("/api/v1/work-orders/WO-NOFAI/release", json={"lineCode": "LINE-DIP-A"}))
    run_no = ok_data(api("planner").post("/api/v1/work-orders/WO-NOFAI/runs",
                                         json={"lineCode": "LINE-DIP-A", "planQty": 1}))["runNo"]
    assert error_of(create_fai(api, run_no)) == (400, "FAI_NOT_REQUIRED")


def test_trial_production_gate(api, app):
    run_no = ready_run(api, qty=3)
    sn1, sn2 = f"{run_no}-T1", f"{run_no}-T2"
    station = SMT_STATIONS[10]
    # PREP without an FAI in progress: not authorized
    refused = api("operator").post(f"/api/v1/stations/{station}/track-in", json={"sn": sn1, "runNo": run_no})
    assert error_of(refused) == (400, "RUN_NOT_AUTHORIZED")
    fai = ok_data(create_fai(api, run_no, 1))
    refused = api("operator").post(f"/api/v1/stations/{station}/track-in", json={"sn": sn1, "runNo": run_no})
    assert error_of(refused) == (400, "RUN_NOT_AUTHORIZED")  # PENDING is not INSPECTING
    ok_data(api("quality").post(f"/api/v1/inspections/{fai['id']}/start"))
    trial_build(api, run_no, sn1)  # steps 10..50: the last FAI step of RT-P1001-SMT is 50
    with app.app_context():
        assert db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one() == "PREP"
        modes = set(db.session.execute(select(Track.mode, Track.inspection_id).join(Unit, Unit.id == Track.unit_id)
                                       .where(Unit.sn == sn1)).all())
        assert modes == {("FAI_TRIAL", fai["id"])}
        assert db.session.execute(select(Unit.status).filter_by(sn=sn1)).scalar_one() == "DONE"
    # a second distinct unit is beyond sample_qty 1
    tracks = count(Track)
    refused = api("operator").post(f"/api/v1/stations/{station}/track-in", json={"sn": sn2, "runNo": run_no})
    assert error_of(refused) == (400, "FAI_TRIAL_LIMIT_REACHED")
    assert count(Track) == tracks


def test_trial_stops_at_the_last_fai_step(api):
    run_no = ready_run(api, product="P-2001", qty=2)  # RT-P2001-DIP: FAI at step 10
    fai = started_fai(api, run_no)
    sn = f"{run_no}-T1"
    pass_step(api, run_no, sn, 10, product="P-2001")
    refused = api("operator").post("/api/v1/stations/ST-DIP-WAVE-01/track-in", json={"sn": sn, "runNo": run_no})
    assert error_of(refused) == (400, "FAI_TRIAL_STEP_NOT_ALLOWED")
    detail = ok_data(api("planner").get(f"/api/v1/inspections/{fai}"))
    assert detail["trialUnits"] == [sn] and detail["trialUnitsDone"] == [sn]


def test_trial_needs_the_formal_readiness_still_passed(api):
    run_no = ready_run(api, qty=2)
    started_fai(api, run_no)
    # the stencil goes to maintenance after the FORMAL check: the trial is refused until re-checked
    ok_data(api("integration").post("/api/v1/integration/stencil-status", json={
        "eventId": "E-STN-MAINT", "eventTime": now().isoformat(), "stencilId": "STN-1001-A",
        "status": "MAINTENANCE"}))
    refused = api("operator").post(f"/api/v1/stations/{SMT_STATIONS[10]}/track-in",
                                   json={"sn": f"{run_no}-T1", "runNo": run_no})
    assert error_of(refused) == (400, "READINESS_CHECK_FAILED")


def test_items_complete_and_sign(api, app):
    run_no = ready_run(api, qty=2)
    fai = ok_data(create_fai(api, run_no, 1))["id"]
    sn = f"{run_no}-T1"
    assert error_of(item(api, fai, sn)) == (400, "FAI_NOT_INSPECTING")
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"})) == \
        (400, "FAI_NOT_INSPECTING")
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/start")) == (400, "INSPECTION_STATE_INVALID")
    trial_build(api, run_no, sn, until=30)
    # not through the FAI step yet
    assert error_of(item(api, fai, sn)) == (400, "FAI_TRIAL_REQUIRED")
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"})) == \
        (400, "FAI_TRIAL_REQUIRED")
    for step in (40, 50):
        pass_step(api, run_no, sn, step)
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"})) == \
        (400, "FAI_ITEMS_MISSING")
    assert error_of(item(api, fai, sn, result="FAIL")) == (400, "DEFECT_CODE_REQUIRED")
    assert error_of(item(api, fai, sn, result="FAIL", defectCode="NOPE")) == (400, "DEFECT_CODE_NOT_FOUND")
    assert error_of(item(api, fai, "NO-SUCH-SN")) == (400, "UNIT_NOT_FOUND")
    assert error_of(item(api, fai, sn, result="MAYBE")) == (422, "VALIDATION_ERROR")
    assert error_of(api("planner").post(f"/api/v1/inspections/{fai}/items",
                                        json={"unitSn": sn, "itemName": "x", "result": "PASS"})) == (403, "FORBIDDEN")
    assert count(InspectionItem) == 0
    ok_data(item(api, fai, sn, actualValue="no bridges", itemSpec="IPC-A-610 class 2"))
    # a sign before the decision, and a PASS that is signed twice
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/sign", json=SIGN)) == (400, "FAI_NOT_PASSED")
    decided = ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))
    assert (decided["status"], decided["passedQty"], decided["decidedBy"]) == ("PASS", 1, "quality")
    signed = ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"remark": "first article OK", **SIGN}))
    assert signed["signedBy"] == "quality"
    assert error_of(api("quality").post(f"/api/v1/inspections/{fai}/sign", json=SIGN)) == (400, "FAI_ALREADY_SIGNED")
    # signed is immutable: no more items, no new decision
    assert error_of(item(api, fai, sn)) == (400, "FAI_NOT_INSPECTING")
    assert count(InspectionItem) == 1
    listed = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/inspections?type=FAI"))
    assert [(i["id"], i["status"], i["signedBy"]) for i in listed] == [(fai, "PASS", "quality")]


def test_pass_is_refused_with_failures_and_fail_needs_a_reason(api):
    run_no = ready_run(api, qty=2)
    fai = started_fai(api, run_no)
    sn = f"{run_no}-T1"
    trial_build(api, run_no, sn)
    ok_data(item(api, fai, sn, result="FAIL", defectCode="SOLDER_BRIDGE"))
    refused = api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"})
    assert error_of(refused) == (400, "INSPECTION_FAILURES_EXIST")
    assert refused.get_json()["error"]["details"]["failItems"] == [sn]
    failed = ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "FAIL"}))
    assert (failed["status"], failed["failedQty"]) == ("FAIL", 1)
    # FAIL leaves the run PREP; a new FAI may be created — and a FAIL without a FAIL item needs a remark
    again = started_fai(api, run_no)
    refused = api("quality").post(f"/api/v1/inspections/{again}/complete", json={"decision": "FAIL"})
    assert error_of(refused) == (400, "INVALID_FAI_DECISION")
    ok_data(api("quality").post(f"/api/v1/inspections/{again}/complete",
                                json={"decision": "FAIL", "remark": "stencil smear on the first panel"}))


def test_authorize_gate_needs_a_passed_and_signed_fai(api):
    run_no = ready_run(api, qty=2)
    assert error_of(api("planner").post(f"/api/v1/runs/{run_no}/authorize")) == (400, "FAI_NOT_PASSED")
    fai = started_fai(api, run_no)
    sn = f"{run_no}-T1"
    trial_build(api, run_no, sn)
    ok_data(item(api, fai, sn))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))
    assert error_of(api("planner").post(f"/api/v1/runs/{run_no}/authorize")) == (400, "FAI_NOT_SIGNED")
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign", json=SIGN))
    assert ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))["status"] == "AUTHORIZED"
    # the trial unit stays a production unit; the next board is built normally
    assert api("planner").get(f"/api/v1/runs/{run_no}/units").status_code == 200
    pass_step(api, run_no, f"{run_no}-0002", 10)


def test_unit_trace_lists_the_run_inspections_with_the_unit_items(api):
    run_no = ready_run(api, qty=2)
    fai = started_fai(api, run_no)
    sn = f"{run_no}-T1"
    trial_build(api, run_no, sn)
    ok_data(item(api, fai, sn, actualValue="OK"))
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
    assert [(i["type"], i["status"]) for i in trace["inspections"]] == [("FAI", "INSPECTING")]
    assert [i["actualValue"] for i in trace["inspections"][0]["items"]] == ["OK"]
    assert {t["mode"] for t in trace["tracks"]} == {"FAI_TRIAL"}


def test_fai_card_in_run_detail(client, api):
    from support import console_login, csrf_from
    run_no = ready_run(api, qty=2)
    console_login(client, "quality")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="fai-card"' in page and 'id="fai-create"' in page and "Quality creates the FAI" in page
    token = csrf_from(page)
    page = client.post(f"/fai/runs/{run_no}", data={"csrf_token": token, "sample_qty": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "created and started" in page and 'id="fai-status">INSPECTING' in page
    sn = f"{run_no}-T1"
    trial_build(api, run_no, sn)
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert f"<option>{sn}</option>" in page and "1 of 1 unit(s) through step 50" in page
    fai = ok_data(api("quality").get(f"/api/v1/runs/{run_no}/inspections?type=FAI"))[0]["id"]
    page = client.post(f"/fai/{fai}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "PASS"},
                       follow_redirects=True).get_data(as_text=True)
    assert "FAI_ITEMS_MISSING" in page
    client.post(f"/fai/{fai}/items", data={"csrf_token": token, "run_no": run_no, "unit_sn": sn,
                                          "item_name": "visual", "result": "PASS"})
    client.post(f"/fai/{fai}/complete", data={"csrf_token": token, "run_no": run_no, "decision": "PASS"})
    page = client.post(f"/fai/{fai}/sign", data={"csrf_token": token, "run_no": run_no, "password": SIGN["password"]},
                       follow_redirects=True).get_data(as_text=True)
    assert 'id="fai-signed">signed by quality' in page and "PASSED, signed by quality" in page
    # the PREP run may still get a new FAI (the service accepts it): offered folded away, with a confirmation
    assert 'id="fai-replace"' in page and "A new FAI replaces it" in page
    client.get("/logout/")
    console_login(client, "planner")  # reads the card, acts on nothing
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'id="fai-card"' in page and 'id="fai-create"' not in page and 'id="fai-sign"' not in page
    assert client.post(f"/fai/{fai}/sign", data={"csrf_token": token, "run_no": run_no}).status_code in (302, 403)


def test_a_prep_run_is_offered_for_trial_only_while_its_fai_is_inspecting(api):
    run_no = ready_run(api, qty=2)

    def fai_trial():
        runs_ = ok_data(api("operator").get("/api/v1/runs?status=PREP&lineCode=LINE-SMT-A&pageSize=200"))
        flag = next(r["faiTrial"] for r in runs_ if r["runNo"] == run_no)
        # the terminal's run choice (the station queue's `runs`) offers the PREP run exactly then
        offered = ok_data(api("operator").get("/api/v1/stations/ST-PRINT-01/runs"))
        assert (run_no in [r["runNo"] for r in offered]) == flag
        return flag
    assert fai_trial() is False
    fai = ok_data(create_fai(api, run_no))["id"]
    assert fai_trial() is False  # PENDING
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
    assert fai_trial() is True
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "FAIL", "remark": "x"}))
    assert fai_trial() is False
    # a new FAI after a decided one is offered on the card and accepted (02_rules §7: none open)
    assert ok_data(create_fai(api, run_no))["status"] == "PENDING"
