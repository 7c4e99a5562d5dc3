"""Defects, disposition, rework and SPI/AOI results (02_rules §8, §4 TrackOut step 2; the UNIT, DEFECT
and REWORK_TASK state machines of 01_domain_model §7; scenario S7 of 04_acceptance): every rule and
error code, each refusal leaving the business data unchanged, idempotent results, AUTO/MANUAL source,
forced and late FAILs, rework, hold and scrap, and the permission matrix."""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    AuditEvent, Defect, Disposition, InspectionResult, IntegrationMessage, ReworkTask, Track, Unit,
)
from support import SMT_DATA, SMT_STATIONS, authorized_run, build_unit, count, ok_data, pass_step

AOI, SPI = SMT_STATIONS[50], SMT_STATIONS[20]


# -- helpers ------------------------------------------------------------------------------------

def business_state():
    units = db.session.execute(select(Unit.sn, Unit.status, Unit.current_step_no, Unit.rework_count)
                               .order_by(Unit.id)).all()
    defects = db.session.execute(select(Defect.id, Defect.status).order_by(Defect.id)).all()
    tasks = db.session.execute(select(ReworkTask.id, ReworkTask.status).order_by(ReworkTask.id)).all()
    return {"units": [tuple(u) for u in units], "defects": [tuple(d) for d in defects],
            "tasks": [tuple(t) for t in tasks], "dispositions": count(Disposition),
            "results": count(InspectionResult), "tracks": count(Track), "open": count(Track, Track.out_at.is_(None)),
            "audit_ok": count(AuditEvent, AuditEvent.status == "SUCCESS", AuditEvent.action != "LOGIN")}


def refused(app, call, status, code, *, failed_message=False):
    """Call, expect the error, and check no business change (an inbound refusal logs one FAILED message)."""
    with app.app_context():
        before = business_state()
        logged = count(IntegrationMessage)
    response = call()
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    with app.app_context():
        assert business_state() == before
        assert count(IntegrationMessage) == logged + (1 if failed_message else 0)
        if failed_message:
            last = db.session.execute(select(IntegrationMessage).order_by(IntegrationMessage.id.desc())
                                      .limit(1)).scalar_one()
            assert (last.status, last.error_code) == ("FAILED", code)
    return body["error"]


def track_in(api, station, sn, run_no, user="operator"):
    return api(user).post(f"/api/v1/stations/{station}/track-in", json={"sn": sn, "runNo": run_no})


def track_out(api, station, sn, run_no, result="PASS", data=None, defect=None, user="operator"):
    body = {"sn": sn, "runNo": run_no, "result": result, "data": data or []}
    if defect is not None:
        body["defect"] = defect
    return api(user).post(f"/api/v1/stations/{station}/track-out", json=body)


def fail_at(api, run_no, sn, step, code="SOLDER_BRIDGE", location="U1"):
    """Track the unit in at `step` and out FAIL with one defect; returns the TrackOut answer."""
    ok_data(track_in(api, SMT_STATIONS[step], sn, run_no))
    return ok_data(track_out(api, SMT_STATIONS[step], sn, run_no, "FAIL", defect={"code": code, "location": location}))


def result_body(sn, result="FAIL", *, kind="AOI", station=AOI, step=None, defects=None, event_id=None, **extra):
    body = {"eventId": event_id or f"EV-{uuid.uuid4().hex[:12]}", "eventTime": datetime.now(timezone.utc).isoformat(),
            "type": kind, "sn": sn, "stationCode": station, "result": result,
            "defects": [{"code": "SOLDER_BRIDGE", "location": "U7"}] if defects is None and result == "FAIL"
            else (defects or []), **extra}
    if step is not None:
        body["stepNo"] = step
    return body


def post_result(api, body, user="integration"):
    return api(user).post("/api/v1/integration/inspection-results", json=body)


def dispose(api, defect_id, kind, reason="repair by hand", to_step=None, user="quality"):
    body = {"type": kind, "reason": reason}
    if to_step is not None:
        body["toStepNo"] = to_step
    return api(user).post(f"/api/v1/defects/{defect_id}/disposition", json=body)


def unit_row(app, sn):
    with app.app_context():
        unit = db.session.execute(select(Unit).where(Unit.sn == sn)).scalar_one()
        return unit.status, unit.current_step_no, unit.rework_count


def defects_of(app, sn):
    with app.app_context():
        return [(d.code, d.status, d.step_no, d.source) for d in db.session.execute(
            select(Defect).join(Unit, Unit.id == Defect.unit_id).where(Unit.sn == sn).order_by(Defect.id)).scalars()]


def defect_id_of(app, sn, index=0):
    with app.app_context():
        return db.session.execute(select(Defect.id).join(Unit, Unit.id == Defect.unit_id).where(Unit.sn == sn)
                                  .order_by(Defect.id)).scalars().all()[index]


def set_unit(app, sn, **values):
    with app.app_context():
        db.session.execute(update(Unit).where(Unit.sn == sn).values(**values))
        db.session.commit()


def audits(app, action, key=None):
    with app.app_context():
        where = [AuditEvent.action == action, AuditEvent.status == "SUCCESS"]
        if key is not None:
            where.append(AuditEvent.entity_key == key)
        return count(AuditEvent, *where)


# -- manual defects --------------------------------------------------------------------------------

def test_a_manual_defect_fails_a_queued_unit(api, app):
    run_no = authorized_run(api, qty=3, units=3)
    sn = f"{run_no}-0002"
    pass_step(api, run_no, sn, 10)
    defect = api("quality").post("/api/v1/defects", json={"sn": sn, "code": "MISSING_PART", "location": "R5",
                                                          "description": "seen at the bench"})
    assert defect.status_code == 201, defect.get_json()
    data = defect.get_json()["data"]
    assert (data["sn"], data["runNo"], data["code"], data["location"], data["stepNo"], data["status"], data["source"]) \
        == (sn, run_no, "MISSING_PART", "R5", 20, "RECORDED", "MANUAL")
    assert data["disposition"] is None and data["reworkTask"] is None
    assert unit_row(app, sn) == ("OUT_FAILED", 20, 0)
    assert audits(app, "DEFECT_RECORD", sn) == 1
    refused(app, lambda: track_in(api, SPI, sn, run_no), 400, "UNIT_DISPOSITION_REQUIRED")


def test_manual_defect_refusals(api, app):
    run_no = authorized_run(api, qty=3, units=3)
    queued, in_station, done = (f"{run_no}-000{i}" for i in (1, 2, 3))
    post = lambda sn, **kw: lambda: api("quality").post("/api/v1/defects", json={"sn": sn, **kw})  # noqa: E731
    refused(app, post("NOPE", code="MISSING_PART"), 400, "UNIT_NOT_FOUND")
    ok_data(track_in(api, SMT_STATIONS[10], in_station, run_no))
    error = refused(app, post(in_station, code="MISSING_PART"), 400, "UNIT_IN_STATION")
    assert "track it out FAIL" in error["message"]
    build_unit(api, run_no, done)
    refused(app, post(done, code="MISSING_PART"), 400, "UNIT_STATE_INVALID")
    refused(app, post(queued), 400, "DEFECT_CODE_REQUIRED")
    refused(app, post(queued, code="COFFEE_SPILL"), 400, "DEFECT_CODE_NOT_FOUND")
    refused(app, post(queued, code="MISSING_PART", extra=1), 422, "VALIDATION_ERROR")
    refused(app, lambda: api("quality").post("/api/v1/defects", json={"code": "MISSING_PART"}), 422, "VALIDATION_ERROR")
    ok_data(api("quality").post("/api/v1/defects", json={"sn": queued, "code": "MISSING_PART"}))
    refused(app, post(queued, code="MISSING_PART"), 400, "UNIT_STATE_INVALID")  # already OUT_FAILED


# -- disposition ----------------------------------------------------------------------------------

def test_s7_rework_to_the_failure_step_then_the_unit_finishes(api, app):
    """S7: TrackOut FAIL at AOI with SOLDER_BRIDGE → REWORK to step 50 → re-runs AOI → DONE."""
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    out = fail_at(api, run_no, sn, 50)
    assert out["unit"]["status"] == "OUT_FAILED" and [d["code"] for d in out["defects"]] == ["SOLDER_BRIDGE"]
    decided = ok_data(dispose(api, out["defects"][0]["id"], "REWORK", "hand repair U1", to_step=50))
    assert decided["unit"] == {"sn": sn, "status": "QUEUED", "currentStepNo": 50, "reworkCount": 1, "runNo": run_no}
    assert decided["defect"]["status"] == "DISPOSITIONED"
    assert decided["defect"]["disposition"]["type"] == "REWORK" and decided["defect"]["disposition"]["decidedBy"] == "quality"
    task = decided["reworkTask"]
    assert (task["status"], task["fromStepNo"], task["toStepNo"], task["sn"]) == ("OPEN", 50, 50, sn)
    assert audits(app, "DEFECT_DISPOSITION", str(out["defects"][0]["id"])) == 1
    last = pass_step(api, run_no, sn, 50)
    assert last["unit"]["status"] == "DONE"
    with app.app_context():
        closed = db.session.get(ReworkTask, task["id"])
        assert (closed.status, closed.done_by) == ("DONE", "operator") and "PASS at step 50" in closed.remark
    assert defects_of(app, sn) == [("SOLDER_BRIDGE", "CLOSED", 50, "MANUAL")]
    assert audits(app, "REWORK_TASK_DONE", str(task["id"])) == 1


def test_rework_to_an_earlier_step_closes_the_task_only_at_the_failure_step(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    out = fail_at(api, run_no, sn, 50)
    task = ok_data(dispose(api, out["defects"][0]["id"], "REWORK", to_step=40))["reworkTask"]
    assert unit_row(app, sn) == ("QUEUED", 40, 1)
    pass_step(api, run_no, sn, 40)
    tasks = ok_data(api("quality").get(f"/api/v1/rework-tasks?sn={sn}"))
    assert [(t["id"], t["status"]) for t in tasks] == [(task["id"], "OPEN")]
    pass_step(api, run_no, sn, 50)
    assert ok_data(api("manager").get(f"/api/v1/rework-tasks?sn={sn}&status=DONE"))[0]["id"] == task["id"]


def test_disposition_refusals_change_nothing(api, app, monkeypatch):
    run_no = authorized_run(api, qty=4, units=3)
    failed, done, queued = (f"{run_no}-000{i}" for i in (1, 2, 3))
    build_unit(api, run_no, failed, until=30)
    defect_id = fail_at(api, run_no, failed, 40)["defects"][0]["id"]
    refused(app, lambda: dispose(api, 99999, "SCRAP"), 404, "DEFECT_NOT_FOUND")
    refused(app, lambda: dispose(api, defect_id, "MELT"), 422, "VALIDATION_ERROR")
    refused(app, lambda: dispose(api, defect_id, "SCRAP", reason="  "), 400, "REASON_REQUIRED")
    for to_step in (None, 50, 35):  # missing, after the failure step, not a step of the route
        error = refused(app, lambda s=to_step: dispose(api, defect_id, "REWORK", to_step=s), 400, "REWORK_STEP_INVALID")
        assert error["details"]["failureStepNo"] == 40 and error["details"]["allowedStepNos"] == [10, 20, 30, 40]
    set_unit(app, failed, rework_count=3)
    error = refused(app, lambda: dispose(api, defect_id, "REWORK", to_step=30), 400, "REWORK_LIMIT_REACHED")
    assert error["details"] == {"reworkCount": 3, "limit": 3}
    monkeypatch.setitem(app.config, "MES_REWORK_LIMIT", 4)  # the setting decides
    ok_data(dispose(api, defect_id, "REWORK", to_step=30))
    refused(app, lambda: dispose(api, defect_id, "SCRAP"), 400, "ALREADY_DISPOSITIONED")
    # a defect on a DONE unit (late AOI FAIL) is decided by the run's OQC/MRB, not here
    build_unit(api, run_no, done)
    ok_data(post_result(api, result_body(done, step=50)))
    error = refused(app, lambda: dispose(api, defect_id_of(app, done), "SCRAP"), 400, "UNIT_STATE_INVALID")
    assert "OQC/MRB" in error["message"]
    assert unit_row(app, queued) == ("QUEUED", 10, 0)  # nothing touched the other units


def test_rework_limit_setting(api, app, monkeypatch):
    monkeypatch.setitem(app.config, "MES_REWORK_LIMIT", 1)
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    first = fail_at(api, run_no, sn, 50)["defects"][0]["id"]
    ok_data(dispose(api, first, "REWORK", to_step=50))
    second = fail_at(api, run_no, sn, 50, code="TOMBSTONE")["defects"][0]["id"]
    error = refused(app, lambda: dispose(api, second, "REWORK", to_step=50), 400, "REWORK_LIMIT_REACHED")
    assert error["details"] == {"reworkCount": 1, "limit": 1}
    ok_data(dispose(api, second, "SCRAP", "beyond repair"))
    assert unit_row(app, sn) == ("SCRAPPED", 50, 1)


def test_several_open_defects_are_decided_together(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    ok_data(post_result(api, result_body(sn, defects=[{"code": "SOLDER_BRIDGE", "location": "U1"},
                                                      {"code": "TOMBSTONE", "location": "C3"}])))
    ok_data(track_in(api, AOI, sn, run_no))
    out = ok_data(track_out(api, AOI, sn, run_no))
    assert [d["code"] for d in out["defects"]] == ["SOLDER_BRIDGE", "TOMBSTONE"]
    decided = ok_data(dispose(api, out["defects"][1]["id"], "HOLD", "wait for the engineer"))
    assert [(d["code"], d["status"], d["disposition"]["type"]) for d in decided["defects"]] == [
        ("SOLDER_BRIDGE", "DISPOSITIONED", "HOLD"), ("TOMBSTONE", "DISPOSITIONED", "HOLD")]
    with app.app_context():
        assert count(Disposition) == 2
    assert unit_row(app, sn)[0] == "ON_HOLD"


def test_hold_and_release(api, app):
    run_no = authorized_run(api, qty=3, units=2)
    sn, other = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, sn, until=10)
    defect_id = fail_at(api, run_no, sn, 20, code="INSUFFICIENT_SOLDER")["defects"][0]["id"]
    refused(app, lambda: api("quality").post(f"/api/v1/defects/{defect_id}/release", json={"reason": "ok"}),
            400, "UNIT_STATE_INVALID")  # not held (yet)
    decided = ok_data(dispose(api, defect_id, "HOLD", "check the paste lot"))
    assert decided["unit"]["status"] == "ON_HOLD" and decided["reworkTask"] is None
    refused(app, lambda: track_in(api, SPI, sn, run_no), 400, "UNIT_ON_HOLD")
    refused(app, lambda: api("quality").post("/api/v1/defects/99999/release", json={"reason": "ok"}),
            404, "DEFECT_NOT_FOUND")
    refused(app, lambda: api("quality").post(f"/api/v1/defects/{defect_id}/release", json={}), 400, "REASON_REQUIRED")
    refused(app, lambda: api("leader").post(f"/api/v1/defects/{defect_id}/release", json={"reason": "ok"}),
            403, "FORBIDDEN")
    released = ok_data(api("quality").post(f"/api/v1/defects/{defect_id}/release", json={"reason": "paste lot fine"}))
    assert released["unit"] == {"sn": sn, "status": "QUEUED", "currentStepNo": 20, "reworkCount": 0, "runNo": run_no}
    disposition = released["defect"]["disposition"]
    assert released["defect"]["status"] == "CLOSED"
    assert (disposition["releasedBy"], disposition["releaseReason"]) == ("quality", "paste lot fine")
    assert audits(app, "DEFECT_RELEASE", str(defect_id)) == 1
    refused(app, lambda: api("quality").post(f"/api/v1/defects/{defect_id}/release", json={"reason": "again"}),
            400, "UNIT_STATE_INVALID")
    # the released unit continues its route
    for step in (20, 30, 40, 50):
        pass_step(api, run_no, sn, step)
    assert unit_row(app, sn) == ("DONE", 50, 0)
    # held again through a second defect: the old, closed one is not on hold
    second = fail_at(api, run_no, other, 10, code="INSUFFICIENT_SOLDER")["defects"][0]["id"]
    ok_data(dispose(api, second, "REWORK", to_step=10))
    third = fail_at(api, run_no, other, 10, code="INSUFFICIENT_SOLDER")["defects"][0]["id"]
    ok_data(dispose(api, third, "HOLD", "again?"))
    error = refused(app, lambda: api("quality").post(f"/api/v1/defects/{second}/release", json={"reason": "ok"}),
                    400, "DEFECT_NOT_ON_HOLD")
    assert error["details"]["heldDefectIds"] == [third]
    queue = ok_data(api("quality").get(f"/api/v1/defects/queue?runNo={run_no}"))
    assert [(e["sn"], e["nextAction"], [d["id"] for d in e["defects"]]) for e in queue] == [(other, "RELEASE", [third])]


def test_scrap_ends_the_unit_and_cancels_its_open_rework(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    first = fail_at(api, run_no, sn, 50)["defects"][0]["id"]
    task = ok_data(dispose(api, first, "REWORK", to_step=40))["reworkTask"]
    second = fail_at(api, run_no, sn, 40, code="TOMBSTONE")["defects"][0]["id"]
    decided = ok_data(dispose(api, second, "SCRAP", "board cracked"))
    assert decided["unit"]["status"] == "SCRAPPED" and decided["defect"]["status"] == "CLOSED"
    assert defects_of(app, sn) == [("SOLDER_BRIDGE", "CLOSED", 50, "MANUAL"), ("TOMBSTONE", "CLOSED", 40, "MANUAL")]
    with app.app_context():
        assert db.session.get(ReworkTask, task["id"]).status == "CANCELLED"
    assert audits(app, "REWORK_TASK_CANCELLED", str(task["id"])) == 1
    refused(app, lambda: track_in(api, SMT_STATIONS[40], sn, run_no), 400, "UNIT_SCRAPPED")
    refused(app, lambda: dispose(api, second, "REWORK", to_step=10), 400, "ALREADY_DISPOSITIONED")


def test_rework_task_closed_by_hand(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    defect_id = fail_at(api, run_no, sn, 50)["defects"][0]["id"]
    task = ok_data(dispose(api, defect_id, "REWORK", to_step=30))["reworkTask"]
    complete = lambda task_id, user="quality": lambda: api(user).post(  # noqa: E731
        f"/api/v1/rework-tasks/{task_id}/complete", json={"remark": "re-soldered, checked under the microscope"})
    refused(app, complete(99999), 404, "REWORK_TASK_NOT_FOUND")
    refused(app, complete(task["id"], "operator"), 403, "FORBIDDEN")
    done = ok_data(complete(task["id"])())
    assert (done["status"], done["doneBy"], done["remark"]) == ("DONE", "quality", "re-soldered, checked under the microscope")
    assert defects_of(app, sn) == [("SOLDER_BRIDGE", "CLOSED", 50, "MANUAL")]
    assert unit_row(app, sn) == ("QUEUED", 30, 1)  # the unit itself simply continues
    refused(app, complete(task["id"]), 400, "REWORK_TASK_NOT_OPEN")
    assert audits(app, "REWORK_TASK_COMPLETE", str(task["id"])) == 1
    for step in (30, 40, 50):
        pass_step(api, run_no, sn, step)
    assert unit_row(app, sn) == ("DONE", 50, 1)


# -- SPI/AOI results: forced TrackOut ---------------------------------------------------------------

def test_s7_aoi_fail_from_the_integration_forces_the_track_out(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    ok_data(track_in(api, AOI, sn, run_no))
    record = ok_data(post_result(api, result_body(sn, defects=[{"code": "SOLDER_BRIDGE", "location": "U7",
                                                                "description": "pins 3-4"}])))
    assert (record["source"], record["operator"], record["stepNo"], record["late"], record["effect"],
            record["duplicate"], record["unitStatus"]) == ("AUTO", None, 50, False, "FORCES_TRACK_OUT", False, "IN_STATION")
    out = ok_data(track_out(api, AOI, sn, run_no, "PASS"))
    assert out["result"] == "FAIL" and out["forcedBy"] == "AOI" and out["unit"]["status"] == "OUT_FAILED"
    assert defects_of(app, sn) == [("SOLDER_BRIDGE", "RECORDED", 50, "AUTO")]
    with app.app_context():
        defect = db.session.execute(select(Defect)).scalar_one()
        assert (defect.location, defect.description, defect.track_id) == ("U7", "pins 3-4", out["track"]["id"])
        assert db.session.execute(select(InspectionResult.track_id)).scalar_one() == out["track"]["id"]
    # the result forced that TrackOut only: after the rework the unit is judged afresh
    ok_data(dispose(api, out["defects"][0]["id"], "REWORK", to_step=50))
    again = pass_step(api, run_no, sn, 50)
    assert again["result"] == "PASS" and "forcedBy" not in again and again["unit"]["status"] == "DONE"


def test_a_fail_for_a_queued_unit_forces_its_next_track_out_at_that_step(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=10)
    record = ok_data(post_result(api, result_body(sn, kind="SPI", station=SPI,
                                                  defects=[{"code": "INSUFFICIENT_SOLDER"}])))
    assert (record["stepNo"], record["effect"], record["trackId"], record["unitStatus"]) == (
        20, "FORCES_TRACK_OUT", None, "QUEUED")
    ok_data(track_in(api, SPI, sn, run_no))
    out = ok_data(track_out(api, SPI, sn, run_no, "PASS", SMT_DATA[20]))
    assert (out["result"], out["forcedBy"], [d["code"] for d in out["defects"]]) == ("FAIL", "SPI", ["INSUFFICIENT_SOLDER"])
    # a forced FAIL needs no operator defect and no required data; the operator's own defect is not used
    assert defects_of(app, sn) == [("INSUFFICIENT_SOLDER", "RECORDED", 20, "AUTO")]


def test_a_pass_result_forces_nothing(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    ok_data(track_in(api, AOI, sn, run_no))
    record = ok_data(post_result(api, result_body(sn, "PASS")))
    assert (record["result"], record["effect"], record["defects"]) == ("PASS", "NONE", [])
    out = ok_data(track_out(api, AOI, sn, run_no))
    assert out["result"] == "PASS" and "forcedBy" not in out


# -- SPI/AOI results: late FAILs ---------------------------------------------------------------------

def test_late_fail_on_a_queued_unit_makes_it_out_failed(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=20)  # QUEUED at 30
    record = ok_data(post_result(api, result_body(sn, kind="SPI", station=SPI, step=20,
                                                  defects=[{"code": "INSUFFICIENT_SOLDER", "location": "J2"}])))
    assert (record["late"], record["effect"], record["unitStatus"]) == (True, "UNIT_OUT_FAILED", "OUT_FAILED")
    assert unit_row(app, sn) == ("OUT_FAILED", 30, 0)
    assert defects_of(app, sn) == [("INSUFFICIENT_SOLDER", "RECORDED", 20, "AUTO")]
    assert audits(app, "LATE_INSPECTION_FAIL", sn) == 1
    with app.app_context():
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "LATE_INSPECTION_FAIL")).scalar_one()
        assert event.diff == {"before": {"status": "QUEUED"}, "after": {"status": "OUT_FAILED"}}
    refused(app, lambda: track_in(api, SMT_STATIONS[30], sn, run_no), 400, "UNIT_DISPOSITION_REQUIRED")
    # the failure step is the SPI step: rework goes back to it or before
    refused(app, lambda: dispose(api, record["defectIds"][0], "REWORK", to_step=30), 400, "REWORK_STEP_INVALID")
    task = ok_data(dispose(api, record["defectIds"][0], "REWORK", to_step=20))["reworkTask"]
    assert (task["fromStepNo"], task["toStepNo"]) == (20, 20)
    pass_step(api, run_no, sn, 20)
    with app.app_context():
        assert db.session.get(ReworkTask, task["id"]).status == "DONE"


def test_late_fail_on_an_in_station_unit_forces_its_current_track_out(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=20)
    ok_data(track_in(api, SMT_STATIONS[30], sn, run_no))
    record = ok_data(post_result(api, result_body(sn, kind="SPI", station=SPI, step=20)))
    assert (record["late"], record["effect"], record["unitStatus"]) == (True, "FORCES_TRACK_OUT", "IN_STATION")
    assert audits(app, "LATE_INSPECTION_FAIL", sn) == 1 and defects_of(app, sn) == []
    out = ok_data(track_out(api, SMT_STATIONS[30], sn, run_no))
    assert (out["result"], out["forcedBy"], out["unit"]["status"]) == ("FAIL", "SPI", "OUT_FAILED")
    assert [(c, s) for c, s, _step, _src in defects_of(app, sn)] == [("SOLDER_BRIDGE", "RECORDED")]


def test_late_fail_on_a_done_unit_keeps_it_done_with_the_defect(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn)
    record = ok_data(post_result(api, result_body(sn)))  # step defaults to the unit's (last) step
    assert (record["stepNo"], record["late"], record["effect"], record["unitStatus"]) == (
        50, True, "DEFECTS_RECORDED", "DONE")
    assert unit_row(app, sn) == ("DONE", 50, 0)
    assert defects_of(app, sn) == [("SOLDER_BRIDGE", "RECORDED", 50, "AUTO")]
    assert audits(app, "LATE_INSPECTION_FAIL", sn) == 1
    queue = ok_data(api("quality").get(f"/api/v1/defects/queue?runNo={run_no}"))
    assert [(e["sn"], e["nextAction"], e["reworkStepNos"]) for e in queue] == [(sn, "OQC_MRB", [])]


def test_late_fail_on_held_and_scrapped_units(api, app):
    run_no = authorized_run(api, qty=3, units=2)
    held, scrapped = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, held, until=10)
    ok_data(dispose(api, fail_at(api, run_no, held, 20)["defects"][0]["id"], "HOLD", "wait"))
    record = ok_data(post_result(api, result_body(held, kind="SPI", station=SPI, step=20)))
    assert (record["effect"], record["unitStatus"]) == ("DEFECTS_RECORDED", "ON_HOLD")
    # the release closes the held defect; the one recorded meanwhile still needs a decision
    released = ok_data(api("quality").post(f"/api/v1/defects/{defect_id_of(app, held)}/release", json={"reason": "ok"}))
    assert released["unit"]["status"] == "OUT_FAILED"
    assert [s for _c, s, _st, _src in defects_of(app, held)] == ["CLOSED", "RECORDED"]
    pass_step(api, run_no, scrapped, 10)
    ok_data(dispose(api, fail_at(api, run_no, scrapped, 20)["defects"][0]["id"], "SCRAP", "bent"))
    record = ok_data(post_result(api, result_body(scrapped, kind="SPI", station=SPI, step=20)))
    assert (record["effect"], record["unitStatus"]) == ("DEFECTS_RECORDED", "SCRAPPED")
    assert [s for _c, s, _st, _src in defects_of(app, scrapped)] == ["CLOSED", "CLOSED"]


def test_a_manual_defect_takes_the_waiting_aoi_fail_along(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)  # QUEUED at AOI
    ok_data(post_result(api, result_body(sn)))
    ok_data(api("quality").post("/api/v1/defects", json={"sn": sn, "code": "MISSING_PART"}))
    assert defects_of(app, sn) == [("MISSING_PART", "RECORDED", 50, "MANUAL"), ("SOLDER_BRIDGE", "RECORDED", 50, "AUTO")]
    decided = ok_data(dispose(api, defect_id_of(app, sn), "REWORK", to_step=50))
    assert len(decided["defects"]) == 2
    again = pass_step(api, run_no, sn, 50)  # the AOI FAIL was already recorded: it forces nothing now
    assert again["result"] == "PASS" and again["unit"]["status"] == "DONE"


# -- SPI/AOI results: idempotency, source, validation -------------------------------------------------

def test_results_are_idempotent_by_event_id_and_extras_are_logged(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn)
    body = result_body(sn, event_id="AOI-EV-1", machineRecipe="R-17")
    first = ok_data(post_result(api, body))
    second = ok_data(post_result(api, body))
    assert first["duplicate"] is False and second["duplicate"] is True
    assert {k: v for k, v in second.items() if k != "duplicate"} == {k: v for k, v in first.items() if k != "duplicate"}
    with app.app_context():
        assert count(InspectionResult) == 1 and count(Defect) == 1
        messages = db.session.execute(select(IntegrationMessage).where(IntegrationMessage.system == "AOI")
                                      .order_by(IntegrationMessage.id)).scalars().all()
        assert [(m.status, m.entity_type, m.business_key) for m in messages] == [
            ("SUCCESS", "INSPECTION_RESULT", sn), ("DUPLICATE", "INSPECTION_RESULT", sn)]
        assert messages[0].payload["machineRecipe"] == "R-17"
    assert audits(app, "LATE_INSPECTION_FAIL", sn) == 1
    # the same event id under the other type is refused, not a second record
    refused(app, lambda: post_result(api, {**body, "type": "SPI", "stationCode": SPI, "stepNo": 20}),
            422, "VALIDATION_ERROR", failed_message=True)


@pytest.mark.parametrize("user,station,expected", [
    ("integration", AOI, ("AUTO", None)),
    ("quality", AOI, ("MANUAL", "quality")),
    ("leader", AOI, ("MANUAL", "leader")),
    ("operator", AOI, ("MANUAL", "operator")),
    ("admin", AOI, ("MANUAL", "admin")),
])
def test_source_comes_from_the_caller_and_the_body_operator_is_ignored(api, app, user, station, expected):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    record = ok_data(post_result(api, result_body(sn, "PASS", station=station, operator="someone-else"), user=user))
    assert (record["source"], record["operator"]) == expected
    with app.app_context():
        stored = db.session.execute(select(InspectionResult)).scalar_one()
        assert (stored.source, stored.operator) == expected
        message = db.session.execute(select(IntegrationMessage).where(IntegrationMessage.system == "AOI")).scalar_one()
        assert (message.source, message.operator) == expected


def test_operators_record_results_only_at_their_own_stations(api, app):
    run_no = authorized_run(api, qty=3, units=1)
    sn = f"{run_no}-0001"
    build_unit(api, run_no, sn, until=40)
    for user in ("operator2", "planner", "engineer", "material", "manager"):
        refused(app, lambda u=user: post_result(api, result_body(sn), user=u), 403, "FORBIDDEN",
                failed_message=user == "operator2")  # operator2 may record, but not at ST-AOI-01
    ok_data(post_result(api, result_body(sn), user="operator"))


def test_result_refusals(api, app):
    run_no = authorized_run(api, qty=3, units=2)
    sn, fresh = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, sn, until=40)
    post = lambda body: lambda: post_result(api, body)  # noqa: E731
    refused(app, post(result_body(sn, defects=[])), 400, "DEFECTS_REQUIRED", failed_message=True)
    refused(app, post(result_body(sn, defects=[{"code": "COFFEE_SPILL"}])), 400, "DEFECT_CODE_NOT_FOUND",
            failed_message=True)
    refused(app, post(result_body("NOPE")), 400, "UNIT_NOT_FOUND", failed_message=True)
    refused(app, post(result_body(sn, station="ST-NOPE")), 400, "STATION_NOT_FOUND", failed_message=True)
    refused(app, post(result_body(sn, station="ST-DIP-TEST-01")), 400, "STATION_LINE_MISMATCH", failed_message=True)
    refused(app, post(result_body(sn, station=SPI)), 400, "STATION_MISMATCH", failed_message=True)
    refused(app, post(result_body(fresh)), 400, "STATION_MISMATCH", failed_message=True)  # fresh unit: step 10
    refused(app, post(result_body(fresh, step=50)), 400, "STEP_MISMATCH", failed_message=True)  # not reached
    refused(app, post(result_body(sn, step=35)), 400, "STEP_MISMATCH", failed_message=True)
    for broken in ({"eventId": ""}, {"type": "XRAY"}, {"result": "MAYBE"}, {"eventTime": "yesterday"},
                   {"stepNo": "fifty"}, {"defects": [{"location": "U1"}]}):
        refused(app, post({**result_body(sn), **broken}), 422, "VALIDATION_ERROR", failed_message=True)
    without_sn = result_body(sn)
    del without_sn["sn"]
    refused(app, post(without_sn), 422, "VALIDATION_ERROR", failed_message=True)
    refused(app, lambda: api("integration").post("/api/v1/integration/inspection-results", data="{",
                                                 content_type="application/json"), 422, "VALIDATION_ERROR")


# -- reading: list, queue, trace -------------------------------------------------------------------------

def test_defect_list_queue_and_trace(api, app):
    run_no = authorized_run(api, qty=3, units=2)
    sn, other = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, sn, until=40)
    ok_data(track_in(api, AOI, sn, run_no))
    ok_data(post_result(api, result_body(sn, event_id="AOI-TRACE-1")))
    out = ok_data(track_out(api, AOI, sn, run_no))
    pass_step(api, run_no, other, 10)
    fail_at(api, run_no, other, 20, code="INSUFFICIENT_SOLDER")

    listed = api("manager").get(f"/api/v1/defects?runNo={run_no}&status=RECORDED")
    body = listed.get_json()
    assert listed.status_code == 200 and body["meta"]["total"] == 2
    assert [(d["sn"], d["code"]) for d in body["data"]] == [(other, "INSUFFICIENT_SOLDER"), (sn, "SOLDER_BRIDGE")]
    assert ok_data(api("quality").get(f"/api/v1/defects?sn={sn}"))[0]["id"] == out["defects"][0]["id"]
    refused(app, lambda: api("quality").get("/api/v1/defects?status=LOST"), 422, "VALIDATION_ERROR")

    queue = ok_data(api("quality").get("/api/v1/defects/queue"))
    entry = next(e for e in queue if e["sn"] == sn)
    assert (entry["nextAction"], entry["failureStepNo"], entry["reworkStepNos"], entry["reworkLimit"]) == (
        "DISPOSITION", 50, [10, 20, 30, 40, 50], 3)
    assert [e["sn"] for e in queue] == [sn, other]  # oldest first

    task = ok_data(dispose(api, out["defects"][0]["id"], "REWORK", to_step=40))["reworkTask"]
    assert sn not in [e["sn"] for e in ok_data(api("quality").get("/api/v1/defects/queue"))]
    trace = ok_data(api("manager").get(f"/api/v1/trace/units/{sn}"))
    assert [(r["eventId"], r["type"], r["result"], r["stepNo"], r["stationCode"], r["source"], r["trackId"])
            for r in trace["inspectionResults"]] == [("AOI-TRACE-1", "AOI", "FAIL", 50, AOI, "AUTO", out["track"]["id"])]
    defect = trace["defects"][0]
    assert (defect["code"], defect["status"], defect["disposition"]["type"], defect["disposition"]["toStepNo"]) == (
        "SOLDER_BRIDGE", "DISPOSITIONED", "REWORK", 40)
    assert defect["reworkTask"]["id"] == task["id"]
    assert [(t["id"], t["status"], t["fromStepNo"], t["toStepNo"]) for t in trace["reworkTasks"]] == [
        (task["id"], "OPEN", 50, 40)]
    for path in ("/api/v1/defects", "/api/v1/defects/queue", "/api/v1/rework-tasks"):
        assert api("integration").get(path).status_code == 403
        assert api("operator").get(path).status_code == 200


# -- permission matrix ------------------------------------------------------------------------------------

DECIDERS = {"quality", "admin"}


@pytest.mark.parametrize("user", ["admin", "planner", "engineer", "quality", "leader", "material", "operator",
                                  "manager", "integration"])
def test_permission_matrix(api, app, user):
    """Only quality (and admin) record defects and decide; every person reads the defect lists."""
    run_no = authorized_run(api, qty=3, units=2)
    sn, queued = f"{run_no}-0001", f"{run_no}-0002"
    build_unit(api, run_no, sn, until=40)
    defect_id = fail_at(api, run_no, sn, 50)["defects"][0]["id"]
    calls = {
        "record": lambda: api(user).post("/api/v1/defects", json={"sn": queued, "code": "MISSING_PART"}),
        "dispose": lambda: dispose(api, defect_id, "HOLD", "look at it", user=user),
        "release": lambda: api(user).post(f"/api/v1/defects/{defect_id}/release", json={"reason": "fine"}),
    }
    if user in DECIDERS:
        for name, call in calls.items():
            response = call()
            assert response.status_code in (200, 201), (name, response.get_json())
        decided = ok_data(dispose(api, defect_id_of(app, queued), "REWORK", to_step=10, user=user))
        task_id = decided["reworkTask"]["id"]
        assert api(user).post(f"/api/v1/rework-tasks/{task_id}/complete", json={}).status_code == 200
    else:
        for call in calls.values():
            refused(app, call, 403, "FORBIDDEN")
        refused(app, lambda: api(user).post("/api/v1/rework-tasks/1/complete", json={}), 403, "FORBIDDEN")
    reads = api(user).get("/api/v1/defects")
    assert reads.status_code == (403 if user == "integration" else 200)


def test_the_endpoints_are_in_the_openapi_document(api):
    paths = api("quality").get("/api/v1/_openapi").get_json()["paths"]
    for path in ("/api/v1/defects", "/api/v1/defects/queue", "/api/v1/defects/{defect_id}/disposition",
                 "/api/v1/defects/{defect_id}/release", "/api/v1/rework-tasks",
                 "/api/v1/rework-tasks/{task_id}/complete", "/api/v1/integration/inspection-results"):
        assert path in paths, path
