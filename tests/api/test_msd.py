"""Moisture-sensitive reels (issue 18, J-STD-033): a reel's clock from its events, loading verification
refusing a reel whose floor life is spent (and warning when it is close), and the LOADING readiness item
failing when a loaded reel runs out during production. MAT-MCU is MSL 3 in the demo data: 168 h."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from support import fresh_consumable_statuses, ok_data, prep_run
from support import sql as _sql

MCU, LOT = "MAT-MCU", "LOT-M-001"


def _event(api, kind: str, hours_ago: float, *, user="material", lot=LOT, material=MCU):
    at = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return api(user).post(f"/api/v1/material-lots/{material}/{lot}/msd-events", json={"kind": kind, "at": at.isoformat()})


def _scan(api, run_no: str, slot: str, barcode: str) -> dict:
    return ok_data(api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": slot, "barcode": barcode}))


def test_a_reel_past_its_floor_life_is_refused_at_loading(api, app):
    opened = _event(api, "OPENED", 200)
    assert opened.status_code == 201, opened.get_json()
    clock = opened.get_json()["data"]["clock"]
    assert clock["status"] == "EXPIRED" and clock["floorLifeHours"] == 168 and clock["remainingHours"] <= 0
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    record = _scan(api, run_no, "2-01", f"{MCU}|{LOT}")
    assert (record["verifyResult"], record["failReason"], record["status"]) == ("FAIL", "MSD_FLOOR_LIFE_EXPIRED", None)
    assert record["failedAttempts"] == 1 and record["msd"]["status"] == "EXPIRED"
    assert _sql(app, "SELECT status, error_code FROM audit_event WHERE action = 'LOADING_VERIFY' ORDER BY id DESC "
                     "LIMIT 1") == [("FAIL", "MSD_FLOOR_LIFE_EXPIRED")]
    # baked: the clock starts again and the reel loads
    assert _event(api, "BAKED", 1).status_code == 201
    again = _scan(api, run_no, "2-01", f"{MCU}|{LOT}")
    assert again["verifyResult"] == "PASS" and again["msd"]["status"] == "OK" and 0.9 < again["msd"]["exposureHours"] < 1.1


def test_a_reel_close_to_its_end_loads_with_a_warning_and_dry_storage_pauses(api, app):
    assert _event(api, "OPENED", 170).status_code == 201
    assert _event(api, "DRY_IN", 160).status_code == 201     # 10 h exposed, then in the dry cabinet
    assert _event(api, "DRY_OUT", 2).status_code == 201      # back on the floor 2 h ago: 12 h in all
    state = ok_data(api("quality").get(f"/api/v1/material-lots/{MCU}/{LOT}/msd"))
    assert [e["kind"] for e in state["events"]] == ["OPENED", "DRY_IN", "DRY_OUT"]
    assert state["clock"]["state"] == "ON_FLOOR" and 11.9 < state["clock"]["exposureHours"] < 12.1
    assert _event(api, "BAKED", 165).status_code == 201      # an older bake changes nothing after it… 
    # …but the clock is read in time order: OPENED 170 h, BAKED 165 h (reset), DRY_IN 160 h, DRY_OUT 2 h → 7 h
    state = ok_data(api("quality").get(f"/api/v1/material-lots/{MCU}/{LOT}/msd"))
    assert 6.9 < state["clock"]["exposureHours"] < 7.1
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    lot2 = "LOT-M-CLOSE"
    _sql(app, "INSERT INTO material_lot (material_id, lot_no, iqc_result, created_at, updated_at) "
              "SELECT id, :lot, 'ACCEPTED', :now, :now FROM material WHERE code = :m RETURNING id",
         lot=lot2, m=MCU, now=datetime.now(timezone.utc))
    assert _event(api, "OPENED", 165, lot=lot2).status_code == 201   # 3 h left: less than the 4 h warning
    record = _scan(api, run_no, "2-01", f"{MCU}|{lot2}")
    assert record["verifyResult"] == "PASS" and record["msd"]["status"] == "WARN" and record["msd"]["remainingHours"] < 4


def test_a_loaded_reel_that_runs_out_fails_the_loading_readiness_item(api, app):
    from app.services.platform.clock import simulated
    fresh_consumable_statuses(api)
    assert _event(api, "OPENED", 100).status_code == 201    # 68 h left when it is loaded
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    for slot, barcode in {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": f"{MCU}|{LOT}"}.items():
        assert _scan(api, run_no, slot, barcode)["verifyResult"] == "PASS"
    check = ok_data(api("leader").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "PRECHECK"}))
    loading = [i for i in check["items"] if i["itemType"] == "LOADING"][0]
    assert loading["status"] == "PASSED", loading
    with simulated(datetime.now(timezone.utc) + timedelta(hours=70)):   # two days and more later
        later = ok_data(api("leader").post(f"/api/v1/runs/{run_no}/readiness/check", json={"kind": "PRECHECK"}))
    loading = [i for i in later["items"] if i["itemType"] == "LOADING"][0]
    assert loading["status"] == "FAILED" and loading["failCode"] == "MSD_FLOOR_LIFE_EXPIRED", loading
    assert f"{MCU}|{LOT}" in loading["failReason"]


def test_msd_event_refusals_change_nothing(api, app):
    cases = [
        (_event(api, "WASHED", 1), 422, "VALIDATION_ERROR"),
        (api("material").post(f"/api/v1/material-lots/{MCU}/{LOT}/msd-events", json={
            "kind": "OPENED", "at": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}), 422, "VALIDATION_ERROR"),
        (_event(api, "OPENED", 1, lot="NO-SUCH-LOT"), 404, "MATERIAL_LOT_NOT_FOUND"),
        (_event(api, "OPENED", 1, material="MAT-R10K", lot="LOT-R-001"), 400, "MSD_NOT_MOISTURE_SENSITIVE"),
        (_event(api, "OPENED", 1, user="operator"), 403, "FORBIDDEN"),
    ]
    for answer, status, code in cases:
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code), answer.get_json()
    assert _sql(app, "SELECT count(*) FROM msd_event") == [(0,)]


def test_wms_sends_msd_events_once_each(api, app):
    """WMS posts the clock events through the integration API: logged, the same event id again is a
    duplicate that changes nothing, a person without `integration:inbound` is refused."""
    at = (datetime.now(timezone.utc) - timedelta(hours=10)).isoformat()
    body = {"eventId": "WMS-MSD-1", "eventTime": at, "materialCode": MCU, "lotNo": LOT, "kind": "OPENED"}
    first = ok_data(api("integration").post("/api/v1/integration/msd-events", json=body))
    assert first["duplicate"] is False and first["clock"]["state"] == "ON_FLOOR"
    again = ok_data(api("integration").post("/api/v1/integration/msd-events", json=body))
    assert again["duplicate"] is True
    assert _sql(app, "SELECT kind, source FROM msd_event") == [("OPENED", "WMS")]
    assert _sql(app, "SELECT system, status FROM integration_message WHERE entity_type = 'MSD_EVENT' ORDER BY id") == \
        [("WMS", "SUCCESS"), ("WMS", "DUPLICATE")]  # the message log keeps both
    refused = api("material").post("/api/v1/integration/msd-events", json={**body, "eventId": "WMS-MSD-2"})
    assert refused.status_code == 403
    bad = api("integration").post("/api/v1/integration/msd-events", json={**body, "eventId": "WMS-MSD-3",
                                                                           "kind": "SOAKED"})
    assert bad.status_code == 422 and _sql(app, "SELECT count(*) FROM msd_event") == [(1,)]


def test_master_data_takes_only_the_standard_levels(api, app):
    bad = api("engineer").post("/api/v1/materials/", json={"code": "MAT-MSD-7", "name": "bad level", "uom": "PCS",
                                                          "msl": "7"})
    assert bad.status_code == 422 and "msl" in bad.get_json()["error"]["details"]["fields"], bad.get_json()
    good = api("engineer").post("/api/v1/materials/", json={"code": "MAT-MSD-2A", "name": "BGA", "uom": "PCS",
                                                           "msl": " 2A "})
    assert good.status_code == 201, good.get_json()
    assert _sql(app, "SELECT msl FROM material WHERE code = 'MAT-MSD-2A'") == [("2a",)]
    assert _sql(app, "SELECT count(*) FROM material WHERE code = 'MAT-MSD-7'") == [(0,)]


def test_a_rescan_of_a_loaded_reel_checks_its_floor_life(api, app):
    """Scanning the reel already on the slot again is not a free pass: once its floor life is spent on the
    line the re-scan is refused (audited, nothing changed: the slot stays loaded and readiness fails until
    the reel is replaced); while it is close, the answer carries the clock for the warning."""
    from app.services.platform.clock import simulated
    assert _event(api, "OPENED", 100).status_code == 201    # 68 h left when it is loaded
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    assert _scan(api, run_no, "2-01", f"{MCU}|{LOT}")["verifyResult"] == "PASS"
    with simulated(datetime.now(timezone.utc) + timedelta(hours=66)):    # 2 h left
        again = _scan(api, run_no, "2-01", f"{MCU}|{LOT}")
    assert again["idempotent"] is True and again["msd"]["status"] == "WARN" and again["msd"]["remainingHours"] < 4
    with simulated(datetime.now(timezone.utc) + timedelta(hours=70)):    # spent on the line
        refused = api("material").post("/api/v1/loading/verify", json={"runNo": run_no, "slotCode": "2-01",
                                                                       "barcode": f"{MCU}|{LOT}"})
    error = refused.get_json()["error"]
    assert (refused.status_code, error["code"]) == (409, "MSD_FLOOR_LIFE_EXPIRED"), error
    assert error["details"]["slotCode"] == "2-01" and error["details"]["msd"]["status"] == "EXPIRED"
    assert _sql(app, "SELECT status, error_code FROM audit_event WHERE action = 'LOADING_VERIFY' ORDER BY id DESC "
                     "LIMIT 1") == [("FAIL", "MSD_FLOOR_LIFE_EXPIRED")]
    assert _sql(app, "SELECT e.status FROM run_slot_expectation e JOIN feeder_slot s ON s.id = e.slot_id "
                     "JOIN run r ON r.id = e.run_id WHERE r.run_no = :run AND s.slot_code = '2-01'",
                run=run_no) == [("LOADED",)]
    assert _sql(app, "SELECT count(*) FROM loading_record r JOIN run ON run.id = r.run_id WHERE run.run_no = :run",
                run=run_no) == [(1,)]


def test_run_detail_and_the_line_board_show_the_loaded_reels_clocks(api, app):
    """GET /runs/{run}/loading gives each loaded slot its reel's clock and lists the reels that are close or
    spent (msdAlerts); the line board lists the line's reels close to or past their floor life."""
    from app.services.platform.clock import simulated
    assert _event(api, "OPENED", 100).status_code == 201
    run_no = prep_run(api)
    ok_data(api("material").post(f"/api/v1/runs/{run_no}/loading/load-table"))
    for slot, barcode in {"1-01": "MAT-R10K|LOT-R-001", "1-02": "MAT-C100N|LOT-C-001", "2-01": f"{MCU}|{LOT}"}.items():
        assert _scan(api, run_no, slot, barcode)["verifyResult"] == "PASS"
    state = ok_data(api("leader").get(f"/api/v1/runs/{run_no}/loading"))
    by_slot = {e["slotCode"]: e for e in state["expectations"]}
    assert by_slot["1-01"]["msd"] is None and by_slot["1-01"]["msl"] is None     # a resistor: no clock
    assert by_slot["2-01"]["msl"] == "3" and by_slot["2-01"]["msd"]["status"] == "OK"
    assert 67.9 < by_slot["2-01"]["msd"]["remainingHours"] < 68.1 and state["msdAlerts"] == []
    assert ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))["msdReels"] == []
    with simulated(datetime.now(timezone.utc) + timedelta(hours=66)):
        state = ok_data(api("leader").get(f"/api/v1/runs/{run_no}/loading"))
        board = ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))
    assert [(a["slotCode"], a["lotNo"], a["status"]) for a in state["msdAlerts"]] == [("2-01", LOT, "WARN")]
    assert [(r["slotCode"], r["runNo"], r["lotNo"], r["clock"]["status"]) for r in board["msdReels"]] == \
        [("2-01", run_no, LOT, "WARN")]
    with simulated(datetime.now(timezone.utc) + timedelta(hours=70)):
        state = ok_data(api("leader").get(f"/api/v1/runs/{run_no}/loading"))
        board = ok_data(api("manager").get("/api/v1/boards/LINE-SMT-A"))
        dip = ok_data(api("manager").get("/api/v1/boards/LINE-DIP-A"))
    assert state["msdAlerts"][0]["status"] == "EXPIRED" and state["msdAlerts"][0]["remainingHours"] < 0
    assert board["msdReels"][0]["clock"]["status"] == "EXPIRED" and dip["msdReels"] == []


def test_run_detail_names_a_spent_loaded_reel_and_what_to_do(api, client):
    """The console's Run Detail: the loading grid's reel clock in red and a banner naming the reel, the
    slot and what to do; a reel close to its end in amber."""
    from support import console_login, load_reels
    assert _event(api, "OPENED", 100).status_code == 201
    run_no = prep_run(api)
    load_reels(api, run_no)
    console_login(client, "leader")
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert "mes-msd-alert" not in page and "68.0 h left" in page
    assert _event(api, "OPENED", 166).status_code == 201     # reported late: 2 h left
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'data-status="WARN"' in page and "has 2.0 h of floor life left" in page
    assert _event(api, "OPENED", 200).status_code == 201     # spent on the line
    page = client.get(f"/runs/{run_no}").get_data(as_text=True)
    assert 'class="alert alert-danger mes-msd-alert" data-slot="2-01" data-status="EXPIRED"' in page, page
    assert f"MAT-MCU lot {LOT} on slot 2-01 (MSL 3) has spent its floor life on the line" in page
    assert "floor life spent" in page
