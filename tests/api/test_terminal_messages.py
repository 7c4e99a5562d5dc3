"""What the Station Terminal says (issue 17): whole sentences for a board at the wrong station, a label
that is not a board (a station, run or reel label) named as what it is, the FAI trial board's PASS
saying that it waits for the FAI, a board's SN refused as a TEXT value, the data fields in the order the
engineer defined them, and the defect codes of the station's process."""
from urllib.parse import quote

from sqlalchemy import select

from app.extensions import db
from app.models import Run
from app.services.engineering.master_data import active_defect_codes, defect_category_process
from app.services.engineering.route_plans import plan_for
from support import DEMO_PASSWORD, authorized_run, build_unit, ok_data, pass_step, ready_run
from test_execution import refused, track_in, track_out


def test_wrong_station_and_wrong_first_station_are_whole_sentences(api, app):
    run_no = authorized_run(api, qty=2, units=1)
    sn = f"{run_no}-0001"
    error = refused(app, lambda: track_in(api, "ST-SPI-01", sn, run_no), 400, "STATION_MISMATCH")
    assert error["message"] == (f"Unit {sn} is at step 10 (PRINTING), which is done at a station of group "
                                "SMT-A-PRINT, not at ST-SPI-01: take it there.")
    error = refused(app, lambda: track_in(api, "ST-SPI-01", "NEW-BOARD-9", run_no), 400, "UNIT_NOT_FOUND")
    assert error["message"] == ("Unknown SN NEW-BOARD-9: a new board starts at step 10 (PRINTING), at a station "
                                "of group SMT-A-PRINT; scan it there (or check the label).")
    assert " needs " not in error["message"]


def data_specs(api, station, text, user="operator"):
    return api(user).get(f"/api/v1/stations/{station}/units/{quote(text, safe='')}/data-specs")


def test_a_label_that_is_not_a_board_is_named(api, app):
    run_no = ready_run(api, qty=2)
    cases = {"ST-PRINT-01": ("STATION", "label of station ST-PRINT-01 (Printer 1, LINE-SMT-A), not a board, and "
                             "it is not one of your stations"),
             run_no: ("RUN", "is a run number"),
             "WO-DEMO-1001": ("WORK_ORDER", "is a work order"),
             "P-1001": ("PRODUCT", "is a product code"),
             "MAT-R10K|LOT-R-001": ("MATERIAL", "reels are scanned at the Loading Terminal"),
             "LOT-C-001": ("MATERIAL", "material or reel label")}
    for text, (kind, words) in cases.items():
        error = refused(app, lambda text=text: data_specs(api, "ST-DIP-TEST-01", text, user="operator2"), 400,
                        "SCAN_NOT_A_BOARD")
        assert error["details"]["labelKind"] == kind and words in error["message"], error
        assert "scan the board's SN label" in error["message"] or kind == "RUN", error
    # a station of the operator's own: how to switch to it
    error = refused(app, lambda: data_specs(api, "ST-DIP-TEST-01", "ST-PRINT-01"), 400, "SCAN_NOT_A_BOARD")
    assert "scan it at the Station Terminal (it switches the station)" in error["message"]
    refused(app, lambda: data_specs(api, "ST-DIP-TEST-01", "PB2001-0002", user="operator2"), 404, "UNIT_NOT_FOUND")


def start_fai(api, run_no):
    fai = ok_data(api("quality").post(f"/api/v1/runs/{run_no}/fai", json={"sampleQty": 1}))["id"]
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/start"))
    return fai


def test_fai_trial_pass_says_the_board_waits_for_the_fai(api, app):
    run_no = ready_run(api, product="P-2001", qty=2)
    fai = start_fai(api, run_no)
    sn = f"{run_no}-FAI1"
    answer = pass_step(api, run_no, sn, 10, product="P-2001")
    assert answer["nextStep"]["stepNo"] == 20
    assert answer["nextStepWaits"] == (
        "FAI trial board: it stops after step 10 (DIP_INSERT). Hand it to quality for the FAI; it goes on at "
        "step 20 (WAVE_SOLDER) once the FAI is passed and signed and the run is authorized.")
    # what the message says is what happens: the wave station refuses it until the run is authorized
    refused(app, lambda: track_in(api, "ST-DIP-WAVE-01", sn, run_no), 400, "FAI_TRIAL_STEP_NOT_ALLOWED")
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/items",
                                json={"unitSn": sn, "itemName": "first article", "result": "PASS"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/complete", json={"decision": "PASS"}))
    ok_data(api("quality").post(f"/api/v1/inspections/{fai}/sign", json={"password": DEMO_PASSWORD}))
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/authorize"))
    later = pass_step(api, run_no, sn, 20, product="P-2001")
    assert "nextStepWaits" not in later and later["nextStep"]["stepNo"] == 30


def test_fields_keep_the_engineers_order(api, app):
    run_no = ready_run(api, product="P-2001", qty=2)
    start_fai(api, run_no)
    sn = f"{run_no}-FAI1"
    pass_step(api, run_no, sn, 10, product="P-2001")
    # the functional test's fields, as the engineer defined them: voltage first (not alphabetical)
    with app.app_context():
        version = db.session.execute(select(Run.route_version_id).where(Run.run_no == run_no)).scalar_one()
        assert [s.name for s in plan_for(version).step(40).specs] == ["output_voltage_v", "firmware_version"]
    smt = ready_run(api, qty=2)
    start_fai(api, smt)
    board = f"{smt}-FAI1"
    ok_data(track_in(api, "ST-PRINT-01", board, smt))
    specs = ok_data(data_specs(api, "ST-PRINT-01", board))["dataSpecs"]
    assert [s["name"] for s in specs] == ["squeegee_pressure_kg"]


def test_text_value_equal_to_the_sn_is_a_scan_not_a_value(api, app):
    run_no = authorized_run(api, product="P-2001", qty=1, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, product="P-2001", until=30)
    ok_data(track_in(api, "ST-DIP-TEST-01", sn, run_no))
    data = [{"spec": "output_voltage_v", "value": 5.0}, {"spec": "firmware_version", "value": sn}]
    error = refused(app, lambda: track_out(api, "ST-DIP-TEST-01", sn, run_no, data=data), 400, "DATA_VALUE_INVALID")
    assert "firmware_version got the board's SN" in error["message"]
    data[1]["value"] = "1.4.2"
    assert ok_data(track_out(api, "ST-DIP-TEST-01", sn, run_no, data=data))["result"] == "PASS"


def test_defect_codes_follow_the_process_of_the_line(app):
    assert defect_category_process("SMT solder") == "SMT" and defect_category_process("placement") == "SMT"
    assert defect_category_process("DIP insertion") == "DIP" and defect_category_process("wave") == "DIP"
    assert defect_category_process("test") is None and defect_category_process(None) is None
    with app.app_context():
        smt = {d["code"] for d in active_defect_codes("SMT")}
        dip = {d["code"] for d in active_defect_codes("DIP")}
        every = {d["code"] for d in active_defect_codes()}
    assert {"SOLDER_BRIDGE", "TOMBSTONE", "FCT_FAIL", "SPEC_OUT_OF_LIMIT"} <= smt and not {"WS_BRIDGE", "INS_MISS"} & smt
    assert {"WS_BRIDGE", "INS_MISS", "FCT_FAIL"} <= dip and not {"SOLDER_BRIDGE", "TOMBSTONE"} & dip
    assert smt | dip == every
