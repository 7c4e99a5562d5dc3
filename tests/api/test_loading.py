"""Loading verification (02_rules §6, 04_acceptance S6): the run's slot table, reel scans with every
barcode form and refusal, PASS / WARNING / FAIL, idempotent rescans, the per-slot failure counter and
lock, unlock with a reason, reel replacement (also during production) and data scope. Each refused
call leaves the database unchanged apart from its FAIL audit event."""
import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    AuditEvent, FeederSlot, Line, LoadingRecord, Material, MaterialLot, Product, Routing, Run, RunSlotExpectation,
    SlotMaterialMapping, Station,
)
from support import (
    DEMO_PASSWORD, SMT_REELS, authorized_run, build_unit, count, fresh_consumable_statuses, load_reels, ok_data,
    prep_run,
)


# -- helpers ---------------------------------------------------------------------------------------

def scan(api, run_no, slot, barcode, user="material"):
    return api(user).post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": slot, "barcode": barcode})


def replace(api, run_no, slot, barcode, reason="reel empty", user="material"):
    return api(user).post("/api/v1/loading/replace", json={"runNo": run_no, "slotCode": slot, "barcode": barcode,
                                                            "reason": reason})


def unlock(api, slot, reason="wrong reels sorted out", user="leader", line="LINE-SMT-A"):
    return api(user).post(f"/api/v1/lines/{line}/feeder-slots/{slot}/unlock", json={"reason": reason})


def load_table(api, run_no, user="material"):
    return api(user).post(f"/api/v1/runs/{run_no}/loading/load-table")


def loading(api, run_no, user="material"):
    return ok_data(api(user).get(f"/api/v1/runs/{run_no}/loading"))


def expectation(api, run_no, slot) -> dict:
    return next(e for e in loading(api, run_no)["expectations"] if e["slotCode"] == slot)


def slot_row(app, slot_code):
    with app.app_context():
        slot = db.session.execute(select(FeederSlot).filter_by(slot_code=slot_code)).scalar_one()
        return {"locked": slot.is_locked, "failed": slot.failed_attempts, "reason": slot.locked_reason,
                "lot": slot.current_lot.lot_no if slot.current_lot else None}


def state():
    """What a refused call must leave as it was (inside an app context)."""
    def rows(stmt):
        return [tuple(r) for r in db.session.execute(stmt).all()]
    return {
        "records": rows(select(LoadingRecord.id, LoadingRecord.status, LoadingRecord.verify_result,
                               LoadingRecord.replace_reason).order_by(LoadingRecord.id)),
        "expectations": rows(select(RunSlotExpectation.id, RunSlotExpectation.status,
                                    RunSlotExpectation.loaded_lot_id).order_by(RunSlotExpectation.id)),
        "slots": rows(select(FeederSlot.slot_code, FeederSlot.is_locked, FeederSlot.failed_attempts,
                             FeederSlot.current_lot_id).order_by(FeederSlot.id)),
        "lots": rows(select(MaterialLot.id, MaterialLot.lot_no).order_by(MaterialLot.id)),
        "runs": rows(select(Run.run_no, Run.status).order_by(Run.id)),
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


def add_slot(app, slot_code, position, mappings=(), station="ST-MOUNT-01"):
    """Arrange a feeder slot on LINE-SMT-A; mappings: (material, scope, priority, alternate) with scope
    one of "product+routing", "product", "routing", "generic"."""
    with app.app_context():
        by_code = lambda model, code: db.session.execute(select(model).filter_by(code=code)).scalar_one()
        slot = FeederSlot(line=by_code(Line, "LINE-SMT-A"), station=by_code(Station, station) if station else None,
                          slot_code=slot_code, position=position, name=f"Feeder {slot_code}")
        for material, scope, priority, alternate in mappings:
            slot.mappings.append(SlotMaterialMapping(
                material=by_code(Material, material), priority=priority, is_alternate=alternate,
                product=by_code(Product, "P-1001") if "product" in scope else None,
                routing=by_code(Routing, "RT-P1001-SMT") if "routing" in scope else None))
        db.session.add(slot)
        db.session.commit()


# -- slot table ------------------------------------------------------------------------------------

def test_load_the_slot_table(api, app):
    run_no = prep_run(api)
    expectations = ok_data(load_table(api, run_no))
    assert [(e["slotCode"], e["expectedMaterialCode"], e["alternates"], e["status"], e["locked"])
            for e in expectations] == [("1-01", "MAT-R10K", ["MAT-R10K-ALT"], "PENDING", False),
                                       ("1-02", "MAT-C100N", [], "PENDING", False),
                                       ("2-01", "MAT-MCU", [], "PENDING", False)]
    assert all(e["loadedMaterialCode"] is None and e["loadedLotNo"] is None for e in expectations)
    # before the first scan the table may be loaded again (same rows count, no duplicates)
    ok_data(load_table(api, run_no, user="leader"))
    state_ = loading(api, run_no, user="planner")
    assert len(state_["expectations"]) == 3 and state_["records"] == [] and state_["runStatus"] == "PREP"
    with app.app_context():
        assert count(RunSlotExpectation) == 3
        assert count(AuditEvent, AuditEvent.action == "LOADING_TABLE_LOAD", AuditEvent.status == "SUCCESS") == 2


def test_loading_already_started_even_after_a_failed_scan(api, app):
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    assert ok_data(scan(api, run_no, "1-01", "MAT-C100N|LOT-C-001"))["verifyResult"] == "FAIL"
    refused(app, lambda: load_table(api, run_no), 409, "LOADING_ALREADY_STARTED")


def test_slot_table_refusals(api, app):
    run_no = authorized_run(api)
    error = refused(app, lambda: load_table(api, run_no), 400, "INVALID_RUN_STATUS")
    assert error["details"]["status"] == "AUTHORIZED"
    dip = prep_run(api, product="P-2001")
    refused(app, lambda: load_table(api, dip), 400, "FEEDER_SLOTS_NOT_FOUND")
    refused(app, lambda: load_table(api, "WO-NOPE-R01"), 404, "RUN_NOT_FOUND")
    add_slot(app, "3-01", 4)
    add_slot(app, "3-02", 5, [("MAT-MCU", "generic", 1, True)])  # only an alternate: no primary
    fresh = prep_run(api)
    error = refused(app, lambda: load_table(api, fresh), 400, "SLOT_MAPPING_MISSING")
    assert error["details"]["slots"] == ["3-01", "3-02"] and "3-01" in error["message"]


def test_the_most_specific_mapping_set_wins(api, app):
    add_slot(app, "3-01", 4, [("MAT-MCU", "generic", 1, False), ("MAT-C100N", "routing", 1, False)])
    add_slot(app, "3-02", 5, [("MAT-MCU", "routing", 1, False), ("MAT-C100N", "product", 2, False),
                              ("MAT-R10K", "product", 1, False), ("MAT-R10K-ALT", "product", 3, True)])
    add_slot(app, "3-03", 6, [("MAT-R10K", "generic", 2, False), ("MAT-C100N", "generic", 1, False),
                              ("MAT-MCU", "product+routing", 1, False)])
    add_slot(app, "3-04", 7, [("MAT-C100N", "generic", 1, False), ("MAT-R10K", "generic", 1, True)])
    with app.app_context():  # a mapping of another product does not apply
        other = db.session.execute(select(Product).filter_by(code="P-2001")).scalar_one()
        slot = db.session.execute(select(FeederSlot).filter_by(slot_code="3-04")).scalar_one()
        slot.mappings.append(SlotMaterialMapping(material=db.session.execute(
            select(Material).filter_by(code="MAT-MCU")).scalar_one(), product=other, priority=1))
        db.session.commit()
    run_no = prep_run(api)
    table = {e["slotCode"]: (e["expectedMaterialCode"], e["alternates"]) for e in ok_data(load_table(api, run_no))}
    assert table["3-01"] == ("MAT-C100N", [])  # routing beats generic
    assert table["3-02"] == ("MAT-R10K", ["MAT-C100N", "MAT-R10K-ALT"])  # product beats routing; lowest priority
    assert table["3-03"] == ("MAT-MCU", [])  # product+routing beats everything
    assert table["3-04"] == ("MAT-C100N", ["MAT-R10K"])
    assert table["1-01"] == ("MAT-R10K", ["MAT-R10K-ALT"])


# -- scans ---------------------------------------------------------------------------------------------

def test_pass_warning_and_the_s1_scans(api, app):
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    wrong = ok_data(scan(api, run_no, "1-01", "MAT-C100N|LOT-C-001"))
    assert (wrong["verifyResult"], wrong["failReason"], wrong["status"], wrong["failedAttempts"]) == (
        "FAIL", "MATERIAL_MISMATCH", None, 1)
    assert expectation(api, run_no, "1-01")["status"] == "MISMATCH"
    good = ok_data(scan(api, run_no, "1-01", "MAT-R10K|LOT-R-001"))
    assert (good["verifyResult"], good["failReason"], good["status"], good["idempotent"]) == ("PASS", None, "LOADED",
                                                                                              False)
    assert (good["materialCode"], good["lotNo"], good["expectedMaterialCode"], good["loadedBy"]) == (
        "MAT-R10K", "LOT-R-001", "MAT-R10K", "material")
    assert good["failedAttempts"] == 0  # a PASS resets the counter
    loaded = expectation(api, run_no, "1-01")
    assert (loaded["status"], loaded["loadedMaterialCode"], loaded["loadedLotNo"], loaded["loadedBy"]) == (
        "LOADED", "MAT-R10K", "LOT-R-001", "material")
    assert slot_row(app, "1-01")["lot"] == "LOT-R-001"
    # the same reel again: the existing record, no new row; another reel: use replace
    with app.app_context():
        before = count(LoadingRecord)
        audits = count(AuditEvent, AuditEvent.action == "LOADING_VERIFY")
    again = ok_data(scan(api, run_no, "1-01", "MAT-R10K:LOT-R-001", user="leader"))
    assert again["idempotent"] is True and again["id"] == good["id"] and again["verifyResult"] == "PASS"
    with app.app_context():
        assert count(LoadingRecord) == before and count(AuditEvent, AuditEvent.action == "LOADING_VERIFY") == audits
    refused(app, lambda: scan(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 409, "SLOT_ALREADY_LOADED")
    refused(app, lambda: scan(api, run_no, "1-01", "MAT-R10K-ALT|LOT-RA-001"), 409, "SLOT_ALREADY_LOADED")
    refused(app, lambda: scan(api, run_no, "1-01", "MAT-MCU|LOT-M-001"), 409, "SLOT_ALREADY_LOADED")
    assert ok_data(scan(api, run_no, "1-02", "MAT-C100N|LOT-C-001"))["verifyResult"] == "PASS"
    # an alternate is a WARNING and loads the slot
    other = prep_run(api)
    ok_data(load_table(api, other))
    alt = ok_data(scan(api, other, "1-01", "MAT-R10K-ALT|LOT-RA-001"))
    assert (alt["verifyResult"], alt["status"], alt["failReason"]) == ("WARNING", "LOADED", None)
    assert expectation(api, other, "1-01")["status"] == "LOADED"
    state_ = loading(api, run_no)
    assert [(r["slotCode"], r["verifyResult"], r["status"]) for r in state_["records"]] == [
        ("1-01", "FAIL", None), ("1-01", "PASS", "LOADED"), ("1-02", "PASS", "LOADED")]
    assert state_["summary"] == {"PENDING": 1, "LOADED": 2, "MISMATCH": 0}


def test_barcode_forms(api, app):
    with app.app_context():
        ambiguous = MaterialLot(material=db.session.execute(select(Material).filter_by(code="MAT-C100N")).scalar_one(),
                                lot_no="LOT-SHARED", iqc_result="ACCEPTED")
        twin = MaterialLot(material=db.session.execute(select(Material).filter_by(code="MAT-MCU")).scalar_one(),
                           lot_no="LOT-SHARED", iqc_result="ACCEPTED")
        db.session.add_all([ambiguous, twin])
        db.session.commit()
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    for barcode in ("", "   ", "MAT-R10K|LOT-R-001|X", "|LOT-R-001", "MAT-R10K|", "MAT-R10K||LOT-R-001", ":"):
        refused(app, lambda b=barcode: scan(api, run_no, "1-01", b), 400, "BARCODE_INVALID")
    refused(app, lambda: scan(api, run_no, "1-01", "LOT-NOPE"), 400, "MATERIAL_LOT_NOT_FOUND")
    error = refused(app, lambda: scan(api, run_no, "1-01", "MAT-NOPE|LOT-1"), 400, "MATERIAL_LOT_NOT_FOUND")
    assert error["details"] == {"materialCode": "MAT-NOPE"}
    error = refused(app, lambda: scan(api, run_no, "1-02", "LOT-SHARED"), 400, "MATERIAL_LOT_AMBIGUOUS")
    assert error["details"] == {"lotNo": "LOT-SHARED"}
    # a bare lot number that resolves to exactly one lot; the other separators
    assert ok_data(scan(api, run_no, "1-02", "LOT-C-001"))["verifyResult"] == "PASS"
    assert ok_data(scan(api, run_no, "1-01", "MAT-R10K@LOT-R-001"))["lotNo"] == "LOT-R-001"
    assert ok_data(scan(api, run_no, "1-01", "MAT-R10K#LOT-R-001"))["idempotent"] is True
    # an unknown lot of a known material is created on the fly (IQC pending)
    created = ok_data(scan(api, run_no, "2-01", " MAT-MCU|LOT-M-NEW "))
    assert (created["verifyResult"], created["lotNo"]) == ("PASS", "LOT-M-NEW")
    with app.app_context():
        lot = db.session.execute(select(MaterialLot).filter_by(lot_no="LOT-M-NEW")).scalar_one()
        assert (lot.material.code, lot.iqc_result) == ("MAT-MCU", "PENDING")


def test_scan_refusals(api, app):
    run_no = prep_run(api)
    refused(app, lambda: scan(api, run_no, "1-01", SMT_REELS["1-01"]), 400, "SLOT_EXPECTATION_MISSING")
    ok_data(load_table(api, run_no))
    error = refused(app, lambda: scan(api, run_no, "9-99", SMT_REELS["1-01"]), 400, "SLOT_NOT_FOUND")
    assert error["details"] == {"slotCode": "9-99"}
    add_slot(app, "3-01", 4, [("MAT-MCU", "generic", 1, False)])  # added after the table was loaded
    refused(app, lambda: scan(api, run_no, "3-01", "MAT-MCU|LOT-M-001"), 400, "SLOT_EXPECTATION_MISSING")
    refused(app, lambda: scan(api, "WO-NOPE-R01", "1-01", SMT_REELS["1-01"]), 400, "RUN_NOT_FOUND")
    # an unknown lot met by a refused scan is not created
    refused(app, lambda: scan(api, run_no, "9-99", "MAT-MCU|LOT-NEVER"), 400, "SLOT_NOT_FOUND")
    refused(app, lambda: api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": "1-01"}),
            422, "VALIDATION_ERROR")
    refused(app, lambda: api("material").post("/api/v1/loading/verify", json={
        "runNo": run_no, "slotCode": "1-01", "barcode": SMT_REELS["1-01"], "station": "x"}), 422, "VALIDATION_ERROR")
    with app.app_context():
        db.session.execute(update(Run).where(Run.run_no == run_no).values(status="CANCELLED"))
        db.session.commit()
    refused(app, lambda: scan(api, run_no, "1-01", SMT_REELS["1-01"]), 400, "INVALID_RUN_STATUS")


def test_a_rejected_lot_fails_and_counts(api, app):
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    rejected = ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-BAD"))
    assert (rejected["verifyResult"], rejected["failReason"], rejected["status"]) == (
        "FAIL", "MATERIAL_LOT_REJECTED", None)
    assert rejected["failedAttempts"] == 1 and expectation(api, run_no, "2-01")["status"] == "MISMATCH"
    assert ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-001"))["verifyResult"] == "PASS"
    assert expectation(api, run_no, "2-01")["status"] == "LOADED"


# -- lock and unlock -------------------------------------------------------------------------------

def test_third_consecutive_failure_locks_and_unlock_needs_a_reason_s6(api, app):
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    results = [ok_data(scan(api, run_no, "2-01", "MAT-R10K|LOT-R-001")) for _ in range(3)]
    assert [(r["verifyResult"], r["failedAttempts"], r["locked"]) for r in results] == [
        ("FAIL", 1, False), ("FAIL", 2, False), ("FAIL", 3, True)]
    slot = slot_row(app, "2-01")
    assert slot["locked"] and slot["failed"] == 3 and "MAT-R10K|LOT-R-001" in slot["reason"]
    assert expectation(api, run_no, "2-01")["locked"] is True
    refused(app, lambda: scan(api, run_no, "2-01", "MAT-MCU|LOT-M-001"), 409, "SLOT_LOCKED")
    refused(app, lambda: unlock(api, "2-01", reason=""), 400, "REASON_REQUIRED")
    refused(app, lambda: unlock(api, "2-01", reason="  "), 400, "REASON_REQUIRED")
    refused(app, lambda: api("leader").post("/api/v1/lines/LINE-SMT-A/feeder-slots/2-01/unlock"), 400,
            "REASON_REQUIRED")  # no body
    refused(app, lambda: unlock(api, "2-01", user="material"), 403, "FORBIDDEN")
    refused(app, lambda: unlock(api, "2-01", user="operator"), 403, "FORBIDDEN")
    refused(app, lambda: unlock(api, "2-01", user="quality"), 403, "FORBIDDEN")
    refused(app, lambda: unlock(api, "9-99"), 404, "SLOT_NOT_FOUND")
    refused(app, lambda: unlock(api, "2-01", line="LINE-NOPE"), 404, "LINE_NOT_FOUND")
    unlocked = ok_data(unlock(api, "2-01", reason="wrong reel returned to stores"))
    assert unlocked == {"lineCode": "LINE-SMT-A", "slotCode": "2-01", "locked": False, "failedAttempts": 0}
    assert slot_row(app, "2-01") == {"locked": False, "failed": 0, "reason": None, "lot": None}
    with app.app_context():  # the unlock history
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "SLOT_UNLOCK",
                                                            AuditEvent.status == "SUCCESS")).scalar_one()
        assert (event.entity_key, event.actor_username, event.reason) == (
            "LINE-SMT-A/2-01", "leader", "wrong reel returned to stores")
        assert event.diff["before"]["locked"] is True and event.diff["before"]["failedAttempts"] == 3
    rejected = ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-BAD"))
    assert (rejected["verifyResult"], rejected["failReason"], rejected["failedAttempts"]) == (
        "FAIL", "MATERIAL_LOT_REJECTED", 1)
    assert ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-001"))["verifyResult"] == "PASS"
    # the engineer may unlock too (lock the slot again through another run)
    other = prep_run(api)
    ok_data(load_table(api, other))
    for _ in range(3):
        ok_data(scan(api, other, "2-01", "MAT-C100N|LOT-C-001"))
    assert slot_row(app, "2-01")["locked"]
    assert ok_data(unlock(api, "2-01", user="engineer", reason="checked"))["locked"] is False


def test_a_pass_or_warning_resets_the_counter(api, app):
    run_no = prep_run(api)
    other = prep_run(api)
    ok_data(load_table(api, run_no))
    ok_data(load_table(api, other))
    for _ in range(2):
        ok_data(scan(api, run_no, "1-01", "MAT-MCU|LOT-M-001"))
    assert ok_data(scan(api, run_no, "1-01", "MAT-R10K-ALT|LOT-RA-001"))["verifyResult"] == "WARNING"
    assert slot_row(app, "1-01")["failed"] == 0
    for _ in range(2):
        ok_data(scan(api, other, "1-01", "MAT-MCU|LOT-M-001"))
    assert slot_row(app, "1-01") == {"locked": False, "failed": 2, "reason": None, "lot": "LOT-RA-001"}


def test_the_counter_and_lock_are_per_physical_slot_but_loading_is_per_run(api, app):
    first = prep_run(api)
    second = prep_run(api)
    ok_data(load_table(api, first))
    ok_data(load_table(api, second))
    ok_data(scan(api, first, "1-02", "MAT-MCU|LOT-M-001"))
    ok_data(scan(api, first, "1-02", "MAT-MCU|LOT-M-001"))
    third = ok_data(scan(api, second, "1-02", "MAT-MCU|LOT-M-001"))
    assert third["failedAttempts"] == 3 and third["locked"] is True
    refused(app, lambda: scan(api, first, "1-02", "MAT-C100N|LOT-C-001"), 409, "SLOT_LOCKED")
    ok_data(unlock(api, "1-02"))
    # each run verifies its own table: another run's loaded reel does not make the slot "already loaded"
    assert ok_data(scan(api, first, "1-02", "MAT-C100N|LOT-C-001"))["verifyResult"] == "PASS"
    assert ok_data(scan(api, second, "1-02", "MAT-C100N|LOT-C-001"))["idempotent"] is False
    assert expectation(api, second, "1-02")["status"] == "LOADED"


# -- replace ---------------------------------------------------------------------------------------------

def test_replace_a_reel(api, app):
    run_no = prep_run(api)
    load_reels(api, run_no)
    old = next(r for r in loading(api, run_no)["records"] if r["slotCode"] == "1-01")
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002", reason=""), 400, "REASON_REQUIRED")
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002", reason=" "), 400, "REASON_REQUIRED")
    refused(app, lambda: api("material").post("/api/v1/loading/replace", json={
        "runNo": run_no, "slotCode": "1-01", "barcode": "MAT-R10K|LOT-R-002"}), 400, "REASON_REQUIRED")
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K"), 400, "MATERIAL_LOT_NOT_FOUND")
    refused(app, lambda: replace(api, run_no, "1-01", "A|B|C"), 400, "BARCODE_INVALID")
    refused(app, lambda: replace(api, run_no, "9-99", "MAT-R10K|LOT-R-002"), 400, "SLOT_NOT_FOUND")
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002", user="operator"), 403, "FORBIDDEN")
    new = ok_data(replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002", reason="reel empty"))
    assert (new["verifyResult"], new["status"], new["lotNo"], new["replaceReason"]) == (
        "PASS", "LOADED", "LOT-R-002", "reel empty")
    records = {r["id"]: r for r in loading(api, run_no)["records"]}
    assert records[old["id"]]["status"] == "REPLACED" and records[old["id"]]["replaceReason"] == "reel empty"
    assert expectation(api, run_no, "1-01")["loadedLotNo"] == "LOT-R-002"
    with app.app_context():
        replaced = db.session.get(LoadingRecord, old["id"])
        assert replaced.unloaded_by == "material" and replaced.unloaded_at is not None
        assert count(LoadingRecord, LoadingRecord.status == "LOADED") == 3
        assert count(AuditEvent, AuditEvent.action == "LOADING_REPLACE", AuditEvent.status == "SUCCESS",
                     AuditEvent.reason == "reel empty") == 1


def test_replace_needs_a_loaded_slot(api, app):
    run_no = prep_run(api)
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 400, "SLOT_EXPECTATION_MISSING")
    ok_data(load_table(api, run_no))
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 400, "SLOT_NOT_LOADED")
    ok_data(scan(api, run_no, "1-01", "MAT-MCU|LOT-M-001"))  # MISMATCH is not loaded either
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 400, "SLOT_NOT_LOADED")


def test_replace_with_a_wrong_reel_is_a_failed_scan(api, app):
    run_no = prep_run(api)
    load_reels(api, run_no)
    failed = ok_data(replace(api, run_no, "2-01", "MAT-MCU|LOT-M-BAD", reason="reel empty"))
    assert (failed["verifyResult"], failed["failReason"], failed["failedAttempts"]) == (
        "FAIL", "MATERIAL_LOT_REJECTED", 1)
    assert expectation(api, run_no, "2-01")["status"] == "MISMATCH"
    with app.app_context():
        assert count(LoadingRecord, LoadingRecord.status == "REPLACED") == 1
    # the slot now has no loaded reel for the run: scan one
    refused(app, lambda: replace(api, run_no, "2-01", "MAT-MCU|LOT-M-001"), 400, "SLOT_NOT_LOADED")
    assert ok_data(scan(api, run_no, "2-01", "MAT-MCU|LOT-M-001"))["verifyResult"] == "PASS"


def test_replace_during_production_with_an_alternate_s6(api, app):
    run_no = authorized_run(api, units=1)
    build_unit(api, run_no, f"{run_no}-0001", until=10)
    with app.app_context():
        assert db.session.execute(select(Run.status).filter_by(run_no=run_no)).scalar_one() == "IN_PROGRESS"
    new = ok_data(replace(api, run_no, "1-01", "MAT-R10K-ALT|LOT-RA-001", reason="reel empty"))
    assert (new["verifyResult"], new["status"]) == ("WARNING", "LOADED")
    # scanning a new reel during production is a replacement, never a second load
    refused(app, lambda: scan(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 409, "SLOT_ALREADY_LOADED")
    # a finished run takes no reels
    with app.app_context():
        db.session.execute(update(Run).where(Run.run_no == run_no).values(status="COMPLETED"))
        db.session.commit()
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002"), 400, "INVALID_RUN_STATUS")


# -- permissions and data scope ------------------------------------------------------------------------

@pytest.mark.parametrize("user,allowed", [("material", True), ("leader", True), ("planner", False),
                                          ("quality", False), ("engineer", False), ("operator", False),
                                          ("manager", False), ("integration", False)])
def test_who_may_load(api, app, user, allowed):
    run_no = prep_run(api)
    assert load_table(api, run_no, user=user).status_code == (200 if allowed else 403)
    if not allowed:
        ok_data(load_table(api, run_no))
    assert scan(api, run_no, "1-01", SMT_REELS["1-01"], user=user).status_code == (200 if allowed else 403)


def test_a_material_user_of_another_line_is_refused(api, app):
    from app.services.platform.actor import SYSTEM
    from app.services.platform.users import UserSpec, create_user
    with app.app_context():
        create_user(actor=SYSTEM, spec=UserSpec(username="material_dip_l", password=DEMO_PASSWORD,
                                                roles=["Material"], lines=["LINE-DIP-A"]))
        create_user(actor=SYSTEM, spec=UserSpec(username="leader_dip_l", password=DEMO_PASSWORD,
                                                roles=["Leader"], lines=["LINE-DIP-A"]))
    run_no = prep_run(api)
    outsider = "material_dip_l"
    refused(app, lambda: load_table(api, run_no, user=outsider), 403, "FORBIDDEN")
    ok_data(load_table(api, run_no))
    refused(app, lambda: scan(api, run_no, "1-01", SMT_REELS["1-01"], user=outsider), 403, "FORBIDDEN")
    assert api(outsider).get(f"/api/v1/runs/{run_no}/loading").status_code == 404  # as if unknown
    load_reels(api, run_no)
    refused(app, lambda: replace(api, run_no, "1-01", "MAT-R10K|LOT-R-002", user=outsider), 403, "FORBIDDEN")
    for _ in range(3):
        ok_data(scan(api, prep_and_table(api), "2-01", "MAT-C100N|LOT-C-001"))
    refused(app, lambda: unlock(api, "2-01", user="leader_dip_l"), 403, "FORBIDDEN")
    # on their own line they may work (the DIP line has no slots)
    dip = prep_run(api, product="P-2001")
    refused(app, lambda: load_table(api, dip, user=outsider), 400, "FEEDER_SLOTS_NOT_FOUND")


def prep_and_table(api) -> str:
    run_no = prep_run(api)
    ok_data(load_table(api, run_no))
    return run_no


def test_loading_state_for_readers(api, app):
    run_no = prep_run(api)
    load_reels(api, run_no)
    data = loading(api, run_no, user="operator")
    assert [(e["slotCode"], e["status"], e["loadedLotNo"], e["station"]) for e in data["expectations"]] == [
        ("1-01", "LOADED", "LOT-R-001", "ST-MOUNT-01"), ("1-02", "LOADED", "LOT-C-001", "ST-MOUNT-01"),
        ("2-01", "LOADED", "LOT-M-001", "ST-MOUNT-01")]
    assert api("operator2").get(f"/api/v1/runs/{run_no}/loading").status_code == 404  # as if unknown
    missing = api("material").get("/api/v1/runs/WO-NOPE-R01/loading")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "RUN_NOT_FOUND"


def test_the_loaded_table_passes_readiness(api, app):
    fresh_consumable_statuses(api)
    run_no = prep_run(api)
    load_reels(api, run_no, {"1-01": "MAT-R10K-ALT|LOT-RA-001", "1-02": "LOT-C-001", "2-01": "MAT-MCU|LOT-M-001"})
    check = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/readiness/check", json={}))
    assert check["status"] == "PASSED"
