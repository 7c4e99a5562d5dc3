"""Readiness (02_rules §5, 04_acceptance S5): the PRECHECK at run creation, FORMAL checks as the
authorize gate, every item with its fail code and evidence, per-line items, current vs stale checks,
waivers (rules, carry-over) and the degraded-mode scenario through to the unit trace. Each refused
call leaves the database unchanged apart from its FAIL audit event."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    AuditEvent, BomItem, LineSolderPaste, LineStencil, LoadingRecord, Material, ReadinessCheck,
    ReadinessItem, Run, RunSlotExpectation, SolderPasteStatus, Station,
)
from support import (
    DIP_LINE, SMT_REELS, build_unit, count, fresh_consumable_statuses, load_reels, ok_data, pass_fai, prep_run,
    password_for, ready_run,
)

SMT_ITEMS = ["ROUTE", "EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE", "LOADING"]


# -- helpers ---------------------------------------------------------------------------------------

def now() -> datetime:
    return datetime.now(timezone.utc)


def event_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def stencil_status(api, user, status, *, stencil="STN-1001-A", at=None, **extra):
    return ok_data(api(user).post("/api/v1/integration/stencil-status", json={
        "eventId": event_id("STN"), "eventTime": (at or now()).isoformat(), "stencilId": stencil, "status": status,
        **extra}))


def paste_status(api, user, status, *, expires_at=None, lot="SP-LOT-0001"):
    return ok_data(api(user).post("/api/v1/integration/solder-paste-status", json={
        "eventId": event_id("SP"), "eventTime": now().isoformat(), "lotNo": lot, "status": status,
        "expiresAt": (expires_at or now() + timedelta(days=7)).isoformat()}))


def equipment_status(api, user, code, status):
    return ok_data(api(user).post("/api/v1/integration/equipment-status", json={
        "eventId": event_id("EQ"), "eventTime": now().isoformat(), "equipmentCode": code, "status": status}))


def check(api, run_no, user="quality", kind=None):
    return ok_data(api(user).post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": kind} if kind else {}))


def items(check_data) -> dict:
    return {i["itemType"]: i for i in check_data["items"]}


def failed(check_data) -> list:
    return [(i["itemType"], i["failCode"]) for i in check_data["items"] if i["status"] == "FAILED"]


def waive(api, item_id, reason="Stencil cleaned and measured by hand; TPM offline", user="quality"):
    # a waiver is an electronic signature: the user's password
    return api(user).post(f"/api/v1/readiness-items/{item_id}/waive", json={"reason": reason, "password": password_for(user)})


def formal_checks(app, run_no) -> int:
    with app.app_context():
        run_id = db.session.execute(select(Run.id).filter_by(run_no=run_no)).scalar_one()
        return count(ReadinessCheck, ReadinessCheck.run_id == run_id, ReadinessCheck.kind == "FORMAL")


def run_status(app, run_no) -> str:
    with app.app_context():
        return db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one()


def state():
    """What a refused call must leave as it was (inside an app context)."""
    def rows(stmt):
        return [tuple(r) for r in db.session.execute(stmt).all()]
    return {
        "checks": rows(select(ReadinessCheck.id, ReadinessCheck.status).order_by(ReadinessCheck.id)),
        "items": rows(select(ReadinessItem.id, ReadinessItem.status, ReadinessItem.waived_by,
                             ReadinessItem.waive_reason).order_by(ReadinessItem.id)),
        "runs": rows(select(Run.run_no, Run.status, Run.authorized_by).order_by(Run.id)),
        "records": count(LoadingRecord), "expectations": count(RunSlotExpectation),
        "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN"),
    }


def refused(app, call, status, code):
    """Call, expect the error; nothing changes but (for business refusals) one FAIL audit event."""
    with app.app_context():
        before = state()
        fails = count(AuditEvent, AuditEvent.status == "FAIL", AuditEvent.error_code == code)
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        assert state() == before
        audited = 0 if status in (401, 403, 422) else 1
        assert count(AuditEvent, AuditEvent.status == "FAIL", AuditEvent.error_code == code) == fails + audited
    return body["error"]


def set_line_items(api, enabled, line="LINE-SMT-A"):
    with_id = ok_data_master(api("engineer").get(f"/api/v1/lines/?q=(filters:!((col:code,opr:eq,value:'{line}')))"))
    line_id = with_id["result"][0]["id"]
    response = api("engineer").put(f"/api/v1/lines/{line_id}", json={"readiness_checks_enabled": enabled})
    assert response.status_code == 200, response.get_json()


def ok_data_master(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def master_id(app, model, **where) -> int:
    with app.app_context():
        return db.session.execute(select(model.id).filter_by(**where)).scalar_one()


# -- PRECHECK and FORMAL -----------------------------------------------------------------------------

def test_a_precheck_is_recorded_when_the_run_is_created(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    precheck = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=PRECHECK"))
    assert precheck["kind"] == "PRECHECK" and precheck["checkedBy"] == "planner"
    assert [i["itemType"] for i in precheck["items"]] == SMT_ITEMS
    assert precheck["status"] == "FAILED" and failed(precheck) == [("LOADING", "SLOT_TABLE_NOT_LOADED")]
    assert ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness"))["id"] == precheck["id"]
    missing = api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "NO_CHECK_FOUND"
    assert run_status(app, run_no) == "PREP"  # advisory only
    with app.app_context():
        assert count(ReadinessCheck) == 1
        assert count(AuditEvent, AuditEvent.action == "READINESS_PRECHECK", AuditEvent.entity_key == run_no) == 1


def test_no_check_found_and_unknown_run(api, app):
    run_no = prep_run(api)
    with app.app_context():  # a run without any check (e.g. created before readiness existed)
        db.session.execute(ReadinessItem.__table__.delete())
        db.session.execute(ReadinessCheck.__table__.delete())
        db.session.commit()
    response = api("manager").get(f"/api/v1/runs/{run_no}/readiness")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "NO_CHECK_FOUND"
    unknown = api("quality").post("/api/v1/runs/WO-NOPE-R01/readiness/check", json={})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "RUN_NOT_FOUND"
    bad_kind = api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "QUICK"})
    assert bad_kind.status_code == 422 and bad_kind.get_json()["error"]["code"] == "VALIDATION_ERROR"
    with app.app_context():
        assert count(ReadinessCheck) == 0


def test_formal_check_items_loading_progress_and_summary(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    first = check(api, run_no)
    assert first["kind"] == "FORMAL" and first["checkedBy"] == "quality" and first["status"] == "FAILED"
    assert [i["itemType"] for i in first["items"]] == SMT_ITEMS
    assert first["summary"] == {"PASSED": 5, "FAILED": 1, "WAIVED": 0}
    loading = items(first)["LOADING"]
    assert (loading["status"], loading["failCode"], loading["itemKey"]) == ("FAILED", "SLOT_TABLE_NOT_LOADED", run_no)
    assert loading["failReason"] and loading["evidence"]["source"] == "AUTO"
    assert items(first)["STENCIL"]["evidence"]["stencilId"] == "STN-1001-A"
    assert items(first)["STENCIL"]["evidence"]["source"] == "AUTO"
    assert items(first)["SOLDER_PASTE"]["itemKey"] == "SP-LOT-0001"
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    ok_data(api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": "1-01",
                                                                  "barcode": SMT_REELS["1-01"]}))
    partial = check(api, run_no, user="leader")
    assert failed(partial) == [("LOADING", "LOADING_INCOMPLETE")]
    assert "1-02" in items(partial)["LOADING"]["failReason"] and "2-01" in items(partial)["LOADING"]["failReason"]
    for slot in ("1-02", "2-01"):
        ok_data(api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": slot,
                                                                      "barcode": SMT_REELS[slot]}))
    passed = check(api, run_no)
    assert passed["status"] == "PASSED" and passed["summary"] == {"PASSED": 6, "FAILED": 0, "WAIVED": 0}
    assert ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))["id"] == passed["id"]
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "READINESS_FORMAL", AuditEvent.entity_key == run_no,
                     AuditEvent.status == "SUCCESS") == 3


def test_precheck_on_demand(api, app):
    run_no = ready_run(api)
    pre = check(api, run_no, kind="PRECHECK")
    assert pre["kind"] == "PRECHECK" and pre["status"] == "PASSED"
    assert formal_checks(app, run_no) == 0
    assert ok_data(api("leader").post(f"/api/v1/runs/{run_no}/readiness/check"))["kind"] == "FORMAL"  # no body
    assert formal_checks(app, run_no) == 1


@pytest.mark.parametrize("user,allowed", [("quality", True), ("leader", True), ("planner", False),
                                          ("material", False), ("operator", False), ("engineer", False),
                                          ("manager", False), ("integration", False)])
def test_who_may_run_a_check(api, app, user, allowed):
    run_no = prep_run(api)
    response = api(user).post(f"/api/v1/runs/{run_no}/readiness/check", json={})
    assert response.status_code == (200 if allowed else 403)
    assert formal_checks(app, run_no) == (1 if allowed else 0)


def test_dip_line_evaluates_only_its_items(api, app):
    run_no = prep_run(api, product="P-2001")
    dip = check(api, run_no)
    assert [(i["itemType"], i["status"]) for i in dip["items"]] == [
        ("ROUTE", "PASSED"), ("EQUIPMENT", "PASSED"), ("MATERIAL", "PASSED")]
    assert dip["status"] == "PASSED"
    pass_fai(api, run_no, product="P-2001")  # the route's FAI gate (02_rules §3)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 1  # the FAI and authorize used the DIP check


def test_the_lines_enabled_items_decide_what_is_checked(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    assert failed(check(api, run_no)) == [("LOADING", "SLOT_TABLE_NOT_LOADED")]
    set_line_items(api, ["ROUTE", "EQUIPMENT", "MATERIAL"])
    reduced = check(api, run_no)
    assert [i["itemType"] for i in reduced["items"]] == ["ROUTE", "EQUIPMENT", "MATERIAL"]
    assert reduced["status"] == "PASSED"
    # the stored check is current: the FAI (02_rules §7) and authorize use it without a new one
    pass_fai(api, run_no)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 2 and run_status(app, run_no) == "AUTHORIZED"


# -- the items ----------------------------------------------------------------------------------------

def test_route_item_fails_when_the_line_lost_a_valid_station(api, app):
    run_no = ready_run(api)
    station_id = master_id(app, Station, code="ST-REFLOW-01")
    assert api("engineer").put(f"/api/v1/stations/{station_id}", json={"is_active": False}).status_code == 200
    result = check(api, run_no)
    route = items(result)["ROUTE"]
    assert (route["status"], route["failCode"], route["itemKey"]) == (
        "FAILED", "RUN_LINE_INCOMPATIBLE_WITH_ROUTE", "RT-P1001-SMT v1")
    assert route["evidence"]["incompatibleSteps"] == [40]
    assert items(result)["EQUIPMENT"]["failCode"] == "EQUIPMENT_UNAVAILABLE"


def test_equipment_item_with_manual_evidence_and_warnings(api, app):
    run_no = ready_run(api)
    recorded = equipment_status(api, "leader", "EQ-MOUNT-01", "DOWN")
    assert (recorded["source"], recorded["operator"]) == ("MANUAL", "leader")
    result = check(api, run_no)
    assert failed(result) == [("EQUIPMENT", "EQUIPMENT_UNAVAILABLE")]
    equipment = items(result)["EQUIPMENT"]
    assert "30" in equipment["failReason"] and "EQ-MOUNT-01" in equipment["failReason"]
    assert equipment["evidence"]["source"] == "MANUAL"
    assert equipment["evidence"]["warnings"] == ["ST-MOUNT-01 EQ-MOUNT-01 DOWN"]
    mount = next(s for s in equipment["evidence"]["steps"] if s["stepNo"] == 30)["stations"][0]
    assert (mount["status"], mount["source"], mount["operator"]) == ("DOWN", "MANUAL", "leader")
    equipment_status(api, "integration", "EQ-MOUNT-01", "NORMAL")
    assert check(api, run_no)["status"] == "PASSED"


def test_material_item_needs_a_bom_of_active_materials(api, app):
    run_no = ready_run(api)
    mcu = master_id(app, Material, code="MAT-MCU")
    assert api("engineer").put(f"/api/v1/materials/{mcu}", json={"is_active": False}).status_code == 200
    inactive = check(api, run_no)
    assert failed(inactive) == [("MATERIAL", "MATERIAL_INACTIVE")]
    assert "MAT-MCU" in items(inactive)["MATERIAL"]["failReason"]
    assert items(inactive)["MATERIAL"]["itemKey"] == "P-1001"
    with app.app_context():
        db.session.execute(BomItem.__table__.delete())
        db.session.commit()
    assert failed(check(api, run_no)) == [("MATERIAL", "MATERIAL_BOM_MISSING")]


def test_stencil_item(api, app):
    run_no = ready_run(api)
    stencil_status(api, "leader", "MAINTENANCE")
    not_ready = check(api, run_no)
    assert failed(not_ready) == [("STENCIL", "STENCIL_NOT_READY")]
    assert "MAINTENANCE" in items(not_ready)["STENCIL"]["failReason"]
    ok_data(api("material").post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": "STN-NEW-1"}))
    no_status = items(check(api, run_no))["STENCIL"]
    assert (no_status["itemKey"], no_status["failCode"]) == ("STN-NEW-1", "STENCIL_NOT_READY")
    assert no_status["evidence"]["status"] is None
    with app.app_context():
        db.session.execute(update(LineStencil).values(current_line_id=None))
        db.session.commit()
    unbound = items(check(api, run_no))["STENCIL"]
    assert (unbound["itemKey"], unbound["failCode"]) == ("LINE-SMT-A", "STENCIL_NOT_BOUND")


def test_solder_paste_item(api, app):
    run_no = ready_run(api)
    paste_status(api, "integration", "NON_COMPLIANT")
    assert failed(check(api, run_no)) == [("SOLDER_PASTE", "SOLDER_PASTE_NOT_COMPLIANT")]
    paste_status(api, "integration", "EXPIRED")
    assert failed(check(api, run_no)) == [("SOLDER_PASTE", "SOLDER_PASTE_NOT_COMPLIANT")]
    paste_status(api, "integration", "COMPLIANT", expires_at=now() - timedelta(minutes=1))
    expired = items(check(api, run_no))["SOLDER_PASTE"]
    assert (expired["status"], expired["failCode"]) == ("FAILED", "SOLDER_PASTE_EXPIRED")
    assert expired["evidence"]["expiresAt"]
    with app.app_context():
        db.session.execute(update(LineSolderPaste).values(current_line_id=None))
        db.session.commit()
    assert items(check(api, run_no))["SOLDER_PASTE"]["failCode"] == "SOLDER_PASTE_NOT_BOUND"


# -- the authorize gate, current and stale checks --------------------------------------------------

def test_authorize_is_refused_by_a_failed_check_which_is_kept(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    with app.app_context():
        before = state()
    response = api("planner").post(f"/api/v1/runs/{run_no}/authorize")
    body = response.get_json()
    assert response.status_code == 400 and body["error"]["code"] == "READINESS_CHECK_FAILED", body
    assert [(i["itemType"], i["failCode"]) for i in body["error"]["details"]["items"]] == [
        ("LOADING", "SLOT_TABLE_NOT_LOADED")]
    assert "LOADING" in body["error"]["message"]
    with app.app_context():
        after = state()
        # the check is an observation, saved in its own transaction; the run did not move
        assert len(after["checks"]) == len(before["checks"]) + 1 and after["checks"][-1][1] == "FAILED"
        assert after["runs"] == before["runs"]
        assert count(AuditEvent, AuditEvent.action == "RUN_AUTHORIZE", AuditEvent.status == "SUCCESS") == 0
        assert count(AuditEvent, AuditEvent.action == "RUN_AUTHORIZE", AuditEvent.status == "FAIL",
                     AuditEvent.error_code == "READINESS_CHECK_FAILED") == 1
        check_row = db.session.get(ReadinessCheck, after["checks"][-1][0])
        assert (check_row.kind, check_row.checked_by) == ("FORMAL", "planner")
    assert body["error"]["details"]["checkId"] == after["checks"][-1][0]
    # nothing changed since: a second attempt reuses the same (current) check
    refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/authorize"), 400, "READINESS_CHECK_FAILED")
    assert formal_checks(app, run_no) == 1


def no_fai_run(api) -> str:
    """A PREP run on LINE-DIP-A of a one-step route without an FAI step: authorize needs no FAI first."""
    ok_data(api("integration").post("/api/v1/integration/routings", json={
        "code": "RT-NOFAI", "name": "No FAI", "productCode": "P-2001", "processType": "DIP",
        "steps": [{"stepNo": 10, "operationCode": "DIP_INSERT", "stationGroupCode": "DIP-A-INS",
                   "stationType": "MANUAL"}]}))
    ok_data(api("engineer").post("/api/v1/routings/RT-NOFAI/compile"))
    ok_data(api("planner").post("/api/v1/integration/work-orders", json={
        "woNo": "WO-NOFAI", "productCode": "P-2001", "plannedQty": 1, "routingCode": "RT-NOFAI"}))
    ok_data(api("planner").post("/api/v1/work-orders/WO-NOFAI/release", json={"lineCode": DIP_LINE}))
    return ok_data(api("planner").post("/api/v1/work-orders/WO-NOFAI/runs",
                                       json={"lineCode": DIP_LINE, "planQty": 1}))["runNo"]


def test_authorize_uses_the_current_check_and_runs_one_when_there_is_none(api, app):
    # a route without an FAI step: nothing ran a FORMAL check before the authorization
    run_no = no_fai_run(api)
    assert formal_checks(app, run_no) == 0
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 1 and run_status(app, run_no) == "AUTHORIZED"
    # with an FAI, its creation runs the check (02_rules §5) and authorize uses it
    fai_run = ready_run(api)
    assert formal_checks(app, fai_run) == 0
    pass_fai(api, fai_run)
    assert formal_checks(app, fai_run) == 1
    ok_data(api("planner").post(f"/api/v1/runs/{fai_run}/authorize"))
    assert formal_checks(app, fai_run) == 1 and run_status(app, fai_run) == "AUTHORIZED"
    other = ready_run(api)
    check(api, other)
    pass_fai(api, other)
    ok_data(api("leader").post(f"/api/v1/runs/{other}/authorize"))
    assert formal_checks(app, other) == 1


def _reload_reel(api, app, run_no):
    ok_data(api("material").post("/api/v1/loading/replace", json={
        "runNo": run_no, "slotCode": "1-01", "barcode": "MAT-R10K|LOT-R-002", "reason": "reel empty"}))


def _bind_same_stencil_again(api, app, run_no):
    ok_data(api("material").post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": "STN-1001-B"}))
    stencil_status(api, "integration", "READY", stencil="STN-1001-B")


def _new_paste_status(api, app, run_no):
    paste_status(api, "integration", "COMPLIANT")


def _new_equipment_status(api, app, run_no):
    equipment_status(api, "integration", "EQ-REFLOW-01", "NORMAL")


def _bom_quantity(api, app, run_no):
    with app.app_context():
        bom_id = db.session.execute(select(BomItem.id).join(Material, Material.id == BomItem.material_id)
                                    .where(Material.code == "MAT-C100N")).scalar_one()
    assert api("engineer").put(f"/api/v1/bom-items/{bom_id}", json={"qty_per": 6}).status_code == 200


def _enabled_items(api, app, run_no):
    set_line_items(api, ["ROUTE", "EQUIPMENT", "MATERIAL", "STENCIL", "SOLDER_PASTE"])


def _paste_expired_meanwhile(api, app, run_no):
    # no new input row: the paste simply reached its expiry time
    with app.app_context():
        db.session.execute(update(SolderPasteStatus).values(expires_at=now() - timedelta(seconds=1)))
        db.session.commit()


@pytest.mark.parametrize("change", [_reload_reel, _bind_same_stencil_again, _new_paste_status, _new_equipment_status,
                                    _bom_quantity, _enabled_items, _paste_expired_meanwhile])
def test_a_change_of_any_input_makes_the_check_stale(api, app, change):
    run_no = ready_run(api)
    first = check(api, run_no)
    assert first["status"] == "PASSED"
    pass_fai(api, run_no)  # while the line is ready: the FAI uses the current check (02_rules §7)
    assert formal_checks(app, run_no) == 1
    change(api, app, run_no)
    response = api("planner").post(f"/api/v1/runs/{run_no}/authorize")
    assert formal_checks(app, run_no) == 2, "authorize must re-evaluate a stale check"
    latest = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))
    assert latest["id"] != first["id"] and latest["checkedBy"] == "planner"
    if change is _paste_expired_meanwhile:
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "READINESS_CHECK_FAILED"
        assert failed(latest) == [("SOLDER_PASTE", "SOLDER_PASTE_EXPIRED")]
    else:
        assert response.status_code == 200 and latest["status"] == "PASSED"


def test_a_stale_passed_check_does_not_authorize(api, app):
    run_no = ready_run(api)
    assert check(api, run_no)["status"] == "PASSED"
    stencil_status(api, "leader", "NOT_READY")
    response = api("planner").post(f"/api/v1/runs/{run_no}/authorize")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "READINESS_CHECK_FAILED"
    assert run_status(app, run_no) == "PREP" and formal_checks(app, run_no) == 2


def test_changes_elsewhere_keep_the_check_current(api, app):
    run_no = ready_run(api)
    first = check(api, run_no)
    pass_fai(api, run_no)  # the FAI uses the current check (02_rules §7)
    other = prep_run(api)  # another run's slot table and scans of the same physical slots
    load_reels(api, other)
    ok_data(api("material").post("/api/v1/lines/LINE-DIP-A/stencil", json={"stencilId": "STN-DIP-1"}))
    equipment_status(api, "integration", "EQ-DIP-INS-01", "DOWN")  # another line's equipment
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 1
    assert ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))["id"] == first["id"]


# -- waivers ------------------------------------------------------------------------------------------

def test_degraded_mode_waiver_scenario_s5(api, app):
    run_no = ready_run(api, units=1)
    recorded = stencil_status(api, "leader", "MAINTENANCE", operator="quality")
    assert (recorded["source"], recorded["operator"], recorded["duplicate"]) == ("MANUAL", "leader", False)
    tpm = next(s for s in ok_data(api("engineer").get("/api/v1/integration/status")) if s["system"] == "TPM")
    assert tpm["degraded"] is True
    result = check(api, run_no)
    assert result["status"] == "FAILED" and failed(result) == [("STENCIL", "STENCIL_NOT_READY")]
    stencil = items(result)["STENCIL"]
    assert (stencil["evidence"]["source"], stencil["evidence"]["operator"]) == ("MANUAL", "leader")
    refused(app, lambda: waive(api, stencil["id"], reason=""), 400, "REASON_REQUIRED")
    refused(app, lambda: waive(api, stencil["id"], reason="   "), 400, "REASON_REQUIRED")
    refused(app, lambda: api("quality").post(f"/api/v1/readiness-items/{stencil['id']}/waive",
                                             json={"password": password_for("quality")}), 400, "REASON_REQUIRED")
    # no body: a waiver is an electronic signature, the password comes first
    refused(app, lambda: api("quality").post(f"/api/v1/readiness-items/{stencil['id']}/waive"),
            422, "SIGNATURE_REQUIRED")
    refused(app, lambda: api("quality").post(f"/api/v1/readiness-items/{stencil['id']}/waive", data="reason=x",
                                             content_type="text/plain"), 422, "VALIDATION_ERROR")
    refused(app, lambda: waive(api, stencil["id"], user="leader"), 403, "FORBIDDEN")
    refused(app, lambda: waive(api, stencil["id"], user="planner"), 403, "FORBIDDEN")
    waived = ok_data(waive(api, stencil["id"], reason="  Tension measured by hand: OK  "))
    assert waived["item"]["status"] == "WAIVED" and waived["item"]["waivedBy"] == "quality"
    assert waived["item"]["waiveReason"] == "Tension measured by hand: OK" and waived["item"]["waivedAt"]
    assert waived["check"]["id"] == result["id"] and waived["check"]["status"] == "PASSED"
    assert waived["check"]["summary"] == {"PASSED": 5, "FAILED": 0, "WAIVED": 1}
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "READINESS_WAIVE",
                                                            AuditEvent.status == "SUCCESS")).scalar_one()
        assert (event.entity_type, event.entity_key) == ("RUN", run_no)
        assert event.reason.strip() == "Tension measured by hand: OK"
    # waived → the FAI (02_rules §7) and authorize use that (still current) check
    pass_fai(api, run_no)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 1
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn)
    trace = ok_data(api("quality").get(f"/api/v1/trace/units/{sn}"))
    readiness = trace["readiness"]
    assert readiness["checkId"] == result["id"] and readiness["status"] == "PASSED"
    traced = next(i for i in readiness["items"] if i["itemType"] == "STENCIL")
    assert (traced["status"], traced["waivedBy"], traced["waiveReason"]) == (
        "WAIVED", "quality", "Tension measured by hand: OK")
    assert traced["manual"] is True and traced["operator"] == "leader"
    # (EQUIPMENT may be flagged too: the seed's equipment statuses were entered as master data, MANUAL)
    assert "STENCIL" in [i["itemType"] for i in readiness["items"] if i["manual"]]
    assert not any(i["manual"] for i in readiness["items"] if i["itemType"] in ("ROUTE", "MATERIAL", "LOADING"))
    # TPM comes back: the AUTO status becomes the latest and the DEGRADED flag clears
    back = stencil_status(api, "integration", "READY")
    assert (back["source"], back["operator"]) == ("AUTO", None)
    tpm = next(s for s in ok_data(api("engineer").get("/api/v1/integration/status")) if s["system"] == "TPM")
    assert tpm["degraded"] is False and tpm["lastSource"] == "AUTO"


def test_waive_refusals(api, app):
    run_no = ready_run(api)
    station_id = master_id(app, Station, code="ST-REFLOW-01")
    assert api("engineer").put(f"/api/v1/stations/{station_id}", json={"is_active": False}).status_code == 200
    result = check(api, run_no)
    assert failed(result) == [("ROUTE", "RUN_LINE_INCOMPATIBLE_WITH_ROUTE"), ("EQUIPMENT", "EQUIPMENT_UNAVAILABLE")]
    by_type = items(result)
    error = refused(app, lambda: waive(api, by_type["ROUTE"]["id"]), 400, "ITEM_NOT_WAIVABLE")
    assert "ROUTE" in error["message"]
    refused(app, lambda: waive(api, by_type["MATERIAL"]["id"]), 400, "ITEM_NOT_FAILED")
    refused(app, lambda: waive(api, 999999), 404, "READINESS_ITEM_NOT_FOUND")
    refused(app, lambda: api("quality").post(f"/api/v1/readiness-items/{by_type['EQUIPMENT']['id']}/waive",
                                             json={"reason": "x", "extra": 1}), 422, "VALIDATION_ERROR")
    equipment = ok_data(waive(api, by_type["EQUIPMENT"]["id"], reason="reflow oven being replaced"))
    assert equipment["check"]["status"] == "FAILED"  # ROUTE still fails: not waivable
    refused(app, lambda: waive(api, by_type["EQUIPMENT"]["id"]), 400, "ITEM_NOT_FAILED")  # waivers are final
    refused(app, lambda: api("planner").post(f"/api/v1/runs/{run_no}/authorize"), 400, "READINESS_CHECK_FAILED")
    assert run_status(app, run_no) == "PREP"


def test_the_check_passes_only_when_the_last_failed_item_is_waived(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    stencil_status(api, "leader", "MAINTENANCE")
    result = check(api, run_no)
    assert failed(result) == [("STENCIL", "STENCIL_NOT_READY"), ("LOADING", "SLOT_TABLE_NOT_LOADED")]
    first = ok_data(waive(api, items(result)["STENCIL"]["id"]))
    assert first["check"]["status"] == "FAILED"
    second = ok_data(waive(api, items(result)["LOADING"]["id"], reason="slot table printed on paper"))
    assert second["check"]["status"] == "PASSED" and second["check"]["summary"]["WAIVED"] == 2
    pass_fai(api, run_no)  # the FAI (02_rules §7) and authorize use the waived check
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    assert formal_checks(app, run_no) == 1


def test_a_waiver_carries_over_while_the_item_fails_the_same_way(api, app):
    run_no = ready_run(api)
    stencil_status(api, "leader", "MAINTENANCE")
    first = check(api, run_no)
    ok_data(waive(api, items(first)["STENCIL"]["id"], reason="measured by hand"))
    stencil_status(api, "leader", "NOT_READY")  # a new input, still STENCIL_NOT_READY on STN-1001-A
    second = check(api, run_no)
    stencil = items(second)["STENCIL"]
    assert second["id"] != first["id"] and second["status"] == "PASSED"
    assert (stencil["status"], stencil["failCode"], stencil["waivedBy"], stencil["waiveReason"]) == (
        "WAIVED", "STENCIL_NOT_READY", "quality", "measured by hand")
    assert second["summary"] == {"PASSED": 5, "FAILED": 0, "WAIVED": 1}
    pass_fai(api, run_no)  # on the current (waived) check, 02_rules §7
    assert formal_checks(app, run_no) == 2
    # the authorize gate re-evaluates a stale check and keeps the waiver in the new one
    stencil_status(api, "leader", "MAINTENANCE")
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    third = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=FORMAL"))
    assert third["id"] not in (first["id"], second["id"]) and third["checkedBy"] == "planner"
    assert items(third)["STENCIL"]["status"] == "WAIVED" and third["status"] == "PASSED"
    # another run of the same line does not inherit it
    other = ready_run(api)
    stencil_status(api, "leader", "MAINTENANCE")
    assert failed(check(api, other)) == [("STENCIL", "STENCIL_NOT_READY")]


def test_a_waiver_does_not_carry_over_when_the_item_fails_differently(api, app):
    run_no = ready_run(api)
    paste_status(api, "integration", "NON_COMPLIANT")
    first = check(api, run_no)
    ok_data(waive(api, items(first)["SOLDER_PASTE"]["id"], reason="paste checked by the lab"))
    paste_status(api, "integration", "COMPLIANT", expires_at=now() - timedelta(hours=1))
    expired = check(api, run_no)
    assert failed(expired) == [("SOLDER_PASTE", "SOLDER_PASTE_EXPIRED")]
    assert items(expired)["SOLDER_PASTE"]["waivedBy"] is None
    # another key (another stencil bound) is another item
    stencil_status(api, "leader", "MAINTENANCE")
    stencil_waived = check(api, run_no)
    ok_data(waive(api, items(stencil_waived)["STENCIL"]["id"], reason="ok"))
    ok_data(api("material").post("/api/v1/lines/LINE-SMT-A/stencil", json={"stencilId": "STN-1001-B"}))
    stencil_status(api, "leader", "MAINTENANCE", stencil="STN-1001-B")
    other_key = items(check(api, run_no))["STENCIL"]
    assert (other_key["itemKey"], other_key["status"], other_key["failCode"]) == (
        "STN-1001-B", "FAILED", "STENCIL_NOT_READY")
    response = api("planner").post(f"/api/v1/runs/{run_no}/authorize")
    assert response.get_json()["error"]["code"] == "READINESS_CHECK_FAILED"


def test_a_waiver_ends_when_the_item_passes_in_between(api, app):
    run_no = ready_run(api)
    stencil_status(api, "leader", "MAINTENANCE")
    first = check(api, run_no)
    ok_data(waive(api, items(first)["STENCIL"]["id"], reason="measured by hand"))
    stencil_status(api, "integration", "READY")
    assert check(api, run_no)["status"] == "PASSED"
    stencil_status(api, "leader", "MAINTENANCE")  # a new incident: quality decides again
    again = check(api, run_no)
    assert failed(again) == [("STENCIL", "STENCIL_NOT_READY")]
    assert items(again)["STENCIL"]["waivedBy"] is None


def test_data_scope_of_readiness(api, app):
    from app.services.platform.actor import SYSTEM
    from app.services.platform.users import UserSpec, create_user
    from support import DEMO_PASSWORD
    with app.app_context():
        create_user(actor=SYSTEM, spec=UserSpec(username="leader_dip_r", password=DEMO_PASSWORD, roles=["Leader"],
                                                lines=["LINE-DIP-A"]))
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    refused(app, lambda: api("leader_dip_r").post(f"/api/v1/runs/{run_no}/readiness/check", json={}),
            403, "FORBIDDEN")
    assert api("leader_dip_r").get(f"/api/v1/runs/{run_no}/readiness").status_code == 404  # as if unknown
    dip = prep_run(api, product="P-2001")
    assert check(api, dip, user="leader_dip_r")["status"] == "PASSED"


def test_check_and_waive_only_on_a_prep_run_and_its_latest_formal_check(api, app):
    """What the console hides, the service refuses (02_rules §5; readiness.actions): a PRECHECK item
    and an item of an older FORMAL check are not waived (READINESS_ITEM_NOT_CURRENT); a run past PREP
    is neither checked nor waived (INVALID_RUN_STATUS, after the spec's own item codes)."""
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    precheck = ok_data(api("planner").get(f"/api/v1/runs/{run_no}/readiness?kind=PRECHECK"))
    loading_item = items(precheck)["LOADING"]
    assert loading_item["status"] == "FAILED"
    error = refused(app, lambda: waive(api, loading_item["id"]), 400, "READINESS_ITEM_NOT_CURRENT")
    assert "PRECHECK" in error["message"]
    older = check(api, run_no)
    newer = check(api, run_no)
    assert newer["id"] != older["id"]
    error = refused(app, lambda: waive(api, items(older)["LOADING"]["id"]), 400, "READINESS_ITEM_NOT_CURRENT")
    assert error["details"] == {"checkId": older["id"], "latestFormalCheckId": newer["id"]}
    waived = ok_data(waive(api, items(newer)["LOADING"]["id"], reason="slot table on paper"))
    assert waived["item"]["status"] == "WAIVED" and waived["check"]["status"] == "PASSED"

    authorized = ready_run(api)
    pass_fai(api, authorized)
    ok_data(api("planner").post(f"/api/v1/runs/{authorized}/authorize"))
    latest = ok_data(api("planner").get(f"/api/v1/runs/{authorized}/readiness?kind=FORMAL"))
    error = refused(app, lambda: api("quality").post(f"/api/v1/runs/{authorized}/readiness/check"), 400,
                    "INVALID_RUN_STATUS")
    assert "AUTHORIZED" in error["message"]
    refused(app, lambda: waive(api, latest["items"][0]["id"]), 400, "ITEM_NOT_FAILED")  # the spec's order first

    cancelled = prep_run(api)
    failed_check = check(api, cancelled)
    assert ("LOADING", "SLOT_TABLE_NOT_LOADED") in failed(failed_check)
    ok_data(api("planner").post(f"/api/v1/runs/{cancelled}/cancel", json={"reason": "order changed"}))
    error = refused(app, lambda: waive(api, items(failed_check)["LOADING"]["id"]), 400, "INVALID_RUN_STATUS")
    assert "CANCELLED" in error["message"]
