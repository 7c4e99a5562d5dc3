"""TrackIn / TrackOut (02_rules §4): every check in its order, data validation and judging, defects,
effects on unit and run; each refused scan leaves the database unchanged."""
import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, DataValue, Defect, Equipment, Run, Station, Track, Unit
from support import SMT_DATA, SMT_STATIONS, authorized_run, build_unit, count, ok_data, pass_step, prep_run


def snapshot_counts():
    return {"tracks": count(Track), "units": count(Unit), "values": count(DataValue), "defects": count(Defect),
            "open": count(Track, Track.out_at.is_(None)),
            # logins of the test users (a token is fetched on first use) are not business changes
            "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN")}


def refused(app, call, status, code):
    """Call, expect the error, and check nothing changed."""
    with app.app_context():
        before = snapshot_counts()
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        assert snapshot_counts() == before
    return body["error"]


def track_in(api, station, sn, run_no, user="operator"):
    return api(user).post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no})


def track_out(api, station, sn, run_no, result="PASS", data=None, defect=None, user="operator"):
    body = {"sn": sn, "runNo": run_no, "result": result, "data": data or []}
    if defect is not None:
        body["defect"] = defect
    return api(user).post(f"/api/v1/stations/{station}/track-out", json=body)


def set_unit(app, sn, **values):
    """Arrange a unit state that later capabilities (disposition, hold) will produce."""
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.sn == sn).values(**values))
        db.session.commit()


# -- TrackIn: station, scope, equipment ---------------------------------------------------------

def test_unknown_station_is_404(api, app):
    run_no = authorized_run(api)
    refused(app, lambda: track_in(api, "ST-NOPE", "SN-1", run_no), 404, "STATION_NOT_FOUND")


def test_inactive_station(api, app):
    run_no = authorized_run(api)
    with app.app_context():
        db.session.execute(update(Station).where(Station.code == "ST-PRINT-01").values(is_active=False))
        db.session.commit()
    refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-1", run_no), 400, "STATION_INACTIVE")


def test_station_outside_the_operators_scope_is_403(api, app):
    run_no = authorized_run(api)
    refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-1", run_no, user="operator2"), 403, "FORBIDDEN")


@pytest.mark.parametrize("status", ["DOWN", "MAINTENANCE"])
def test_equipment_down_or_in_maintenance(api, app, status):
    run_no = authorized_run(api)
    with app.app_context():
        db.session.execute(update(Equipment).where(Equipment.code == "EQ-PRINT-01").values(status=status))
        db.session.commit()
    error = refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-1", run_no), 400, "EQUIPMENT_UNAVAILABLE")
    assert status in error["message"]


# -- TrackIn: run ---------------------------------------------------------------------------------

def test_unknown_run_in_the_body_is_400(api, app):
    refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-1", "WO-NOPE-R01"), 400, "RUN_NOT_FOUND")


def test_station_of_another_line(api, app):
    run_no = authorized_run(api)
    refused(app, lambda: track_in(api, "ST-DIP-INS-01", "SN-1", run_no), 400, "STATION_LINE_MISMATCH")


def test_prep_run_without_fai_is_not_authorized(api, app):
    run_no = prep_run(api)
    ok_data(api("planner").post(f"/api/v1/runs/{run_no}/units", json={"quantity": 1}))
    error = refused(app, lambda: track_in(api, "ST-PRINT-01", f"{run_no}-0001", run_no), 400, "RUN_NOT_AUTHORIZED")
    assert "start an FAI" in error["message"]


def test_completed_run_is_not_authorized(api, app):
    run_no = authorized_run(api, qty=1)
    build_unit(api, run_no, "SN-1")
    refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-2", run_no), 400, "RUN_NOT_AUTHORIZED")


# -- TrackIn: unit --------------------------------------------------------------------------------

def test_unknown_sn_is_registered_at_the_first_step(api, app):
    run_no = authorized_run(api)
    data = ok_data(track_in(api, "ST-PRINT-01", "NEW-SN-1", run_no))
    assert data["unit"] == {"sn": "NEW-SN-1", "status": "IN_STATION", "currentStepNo": 10, "runNo": run_no}
    assert data["step"]["operationCode"] == "PRINTING"
    assert [s["name"] for s in data["step"]["dataSpecs"]] == ["squeegee_pressure_kg"]
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "UNIT_REGISTER", AuditEvent.entity_key == "NEW-SN-1") == 1


def test_unknown_sn_elsewhere_or_beyond_plan_is_unit_not_found(api, app):
    run_no = authorized_run(api, qty=1)
    refused(app, lambda: track_in(api, "ST-SPI-01", "NEW-SN-1", run_no), 400, "UNIT_NOT_FOUND")
    ok_data(track_in(api, "ST-PRINT-01", "NEW-SN-1", run_no))
    refused(app, lambda: track_in(api, "ST-PRINT-01", "NEW-SN-2", run_no), 400, "UNIT_NOT_FOUND")


def test_unit_of_another_run(api, app):
    run_a = authorized_run(api)
    run_b = authorized_run(api)
    ok_data(track_in(api, "ST-PRINT-01", "SN-A", run_a))
    refused(app, lambda: track_in(api, "ST-PRINT-01", "SN-A", run_b), 400, "UNIT_RUN_MISMATCH")


def test_unit_state_refusals(api, app):
    run_no = authorized_run(api, qty=5, units=5)
    sn = lambda i: f"{run_no}-{i:04d}"  # noqa: E731
    ok_data(track_in(api, "ST-PRINT-01", sn(1), run_no))
    refused(app, lambda: track_in(api, "ST-PRINT-01", sn(1), run_no), 409, "UNIT_ALREADY_IN_STATION")
    again = track_in(api, "ST-PRINT-01", sn(1), run_no).get_json()["error"]["message"]
    assert again == f"Unit {sn(1)} is already tracked in at ST-PRINT-01 (step 10): track it out first."
    build_unit(api, run_no, sn(2))
    refused(app, lambda: track_in(api, "ST-AOI-01", sn(2), run_no), 400, "UNIT_ALREADY_DONE")
    ok_data(track_in(api, "ST-PRINT-01", sn(3), run_no))
    ok_data(track_out(api, "ST-PRINT-01", sn(3), run_no, "FAIL", defect={"code": "INSUFFICIENT_SOLDER"}))
    refused(app, lambda: track_in(api, "ST-PRINT-01", sn(3), run_no), 400, "UNIT_DISPOSITION_REQUIRED")
    set_unit(app, sn(4), status="ON_HOLD")
    refused(app, lambda: track_in(api, "ST-PRINT-01", sn(4), run_no), 400, "UNIT_ON_HOLD")
    set_unit(app, sn(5), status="SCRAPPED")
    refused(app, lambda: track_in(api, "ST-PRINT-01", sn(5), run_no), 400, "UNIT_SCRAPPED")


def test_steps_cannot_be_skipped_and_the_message_names_the_station(api, app):
    run_no = authorized_run(api, units=1)
    error = refused(app, lambda: track_in(api, "ST-SPI-01", f"{run_no}-0001", run_no), 400, "STATION_MISMATCH")
    assert "SMT-A-PRINT" in error["message"] and error["details"]["stepNo"] == 10
    pass_step(api, run_no, f"{run_no}-0001", 10)
    refused(app, lambda: track_in(api, "ST-MOUNT-01", f"{run_no}-0001", run_no), 400, "STATION_MISMATCH")


def test_a_step_missing_from_the_snapshot(api, app):
    run_no = authorized_run(api, units=1)
    set_unit(app, f"{run_no}-0001", current_step_no=35)
    refused(app, lambda: track_in(api, "ST-PRINT-01", f"{run_no}-0001", run_no), 400, "STEP_MISMATCH")


def test_first_track_in_starts_the_run(api, app):
    run_no = authorized_run(api, units=1)
    ok_data(track_in(api, "ST-PRINT-01", f"{run_no}-0001", run_no))
    with app.app_context():
        run = db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()
        assert run.status == "IN_PROGRESS" and run.started_at is not None
        # the FAI trial board's tracks are FAI_TRIAL; the first production track opens the run
        track = db.session.execute(select(Track).where(Track.mode == "NORMAL")).scalars().one()
        assert (track.step_no, track.operator, track.mode, track.out_at, track.open_unit_id) == (
            10, "operator", "NORMAL", None, track.unit_id)
        assert count(AuditEvent, AuditEvent.action == "RUN_START", AuditEvent.entity_key == run_no) == 1


# -- TrackOut -------------------------------------------------------------------------------------

def test_track_out_needs_an_open_track_at_this_station(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    refused(app, lambda: track_out(api, "ST-PRINT-01", "NOPE", run_no), 400, "UNIT_NOT_FOUND")
    refused(app, lambda: track_out(api, "ST-PRINT-01", sn, run_no, data=SMT_DATA[10]), 400, "TRACK_NOT_FOUND")
    ok_data(track_in(api, "ST-PRINT-01", sn, run_no))
    with app.app_context():
        db.session.execute(update(Station).where(Station.code == "ST-SPI-01").values(group_id=db.session.execute(
            select(Station.group_id).where(Station.code == "ST-PRINT-01")).scalar_one()))
        db.session.commit()
    refused(app, lambda: track_out(api, "ST-SPI-01", sn, run_no, data=SMT_DATA[10]), 400, "TRACK_NOT_FOUND")


def test_data_validation(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    ok_data(track_in(api, "ST-PRINT-01", sn, run_no))
    out = lambda data, result="PASS": lambda: track_out(api, "ST-PRINT-01", sn, run_no, result, data)  # noqa: E731
    error = refused(app, out([{"spec": "peak_temp_c", "value": 250}]), 400, "DATA_SPEC_NOT_FOUND")
    assert error["details"]["expected"] == ["squeegee_pressure_kg"]
    error = refused(app, out([{"spec": "squeegee_pressure_kg", "value": "six"}]), 400, "DATA_VALUE_INVALID")
    assert error["details"]["spec"] == "squeegee_pressure_kg"
    refused(app, out([{"spec": "squeegee_pressure_kg", "value": True}]), 400, "DATA_VALUE_INVALID")
    error = refused(app, out([]), 400, "REQUIRED_DATA_MISSING")
    assert error["details"]["specs"] == ["squeegee_pressure_kg"]
    refused(app, out([{"spec": "squeegee_pressure_kg", "value": None}]), 400, "REQUIRED_DATA_MISSING")
    refused(app, out([{"spec": "squeegee_pressure_kg", "value": 5}, {"spec": "squeegee_pressure_kg", "value": 6}]),
            422, "VALIDATION_ERROR")
    # the spec may also be named by its id; a numeric string is accepted for a NUMBER
    with app.app_context():
        from app.models import DataCollectionSpec
        spec_id = db.session.execute(select(DataCollectionSpec.id).filter_by(name="squeegee_pressure_kg")).scalar_one()
    data = ok_data(track_out(api, "ST-PRINT-01", sn, run_no, "PASS", [{"spec": spec_id, "value": "6.5"}]))
    assert data["dataValues"] == [{"spec": "squeegee_pressure_kg", "value": "6.5", "uom": "kg", "lsl": 4.0, "usl": 8.0,
                                   "judge": "PASS", "alarmed": False}]


def test_warn_limit_flags_the_value_and_the_unit_passes(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    ok_data(track_in(api, "ST-PRINT-01", sn, run_no))
    data = ok_data(track_out(api, "ST-PRINT-01", sn, run_no, "PASS", [{"spec": "squeegee_pressure_kg", "value": 9.5}]))
    assert data["result"] == "PASS" and "forcedBy" not in data
    assert data["dataValues"][0]["judge"] == "FAIL" and data["dataValues"][0]["alarmed"] is True
    assert data["unit"]["status"] == "QUEUED" and data["nextStep"]["stepNo"] == 20


def test_fail_limit_forces_fail_with_spec_out_of_limit(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=30)
    ok_data(track_in(api, "ST-REFLOW-01", sn, run_no))
    data = ok_data(track_out(api, "ST-REFLOW-01", sn, run_no, "PASS", [{"spec": "peak_temp_c", "value": 280}]))
    assert data["result"] == "FAIL" and data["forcedBy"] == "SPEC_LIMIT"
    assert [d["code"] for d in data["defects"]] == ["SPEC_OUT_OF_LIMIT"]
    assert data["unit"]["status"] == "OUT_FAILED" and data["nextStep"] is None
    with app.app_context():
        defect = db.session.execute(select(Defect)).scalar_one()
        track = db.session.get(Track, defect.track_id)
        assert (defect.step_no, defect.status, track.result) == (40, "RECORDED", "FAIL")
        value = db.session.execute(select(DataValue).where(DataValue.track_id == track.id)).scalar_one()
        assert (value.value_number, value.judge, value.alarmed) == (280.0, "FAIL", True)


def test_operator_defect_wins_over_the_forced_code(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=30)
    ok_data(track_in(api, "ST-REFLOW-01", sn, run_no))
    data = ok_data(track_out(api, "ST-REFLOW-01", sn, run_no, "FAIL", [{"spec": "peak_temp_c", "value": 280}],
                             defect={"code": "SOLDER_BRIDGE", "location": "U1"}))
    assert [d["code"] for d in data["defects"]] == ["SOLDER_BRIDGE"]


def test_an_operator_fail_needs_a_known_defect_code(api, app):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    ok_data(track_in(api, "ST-PRINT-01", sn, run_no))
    refused(app, lambda: track_out(api, "ST-PRINT-01", sn, run_no, "FAIL"), 400, "DEFECT_CODE_REQUIRED")
    refused(app, lambda: track_out(api, "ST-PRINT-01", sn, run_no, "FAIL", defect={"code": "COFFEE_SPILL"}),
            400, "DEFECT_CODE_NOT_FOUND")
    data = ok_data(track_out(api, "ST-PRINT-01", sn, run_no, "FAIL", defect={
        "code": "INSUFFICIENT_SOLDER", "location": "J1", "description": "thin print"}))
    assert data["unit"]["status"] == "OUT_FAILED"
    with app.app_context():
        defect = db.session.execute(select(Defect)).scalar_one()
        assert (defect.code, defect.location, defect.description) == ("INSUFFICIENT_SOLDER", "J1", "thin print")


def test_the_whole_route_ends_done_and_values_are_kept(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    last = build_unit(api, run_no, sn)
    assert last["unit"]["status"] == "DONE" and last["nextStep"] is None
    with app.app_context():
        tracks = db.session.execute(select(Track).join(Unit, Unit.id == Track.unit_id).where(Unit.sn == sn)
                                    .order_by(Track.id)).scalars().all()
        assert [(t.step_no, t.result) for t in tracks] == [(10, "PASS"), (20, "PASS"), (30, "PASS"), (40, "PASS"), (50, "PASS")]
        # three values per board (steps 10, 20, 40): this one and the FAI trial board
        assert count(DataValue) == 6 and count(Track, Track.out_at.is_(None)) == 0
        run = db.session.execute(select(Run).filter_by(run_no=run_no)).scalar_one()
        assert run.status == "IN_PROGRESS"  # 2 of 4 units (with the trial board): no automatic closeout


@pytest.mark.parametrize("user,allowed", [("operator", True), ("leader", True), ("planner", False), ("quality", False),
                                          ("engineer", False), ("manager", False), ("material", False),
                                          ("integration", False)])
def test_permission_matrix_for_execution(api, app, user, allowed):
    run_no = authorized_run(api, units=1)
    sn = f"{run_no}-0001"
    response = track_in(api, "ST-PRINT-01", sn, run_no, user=user)
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert track_out(api, "ST-PRINT-01", sn, run_no, data=SMT_DATA[10], user=user).status_code == 200
    else:
        assert api(user).get("/api/v1/stations/ST-PRINT-01/queue").status_code == 403


def test_station_queue_and_data_specs(api):
    run_no = authorized_run(api, qty=3, units=3)
    ok_data(track_in(api, "ST-PRINT-01", f"{run_no}-0001", run_no))
    queue = ok_data(api("operator").get("/api/v1/stations/ST-PRINT-01/queue"))
    assert [u["sn"] for u in queue["inStation"]] == [f"{run_no}-0001"]
    assert [u["sn"] for u in queue["waiting"]] == [f"{run_no}-0002", f"{run_no}-0003"]
    offered = ok_data(api("operator").get("/api/v1/stations/ST-PRINT-01/runs"))
    assert {"runNo": run_no, "status": "IN_PROGRESS", "productCode": "P-1001", "faiTrial": False} in offered
    assert [r for r in offered if r["status"] == "PREP"] == []  # no FAI trial open
    assert api("operator2").get("/api/v1/stations/ST-PRINT-01/runs").status_code == 403
    assert ok_data(api("operator").get("/api/v1/stations/ST-SPI-01/queue"))["waiting"] == []
    specs = ok_data(api("operator").get(f"/api/v1/stations/ST-PRINT-01/units/{run_no}-0001/data-specs"))
    assert specs["step"]["stepNo"] == 10 and specs["stationValid"] is True
    assert specs["dataSpecs"][0]["name"] == "squeegee_pressure_kg" and specs["dataSpecs"][0]["lsl"] == 4
    assert api("operator2").get("/api/v1/stations/ST-PRINT-01/queue").status_code == 403


def test_unit_trace(api, app):
    run_no = authorized_run(api, units=2)
    build_unit(api, run_no, f"{run_no}-0001")
    build_unit(api, run_no, f"{run_no}-0002", until=30)
    ok_data(track_in(api, "ST-REFLOW-01", f"{run_no}-0002", run_no))
    ok_data(track_out(api, "ST-REFLOW-01", f"{run_no}-0002", run_no, "PASS", [{"spec": "peak_temp_c", "value": 290}]))
    trace = ok_data(api("manager").get(f"/api/v1/trace/units/{run_no}-0001"))
    assert trace["unit"]["status"] == "DONE" and trace["run"]["runNo"] == run_no
    assert trace["workOrder"]["woNo"] and trace["product"]["code"] == "P-1001"
    assert trace["routeVersion"] == {"routingCode": "RT-P1001-SMT", "versionNo": 1, "status": "READY"}
    assert [s["stepNo"] for s in trace["steps"]] == [10, 20, 30, 40, 50]
    assert [(t["stepNo"], t["station"], t["operator"], t["result"]) for t in trace["tracks"]] == [
        (step, SMT_STATIONS[step], "operator", "PASS") for step in (10, 20, 30, 40, 50)]
    reflow = trace["tracks"][3]["dataValues"][0]
    assert reflow == {"spec": "peak_temp_c", "value": 250.0, "uom": "°C", "lsl": 235.0, "target": 250.0, "usl": 265.0,
                      "limitAction": "FAIL", "judge": "PASS", "alarmed": False, "source": "MANUAL"}
    failed = ok_data(api("manager").get(f"/api/v1/trace/units/{run_no}-0002"))
    assert [d["code"] for d in failed["defects"]] == ["SPEC_OUT_OF_LIMIT"] and failed["tracks"][-1]["result"] == "FAIL"
    missing = api("manager").get("/api/v1/trace/units/NOPE")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "UNIT_NOT_FOUND"
    assert api("operator2").get(f"/api/v1/trace/units/{run_no}-0001").status_code == 404  # other line: as if unknown
    assert api("integration").get(f"/api/v1/trace/units/{run_no}-0001").status_code == 403
